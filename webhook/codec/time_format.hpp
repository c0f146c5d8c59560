#pragma once
// RFC 3339 timestamps as Kubernetes writes them: metav1.Time ("2006-01-02T15:04:05Z", whole
// seconds) and metav1.MicroTime ("2006-01-02T15:04:05.000000Z"). The one parser for every layer.

#include "core/duration.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace apr::codec {

using micro_time = std::chrono::sys_time<std::chrono::microseconds>;

// "2026-11-27T16:05:03Z": whole seconds (floored), UTC.
std::string format_time(std::chrono::system_clock::time_point t);
// "2026-11-27T16:05:03.123456Z": microseconds, UTC.
std::string format_micro_time(std::chrono::system_clock::time_point t);

// Accepts "YYYY-MM-DDTHH:MM:SS", then optional fractional seconds ("." and one or more digits,
// kept to the microsecond), then "Z", "z" or a numeric offset "+HH:MM" / "-HH:MM".
// Rejects anything else (missing zone, out-of-range fields, trailing text); nullopt then.
std::optional<micro_time> parse_micro_time(std::string_view text);
// The same input, floored to whole seconds.
std::optional<core::time_point> parse_time(std::string_view text);

}  // namespace apr::codec
