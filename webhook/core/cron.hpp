#pragma once
// Cron schedules as Argo CD reads sync-window schedules: robfig/cron's standard parser with five
// fields (minute hour day-of-month month day-of-week; `*`, `?`, lists, ranges, steps, month and
// day names; no `@daily` descriptors), and the search for the next matching wall-clock minute.
// This file knows only wall clocks; time zones and instants are in time_window.hpp. The rules
// are documented in docs/windows.md.

#include <date/date.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace apr::core {

using civil_minutes = date::local_time<std::chrono::minutes>;

struct cron_schedule {
    // Bit i set: value i matches (day of week 0 = Sunday).
    std::uint64_t minutes = 0, hours = 0, days_of_month = 0, months = 0, days_of_week = 0;
    // robfig's "star bit": a field written as `*` or `?` (or `*/1`). When either day field has
    // it, a day must match both day fields; otherwise either one (the classic cron OR rule).
    bool day_of_month_star = false;
    bool day_of_week_star = false;
    // The zone of a "CRON_TZ=Zone " or "TZ=Zone " prefix, which robfig accepts; empty without.
    std::string zone;

    bool matches_day(date::year_month_day day) const;
    friend bool operator==(const cron_schedule&, const cron_schedule&) = default;
};

struct cron_parse_result {
    std::optional<cron_schedule> schedule;
    std::string error;  // robfig's reason when schedule is empty
};

cron_parse_result parse_cron(std::string_view spec);

// The first wall-clock minute at or after `from` that the schedule matches, or nullopt when there
// is none before the end of `last_year` (robfig gives up five years after its start).
std::optional<civil_minutes> next_match(const cron_schedule& schedule, civil_minutes from, date::year last_year);

// True when the schedule can never match (a field with no value, or "0 0 30 2 *").
bool never_matches(const cron_schedule& schedule);

}  // namespace apr::core
