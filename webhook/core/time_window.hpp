#pragma once
// Sync windows on the timeline: when a cron-scheduled window is open, when it next opens or
// closes, and Argo CD's CanSync rule over a set of windows (deny beats allow; allow windows that
// exist but are closed block). Used for spec.windows and for Argo CD AppProject syncWindows
// (project_windows.hpp). Pure: the caller passes "now" and resolved time zones. The rules,
// including daylight-saving behaviour, are documented in docs/windows.md.

#include "core/cron.hpp"
#include "core/duration.hpp"

#include <chrono>
#include <optional>
#include <span>
#include <string>

namespace date {
class time_zone;
}

namespace apr::core {

// A time zone as written and the zone it names, resolved by the codec (which may read the
// system's tz database); zone is nullptr for an empty or unknown name.
struct zone_ref {
    std::string name;
    const date::time_zone* zone = nullptr;
    friend bool operator==(const zone_ref&, const zone_ref&) = default;
};

enum class window_kind { allow, deny, other };  // Argo CD ignores a window of any other kind

// One window: opens at every instant whose wall clock in `zone` matches the schedule, and stays
// open for `length`. `shift` moves the whole timeline (Argo CD's reading of project windows, see
// project_windows.hpp); rollout windows have none.
struct window_schedule {
    window_kind kind = window_kind::deny;
    cron_schedule schedule;
    duration length{};
    const date::time_zone* zone = nullptr;  // nullptr: UTC
    std::chrono::seconds shift{0};
    bool manual_sync = false;          // Argo CD's manualSync
    bool never_fires_is_open = false;  // Argo CD: a schedule with no opening in five years is active
};

// The first opening strictly after `after`; nullopt when none within five years.
std::optional<time_point> next_opening(const window_schedule& window, time_point after);

// Open at t: some opening s with s <= t < s + length.
bool is_open(const window_schedule& window, time_point t);

// The first instant after t at which the window opens or one of its openings ends: the only
// instants at which is_open can change.
std::optional<time_point> next_event(const window_schedule& window, time_point t);

// Argo CD's SyncWindows.CanSync for windows that already match the Application:
// no windows: yes; an open deny window: only a manual sync, and only when every open deny window
// has manualSync; an open allow window: yes; allow windows that are all closed: only a manual
// sync with manualSync on every one of them; otherwise yes.
bool can_sync(std::span<const window_schedule> windows, bool manual, time_point t);

// What a set of windows means at t and when that changes.
struct window_verdict {
    bool allowed = true;
    std::optional<time_point> changes_at;  // nullopt: not within the search horizon
};

// `allowed` is can_sync at t; `changes_at` the first later instant at which it differs, searched
// up to a year ahead.
window_verdict evaluate_windows(std::span<const window_schedule> windows, bool manual, time_point t);

// spec.windows[] of a ProgressiveRollout as written; validation.cpp checks it.
struct window_spec {
    std::string kind;  // "Allow" or "Deny"
    std::string schedule;
    duration_field duration;
    zone_ref time_zone;  // empty: UTC
    friend bool operator==(const window_spec&, const window_spec&) = default;
};

// The rollout's windows at t: whether new clusters may be admitted, until when (or from when),
// and why not. Windows that do not validate are left out (validation refuses them).
struct windows_state {
    bool admitting = true;
    std::optional<time_point> changes_at;
    std::string reason;  // empty when admitting
};

windows_state windows_at(std::span<const window_spec> windows, time_point t);

// `"0 9 * * 1-5" for 8h in Europe/London`, for messages.
std::string describe(const window_spec& window);

// The schedule of one rollout window, or nullopt when it does not validate.
std::optional<window_schedule> schedule_of(const window_spec& window);

}  // namespace apr::core
