#include "core/cron.hpp"

#include <array>
#include <charconv>
#include <limits>
#include <vector>

namespace apr::core {

namespace {

struct bounds {
    unsigned min, max;
    const std::array<std::string_view, 12>* names;  // value of names[i] is i + names_base
    unsigned names_base;
};

constexpr std::array<std::string_view, 12> month_names{"jan", "feb", "mar", "apr", "may", "jun",
                                                       "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<std::string_view, 12> day_names{"sun", "mon", "tue", "wed", "thu", "fri",
                                                     "sat", "",    "",    "",    "",    ""};

constexpr bounds minute_bounds{0, 59, nullptr, 0};
constexpr bounds hour_bounds{0, 23, nullptr, 0};
constexpr bounds day_of_month_bounds{1, 31, nullptr, 0};
constexpr bounds month_bounds{1, 12, &month_names, 1};
constexpr bounds day_of_week_bounds{0, 6, &day_names, 0};

constexpr std::uint64_t star_bit = std::uint64_t{1} << 63;

std::vector<std::string_view> split(std::string_view s, char separator) {
    std::vector<std::string_view> parts;
    for (;;) {
        auto at = s.find(separator);
        parts.push_back(s.substr(0, at));
        if (at == std::string_view::npos) return parts;
        s.remove_prefix(at + 1);
    }
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

// Go's strconv.Atoi, then robfig's "negative number" check.
bool parse_number(std::string_view text, unsigned& value, std::string& error) {
    auto digits = text;
    bool negative = false;
    if (!digits.empty() && (digits.front() == '+' || digits.front() == '-')) {
        negative = digits.front() == '-';
        digits.remove_prefix(1);
    }
    long long n = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() ||
        n > std::numeric_limits<int>::max()) {
        error = "failed to parse int from " + std::string(text);
        return false;
    }
    if (negative && n != 0) {
        error = "negative number (-" + std::to_string(n) + ") not allowed: " + std::string(text);
        return false;
    }
    value = static_cast<unsigned>(n);
    return true;
}

bool parse_int_or_name(std::string_view text, const bounds& r, unsigned& value, std::string& error) {
    if (r.names) {
        auto name = lower(text);
        for (std::size_t i = 0; i < r.names->size(); ++i)
            if (!(*r.names)[i].empty() && (*r.names)[i] == name) {
                value = static_cast<unsigned>(i) + r.names_base;
                return true;
            }
    }
    return parse_number(text, value, error);
}

// robfig's getRange: number | number "-" number [ "/" number ] | "*" or "?" [ "/" number ].
bool parse_range(std::string_view expr, const bounds& r, std::uint64_t& bits, std::string& error) {
    auto range_and_step = split(expr, '/');
    auto low_and_high = split(range_and_step[0], '-');
    const bool single = low_and_high.size() == 1;
    unsigned start = 0, end = 0, step = 1;
    std::uint64_t extra = 0;
    if (low_and_high[0] == "*" || low_and_high[0] == "?") {
        start = r.min;
        end = r.max;
        extra = star_bit;
    } else {
        if (!parse_int_or_name(low_and_high[0], r, start, error)) return false;
        if (low_and_high.size() == 1) {
            end = start;
        } else if (low_and_high.size() == 2) {
            if (!parse_int_or_name(low_and_high[1], r, end, error)) return false;
        } else {
            error = "too many hyphens: " + std::string(expr);
            return false;
        }
    }
    if (range_and_step.size() == 2) {
        if (!parse_number(range_and_step[1], step, error)) return false;
        if (single) end = r.max;  // "N/step" means "N-max/step"
        if (step > 1) extra = 0;
    } else if (range_and_step.size() > 2) {
        error = "too many slashes: " + std::string(expr);
        return false;
    }
    auto text = std::string(expr);
    if (start < r.min) {
        error =
            "beginning of range (" + std::to_string(start) + ") below minimum (" + std::to_string(r.min) + "): " + text;
        return false;
    }
    if (end > r.max) {
        error = "end of range (" + std::to_string(end) + ") above maximum (" + std::to_string(r.max) + "): " + text;
        return false;
    }
    if (start > end) {
        error = "beginning of range (" + std::to_string(start) + ") beyond end of range (" + std::to_string(end) +
                "): " + text;
        return false;
    }
    if (step == 0) {
        error = "step of range should be a positive number: " + text;
        return false;
    }
    for (unsigned i = start; i <= end; i += step) bits |= std::uint64_t{1} << i;
    bits |= extra;
    return true;
}

// A comma-separated list of ranges; empty items are skipped, as Go's strings.FieldsFunc does.
bool parse_field(std::string_view field, const bounds& r, std::uint64_t& bits, std::string& error) {
    for (auto expr : split(field, ','))
        if (!expr.empty() && !parse_range(expr, r, bits, error)) return false;
    return true;
}

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

std::vector<std::string_view> fields_of(std::string_view s) {
    std::vector<std::string_view> fields;
    std::size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && is_space(s[i])) ++i;
        auto start = i;
        while (i < s.size() && !is_space(s[i])) ++i;
        if (i > start) fields.push_back(s.substr(start, i - start));
    }
    return fields;
}

bool has(std::uint64_t bits, unsigned value) {
    return (bits >> value) & 1U;
}

}  // namespace

bool cron_schedule::matches_day(date::year_month_day day) const {
    const bool dom = has(days_of_month, static_cast<unsigned>(day.day()));
    const bool dow = has(days_of_week, date::weekday(day).c_encoding());
    if (day_of_month_star || day_of_week_star) return dom && dow;
    return dom || dow;
}

cron_parse_result parse_cron(std::string_view spec) {
    cron_parse_result result;
    if (spec.empty()) {
        result.error = "empty spec string";
        return result;
    }
    cron_schedule schedule;
    if (spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=")) {
        auto space = spec.find(' ');
        auto eq = spec.find('=');
        if (space == std::string_view::npos) {
            result.error = "a time zone prefix must be followed by a schedule";
            return result;
        }
        schedule.zone = std::string(spec.substr(eq + 1, space - eq - 1));
        spec.remove_prefix(space);
    }
    auto fields = fields_of(spec);
    if (!fields.empty() && fields[0].starts_with("@")) {
        result.error = "parser does not accept descriptors: " + std::string(fields[0]);
        return result;
    }
    if (fields.size() != 5) {
        result.error = "expected exactly 5 fields, found " + std::to_string(fields.size());
        return result;
    }
    auto& error = result.error;
    std::uint64_t dom = 0, dow = 0;
    if (!parse_field(fields[0], minute_bounds, schedule.minutes, error) ||
        !parse_field(fields[1], hour_bounds, schedule.hours, error) ||
        !parse_field(fields[2], day_of_month_bounds, dom, error) ||
        !parse_field(fields[3], month_bounds, schedule.months, error) ||
        !parse_field(fields[4], day_of_week_bounds, dow, error))
        return result;
    schedule.day_of_month_star = dom & star_bit;
    schedule.day_of_week_star = dow & star_bit;
    schedule.days_of_month = dom & ~star_bit;
    schedule.days_of_week = dow & ~star_bit;
    schedule.minutes &= ~star_bit;
    schedule.hours &= ~star_bit;
    schedule.months &= ~star_bit;
    result.schedule = std::move(schedule);
    return result;
}

std::optional<civil_minutes> next_match(const cron_schedule& s, civil_minutes from, date::year last_year) {
    using namespace std::chrono;
    using date::days;
    auto t = from;
    for (;;) {
        const auto day = date::floor<days>(t);
        const date::year_month_day ymd{day};
        if (ymd.year() > last_year) return std::nullopt;
        if (!has(s.months, static_cast<unsigned>(ymd.month()))) {
            t = civil_minutes{date::local_days{(ymd.year() / ymd.month() + date::months{1}) / 1}};
            continue;
        }
        if (!s.matches_day(ymd)) {
            t = civil_minutes{day + days{1}};
            continue;
        }
        const auto time_of_day = t - civil_minutes{day};
        const auto hour = static_cast<unsigned>(duration_cast<hours>(time_of_day).count());
        if (!has(s.hours, hour)) {
            t = civil_minutes{day} + hours{hour + 1};
            continue;
        }
        const auto minute = static_cast<unsigned>((time_of_day - hours{hour}).count());
        if (!has(s.minutes, minute)) {
            t += minutes{1};
            continue;
        }
        return t;
    }
}

bool never_matches(const cron_schedule& s) {
    if (!s.minutes || !s.hours || !s.months || !s.days_of_month || !s.days_of_week) return true;
    if (!s.day_of_week_star) return false;  // some day of week matches in every month
    // Every weekday matches, so a day matches exactly when its day of month does: is there a
    // matching day that some matching month has (February counts its 29th)?
    constexpr std::array<unsigned, 13> longest{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    for (unsigned m = 1; m <= 12; ++m)
        if (has(s.months, m))
            for (unsigned d = 1; d <= longest[m]; ++d)
                if (has(s.days_of_month, d)) return false;
    return true;
}

}  // namespace apr::core
