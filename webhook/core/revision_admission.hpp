#pragma once
// The admission rules of a rollout with spec.trackRevisions (docs/admission.md#moving-revisions),
// used by decide() in admission.cpp: the facts as the rules read them (the sync policy the writer
// asked for, not the one the webhook left on the object), the patch that keeps auto-sync off and
// records that policy, and which revisions a sync may name. Internal to the core.

#include "core/admission.hpp"

#include <string>

namespace apr::core::detail {

std::string annotation_path(std::string_view key);

// `facts` with spec.syncPolicy read as intended: the old object's is its recorded policy (its own
// when it has no record); the new object's is what the writer wrote, except that a write by anyone
// but the ApplicationSet controller that leaves the stored syncPolicy as it is keeps the recorded
// one. So a template write differing from what runs only in the `automated` the webhook removed is
// no change, while a real policy change (syncOptions, selfHeal) is one.
application_facts with_intended_sync_policy(const application_facts& facts, const admission_identities& ids);

// Completes an answer that lets the write through: spec.syncPolicy.automated removed from what the
// object ends up with, and the sync-policy annotation set to the policy intended for it (removed
// when it has none). `intended` is what decide() ruled on. A warning tells anyone but the
// ApplicationSet controller and the rollout controller that auto-sync stays off.
void keep_auto_sync_off(const application_facts& facts, const application_facts& intended,
                        const admission_identities& ids, const std::string& rollout, admission_verdict& v);

// The sync names, at every source position, exactly the revision the cluster runs.
bool names_running_revisions(const sync_operation& op, const application_facts& facts);

// The sync names, at every source position, the resolved revision, or a symbolic one (empty,
// HEAD where the spec's is HEAD or empty, or the spec's own targetRevision), which deploys
// whatever the branch points to when it runs.
bool names_resolved_or_symbolic(const sync_operation& op, const application_facts& facts);

// status.sync.revision(s) of the stored object, one per source position.
revision_list resolved_revisions(const application_facts& facts);

// What a denied sync of a tracked Application may do instead.
std::string revision_sync_remedy(const application_facts& facts);

}  // namespace apr::core::detail
