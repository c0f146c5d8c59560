#pragma once
// metav1.LabelSelector over cluster labels: matchLabels AND every matchExpression, with the API
// server's key/value syntax rules. A null selector matches nothing; an empty one matches all.

#include "core/field_errors.hpp"

#include <map>
#include <string>
#include <vector>

namespace apr::core {

using label_map = std::map<std::string, std::string, std::less<>>;

enum class selector_operator { in, not_in, exists, does_not_exist, unknown };

struct label_requirement {
    std::string key;
    selector_operator op = selector_operator::unknown;
    std::string op_text;  // as written, for messages about unknown operators
    std::vector<std::string> values;
    friend bool operator==(const label_requirement&, const label_requirement&) = default;
};

struct label_selector {
    label_map match_labels;
    std::vector<label_requirement> match_expressions;

    bool matches(const label_map& labels) const;
    bool empty() const { return match_labels.empty() && match_expressions.empty(); }
    friend bool operator==(const label_selector&, const label_selector&) = default;
};

selector_operator parse_operator(std::string_view text);
std::string_view to_string(selector_operator op);

// Appends every syntax error of `selector` under `path` (e.g. spec.stages[0].clusters.selector).
void validate_selector(const label_selector& selector, const std::string& path, field_errors& errors);

// The API server's rules for label keys ("prefix/name") and values; empty string when valid,
// otherwise the reason.
std::string label_key_problem(std::string_view key);
std::string label_value_problem(std::string_view value);

}  // namespace apr::core
