#include "core/int_or_percent.hpp"

#include <charconv>

namespace apr::core {

int_or_percent int_or_percent::parse(std::string_view s) {
    int_or_percent out;
    out.is_percent = true;
    out.text = std::string(s);
    if (s.size() < 2 || s.back() != '%') {
        out.well_formed = false;
        return out;
    }
    auto digits = s.substr(0, s.size() - 1);
    long long n = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (ec != std::errc{} || end != digits.data() + digits.size() || digits.front() == '-' || digits.front() == '+') {
        out.well_formed = false;
        return out;
    }
    out.value = n;
    return out;
}

long long int_or_percent::resolve(long long total) const {
    if (!is_percent) return value;
    if (total <= 0 || value <= 0) return 0;
    long long n = total * value / 100;
    return n == 0 ? 1 : n;
}

}  // namespace apr::core
