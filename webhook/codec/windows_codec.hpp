#pragma once
// Sync windows from JSON: a ProgressiveRollout's spec.windows and an Argo CD AppProject's
// spec.syncWindows, with their time zones resolved here, at the edge: the lookup may read the
// system's tz database (/usr/share/zoneinfo), which the pure core never does.

#include "core/field_errors.hpp"
#include "core/project_windows.hpp"

#include <rapidjson/document.h>

#include <optional>
#include <string>
#include <vector>

namespace apr::codec {

class object_reader;

// The zone named `name` (an IANA name such as "Europe/London"); zone is nullptr when the name is
// empty or unknown. The zone's rules are loaded now, so later questions do no I/O.
core::zone_ref resolve_zone(std::string_view name);

// spec.windows, with type errors and unknown fields under `spec.windows[i]`.
std::vector<core::window_spec> read_rollout_windows(object_reader& spec);

// An AppProject reduced to its name and sync windows; nullopt when it is not one. Argo CD's
// fields the windows do not use are skipped; a malformed window is kept as written so that
// CanSync can refuse it, as Argo CD does.
std::optional<core::app_project> decode_app_project(const rapidjson::Value& project);

}  // namespace apr::codec
