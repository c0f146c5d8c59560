#pragma once
// What the controller observes and hands to the stage machine each step, and the Events the
// machine answers with. Plain values: the shell decodes them from its caches.

#include "core/measurements.hpp"
#include "core/project_windows.hpp"
#include "core/rollout.hpp"

#include <map>

#include <optional>
#include <string>
#include <string_view>
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
    // What Argo CD's sync windows match on (docs/windows.md): spec.project ("default" when
    // empty), spec.destination, and whether Argo CD syncs it by itself (syncPolicy.automated).
    std::string project;
    std::string destination_name;
    std::string destination_server;
    std::string destination_namespace;
    bool automated_sync = false;
    // deployment.skyscanner.net/previous-for: the change a rollback would undo (docs/controller.md).
    std::string previous_for;
    // When the shell first saw this pending_hash on the Application (unset: unknown, e.g. in a
    // replay). The ApplicationSet controller writes its Applications one after another: a stage
    // skips a cluster with nothing pending only once no new hold has appeared for a while
    // (docs/controller.md, "Settling").
    std::optional<time_point> pending_since;
    // Moving revisions (docs/controller.md, "Moving revisions"): what Argo CD resolved the spec's
    // targetRevision(s) to (status.sync.revision(s)) and what the cluster runs (its last sync's),
    // each as join_revisions() spells them (core/revisions.hpp); empty when unknown.
    std::string resolved_revision;
    std::string running_revision;
    // The sync policy recorded for a rollout with trackRevisions asked for auto-sync, and selfHeal.
    bool auto_sync_recorded = false;
    bool self_heal = false;
    // The last sync (status.operationState.syncResult) deployed another spec.source(s) than the
    // current one: a change that passed without a hold (outside spec.scope) is still to sync.
    bool spec_changed_since_sync = false;
};

// The change an Application carries for the stage machine: its held template change (the
// pending hash) or, when the rollout tracks revisions, a new commit R as "rev:R" — OutOfSync at a
// resolved revision other than the one it runs, with no operation running. Empty when none.
std::string change_key(const application_observation& app, bool track_revisions);
// What Argo CD's auto-sync would sync on a rollout that tracks revisions (where it is off): an idle
// Application OutOfSync at the revision it runs, because its spec changed since its last sync
// (auto-sync recorded) or because its live state drifted (selfHeal recorded, last sync not failed:
// auto-sync retries no failed sync of the same state).
bool needs_auto_sync(const application_observation& app);

// The prefix of a cluster's status message that reports a refused hold.
inline constexpr std::string_view hold_refused_prefix = "template change not held: ";

// Whether the ApplicationSet named by spec.sourceRef exists. `missing` changes only what is
// reported (Ready False/SourceNotFound, the message, one Warning Event), never what is admitted:
// Kubernetes garbage-collects a deleted ApplicationSet's Applications itself. `unknown` (a caller
// that does not watch ApplicationSets) behaves as `exists`: nothing is reported without evidence.
enum class source_presence { unknown, exists, missing };

// A person's `promote` (docs/api.md#stage-gates), as the controller consumed it.
// It passes only the approval gates whose approval.groups it shares a group with.
struct promote_request {
    std::string user;
    std::string stage;  // empty: the current stage
    time_point at{};
    std::vector<std::string> groups;  // the user's, as the mutating webhook stamped them
};

struct observations {
    std::vector<cluster> clusters;  // known cluster Secrets (labels); may include clusters without Applications
    std::vector<application_observation> applications;  // managed by this rollout only
    source_presence source = source_presence::unknown;
    std::vector<measurement_result> measurements;  // gate measurements taken since status was read
    std::optional<promote_request> promotion;
    // Argo CD AppProjects by name, reduced to their sync windows; nullopt while the shell has not
    // listed them yet (no cluster is admitted until it has).
    std::optional<std::map<std::string, app_project>> app_projects{std::in_place};
};

struct rollout_event {
    bool warning = false;
    std::string reason;
    std::string message;
};

}  // namespace apr::core
