#pragma once
// The stage state machine of docs/controller.md as one pure function:
//   step(rollout, observations, now) -> {new status, clusters to admit, events, when to look again}
// Everything that must survive a restart is in the returned status, so a controller that restarts
// and calls step() with the status it reads back resumes exactly where it stopped.

#include "core/observations.hpp"
#include "core/rollout.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace apr::core {

struct admit_action {
    std::string cluster;
    std::vector<std::string> applications;
    std::string hash;  // apply only if the Application still holds this pending hash
    // Applications to sync to a revision instead (docs/controller.md, "Moving revisions"): those
    // admitted for a new commit ("rev:R" -> R), or, in `heals`, their running revision.
    std::map<std::string, std::string> sync_revisions;
};

struct step_result {
    rollout_status status;
    std::vector<admit_action> admissions;
    // Rollbacks (docs/controller.md): Applications to give back the state `hash` replaced.
    std::vector<admit_action> restorations;
    // Self-heal on a rollout that tracks revisions: drifted Applications to sync at the revision
    // they run, as Argo CD's auto-sync would have (docs/controller.md, "Moving revisions").
    std::vector<admit_action> heals;
    std::vector<rollout_event> events;
    std::vector<measurement_request> measurements;  // gate measurements due now
    std::optional<duration> requeue_after;          // look again then even if nothing changes
};

struct step_options {
    // An Updating cluster whose Application still holds the admitted hash after this long is
    // admitted again (the controller may have stopped between writing status and patching).
    duration readmit_after = std::chrono::seconds(30);
    // A cluster with nothing pending is skipped ("nothing to roll out") only when no Application
    // of the rollout got a new hold within this long: until then its change may still be on its
    // way from the ApplicationSet controller, and skipping it would let a later stage go first.
    duration settle_time = std::chrono::seconds(5);
    // A drifted Application is healed at most once per this long (Argo CD's selfHealTimeout).
    duration self_heal_backoff = std::chrono::seconds(5);
};

step_result step(const rollout& rollout, const observations& observed, time_point now,
                 const step_options& options = {});

// Combines the pending hashes of a cluster's Applications into one stable value.
std::string combine_hashes(const std::vector<std::pair<std::string, std::string>>& app_hashes);

}  // namespace apr::core
