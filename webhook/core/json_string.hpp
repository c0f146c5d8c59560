#pragma once
// JSON string literals for the few places the core writes raw JSON text (patch values that the
// codec inserts verbatim). Kept here so the core stays free of a JSON library.

#include <string>
#include <string_view>

namespace apr::core {

std::string quote_json(std::string_view s);

}  // namespace apr::core
