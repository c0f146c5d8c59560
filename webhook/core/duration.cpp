#include "core/duration.hpp"

#include <cmath>

namespace apr::core {

std::optional<duration> parse_duration(std::string_view s) {
    if (s.empty()) return std::nullopt;
    bool negative = false;
    if (s.front() == '-' || s.front() == '+') {
        negative = s.front() == '-';
        s.remove_prefix(1);
    }
    if (s == "0") return duration::zero();
    if (s.empty()) return std::nullopt;
    long double total_ns = 0;
    while (!s.empty()) {
        // number: digits, optional fraction
        std::size_t i = 0;
        long double whole = 0;
        bool any_digit = false;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
            whole = whole * 10 + (s[i] - '0');
            ++i;
            any_digit = true;
        }
        long double frac = 0, scale = 1;
        if (i < s.size() && s[i] == '.') {
            ++i;
            while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
                frac = frac * 10 + (s[i] - '0');
                scale *= 10;
                ++i;
                any_digit = true;
            }
        }
        if (!any_digit) return std::nullopt;
        std::size_t unit_start = i;
        while (i < s.size() && !(s[i] >= '0' && s[i] <= '9') && s[i] != '.') ++i;
        auto unit = s.substr(unit_start, i - unit_start);
        long double ns_per_unit;
        if (unit == "ns")
            ns_per_unit = 1;
        else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs")
            ns_per_unit = 1e3;
        else if (unit == "ms")
            ns_per_unit = 1e6;
        else if (unit == "s")
            ns_per_unit = 1e9;
        else if (unit == "m")
            ns_per_unit = 60e9;
        else if (unit == "h")
            ns_per_unit = 3600e9;
        else
            return std::nullopt;  // missing or unknown unit, as in Go
        total_ns += (whole + frac / scale) * ns_per_unit;
        if (total_ns > 9.2e18L) return std::nullopt;  // Go: "invalid duration" on overflow
        s.remove_prefix(i);
    }
    auto ms = static_cast<long long>(std::floor(total_ns / 1e6L));
    return duration(negative ? -ms : ms);
}

std::string format_duration(duration d) {
    if (d == duration::zero()) return "0s";
    std::string out;
    if (d < duration::zero()) {
        out += '-';
        d = -d;
    }
    auto ms = d.count();
    auto h = ms / 3'600'000;
    ms %= 3'600'000;
    auto m = ms / 60'000;
    ms %= 60'000;
    auto s = ms / 1000;
    ms %= 1000;
    if (h) out += std::to_string(h) + "h";
    if (m) out += std::to_string(m) + "m";
    if (s || ms) {
        out += std::to_string(s);
        if (ms) {
            auto frac = std::to_string(1000 + ms).substr(1);
            while (!frac.empty() && frac.back() == '0') frac.pop_back();
            out += "." + frac;
        }
        out += "s";
    }
    return out;
}

}  // namespace apr::core
