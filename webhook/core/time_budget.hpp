#pragma once
// How long a pass may take when every stage uses its deadlines to the full: the bound behind the
// alert "rollout Progressing longer than its stages' deadlines allow" (docs/operations.md,
// "Alerts"). Pure: from the spec and the clusters each stage holds in the current pass.

#include "core/rollout.hpp"

#include <optional>

namespace apr::core {

// Sum over stages of:
//  - waves x progressDeadline: a wave is maxUnavailable clusters admitted together, each with the
//    full deadline (a stage not planned yet counts one wave);
//  - bakeTime;
//  - attempts x interval of its requeue policy (a requeued cluster may wait that long);
//  - for each measuring gate that runs Before or After the stage: count x (interval + the
//    webhook's timeout), once per wave for After gates of scope Cluster. During gates run inside
//    the stage's own time; approvals wait for a person and add nothing.
// Time spent paused, held or outside a window is not part of the bound.
duration pass_time_budget(const rollout& r);

// When the current pass started: the earliest startedAt of its stages; nullopt before any started.
std::optional<time_point> pass_started_at(const rollout_status& status);

}  // namespace apr::core
