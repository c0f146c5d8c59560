#pragma once
// The sync operations the rollout controller writes on a rollout with trackRevisions
// (docs/controller.md, "Moving revisions"): Argo CD's `operation` object, with the options of the
// sync policy the webhook recorded when it turned auto-sync off.

#include "codec/kube_objects.hpp"
#include "core/admission.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace apr::codec {

// Canonical JSON of the spec.syncPolicy the writer asked for (automated included), kept by the
// webhook on every managed Application of a rollout with trackRevisions (docs/admission.md).
using core::sync_policy_annotation;

// What a sync of the recorded policy carries: automated.prune -> sync.prune, syncOptions ->
// sync.syncOptions, retry -> retry; automated.selfHeal -> the controller heals drift. Lenient: an
// unreadable record reads as an empty policy.
struct sync_policy_options {
    bool automated = false;  // automated present and not enabled: false
    bool prune = false;
    bool self_heal = false;
    std::optional<std::string> sync_options;  // JSON array, as recorded
    std::optional<std::string> retry;         // JSON object, as recorded
};
sync_policy_options decode_sync_policy(std::string_view record);

// `operation`: {"sync": {"revision": R (or "revisions": [...] for a multi-source Application,
// R split at ','), "prune", "syncOptions"}, "retry", "initiatedBy": {"username"}}. Without a
// revision it syncs whatever the spec names (a template change just applied).
std::string sync_operation_json(const application_record& app, const std::optional<std::string>& revision,
                                std::string_view username);
// The merge patch {"operation": ...}.
std::string sync_patch(const application_record& app, const std::string& revision, std::string_view username);

}  // namespace apr::codec
