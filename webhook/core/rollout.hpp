#pragma once
// The deployment.skyscanner.net/v1alpha1 ProgressiveRollout API as plain values: spec, status and
// the cluster records the planner works on. Decoding from JSON/YAML lives in codec/, not here.

#include "core/duration.hpp"
#include "core/gate_spec.hpp"
#include "core/int_or_percent.hpp"
#include "core/label_selector.hpp"
#include "core/time_window.hpp"

#include <cstdint>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace apr::core {

inline constexpr std::string_view api_group = "deployment.skyscanner.net";
inline constexpr std::string_view api_version = "deployment.skyscanner.net/v1alpha1";
inline constexpr std::string_view rollout_kind = "ProgressiveRollout";

// An Argo CD cluster as the project sees it: never its credentials.
struct cluster {
    std::string name;
    std::string server;
    label_map labels;
    friend bool operator==(const cluster&, const cluster&) = default;
};

// An Argo CD ApplicationSet as the project sees it: that it exists, never its template.
struct application_set_ref {
    std::string namespace_;
    std::string name;
    friend bool operator==(const application_set_ref&, const application_set_ref&) = default;
};

struct source_ref {
    std::string api_group;  // "argoproj.io", the seed's "argoproj.io/v1alpha1", or empty
    std::string kind;
    std::string name;
    friend bool operator==(const source_ref&, const source_ref&) = default;
};

struct requeue_policy {
    std::optional<label_selector> selector;
    std::optional<long long> attempts;
    std::optional<duration_field> interval;
    friend bool operator==(const requeue_policy&, const requeue_policy&) = default;
};

struct stage_spec {
    std::string name;
    std::optional<label_selector> selector;  // spec.stages[].clusters.selector
    std::string topology_key;                // stage level or clusters.topologyKey; empty = none
    int_or_percent max_clusters = int_or_percent::percent(100);
    int_or_percent max_unavailable = int_or_percent::integer(1);
    std::optional<requeue_policy> requeue;
    duration_field bake_time{"0s", duration::zero()};
    duration_field progress_deadline{"30m", std::chrono::minutes(30)};
    long long max_failures = 0;
    std::vector<gate_spec> gates;  // docs/api.md#stage-gates
    friend bool operator==(const stage_spec&, const stage_spec&) = default;
};

// What a failed gate (or failure budget) does: Halt fails the rollout, Pause waits for a person,
// Rollback restores what the pass replaced.
enum class failure_policy { halt, pause, rollback };
std::string_view to_string(failure_policy);
std::optional<failure_policy> parse_failure_policy(std::string_view);
// spec.scope (docs/api.md#change-scope): the desired-state paths whose changes roll out in stages.
struct scope_spec {
    std::vector<std::string> paths;  // as written; parsed by core::parse_scope_path
    friend bool operator==(const scope_spec&, const scope_spec&) = default;
};

struct rollout_spec {
    source_ref source;
    std::vector<stage_spec> stages;
    bool paused = false;
    std::optional<scope_spec> scope;  // absent: every change is staged
    // A new commit of a moving targetRevision (a branch, HEAD) is a change too: auto-sync is kept
    // off and the resolved revision rolls out in stages (docs/api.md#moving-revisions).
    bool track_revisions = false;
    std::vector<window_spec> windows;  // Allow/Deny windows for admitting clusters (docs/windows.md)
    failure_policy on_failure = failure_policy::halt;
    friend bool operator==(const rollout_spec&, const rollout_spec&) = default;
};

// Aborted and RolledBack come from operator requests (docs/operations.md) and onFailure.
enum class rollout_phase { pending, progressing, paused, completed, failed, aborted, rolled_back };
enum class stage_phase { pending, progressing, baking, completed, failed };
// Held: kept out of admission by an operator's hold. RolledBack: updated in this pass, then given
// its previous desired state back.
enum class cluster_phase { pending, requeued, updating, done, failed, held, rolled_back };

// Whether a rollout's pass stopped and admits nothing until a person (retry) or a new change moves it.
bool stopped(rollout_phase);

std::string_view to_string(rollout_phase);
std::string_view to_string(stage_phase);
std::string_view to_string(cluster_phase);
// For logs and test messages.
std::ostream& operator<<(std::ostream&, rollout_phase);
std::ostream& operator<<(std::ostream&, stage_phase);
std::ostream& operator<<(std::ostream&, cluster_phase);
std::optional<rollout_phase> parse_rollout_phase(std::string_view);
std::optional<stage_phase> parse_stage_phase(std::string_view);
std::optional<cluster_phase> parse_cluster_phase(std::string_view);

struct cluster_status {
    std::string name;
    cluster_phase phase = cluster_phase::pending;
    std::string hash;  // pending-hash this cluster was admitted with in the current pass
    // In a pass started after a rollback, until the cluster is admitted: the pending-hash it was
    // rolled back from. The ApplicationSet controller rewrites Applications one by one, so while
    // its changes settle a cluster still holding that change waits instead of getting it again.
    std::string rolled_back_from;
    // For a cluster with several Applications, `hash` combines theirs; this keeps each one, so
    // admission can check the exact change of one Application. Empty for one Application.
    std::map<std::string, std::string> application_hashes;
    long long attempts = 0;
    std::optional<time_point> next_attempt_at;
    std::optional<time_point> admitted_at;
    std::optional<time_point> finished_at;
    std::string message;
    std::vector<gate_status> gates;  // its gates of scope Cluster, in this pass
    friend bool operator==(const cluster_status&, const cluster_status&) = default;
};

struct stage_status {
    std::string name;
    stage_phase phase = stage_phase::pending;
    std::optional<time_point> started_at;
    std::optional<time_point> finished_at;
    std::optional<time_point> bake_until;
    std::string message;
    std::vector<gate_status> gates;        // its gates of scope Stage, in this pass
    std::vector<cluster_status> clusters;  // in admission order: requeued clusters move to the end
    friend bool operator==(const stage_status&, const stage_status&) = default;
};

struct condition {
    std::string type;    // Ready, Progressing, Stalled
    std::string status;  // "True", "False", "Unknown"
    std::string reason;
    std::string message;
    time_point last_transition_time{};
    friend bool operator==(const condition&, const condition&) = default;
};

// An operator's hold on one cluster (status.holds[]): kept out of admission until `until` or release.
struct cluster_hold {
    std::string cluster;
    std::string reason;
    std::optional<time_point> until;
    std::string by;  // who asked (stamped by the webhook)
    time_point at{};
    friend bool operator==(const cluster_hold&, const cluster_hold&) = default;
};

// An operator request the controller carried out or refused (status.requests[], newest last).
struct request_record {
    std::string id;
    std::string verb;
    std::string user;
    time_point at{};
    std::string stage;
    std::string cluster;
    std::string reason;
    std::string result;  // what it did, or why it was refused
    bool refused = false;
    friend bool operator==(const request_record&, const request_record&) = default;
};

struct rollout_status {
    long long observed_generation = 0;
    rollout_phase phase = rollout_phase::pending;
    std::string current_stage;
    long long pass = 0;
    std::string message;
    // While the rollout's spec.windows keep new clusters out: when they next let one in.
    std::optional<time_point> window_opens_at;
    std::vector<stage_status> stages;
    std::vector<std::string> unstaged_clusters;
    std::vector<condition> conditions;
    std::vector<cluster_hold> holds;
    std::vector<request_record> requests;
    friend bool operator==(const rollout_status&, const rollout_status&) = default;

    // Derived, for printer columns ("3/8"); recomputed on every write.
    long long clusters_done() const;
    long long clusters_total() const;
};

struct rollout {
    std::string namespace_;
    std::string name;
    long long generation = 0;
    bool deleting = false;  // metadata.deletionTimestamp is set
    rollout_spec spec;
    rollout_status status;
};

// True when sourceRef points at an ApplicationSet (any accepted apiGroup spelling).
bool references_application_set(const source_ref& ref);

// What status and the validating webhook both say about an ApplicationSet that does not exist.
std::string application_set_not_found(const std::string& namespace_, const std::string& name);

}  // namespace apr::core
