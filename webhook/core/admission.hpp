#pragma once
// The admission decision of docs/admission.md for Applications, as a pure function of the request's
// facts (extracted by codec/ from the AdmissionReview) and an immutable snapshot of rollout state
// (built by the shell from its caches). No I/O, no clock: the server and tests call it alike.

#include "core/rollout.hpp"
#include "core/stage_machine.hpp"

#include <array>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace apr::core {

inline constexpr std::string_view pending_spec_annotation = "deployment.skyscanner.net/pending-spec";
inline constexpr std::string_view pending_hash_annotation = "deployment.skyscanner.net/pending-hash";
inline constexpr std::string_view bypass_annotation = "deployment.skyscanner.net/bypass";
inline constexpr std::string_view in_cluster_server = "https://kubernetes.default.svc";
inline constexpr std::string_view in_cluster_name = "in-cluster";

// The Application fields that make up its desired state, in this fixed order.
inline constexpr std::array<std::string_view, 4> desired_state_fields = {"source", "sources", "sourceHydrator",
                                                                          "syncPolicy"};

enum class operation_kind { create, update, other };

struct application_facts {
    operation_kind operation = operation_kind::other;
    std::string username;
    std::vector<std::string> groups;
    bool dry_run = false;
    std::string namespace_;
    std::string name;
    std::string application_set;  // ownerReference of kind ApplicationSet; empty when none
    std::string destination_server;
    std::string destination_name;

    // Canonical JSON of each desired-state field (nullopt when absent), old and new object.
    std::array<std::optional<std::string>, 4> old_desired;
    std::array<std::optional<std::string>, 4> new_desired;
    std::string new_desired_canonical;  // canonical JSON object of the present fields
    std::string new_desired_hash;
    std::string old_pending_hash;       // annotation on the old object
    bool new_has_annotations = false;   // metadata.annotations exists on the new object
    bool new_sync_automated = false;    // spec.syncPolicy.automated present on the new object
    std::string bypass_reason;          // annotation on the new object

    bool operation_changed = false;     // `operation` added or changed by this request
    std::vector<std::string> operation_revisions;  // operation.sync.revision(s)
    std::vector<std::string> target_revisions;     // spec.source(s).targetRevision

    bool desired_changed() const { return old_desired != new_desired; }
};

struct admitted_cluster {
    std::string stage;
    cluster_phase phase = cluster_phase::pending;
    std::string hash;
};

// What admission needs to know of one ProgressiveRollout.
struct rollout_window {
    std::string namespace_;
    std::string name;
    std::string current_stage;
    rollout_phase phase = rollout_phase::pending;
    std::unordered_map<std::string, admitted_cluster> clusters;
    std::unordered_set<std::string> unstaged;

    bool admits(const std::string& cluster) const;
};

struct admission_snapshot {
    std::unordered_map<std::string, rollout_window> rollouts;  // key: namespace/applicationSet
    std::unordered_map<std::string, std::string> cluster_by_server;  // normalised server URL -> name
    std::unordered_set<std::string> cluster_names;

    const rollout_window* find_rollout(std::string_view namespace_, std::string_view application_set) const;
    // "Cluster" in docs/admission.md (Terms): server first, then the built-in in-cluster, then name.
    std::string resolve_cluster(std::string_view server, std::string_view name) const;
};

std::string normalise_server(std::string_view server);
std::string rollout_key(std::string_view namespace_, std::string_view name);

struct admission_identities {
    std::string application_set_controller = "system:serviceaccount:argocd:argocd-applicationset-controller";
    std::string application_controller = "system:serviceaccount:argocd:argocd-application-controller";
    std::string self;  // the rollout controller's own username
    std::vector<std::string> bypass_groups = {"system:masters"};
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
