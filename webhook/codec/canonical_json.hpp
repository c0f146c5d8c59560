#pragma once
// Canonical JSON (object keys sorted, no whitespace) and its hash: the identity of an
// Application's desired state, stable however the API server or Argo CD orders the fields.

#include <rapidjson/document.h>

#include <optional>
#include <string>

namespace apr::codec {

std::string canonical_json(const rapidjson::Value& value);
// First 16 hex digits of SHA-256: enough to tell changes apart, short enough for 5,000-cluster status.
std::string content_hash(std::string_view text);

std::string base64_encode(std::string_view bytes);
// nullopt on malformed input (Secret data from the API server is still untrusted text).
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace apr::codec
