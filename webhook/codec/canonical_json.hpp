#pragma once
// Canonical JSON (object keys sorted, no whitespace) and its hash: the identity of an
// Application's desired state, stable however the API server or Argo CD orders the fields.

#include <rapidjson/document.h>

#include <optional>
#include <string>

namespace apr::codec {

std::string canonical_json(const rapidjson::Value& value);

// True only when canonical_json(a) == canonical_json(b), decided without writing either: what
// differs in member order or is not sure to be equal (a number written as 1 and as 1.0, an object
// with a key twice) answers false, and the caller then compares the canonical texts.
bool surely_same_json(const rapidjson::Value& a, const rapidjson::Value& b);
// First 16 hex digits of SHA-256: enough to tell changes apart, short enough for 5,000-cluster status.
std::string content_hash(std::string_view text);

std::string base64_encode(std::string_view bytes);
// nullopt on malformed input (Secret data from the API server is still untrusted text).
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace apr::codec
