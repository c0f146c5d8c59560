#pragma once
// Why a rollout is not moving right now, in one sentence for people (`status`, the dashboard),
// and until when, when that is known (a bake, a requeue's next try). A pure function of the
// rollout's spec and status and the time; docs/controller.md names the states it reads.

#include "core/rollout.hpp"

#include <optional>
#include <string>

namespace apr::core {

struct waiting_reason {
    // Empty when nothing holds the rollout back: it is admitting clusters as fast as the stage's
    // maxUnavailable lets it, or it has finished.
    std::string reason;
    // When the wait ends by itself (bake over, next requeue attempt); nullopt when a person or
    // the fleet must act (paused, failed, clusters still updating).
    std::optional<time_point> until;
};

waiting_reason why_waiting(const rollout& r, time_point now);

}  // namespace apr::core
