#pragma once
// Field-path errors in the API server's own wording (k8s.io/apimachinery field.Error), so that
// `kubectl apply` users read the webhook's messages exactly like built-in validation.

#include <string>
#include <vector>

namespace apr::core {

enum class error_kind { required, invalid, duplicate, unsupported, forbidden, unknown_field, type_invalid };

struct field_error {
    error_kind kind;
    std::string field;  // e.g. spec.stages[1].maxUnavailable
    std::string value;  // already rendered: "\"125%\"", "-1"; empty when not applicable
    std::string detail;

    std::string to_string() const;
    friend bool operator==(const field_error&, const field_error&) = default;
};

using field_errors = std::vector<field_error>;

// Renders a string the way field.Invalid prints string values (Go's %q).
std::string quote(std::string_view value);

// Joins path segments: path_of("spec.stages", 1) == "spec.stages[1]".
std::string indexed(std::string_view path, std::size_t index);
std::string child(std::string_view path, std::string_view name);

}  // namespace apr::core
