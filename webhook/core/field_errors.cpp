#include "core/field_errors.hpp"

#include <cstdio>

namespace apr::core {

std::string quote(std::string_view value) {
    std::string out;
    out.reserve(value.size() + 2);
    out += '"';
    for (unsigned char c : value) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (c < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\x%02x", c);
                    out += buf;
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    out += '"';
    return out;
}

std::string indexed(std::string_view path, std::size_t index) {
    return std::string(path) + "[" + std::to_string(index) + "]";
}

std::string child(std::string_view path, std::string_view name) {
    if (path.empty()) return std::string(name);
    std::string out(path);
    out += '.';
    out += name;
    return out;
}

std::string field_error::to_string() const {
    // Mirrors field.Error.Error(): "<field>: <type>[: <value>][: <detail>]".
    std::string out;
    if (kind == error_kind::unknown_field) return "unknown field " + quote(field);
    out = field + ": ";
    switch (kind) {
        case error_kind::required:
            out += "Required value";
            break;
        case error_kind::invalid:
            out += "Invalid value";
            break;
        case error_kind::duplicate:
            out += "Duplicate value";
            break;
        case error_kind::unsupported:
            out += "Unsupported value";
            break;
        case error_kind::forbidden:
            out += "Forbidden";
            break;
        case error_kind::type_invalid:
            out += "Invalid value";
            break;
        case error_kind::unknown_field:
            break;
    }
    if (!value.empty()) out += ": " + value;
    if (!detail.empty()) out += ": " + detail;
    return out;
}

}  // namespace apr::core
