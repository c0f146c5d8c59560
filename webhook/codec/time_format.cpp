#include "codec/time_format.hpp"

#include <cstdio>

namespace apr::codec {

namespace {

std::string format(std::chrono::system_clock::time_point t, bool micro) {
    using namespace std::chrono;
    const auto us = floor<microseconds>(t);
    const auto day = floor<days>(us);
    const year_month_day ymd{day};
    const hh_mm_ss hms{us - day};
    char buf[64];
    const int n = std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02ld:%02ld:%02lld", static_cast<int>(ymd.year()),
                                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                                static_cast<long>(hms.hours().count()), static_cast<long>(hms.minutes().count()),
                                static_cast<long long>(hms.seconds().count()));
    std::string out(buf, static_cast<std::size_t>(n));
    if (micro) {
        std::snprintf(buf, sizeof buf, ".%06lld", static_cast<long long>(hms.subseconds().count()));
        out += buf;
    }
    out += 'Z';
    return out;
}

// Exactly `width` decimal digits at the front of `s`; consumes them.
std::optional<int> digits(std::string_view& s, std::size_t width) {
    if (s.size() < width) return std::nullopt;
    int v = 0;
    for (std::size_t i = 0; i < width; ++i) {
        if (s[i] < '0' || s[i] > '9') return std::nullopt;
        v = v * 10 + (s[i] - '0');
    }
    s.remove_prefix(width);
    return v;
}

bool literal(std::string_view& s, char c) {
    if (s.empty() || s.front() != c) return false;
    s.remove_prefix(1);
    return true;
}

}  // namespace

std::string format_time(std::chrono::system_clock::time_point t) {
    return format(t, false);
}

std::string format_micro_time(std::chrono::system_clock::time_point t) {
    return format(t, true);
}

std::optional<micro_time> parse_micro_time(std::string_view s) {
    using namespace std::chrono;
    const auto y = digits(s, 4);
    if (!y || !literal(s, '-')) return std::nullopt;
    const auto mo = digits(s, 2);
    if (!mo || !literal(s, '-')) return std::nullopt;
    const auto d = digits(s, 2);
    if (!d || !literal(s, 'T')) return std::nullopt;
    const auto h = digits(s, 2);
    if (!h || !literal(s, ':')) return std::nullopt;
    const auto mi = digits(s, 2);
    if (!mi || !literal(s, ':')) return std::nullopt;
    const auto sec = digits(s, 2);
    if (!sec) return std::nullopt;
    long long frac_us = 0;
    if (literal(s, '.')) {
        int n = 0;
        for (; !s.empty() && s.front() >= '0' && s.front() <= '9'; ++n, s.remove_prefix(1))
            if (n < 6) frac_us = frac_us * 10 + (s.front() - '0');
        if (n == 0) return std::nullopt;
        for (; n < 6; ++n) frac_us *= 10;
    }
    long offset_seconds = 0;
    if (s == "Z" || s == "z") {
    } else if (s.size() == 6 && (s[0] == '+' || s[0] == '-')) {
        const bool negative = s[0] == '-';
        s.remove_prefix(1);
        const auto oh = digits(s, 2);
        if (!oh || !literal(s, ':')) return std::nullopt;
        const auto om = digits(s, 2);
        if (!om || *oh > 23 || *om > 59) return std::nullopt;
        offset_seconds = (*oh * 3600L + *om * 60L) * (negative ? -1 : 1);
    } else {
        return std::nullopt;
    }
    const year_month_day ymd{year{*y}, month{static_cast<unsigned>(*mo)}, day{static_cast<unsigned>(*d)}};
    if (!ymd.ok() || *h > 23 || *mi > 59 || *sec > 60) return std::nullopt;
    return sys_days{ymd} + hours{*h} + minutes{*mi} + seconds{*sec} - seconds{offset_seconds} + microseconds{frac_us};
}

std::optional<core::time_point> parse_time(std::string_view s) {
    const auto t = parse_micro_time(s);
    if (!t) return std::nullopt;
    return std::chrono::floor<std::chrono::seconds>(*t);
}

}  // namespace apr::codec
