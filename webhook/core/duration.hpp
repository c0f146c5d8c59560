#pragma once
// Go/Kubernetes duration strings ("90s", "30m", "1h30m", "1.5h", "300ms") and the time types the
// core uses. The core never reads a clock: every function that needs "now" takes it.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace apr::core {

using time_point = std::chrono::sys_seconds;
using duration = std::chrono::milliseconds;

// Parses Go's time.ParseDuration grammar; nullopt when it would not parse in Go either.
std::optional<duration> parse_duration(std::string_view text);

// Formats like Go's Duration.String() for whole seconds and up ("1h30m0s" -> "1h30m").
std::string format_duration(duration d);

// A spec field holding a duration: the text as written plus the parsed value when valid.
struct duration_field {
    std::string text;
    std::optional<duration> value;

    static duration_field of(std::string_view text) { return {std::string(text), parse_duration(text)}; }
    duration get() const { return value.value_or(duration::zero()); }
    friend bool operator==(const duration_field&, const duration_field&) = default;
};

}  // namespace apr::core
