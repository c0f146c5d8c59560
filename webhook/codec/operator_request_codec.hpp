#pragma once
// The annotation deployment.skyscanner.net/request <-> core::operator_request (docs/operations.md,
// "Operator commands"): a JSON object {"verb", "id", "stage", "skipBake", "rollback", "cluster",
// "reason", "until", and, stamped by the mutating webhook, "user", "groups", "at"}.

#include "core/operator_request.hpp"

#include <rapidjson/document.h>

#include <optional>
#include <string>
#include <string_view>

namespace apr::codec {

// The field path errors in the annotation are reported under.
inline constexpr std::string_view request_field_path = "metadata.annotations[deployment.skyscanner.net/request]";

struct decoded_request {
    core::operator_request request;
    core::field_errors errors;  // not JSON, wrong types, unknown fields or verbs, bad times
};

decoded_request decode_request(std::string_view annotation_value);

// Canonical text of a request (the stamp included when present).
std::string encode_request(const core::operator_request& request);

// The annotation's value on an object, if it has one.
std::optional<std::string> request_annotation_of(const rapidjson::Value& object);

}  // namespace apr::codec
