#pragma once
// Finding where a JSON object or array ends without parsing it. Admission reviews carry the whole
// Application twice (object and oldObject), and most of their bytes are in parts the decision never
// reads (status, metadata.managedFields); tokenizing those is most of the cost of a 20 KB review.
// Like simdjson's On-Demand API, a skipped value is checked for structure only: brackets balance
// outside strings and every string ends. Its content is not validated.

#include <cstddef>

namespace apr::codec {

// `open` points at '{' or '['. Returns one past the bracket that closes it, or nullptr when `end`
// comes first (an unterminated string or container). Brackets of either kind count the same.
const char* skip_container(const char* open, const char* end);

// The byte-at-a-time version skip_container falls back to; exposed so tests can compare the two.
const char* skip_container_scalar(const char* open, const char* end);

}  // namespace apr::codec
