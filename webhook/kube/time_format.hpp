#pragma once
// Kubernetes timestamps: metav1.Time ("2006-01-02T15:04:05Z") and metav1.MicroTime
// ("2006-01-02T15:04:05.000000Z"), always UTC.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace apr::kube {

std::string
format_time(std::chrono::system_clock::time_point t);

std::string
format_micro_time(std::chrono::system_clock::time_point t);

// Accepts both forms (and an explicit +00:00 offset); nullopt when malformed.
std::optional<std::chrono::system_clock::time_point>
parse_time(std::string_view s);

} // namespace apr::kube
