#pragma once
// The stage state machine of docs/controller.md as one pure function:
//   step(rollout, observations, now) -> {new status, clusters to admit, events, when to look again}
// Everything that must survive a restart is in the returned status, so a controller that restarts
// and calls step() with the status it reads back resumes exactly where it stopped.

#include "core/rollout.hpp"

#include <optional>
#include <string>
#include <vector>

namespace apr::core {

// What the controller observed of one managed Application (decoded from its cache by the shell).
struct application_observation {
    std::string name;
    std::string cluster;               // resolved cluster name (see admission.hpp for the rules)
    std::string pending_hash;          // deployment.skyscanner.net/pending-hash; empty when nothing is held
    std::string sync_status;           // status.sync.status
    std::string health_status;         // status.health.status
    bool compared_to_current = false;  // status.sync.comparedTo matches the live spec
    bool operation_in_progress = false;
    std::string operation_phase;  // status.operationState.phase
    std::optional<time_point> operation_started_at;
    // Why the webhook recently refused to hold a template change of this Application (it would
    // not fit Kubernetes' annotation limit): the change is not recorded anywhere else, so status
    // says it. Empty when there is none.
    std::string hold_refused;
    // deployment.skyscanner.net/previous-for: the change a rollback would undo (docs/controller.md).
    std::string previous_for;
};

// The prefix of a cluster's status message that reports a refused hold.
inline constexpr std::string_view hold_refused_prefix = "template change not held: ";

// Whether the ApplicationSet named by spec.sourceRef exists. `missing` changes only what is
// reported (Ready False/SourceNotFound, the message, one Warning Event), never what is admitted:
// Kubernetes garbage-collects a deleted ApplicationSet's Applications itself. `unknown` (a caller
// that does not watch ApplicationSets) behaves as `exists`: nothing is reported without evidence.
enum class source_presence { unknown, exists, missing };

struct observations {
    std::vector<cluster> clusters;  // known cluster Secrets (labels); may include clusters without Applications
    std::vector<application_observation> applications;  // managed by this rollout only
    source_presence source = source_presence::unknown;
};

struct admit_action {
    std::string cluster;
    std::vector<std::string> applications;
    std::string hash;  // apply only if the Application still holds this pending hash
};

struct rollout_event {
    bool warning = false;
    std::string reason;
    std::string message;
};

struct step_result {
    rollout_status status;
    std::vector<admit_action> admissions;
    // Rollbacks (docs/controller.md): Applications to give back the state `hash` replaced.
    std::vector<admit_action> restorations;
    std::vector<rollout_event> events;
    std::optional<duration> requeue_after;  // look again then even if nothing changes
};

struct step_options {
    // An Updating cluster whose Application still holds the admitted hash after this long is
    // admitted again (the controller may have stopped between writing status and patching).
    duration readmit_after = std::chrono::seconds(30);
};

step_result step(const rollout& rollout, const observations& observed, time_point now,
                 const step_options& options = {});

// Combines the pending hashes of a cluster's Applications into one stable value.
std::string combine_hashes(const std::vector<std::pair<std::string, std::string>>& app_hashes);

}  // namespace apr::core
