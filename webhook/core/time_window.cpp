#include "core/time_window.hpp"

#include <date/tz.h>

#include <algorithm>
#include <vector>

namespace apr::core {

namespace {

using std::chrono::ceil;
using std::chrono::floor;
using std::chrono::minutes;
using std::chrono::seconds;

date::year civil_year(date::local_seconds t) {
    return date::year_month_day{floor<date::days>(t)}.year();
}

// The first instant at or after `from` whose wall clock in the zone matches the schedule. The
// timeline is cut where the zone's UTC offset changes; within a piece the wall clock is the
// instant plus a constant offset, so the earliest matching minute of the piece is found in civil
// time. A wall-clock time skipped by a change never matches that day; one repeated by a change
// matches twice — the instants robfig/cron itself returns.
std::optional<time_point> first_opening_from(const window_schedule& w, time_point from) {
    if (!w.zone) {
        const auto local = date::local_seconds{from.time_since_epoch()};
        auto match = next_match(w.schedule, ceil<minutes>(local), civil_year(local) + date::years{5});
        if (!match) return std::nullopt;
        return time_point{match->time_since_epoch()};
    }
    auto t = from;
    std::optional<date::year> last_year;
    for (;;) {
        const auto info = w.zone->get_info(t);
        const auto local = date::local_seconds{t.time_since_epoch() + info.offset};
        if (!last_year) last_year = civil_year(local) + date::years{5};
        auto match = next_match(w.schedule, ceil<minutes>(local), *last_year);
        if (!match) return std::nullopt;
        const auto s = time_point{match->time_since_epoch() - info.offset};
        if (s < info.end) return s;
        t = info.end;
    }
}

// The first opening strictly after t - length: the earliest opening that may still be open at t.
std::optional<time_point> earliest_live_opening(const window_schedule& w, time_point t) {
    const auto after = floor<seconds>(t + w.shift - w.length);
    auto s = first_opening_from(w, after + seconds{1});
    if (!s) return std::nullopt;
    return *s - w.shift;
}

}  // namespace

std::optional<time_point> next_opening(const window_schedule& w, time_point after) {
    auto s = first_opening_from(w, after + w.shift + seconds{1});
    if (!s) return std::nullopt;
    return *s - w.shift;
}

bool is_open(const window_schedule& w, time_point t) {
    auto s = earliest_live_opening(w, t);
    if (!s) return w.never_fires_is_open;
    return *s <= t;
}

std::optional<time_point> next_event(const window_schedule& w, time_point t) {
    auto opening = next_opening(w, t);
    std::optional<time_point> closing;
    if (auto s = earliest_live_opening(w, t); s && *s <= t) closing = ceil<seconds>(*s + w.length);
    if (!opening) return closing;
    if (!closing) return opening;
    return std::min(*opening, *closing);
}

bool can_sync(std::span<const window_schedule> windows, bool manual, time_point t) {
    if (windows.empty()) return true;
    bool deny_open = false, deny_manual = true, allow_open = false;
    for (const auto& w : windows) {
        if (w.kind == window_kind::other || !is_open(w, t)) continue;
        if (w.kind == window_kind::deny) {
            deny_open = true;
            deny_manual = deny_manual && w.manual_sync;
        } else {
            allow_open = true;
        }
    }
    if (deny_open) return manual && deny_manual;
    if (allow_open) return true;
    bool closed_allow = false, allow_manual = true;
    for (const auto& w : windows) {
        if (w.kind != window_kind::allow) continue;
        closed_allow = true;  // every allow window is closed here
        allow_manual = allow_manual && w.manual_sync;
    }
    if (closed_allow) return manual && allow_manual;
    return true;
}

window_verdict evaluate_windows(std::span<const window_schedule> windows, bool manual, time_point t) {
    window_verdict verdict;
    verdict.allowed = can_sync(windows, manual, t);
    // Every window's openings and ends, in order, until the verdict flips. The bound keeps a
    // pathological schedule (a deny window every minute, a minute long) from searching for long.
    const auto horizon = t + date::days{366};
    constexpr int max_events = 20'000;
    auto u = t;
    for (int i = 0; i < max_events; ++i) {
        std::optional<time_point> next;
        for (const auto& w : windows) {
            if (w.kind == window_kind::other) continue;
            auto e = next_event(w, u);
            if (e && (!next || *e < *next)) next = e;
        }
        if (!next || *next > horizon) return verdict;
        if (can_sync(windows, manual, *next) != verdict.allowed) {
            verdict.changes_at = next;
            return verdict;
        }
        u = *next;
    }
    return verdict;
}

std::optional<window_schedule> schedule_of(const window_spec& window) {
    window_schedule s;
    if (window.kind == "Allow")
        s.kind = window_kind::allow;
    else if (window.kind == "Deny")
        s.kind = window_kind::deny;
    else
        return std::nullopt;
    auto cron = parse_cron(window.schedule);
    if (!cron.schedule || !cron.schedule->zone.empty() || !window.duration.value) return std::nullopt;
    if (!window.time_zone.name.empty() && !window.time_zone.zone) return std::nullopt;
    s.schedule = std::move(*cron.schedule);
    s.length = *window.duration.value;
    s.zone = window.time_zone.zone;
    return s;
}

windows_state windows_at(std::span<const window_spec> windows, time_point t) {
    std::vector<window_schedule> schedules;
    std::vector<const window_spec*> sources;
    for (const auto& w : windows)
        if (auto s = schedule_of(w)) {
            schedules.push_back(std::move(*s));
            sources.push_back(&w);
        }
    // The rollout's own rule is Argo CD's for an automated sync: no manual override.
    const auto verdict = evaluate_windows(schedules, false, t);
    windows_state state{verdict.allowed, verdict.changes_at, {}};
    if (state.admitting) return state;
    for (std::size_t i = 0; i < schedules.size(); ++i)
        if (schedules[i].kind == window_kind::deny && is_open(schedules[i], t)) {
            state.reason = "deny window " + describe(*sources[i]) + " is open";
            return state;
        }
    state.reason = "no allow window is open";
    return state;
}

std::string describe(const window_spec& w) {
    std::string out = "\"" + w.schedule + "\" for " + w.duration.text;
    if (!w.time_zone.name.empty()) out += " in " + w.time_zone.name;
    return out;
}

}  // namespace apr::core
