#include "codec/log_line.hpp"

#include "core/field_errors.hpp"

namespace apr::codec {

std::string format_log_line(std::string_view level, std::string_view message, std::time_t now,
                            std::string_view component) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    std::string line;
    line.reserve(message.size() + 64);
    line += "time=";
    line += stamp;
    line += " level=";
    line += level;
    if (!component.empty()) {
        line += " component=";
        line += component;
    }
    line += " msg=";
    line += core::quote(message);
    line += '\n';
    return line;
}

}  // namespace apr::codec
