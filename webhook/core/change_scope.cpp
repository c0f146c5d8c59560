#include "core/change_scope.hpp"

#include "core/admission.hpp"
#include "core/field_errors.hpp"

#include <algorithm>

namespace apr::core {

namespace {

bool is_key_char(char c) {
    return c != '.' && c != '[' && c != ']' && c != '"' && c != ' ' && c != '\t' && c != '\n' && c != '\r';
}

std::string_view field_after(std::string_view text, std::size_t& at) {
    const auto start = at;
    while (at < text.size() && is_key_char(text[at])) ++at;
    return text.substr(start, at - start);
}

// Reads one `[...]` at `at` (which points at the `[`).
std::optional<path_step> bracket(std::string_view text, std::size_t& at, std::string& problem) {
    ++at;
    if (at < text.size() && text[at] == '"') {
        const auto close = text.find('"', at + 1);
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ']') {
            problem = "a quoted member name must be written [\"name\"]";
            return std::nullopt;
        }
        path_step step{path_step::kind::member, std::string(text.substr(at + 1, close - at - 1))};
        at = close + 2;
        if (step.key.empty()) {
            problem = "a member name must not be empty";
            return std::nullopt;
        }
        return step;
    }
    const auto close = text.find(']', at);
    if (close == std::string_view::npos) {
        problem = "an index must be closed with ]";
        return std::nullopt;
    }
    const auto inside = text.substr(at, close - at);
    at = close + 1;
    if (inside == "*") return path_step{path_step::kind::every_element};
    if (inside.empty() || inside.size() > 9 ||
        !std::all_of(inside.begin(), inside.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        problem = "an index must be a number or * (every element), e.g. sources[0] or sources[*]";
        return std::nullopt;
    }
    return path_step{path_step::kind::element, {}, std::stoul(std::string(inside))};
}

bool is_index(const path_step& s) {
    return s.what != path_step::kind::member;
}

bool step_matches(const path_step& scope, const path_step& place) {
    if (scope.what == path_step::kind::every_element) return place.what == path_step::kind::element;
    return scope == place;
}

// `scope` a prefix of `place`, or equal to it.
bool covers(const value_path& scope, const value_path& place) {
    if (scope.size() > place.size()) return false;
    for (std::size_t i = 0; i < scope.size(); ++i)
        if (!step_matches(scope[i], place[i])) return false;
    return true;
}

// The same place in the other shape: source.X <-> sources[*].X.
std::optional<value_path> other_shape(const value_path& scope) {
    if (scope.empty() || scope[0].what != path_step::kind::member) return std::nullopt;
    if (scope[0].key == desired_state_fields[source_field]) {
        value_path out{{path_step::kind::member, std::string(desired_state_fields[sources_field])},
                       {path_step::kind::every_element}};
        out.insert(out.end(), scope.begin() + 1, scope.end());
        return out;
    }
    if (scope[0].key == desired_state_fields[sources_field]) {
        value_path out{{path_step::kind::member, std::string(desired_state_fields[source_field])}};
        const auto rest = scope.size() > 1 ? scope.begin() + 2 : scope.end();
        out.insert(out.end(), rest, scope.end());
        return out;
    }
    return std::nullopt;
}

}  // namespace

std::optional<value_path> parse_scope_path(std::string_view text, std::string& problem) {
    if (text.starts_with("spec.")) {
        problem = "paths are relative to the Application's spec: write " + quote(text.substr(5));
        return std::nullopt;
    }
    value_path path;
    std::size_t at = 0;
    const auto root = field_after(text, at);
    if (std::find(desired_state_fields.begin(), desired_state_fields.end(), root) == desired_state_fields.end()) {
        problem =
            "must be a path in the Application's desired state, starting with source, sources, sourceHydrator "
            "or syncPolicy";
        return std::nullopt;
    }
    path.push_back({path_step::kind::member, std::string(root)});
    while (at < text.size()) {
        if (text[at] == '.') {
            ++at;
            const auto key = field_after(text, at);
            if (key.empty()) {
                problem = "a member name must follow each \".\"";
                return std::nullopt;
            }
            path.push_back({path_step::kind::member, std::string(key)});
        } else if (text[at] == '[') {
            auto step = bracket(text, at, problem);
            if (!step) return std::nullopt;
            path.push_back(std::move(*step));
        } else {
            problem = "unexpected " + quote(text.substr(at, 1)) + " at position " + std::to_string(at);
            return std::nullopt;
        }
    }
    // The desired-state fields have fixed shapes: `sources` is a list, the others are objects.
    const bool list_root = root == desired_state_fields[sources_field];
    if (list_root && path.size() > 1 && !is_index(path[1])) {
        problem = "sources is a list: name one source by index (sources[0]." + path[1].key +
                  ") or every source (sources[*]." + path[1].key + ")";
        return std::nullopt;
    }
    if (!list_root && path.size() > 1 && is_index(path[1])) {
        problem = std::string(root) + " is an object, not a list";
        return std::nullopt;
    }
    return path;
}

std::string to_string(const value_path& path) {
    std::string out;
    for (const auto& step : path) {
        switch (step.what) {
            case path_step::kind::member:
                if (std::all_of(step.key.begin(), step.key.end(), is_key_char)) {
                    if (!out.empty()) out += '.';
                    out += step.key;
                } else {
                    out.append("[\"").append(step.key).append("\"]");
                }
                break;
            case path_step::kind::element:
                // Appended in place: g++ 12 -O3 warns (-Wrestrict, falsely) on "[" + string temporaries.
                out.append("[").append(std::to_string(step.index)).append("]");
                break;
            case path_step::kind::every_element:
                out += "[*]";
                break;
        }
    }
    return out;
}

bool touches(const value_path& scope, const desired_changes& changes) {
    if (!changes.complete) return true;
    const auto other = other_shape(scope);
    return std::any_of(changes.places.begin(), changes.places.end(), [&](const value_path& place) {
        return covers(scope, place) || (other && covers(*other, place));
    });
}

bool touches_any(const std::vector<value_path>& scope, const desired_changes& changes) {
    return std::any_of(scope.begin(), scope.end(), [&](const value_path& p) { return touches(p, changes); });
}

}  // namespace apr::core
