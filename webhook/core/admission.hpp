#pragma once
// The admission decision of docs/admission.md for Applications, as a pure function of the request's
// facts (extracted by codec/ from the AdmissionReview) and an immutable snapshot of rollout state
// (built by the shell from its caches). No I/O, no clock: the server and tests call it alike.

#include "core/change_scope.hpp"
#include "core/revisions.hpp"
#include "core/rollout.hpp"
#include "core/stage_machine.hpp"

#include <array>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace apr::core {

inline constexpr std::string_view pending_spec_annotation = "deployment.skyscanner.net/pending-spec";
inline constexpr std::string_view pending_hash_annotation = "deployment.skyscanner.net/pending-hash";
inline constexpr std::string_view bypass_annotation = "deployment.skyscanner.net/bypass";
// Set by the hold of a CREATE: the Application carries a desired state no rollout admitted yet (there
// was no earlier one to keep), so even a sync of its current state waits for the cluster's turn.
// Removed by the controller's admission only.
inline constexpr std::string_view created_held_annotation = "deployment.skyscanner.net/created-held";
// Set by the rollout controller when it admits a cluster (docs/controller.md, "Rollback"): the
// desired state the admitted change replaced (encoded like pending-spec) and the hash of that
// change. A rollback puts the recorded state back.
inline constexpr std::string_view previous_spec_annotation = "deployment.skyscanner.net/previous-spec";
inline constexpr std::string_view previous_for_annotation = "deployment.skyscanner.net/previous-for";
// On a managed Application of a rollout with trackRevisions (docs/admission.md#moving-revisions):
// canonical JSON of the spec.syncPolicy the writer asked for. The webhook keeps
// spec.syncPolicy.automated off and writes this record; the controller syncs with its options.
inline constexpr std::string_view sync_policy_annotation = "deployment.skyscanner.net/sync-policy";
// Every annotation under this prefix but `bypass` is written only by the hold and the rollout
// controller (docs/admission.md, protected annotations).
inline constexpr std::string_view protected_annotation_prefix = "deployment.skyscanner.net/";
inline constexpr std::string_view in_cluster_server = "https://kubernetes.default.svc";
inline constexpr std::string_view in_cluster_name = "in-cluster";
// Kubernetes caps all annotations of an object together (keys plus values) at 256 KiB.
inline constexpr std::size_t annotations_size_limit = 256 * 1024;

// The Application fields that make up its desired state, in this fixed order.
inline constexpr std::array<std::string_view, 4> desired_state_fields = {"source", "sources", "sourceHydrator",
                                                                         "syncPolicy"};
inline constexpr std::size_t source_field = 0;
inline constexpr std::size_t sources_field = 1;
inline constexpr std::size_t sync_policy_field = 3;

bool is_protected_annotation(std::string_view key);

enum class operation_kind { create, update, other };

// The revisions an Application's spec asks for: spec.source.targetRevision, or each
// spec.sources[i].targetRevision by position.
struct spec_revisions {
    std::string source;                // spec.source.targetRevision ("" when absent)
    std::vector<std::string> sources;  // spec.sources[i].targetRevision ("" when absent)
    friend bool operator==(const spec_revisions&, const spec_revisions&) = default;
};

// `operation.sync` of an Application: what a sync would deploy.
struct sync_operation {
    std::string revision;                // operation.sync.revision
    std::vector<std::string> revisions;  // operation.sync.revisions, by position of spec.sources
    std::optional<std::string> source;   // canonical JSON of operation.sync.source (an override)
    std::optional<std::string> sources;  // canonical JSON of operation.sync.sources
    bool manifests = false;              // operation.sync.manifests present and not empty (local sync)
};

// The decoded encoding of the hold's record (deployment.skyscanner.net/pending-spec).
struct pending_record {
    std::string value;  // the annotation's value: canonical JSON, or a marked compressed form
    std::string hash;   // content hash of the canonical JSON
};

struct application_facts {
    operation_kind operation = operation_kind::other;
    std::string username;
    std::vector<std::string> groups;
    bool dry_run = false;
    std::string namespace_;
    std::string name;
    // Every ownerReference of kind ApplicationSet, of the new and of the old object, each once:
    // reordering, adding or removing ownerReferences never makes an Application unmanaged.
    std::vector<std::string> application_sets;
    // Those of the old object that the new one no longer names (an UPDATE orphaning it).
    std::vector<std::string> removed_application_sets;
    std::string destination_server;
    std::string destination_name;
    std::string old_destination_server;
    std::string old_destination_name;

    // Canonical JSON of each desired-state field (nullopt when absent), old and new object.
    std::array<std::optional<std::string>, 4> old_desired;
    std::array<std::optional<std::string>, 4> new_desired;
    spec_revisions old_revisions;
    spec_revisions new_revisions;
    pending_record new_pending;               // what a hold of the new desired state records (the value only
                                              // for the ApplicationSet controller's writes, the only ones held;
                                              // both empty for an UPDATE that leaves the desired state alone)
    std::size_t other_annotations_bytes = 0;  // new object's annotations but the hold's two, keys + values
    std::string old_pending_hash;             // annotation on the old object
    // The old object's record of the state an admission replaced: the hash of that state (of its
    // decoded previous-spec) and previous-for, the change that replaced it. Empty when absent.
    std::string old_previous_hash;
    std::string old_previous_for;
    // The held desired state of the old object (its pending-spec decoded, only when that matches
    // old_pending_hash): what a sync on an admitted cluster may deploy besides the current state.
    std::optional<std::array<std::optional<std::string>, 4>> held_desired;
    spec_revisions held_revisions;
    // The held source(s) equal the new object's but for targetRevision: a sync naming only a
    // revision then deploys the held state (it keeps the spec's other source fields).
    bool held_differs_only_in_revisions = false;
    // Protected annotations (is_protected_annotation) of each object, key -> value.
    std::map<std::string, std::string> old_protected;
    std::map<std::string, std::string> new_protected;
    bool new_has_annotations = false;  // metadata.annotations exists on the new object
    bool new_sync_automated = false;   // spec.syncPolicy.automated present on the new object
    std::string bypass_reason;         // annotation on the new object

    std::optional<sync_operation> operation_sync;  // the new object's operation.sync, when an operation is present
    bool operation_changed = false;                // `operation` added or changed by this request
    // status.sync.revision(s) as stored (old object): the commit Argo CD resolved the spec to.
    std::string resolved_revision;
    std::vector<std::string> resolved_revisions;
    bool resolved_revision_changed = false;  // this request rewrites status.sync.revision(s)
    // Where the new desired state differs from the old: listed only for the ApplicationSet
    // controller's UPDATE that changes it (the change scope is about template writes).
    std::optional<desired_changes> changes;

    // Read for rollouts with trackRevisions (docs/admission.md#moving-revisions).
    // The old object's sync-policy annotation (canonical JSON; nullopt when absent or not an object).
    std::optional<std::string> recorded_sync_policy;
    // The old object's spec.syncPolicy without `automated` (nullopt when it has no syncPolicy); only
    // for the ApplicationSet controller's writes, the only ones held.
    std::optional<std::string> old_sync_policy_without_automated;
    // Like `changes`, from the old state with its recorded sync policy (when it has one).
    std::optional<desired_changes> recorded_changes;
    // Hash of the new desired state with the recorded sync policy in place of its own, when the write
    // leaves spec.syncPolicy as it was (what status records for it); else of the new desired state.
    // Only for a sync by someone other than Argo CD's application controller.
    std::string intended_hash;
    // What the cluster runs (stored object; docs/api.md#moving-revisions), by source position; not
    // read for Argo CD's application controller. Only it may change what status says runs.
    revision_list running_revisions;
    bool running_revision_changed = false;

    bool desired_changed() const { return old_desired != new_desired; }
    bool destination_changed() const {
        return old_destination_server != destination_server || old_destination_name != destination_name;
    }
};

struct admitted_cluster {
    std::string stage;
    cluster_phase phase = cluster_phase::pending;
    std::string hash;
    std::map<std::string, std::string> application_hashes;  // per Application when the cluster has several
};

// What admission needs to know of one ProgressiveRollout.
struct rollout_window {
    std::string namespace_;
    std::string name;
    std::string current_stage;
    rollout_phase phase = rollout_phase::pending;
    std::unordered_map<std::string, admitted_cluster> clusters;
    std::unordered_set<std::string> unstaged;
    // spec.scope.paths, parsed; nullopt stages every change (no scope, or one that does not parse).
    std::optional<std::vector<value_path>> scope;
    bool track_revisions = false;  // spec.trackRevisions (docs/admission.md#moving-revisions)

    // Whether status admitted `cluster` for exactly this pending hash of `application`: Updating
    // or Done at that hash in the current pass. A cluster done for an older change is not
    // admitted for a newer one.
    bool admits(const std::string& cluster, const std::string& application, const std::string& hash) const;
    // Whether status rolled `cluster` back from exactly this change of `application` (phase
    // RolledBack at that hash): the controller may then restore the state the change replaced.
    bool rolled_back(const std::string& cluster, const std::string& application, const std::string& hash) const;
    // Whether status lists `cluster` Updating at exactly this hash of `application` (admitted, not yet done).
    bool updating(const std::string& cluster, const std::string& application, const std::string& hash) const;
};

struct admission_snapshot {
    std::unordered_map<std::string, rollout_window> rollouts;        // key: namespace/applicationSet
    std::unordered_map<std::string, std::string> cluster_by_server;  // normalised server URL -> name
    std::unordered_set<std::string> cluster_names;

    const rollout_window* find_rollout(std::string_view namespace_, std::string_view application_set) const;
    // The rollouts of every ApplicationSet named, in the order named.
    std::vector<const rollout_window*> find_rollouts(std::string_view namespace_,
                                                     const std::vector<std::string>& application_sets) const;
    // "Cluster" in docs/admission.md (Terms): server first, then the built-in in-cluster, then name.
    std::string resolve_cluster(std::string_view server, std::string_view name) const;
};

std::string normalise_server(std::string_view server);
std::string rollout_key(std::string_view namespace_, std::string_view name);

// Argo CD's usernames as a default install has them; also `serve`'s flag defaults.
inline constexpr std::string_view default_application_set_controller =
    "system:serviceaccount:argocd:argocd-applicationset-controller";
inline constexpr std::string_view default_application_controller =
    "system:serviceaccount:argocd:argocd-application-controller";
inline constexpr std::string_view default_bypass_group = "system:masters";

struct admission_identities {
    std::string application_set_controller{default_application_set_controller};
    std::string application_controller{default_application_controller};
    std::string self;  // the rollout controller's own username
    std::vector<std::string> bypass_groups = {std::string(default_bypass_group)};
    // Who orphans dependents when their owner is deleted with propagationPolicy Orphan: the
    // garbage collector, under its own service account or the controller manager's.
    std::vector<std::string> garbage_collectors = {"system:serviceaccount:kube-system:generic-garbage-collector",
                                                   "system:kube-controller-manager"};
};

struct patch_operation {
    std::string op;    // add | remove | replace
    std::string path;  // RFC 6901, already escaped
    std::optional<std::string> value_json;
    friend bool operator==(const patch_operation&, const patch_operation&) = default;
};

enum class verdict_kind { allow, hold, deny };

struct admission_verdict {
    verdict_kind kind = verdict_kind::allow;
    std::string reason;  // short machine word for logs: unmanaged, unchanged, held, admitted, denied, bypass ...
    std::vector<patch_operation> patch;
    int code = 200;
    std::string message;
    std::vector<std::string> warnings;
    std::map<std::string, std::string> audit_annotations;
    std::optional<rollout_event> event;  // only when not a dry run
};

admission_verdict decide(const application_facts& facts, const admission_snapshot& state,
                         const admission_identities& identities);

// RFC 6901 escaping of one reference token: "~" -> "~0", "/" -> "~1".
std::string escape_pointer_token(std::string_view token);

}  // namespace apr::core
