#pragma once
// Kubernetes objects other than ProgressiveRollouts, reduced at the edge to what the project reads:
// Argo CD cluster Secrets (name, server, labels: never credentials), ApplicationSets (that they
// exist), Applications, and bundles of objects from files (multi-document YAML, JSON, or a `List`).

#include "core/rollout.hpp"
#include "core/stage_machine.hpp"

#include <rapidjson/document.h>

#include <array>
#include <optional>
#include <string>
#include <vector>

namespace apr::codec {

inline constexpr std::string_view secret_type_label = "argocd.argoproj.io/secret-type";
inline constexpr std::string_view cluster_secret_selector = "argocd.argoproj.io/secret-type=cluster";

// A cluster from an Argo CD cluster Secret; nullopt when it is not one or is unusable (no server,
// undecodable name/server, non-string labels). `data` is base64-decoded; `stringData` (as written
// by hand) wins, as the API server would merge it. The cluster's name is data.name, else the
// Secret's name. Nothing else of the Secret is read: never `config`, the credentials.
std::optional<core::cluster> decode_cluster_secret(const rapidjson::Value& secret);

// An ApplicationSet reduced to its namespace and name: all a rollout needs is to know it exists,
// and its template and status (one entry per generated Application) can be large. nullopt when
// the object says it is something else or has no name.
std::optional<core::application_set_ref> decode_application_set(const rapidjson::Value& application_set);

struct application_record {
    std::string namespace_;
    std::string name;
    std::string application_set;                // the first ownerReference of kind ApplicationSet
    std::vector<std::string> application_sets;  // every one, each once
    std::string destination_server;
    std::string destination_name;
    std::string destination_namespace;
    std::string project;                        // spec.project; Argo CD reads an empty one as "default"
    bool automated_sync = false;                // spec.syncPolicy.automated is set: Argo CD syncs it by itself
    std::string pending_spec;                   // annotation, canonical JSON of the held desired state
    std::array<bool, 4> desired_present{};      // which desired-state fields the live spec has
    core::application_observation observation;  // cluster left empty: resolved by the caller
    std::string bypass_reason;
    bool created_held = false;  // annotation deployment.skyscanner.net/created-held is present
    std::string live_desired;   // canonical JSON of the live desired state (what an admission replaces)
    std::string previous_spec;  // annotation previous-spec: the state the last admission replaced
    std::string sync_policy;    // annotation sync-policy: the recorded spec.syncPolicy (codec/sync_operation.hpp)
};

// A Warning Event the webhook recorded on an Application whose template change it could not hold
// (reason PendingSpecTooLarge): the controller reports it in the cluster's status.
inline constexpr std::string_view hold_refused_reason = "PendingSpecTooLarge";
struct hold_refusal {
    std::string namespace_;
    std::string application;
    std::string message;
    std::optional<core::time_point> last_seen;  // lastTimestamp, else eventTime, else firstTimestamp
};
std::optional<hold_refusal> decode_hold_refusal(const rapidjson::Value& event);

// The names of every ownerReference of kind ApplicationSet, each once, in order.
std::vector<std::string> application_set_owners(const rapidjson::Value& object);

// Whether status.sync.comparedTo is the Application's current spec.source/sources (absent, null
// and empty alike): Argo CD's sync status and resolved revision are about this spec, not an older one.
bool compared_to_spec(const rapidjson::Value& application);

// Whether status.operationState.syncResult deployed another spec.source/sources than the current
// ones (false when it never synced).
bool spec_changed_since_sync(const rapidjson::Value& application);

// `now` is not needed: operation times are read from the object.
application_record decode_application(const rapidjson::Value& application);

// Desired-state fields of an Application spec, canonical JSON each (nullopt when absent).
std::array<std::optional<std::string>, 4> desired_state(const rapidjson::Value& spec);
std::string desired_state_canonical(const rapidjson::Value& spec);
// The same from fields desired_state already made.
std::string desired_state_canonical(const std::array<std::optional<std::string>, 4>& fields);
// The canonical JSON of the sync policy recorded in the annotation deployment.skyscanner.net/sync-policy
// (docs/admission.md#moving-revisions) of `object`; nullopt when absent or not a JSON object.
std::optional<std::string> recorded_sync_policy_json(const rapidjson::Value& object);

// The JSON Patch with which the rollout controller admits a held change: it applies only if the
// Application still holds `hash` (RFC 6902 `test`), sets each desired-state field from the
// pending spec (removing live fields the pending spec lacks), drops the pending annotations and
// records the state it replaces (previous-spec, previous-for = `hash`) for a rollback; not for
// a created-held Application, which has no earlier state to go back to.
// nullopt when the pending spec is unreadable or is not what `hash` names. With `operation` (JSON of
// an Application `operation`) it also starts that sync: on a rollout with trackRevisions auto-sync
// is off, so the applied change is synced by the same write (docs/controller.md, "Moving revisions").
std::optional<std::string> admit_patch(const application_record& app, std::string_view hash,
                                       const std::string* operation = nullptr);

// The JSON Patch of a rollback (docs/controller.md, "Rollback"): only if the Application still
// records that admitting `hash` replaced a state (previous-for), it puts that state back, holds
// the change it ran (as pending, unless a newer change is already held) and drops the record.
// nullopt when there is no readable record for `hash` (nothing to restore).
std::optional<std::string> restore_patch(const application_record& app, std::string_view hash);

// Removes the pending annotations only (releasing an Application when its rollout is deleted), if
// the Application still holds its pending hash.
std::string release_patch(const application_record& app);

// Parses a file's text: JSON (object or List) or YAML (one or many documents). Each returned
// document is one object; `List`s are flattened. Throws std::runtime_error with a position.
std::vector<rapidjson::Document> parse_objects(std::string_view text);

}  // namespace apr::codec
