#include "core/label_selector.hpp"

#include <algorithm>

namespace apr::core {

bool label_selector::matches(const label_map& labels) const {
    for (const auto& [key, value] : match_labels) {
        auto it = labels.find(key);
        if (it == labels.end() || it->second != value) return false;
    }
    for (const auto& req : match_expressions) {
        auto it = labels.find(req.key);
        bool present = it != labels.end();
        auto listed = [&] { return std::find(req.values.begin(), req.values.end(), it->second) != req.values.end(); };
        switch (req.op) {
            case selector_operator::in:
                if (!present || !listed()) return false;
                break;
            case selector_operator::not_in:
                if (present && listed()) return false;
                break;
            case selector_operator::exists:
                if (!present) return false;
                break;
            case selector_operator::does_not_exist:
                if (present) return false;
                break;
            case selector_operator::unknown:
                return false;  // validation rejects these; never match by accident
        }
    }
    return true;
}

selector_operator parse_operator(std::string_view t) {
    if (t == "In") return selector_operator::in;
    if (t == "NotIn") return selector_operator::not_in;
    if (t == "Exists") return selector_operator::exists;
    if (t == "DoesNotExist") return selector_operator::does_not_exist;
    return selector_operator::unknown;
}

std::string_view to_string(selector_operator op) {
    switch (op) {
        case selector_operator::in:
            return "In";
        case selector_operator::not_in:
            return "NotIn";
        case selector_operator::exists:
            return "Exists";
        case selector_operator::does_not_exist:
            return "DoesNotExist";
        case selector_operator::unknown:
            break;
    }
    return "";
}

namespace {

bool is_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Qualified-name part: ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9], at most 63 characters.
std::string name_part_problem(std::string_view name) {
    if (name.empty()) return "name part must be non-empty";
    if (name.size() > 63) return "name part must be no more than 63 characters";
    bool chars_ok =
        std::all_of(name.begin(), name.end(), [](char c) { return is_alnum(c) || c == '-' || c == '_' || c == '.'; });
    if (!chars_ok || !is_alnum(name.front()) || !is_alnum(name.back()))
        return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
               "with an alphanumeric character";
    return {};
}

// DNS-1123 subdomain: lowercase alphanumerics, '-' and '.', at most 253 characters.
std::string dns_subdomain_problem(std::string_view s) {
    if (s.empty()) return "prefix part must be non-empty";
    if (s.size() > 253) return "prefix part must be no more than 253 characters";
    auto lower_alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    bool ok = std::all_of(s.begin(), s.end(), [&](char c) { return lower_alnum(c) || c == '-' || c == '.'; }) &&
              lower_alnum(s.front()) && lower_alnum(s.back());
    if (!ok)
        return "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
               "'-' or '.', and must start and end with an alphanumeric character";
    return {};
}

}  // namespace

std::string label_key_problem(std::string_view key) {
    auto slash = key.find('/');
    if (slash == std::string_view::npos) return name_part_problem(key);
    if (key.find('/', slash + 1) != std::string_view::npos)
        return "a qualified name must consist of an optional DNS subdomain prefix and a name, separated by '/'";
    if (auto p = dns_subdomain_problem(key.substr(0, slash)); !p.empty()) return p;
    return name_part_problem(key.substr(slash + 1));
}

std::string label_value_problem(std::string_view value) {
    if (value.empty()) return {};
    if (value.size() > 63) return "must be no more than 63 characters";
    bool chars_ok =
        std::all_of(value.begin(), value.end(), [](char c) { return is_alnum(c) || c == '-' || c == '_' || c == '.'; });
    if (!chars_ok || !is_alnum(value.front()) || !is_alnum(value.back()))
        return "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
               "and must start and end with an alphanumeric character";
    return {};
}

void validate_selector(const label_selector& selector, const std::string& path, field_errors& errors) {
    const auto labels_path = child(path, "matchLabels");
    for (const auto& [key, value] : selector.match_labels) {
        if (auto p = label_key_problem(key); !p.empty())
            errors.push_back({error_kind::invalid, labels_path, quote(key), p});
        if (auto p = label_value_problem(value); !p.empty())
            errors.push_back({error_kind::invalid, labels_path, quote(value), p});
    }
    const auto exprs_path = child(path, "matchExpressions");
    for (std::size_t i = 0; i < selector.match_expressions.size(); ++i) {
        const auto& req = selector.match_expressions[i];
        const auto at = indexed(exprs_path, i);
        if (auto p = label_key_problem(req.key); !p.empty())
            errors.push_back({error_kind::invalid, child(at, "key"), quote(req.key), p});
        switch (req.op) {
            case selector_operator::in:
            case selector_operator::not_in:
                if (req.values.empty())
                    errors.push_back({error_kind::required, child(at, "values"), "",
                                      "must be specified when `operator` is 'In' or 'NotIn'"});
                break;
            case selector_operator::exists:
            case selector_operator::does_not_exist:
                if (!req.values.empty())
                    errors.push_back({error_kind::forbidden, child(at, "values"), "",
                                      "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"});
                break;
            case selector_operator::unknown:
                errors.push_back({error_kind::unsupported, child(at, "operator"), quote(req.op_text),
                                  "supported values: \"In\", \"NotIn\", \"Exists\", \"DoesNotExist\""});
                break;
        }
        for (std::size_t v = 0; v < req.values.size(); ++v) {
            if (auto p = label_value_problem(req.values[v]); !p.empty())
                errors.push_back({error_kind::invalid, indexed(child(at, "values"), v), quote(req.values[v]), p});
        }
    }
}

}  // namespace apr::core
