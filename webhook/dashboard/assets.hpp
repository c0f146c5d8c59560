#pragma once
// The dashboard's page, stylesheet and script, embedded in the binary at build time
// (embed_assets.cmake writes the table from assets/): the page works offline and needs no files
// next to the binary.

#include <span>
#include <string_view>

namespace apr::dashboard {

struct asset {
    std::string_view name;  // file name under assets/, e.g. "app.js"
    std::string_view content_type;
    std::string_view body;
};

std::span<const asset> assets();

}  // namespace apr::dashboard
