#pragma once
// RFC 3339 timestamps as Kubernetes writes them (metav1.Time: whole seconds, UTC, "Z").

#include "core/duration.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace apr::codec {

std::string format_time(core::time_point t);
// Accepts "2026-11-27T16:05:03Z", fractional seconds and numeric offsets; nullopt otherwise.
std::optional<core::time_point> parse_time(std::string_view text);

}  // namespace apr::codec
