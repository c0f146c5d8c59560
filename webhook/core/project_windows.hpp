#pragma once
// Argo CD AppProject spec.syncWindows, read exactly as Argo CD reads them: which windows match an
// Application (applications, clusters and namespaces as globs, OR-ed unless andOperator), and
// whether Argo CD would start a sync of it now (CanSync, time_window.hpp). Decoding from JSON
// lives in codec/; docs/windows.md says where this differs from rollout windows.

#include "core/time_window.hpp"

#include <string>
#include <vector>

namespace apr::core {

struct project_window {
    std::string kind;  // "allow" or "deny"; Argo CD ignores any other spelling
    std::string schedule;
    std::string duration;
    zone_ref time_zone;      // unknown or empty: UTC, as Argo CD falls back
    zone_ref schedule_zone;  // a CRON_TZ= prefix of the schedule; unknown: the window is invalid
    std::vector<std::string> applications;
    std::vector<std::string> namespaces;
    std::vector<std::string> clusters;
    bool manual_sync = false;
    bool and_operator = false;
    friend bool operator==(const project_window&, const project_window&) = default;
};

struct app_project {
    std::string name;
    std::vector<project_window> sync_windows;
    friend bool operator==(const app_project&, const app_project&) = default;
};

// What Argo CD's matching looks at: the Application's name and spec.destination.
struct application_target {
    std::string name;
    std::string destination_name;
    std::string destination_server;
    std::string destination_namespace;
};

// Argo CD's glob (gobwas/glob without separators): `*`, `?`, `[a-z]`, `[!a-z]`, `{a,b}`, `\`
// escapes. A pattern that does not compile matches nothing.
bool glob_match(std::string_view pattern, std::string_view text);

// Argo CD's SyncWindows.Matches for one window.
bool window_matches(const project_window& window, const application_target& app);

struct project_sync {
    bool allowed = true;
    std::optional<time_point> changes_at;  // when `allowed` flips; nullopt: not within a year
    std::string reason;                    // why not, for status; empty when allowed
};

// Would Argo CD sync `app` now under `project`? `manual` is false for automated sync (Argo CD's
// controller asks CanSync(false)), true for a sync a person starts. A matching window that does
// not parse blocks, as Argo CD's controller treats the error as "cannot sync".
project_sync project_can_sync(const app_project& project, const application_target& app, bool manual, time_point now);

}  // namespace apr::core
