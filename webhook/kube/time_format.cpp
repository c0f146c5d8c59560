#include "kube/time_format.hpp"

#include <cstdio>
#include <ctime>

namespace apr::kube {

namespace {

std::string
format(std::chrono::system_clock::time_point t, bool micro)
{
    using namespace std::chrono;
    auto const secs = time_point_cast<seconds>(t);
    auto us = duration_cast<microseconds>(t - secs).count();
    if(us < 0)
        us = 0;
    std::time_t tt = system_clock::to_time_t(secs);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[96];
    if(micro)
        std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
            tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
            static_cast<long long>(us));
    else
        std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
            tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
}

} // namespace

std::string
format_time(std::chrono::system_clock::time_point t)
{
    return format(t, false);
}

std::string
format_micro_time(std::chrono::system_clock::time_point t)
{
    return format(t, true);
}

std::optional<std::chrono::system_clock::time_point>
parse_time(std::string_view s)
{
    int y, mo, d, h, mi, se;
    int consumed = 0;
    std::string str(s);
    if(std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &se,
           &consumed) != 6)
        return std::nullopt;
    std::string_view rest = s.substr(static_cast<std::size_t>(consumed));
    long long frac_us = 0;
    if(!rest.empty() && rest.front() == '.')
    {
        rest.remove_prefix(1);
        int digits = 0;
        while(!rest.empty() && rest.front() >= '0' && rest.front() <= '9')
        {
            if(digits < 6)
            {
                frac_us = frac_us * 10 + (rest.front() - '0');
                ++digits;
            }
            rest.remove_prefix(1);
        }
        for(; digits < 6; ++digits)
            frac_us *= 10;
    }
    if(rest != "Z" && rest != "+00:00")
        return std::nullopt;
    std::tm tm{};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    std::time_t tt = timegm(&tm);
    return std::chrono::system_clock::from_time_t(tt) + std::chrono::microseconds(frac_us);
}

} // namespace apr::kube
