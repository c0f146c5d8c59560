#include "core/admission.hpp"

#include "core/json_string.hpp"
#include "core/revision_admission.hpp"

#include <algorithm>

namespace apr::core {

std::string escape_pointer_token(std::string_view token) {
    std::string out;
    out.reserve(token.size());
    for (char c : token) {
        if (c == '~')
            out += "~0";
        else if (c == '/')
            out += "~1";
        else
            out += c;
    }
    return out;
}

std::string normalise_server(std::string_view server) {
    while (!server.empty() && server.back() == '/') server.remove_suffix(1);
    return std::string(server);
}

std::string rollout_key(std::string_view namespace_, std::string_view name) {
    std::string key(namespace_);
    key += '/';
    key += name;
    return key;
}

bool is_protected_annotation(std::string_view key) {
    return key.starts_with(protected_annotation_prefix) && key != bypass_annotation;
}

namespace {

// Whether the cluster's record is in one of `phases` and holds `hash` for the Application (its own
// hash when the cluster has several Applications).
bool recorded_in(const std::unordered_map<std::string, admitted_cluster>& clusters, const std::string& cluster,
                 const std::string& application, const std::string& hash, std::initializer_list<cluster_phase> phases) {
    if (hash.empty()) return false;
    auto it = clusters.find(cluster);
    if (it == clusters.end()) return false;
    const auto& record = it->second;
    if (std::find(phases.begin(), phases.end(), record.phase) == phases.end()) return false;
    if (record.application_hashes.empty()) return record.hash == hash;
    auto app = record.application_hashes.find(application);
    return app != record.application_hashes.end() && app->second == hash;
}

}  // namespace

bool rollout_window::admits(const std::string& cluster, const std::string& application, const std::string& hash) const {
    return recorded_in(clusters, cluster, application, hash, {cluster_phase::updating, cluster_phase::done});
}

bool rollout_window::rolled_back(const std::string& cluster, const std::string& application,
                                 const std::string& hash) const {
    return recorded_in(clusters, cluster, application, hash, {cluster_phase::rolled_back});
}

bool rollout_window::updating(const std::string& cluster, const std::string& application,
                              const std::string& hash) const {
    return recorded_in(clusters, cluster, application, hash, {cluster_phase::updating});
}

const rollout_window* admission_snapshot::find_rollout(std::string_view namespace_,
                                                       std::string_view application_set) const {
    auto it = rollouts.find(rollout_key(namespace_, application_set));
    return it == rollouts.end() ? nullptr : &it->second;
}

std::vector<const rollout_window*> admission_snapshot::find_rollouts(
    std::string_view namespace_, const std::vector<std::string>& application_sets) const {
    std::vector<const rollout_window*> out;
    for (const auto& set : application_sets)
        if (const auto* window = find_rollout(namespace_, set);
            window && std::find(out.begin(), out.end(), window) == out.end())
            out.push_back(window);
    return out;
}

std::string admission_snapshot::resolve_cluster(std::string_view server, std::string_view name) const {
    if (!server.empty()) {
        auto normalised = normalise_server(server);
        if (auto it = cluster_by_server.find(normalised); it != cluster_by_server.end()) return it->second;
        if (normalised == in_cluster_server) return std::string(in_cluster_name);
    }
    if (!name.empty()) return std::string(name);
    return normalise_server(server);
}

namespace {

struct request_context {
    const application_facts& facts;
    const admission_identities& ids;
    // Every rollout whose ApplicationSet owns the Application (old or new object). The first is
    // the one messages name; a change must be admitted by all of them.
    std::vector<const rollout_window*> windows;
    std::string cluster;

    const rollout_window& window() const { return *windows.front(); }

    bool admitted_for(const std::string& hash) const {
        return std::all_of(windows.begin(), windows.end(),
                           [&](const rollout_window* w) { return w->admits(cluster, facts.name, hash); });
    }

    // Admitted and not done yet: the rollout is applying that change to the cluster right now.
    bool updating_for(const std::string& hash) const {
        return std::all_of(windows.begin(), windows.end(),
                           [&](const rollout_window* w) { return w->updating(cluster, facts.name, hash); });
    }

    // Any rollout owning the Application tracks revisions: auto-sync stays off for all of them.
    bool tracks_revisions() const {
        return std::any_of(windows.begin(), windows.end(), [](const rollout_window* w) { return w->track_revisions; });
    }

    bool rolled_back_from(const std::string& hash) const {
        return std::any_of(windows.begin(), windows.end(),
                           [&](const rollout_window* w) { return w->rolled_back(cluster, facts.name, hash); });
    }

    // Whether a template write's desired-state change waits for the cluster's turn (rule 3): unless
    // every rollout owning the Application has a scope that the change touches nowhere. A created
    // Application's own state was never admitted (its hold turned auto-sync off): any change to it
    // waits, or a write outside the scope would bring auto-sync back before its turn.
    bool change_is_staged() const {
        if (facts.old_protected.contains(std::string(created_held_annotation)) || !facts.changes) return true;
        return std::any_of(windows.begin(), windows.end(), [&](const rollout_window* w) {
            return !w->scope || touches_any(*w->scope, *facts.changes);
        });
    }

    std::string stage_of_cluster() const {
        const auto& w = window();
        if (auto it = w.clusters.find(cluster); it != w.clusters.end()) return "stage " + quote(it->second.stage);
        if (w.unstaged.contains(cluster)) return "no stage (unstaged)";
        return "no stage yet";
    }

    std::string where() const {
        const auto& w = window();
        std::string s = "ProgressiveRollout " + w.namespace_ + "/" + w.name + ": cluster " + quote(cluster) +
                        " is in " + stage_of_cluster();
        s += w.current_stage.empty() ? ", no stage is in progress" : ", current stage is " + quote(w.current_stage);
        return s;
    }
};

bool in_any_group(const std::vector<std::string>& groups, const std::vector<std::string>& allowed) {
    return std::any_of(groups.begin(), groups.end(), [&](const std::string& g) {
        return std::find(allowed.begin(), allowed.end(), g) != allowed.end();
    });
}

admission_verdict allow(std::string reason) {
    admission_verdict v;
    v.reason = std::move(reason);
    return v;
}

admission_verdict refuse(std::string message) {
    admission_verdict v;
    v.kind = verdict_kind::deny;
    v.reason = "denied";
    v.code = 403;
    v.message = std::move(message);
    return v;
}

using detail::annotation_path;

// Records the new desired state on the object so the controller can apply it later (and, for a
// CREATE, that the object's own state was never admitted).
void add_pending_annotations(const application_facts& facts, bool created, std::vector<patch_operation>& patch) {
    std::vector<std::pair<std::string_view, std::string>> records = {
        {pending_spec_annotation, quote_json(facts.new_pending.value)},
        {pending_hash_annotation, quote_json(facts.new_pending.hash)}};
    if (created) records.emplace_back(created_held_annotation, quote_json(facts.new_pending.hash));
    if (!facts.new_has_annotations) {
        // The template dropped every annotation: the record of the state the last admission
        // replaced stays (restore_protected puts it back when some annotations remain).
        for (const auto key : {previous_spec_annotation, previous_for_annotation})
            if (auto old = facts.old_protected.find(std::string(key)); old != facts.old_protected.end())
                records.emplace_back(key, quote_json(old->second));
        std::string object = "{";
        // Appended in place: g++ 12 -O3 warns (-Wrestrict, falsely) on the chain of temporaries.
        for (const auto& [key, value] : records) {
            if (object.size() > 1) object += ',';
            object += quote_json(key);
            object += ':';
            object += value;
        }
        patch.push_back({"add", "/metadata/annotations", object + "}"});
        return;
    }
    for (const auto& [key, value] : records) patch.push_back({"add", annotation_path(key), value});
}

// The ApplicationSet controller writes whatever its template says, annotations included: what it
// would add or change among the protected annotations is put back as it was. `keep_hold` skips the
// two that a hold writes itself.
void restore_protected(const application_facts& facts, bool keep_hold, std::vector<patch_operation>& patch) {
    for (const auto& [key, value] : facts.new_protected) {
        if (keep_hold && (key == pending_spec_annotation || key == pending_hash_annotation)) continue;
        auto old = facts.old_protected.find(key);
        if (old == facts.old_protected.end())
            patch.push_back({"remove", annotation_path(key), std::nullopt});
        else if (old->second != value)
            patch.push_back({"add", annotation_path(key), quote_json(old->second)});
    }
    // A template's annotations replace the object's: the record that its state was never admitted
    // stays, and so does the record of the state the last admission replaced (for a rollback).
    for (const auto key : {created_held_annotation, previous_spec_annotation, previous_for_annotation}) {
        const std::string kept(key);
        if (auto old = facts.old_protected.find(kept);
            old != facts.old_protected.end() && !facts.new_protected.contains(kept) && facts.new_has_annotations)
            patch.push_back({"add", annotation_path(kept), quote_json(old->second)});
    }
}

// A revision an operation may name for a source whose spec says `target` and which Argo CD
// resolved to `resolved`: empty (Argo CD then uses the spec's), the spec's own text, the resolved
// commit (what the UI and CLI write), or HEAD where the spec's is HEAD or empty.
bool same_revision(const std::string& revision, const std::string& target, const std::string& resolved) {
    auto is_head = [](const std::string& r) { return r.empty() || r == "HEAD"; };
    return revision.empty() || revision == target || (!resolved.empty() && revision == resolved) ||
           (is_head(revision) && is_head(target));
}

// Whether a sync operation deploys exactly the given desired state, and nothing else.
// `resolved_applies`: the stored status.sync.revision(s) were resolved for `desired` (false when
// `desired` is a new spec: the stored commit is the old spec's).
bool deploys_exactly(const sync_operation& op, const std::array<std::optional<std::string>, 4>& desired,
                     const spec_revisions& spec, const application_facts& facts, bool resolved_applies = true) {
    if (op.manifests) return false;
    if (op.source && op.source != desired[source_field]) return false;
    if (op.sources && op.sources != desired[sources_field]) return false;
    const std::string resolved_one = resolved_applies ? facts.resolved_revision : std::string();
    const bool multi_source = desired[sources_field].has_value() && !spec.sources.empty();
    auto resolved_at = [&](std::size_t i) {
        return resolved_applies && i < facts.resolved_revisions.size() ? facts.resolved_revisions[i] : std::string();
    };
    if (multi_source) {
        if (!op.revisions.empty()) {
            if (op.revisions.size() != spec.sources.size()) return false;
            for (std::size_t i = 0; i < op.revisions.size(); ++i)
                if (!same_revision(op.revisions[i], spec.sources[i], resolved_at(i))) return false;
        }
        const std::string first_resolved = facts.resolved_revisions.empty() ? resolved_one : resolved_at(0);
        return same_revision(op.revision, spec.sources.front(), first_resolved);
    }
    if (!same_revision(op.revision, spec.source, resolved_one)) return false;
    return std::all_of(op.revisions.begin(), op.revisions.end(),
                       [&](const std::string& r) { return same_revision(r, spec.source, resolved_one); });
}

// The operation with every revision it leaves to the spec spelled out: without a source override,
// an empty revision deploys the spec's targetRevision (HEAD when that is empty too), and a
// multi-source sync without `revisions` deploys each source at the spec's. Needed to compare it
// with a state other than the spec's own (the held change).
sync_operation with_spec_revisions(sync_operation op, const spec_revisions& spec) {
    auto fill = [](std::string& revision, const std::string& target) {
        if (revision.empty()) revision = target.empty() ? "HEAD" : target;
    };
    if (!spec.sources.empty()) {
        fill(op.revision, spec.sources.front());
        if (op.revisions.empty()) op.revisions.resize(spec.sources.size());
        for (std::size_t i = 0; i < op.revisions.size(); ++i)
            fill(op.revisions[i], i < spec.sources.size() ? spec.sources[i] : std::string());
    } else {
        fill(op.revision, spec.source);
        for (auto& r : op.revisions) fill(r, spec.source);
    }
    return op;
}

// A bypass allows the whole write; its audit annotation and Event say who and why.
admission_verdict deny_or_bypass(const request_context& ctx, const std::string& what, const std::string& remedy) {
    const auto& facts = ctx.facts;
    if (!facts.bypass_reason.empty() && in_any_group(facts.groups, ctx.ids.bypass_groups)) {
        admission_verdict v;
        v.reason = "bypass";
        v.audit_annotations["bypass"] = facts.username + ": " + facts.bypass_reason;
        v.warnings.push_back("bypassing " + ctx.window().namespace_ + "/" + ctx.window().name + ": " +
                             facts.bypass_reason);
        if (!facts.dry_run)
            v.event = rollout_event{true, "Bypassed",
                                    facts.username + " bypassed the rollout for Application " + facts.name +
                                        " (cluster " + ctx.cluster + "): " + facts.bypass_reason};
        return v;
    }
    std::string groups;
    for (const auto& g : ctx.ids.bypass_groups) groups += (groups.empty() ? "" : ", ") + g;
    return refuse(what + " of Application " + facts.namespace_ + "/" + facts.name + " denied: " + ctx.where() + ". " +
                  remedy + "; to override, set annotation " + std::string(bypass_annotation) +
                  "=<reason> as a member of " + (groups.empty() ? "no group" : groups));
}

const std::string through_rollout = "Changes reach it only through the rollout";

// The hold's record must fit Kubernetes' cap on all annotations together, or the API server
// rejects the object after admission and the change is silently never recorded.
std::optional<admission_verdict> too_large(const request_context& ctx) {
    const auto& facts = ctx.facts;
    const std::size_t total = facts.other_annotations_bytes + pending_spec_annotation.size() +
                              facts.new_pending.value.size() + pending_hash_annotation.size() +
                              facts.new_pending.hash.size();
    if (total <= annotations_size_limit) return std::nullopt;
    auto v = refuse("the new desired state of Application " + facts.namespace_ + "/" + facts.name + " (cluster " +
                    quote(ctx.cluster) + ") cannot be held by " + ctx.window().namespace_ + "/" + ctx.window().name +
                    ": its record takes " + std::to_string(facts.new_pending.value.size()) +
                    " bytes even compressed, and with the other annotations (" +
                    std::to_string(facts.other_annotations_bytes) + " bytes) exceeds Kubernetes' limit of " +
                    std::to_string(annotations_size_limit) +
                    " bytes for all annotations together; make the ApplicationSet template smaller (e.g. move large "
                    "Helm values into the repository)");
    v.reason = "too-large";
    if (!facts.dry_run)
        v.event = rollout_event{true, "PendingSpecTooLarge",
                                "cluster " + ctx.cluster + ": change to Application " + facts.name +
                                    " not held: " + std::to_string(total) + " bytes of annotations exceed the " +
                                    std::to_string(annotations_size_limit) + "-byte limit"};
    return v;
}

// A held write must not carry a sync that deploys anything but the state it keeps.
void drop_foreign_operation(const request_context& ctx, const std::array<std::optional<std::string>, 4>& kept,
                            const spec_revisions& kept_revisions, std::vector<patch_operation>& patch) {
    const auto& facts = ctx.facts;
    if (facts.operation_sync && !deploys_exactly(*facts.operation_sync, kept, kept_revisions, facts))
        patch.push_back({"remove", "/operation", std::nullopt});
}

admission_verdict hold_update(const request_context& ctx) {
    const auto& facts = ctx.facts;
    if (auto v = too_large(ctx)) return *v;
    admission_verdict v;
    v.kind = verdict_kind::hold;
    v.reason = "held";
    for (std::size_t i = 0; i < desired_state_fields.size(); ++i) {
        const auto& before = facts.old_desired[i];
        const auto& after = facts.new_desired[i];
        if (before == after) continue;
        const std::string path = "/spec/" + std::string(desired_state_fields[i]);
        if (before)
            v.patch.push_back({"add", path, *before});  // add replaces an existing member (RFC 6902 §4.1)
        else
            v.patch.push_back({"remove", path, std::nullopt});
    }
    restore_protected(facts, true, v.patch);
    add_pending_annotations(facts, false, v.patch);
    drop_foreign_operation(ctx, facts.old_desired, facts.old_revisions, v.patch);
    v.warnings.push_back("change held by " + ctx.where());
    return v;
}

// Without auto-sync too: a Sync of a created Application would deploy a state never admitted, so
// it is marked created-held either way.
admission_verdict hold_create(const request_context& ctx) {
    const auto& facts = ctx.facts;
    if (auto v = too_large(ctx)) return *v;
    admission_verdict v;
    v.kind = verdict_kind::hold;
    v.reason = "held";
    // Removing `automated` works on every Argo CD version; the controller restores it on admission.
    if (facts.new_sync_automated) v.patch.push_back({"remove", "/spec/syncPolicy/automated", std::nullopt});
    restore_protected(facts, true, v.patch);
    add_pending_annotations(facts, true, v.patch);
    if (facts.operation_sync) v.patch.push_back({"remove", "/operation", std::nullopt});
    v.warnings.push_back((facts.new_sync_automated ? "auto-sync held by " : "held by ") + ctx.where());
    return v;
}

bool by_application_set_controller_or_gc(const application_facts& facts, const admission_identities& ids) {
    return facts.username == ids.application_set_controller ||
           std::find(ids.garbage_collectors.begin(), ids.garbage_collectors.end(), facts.username) !=
               ids.garbage_collectors.end();
}

admission_verdict decide_application_set_controller(const request_context& ctx) {
    const auto& facts = ctx.facts;
    if (facts.operation == operation_kind::create) return hold_create(ctx);
    if (facts.desired_changed() && ctx.change_is_staged()) return hold_update(ctx);
    // The template asks for what runs, or for a change outside every rollout's scope that passes
    // at once: either way a change still recorded on the object is no longer wanted.
    auto v = allow(facts.desired_changed() ? "out-of-scope" : "unchanged");
    restore_protected(facts, false, v.patch);
    if (facts.new_protected.contains(std::string(pending_spec_annotation)) ||
        facts.new_protected.contains(std::string(pending_hash_annotation))) {
        v.reason = "cancelled";
        std::erase_if(v.patch, [](const patch_operation& op) {
            return op.path == annotation_path(pending_spec_annotation) ||
                   op.path == annotation_path(pending_hash_annotation);
        });
        for (auto key : {pending_spec_annotation, pending_hash_annotation})
            if (facts.new_protected.contains(std::string(key)))
                v.patch.push_back({"remove", annotation_path(key), std::nullopt});
    }
    drop_foreign_operation(ctx, facts.new_desired, facts.new_revisions, v.patch);
    return v;
}

// What a denied sync of a tracked Application named: `revision`, then `revisions` joined with ','.
std::string sync_denied_what(const sync_operation& op) {
    std::string text = op.revision;
    if (!op.revisions.empty()) text += (text.empty() ? "" : " ") + join_revisions(op.revisions);
    return text.empty() ? "sync operation to the spec's targetRevision" : "sync operation to revision " + quote(text);
}

// Whether a sync on an Application of a rollout with trackRevisions deploys only what the cluster
// may run (docs/admission.md#moving-revisions): the revision it runs, a new commit only on a
// cluster admitted for it, a spec change on the cluster the rollout is applying it to.
bool revision_sync_allowed(const request_context& ctx, bool held_since_create) {
    const auto& facts = ctx.facts;
    const auto& op = *facts.operation_sync;
    if (held_since_create || op.manifests) return false;
    if ((op.source && op.source != facts.new_desired[source_field]) ||
        (op.sources && op.sources != facts.new_desired[sources_field]))
        return false;
    if (detail::names_running_revisions(op, facts)) return true;
    // A symbolic revision deploys whatever the branch points to when the sync runs: only where
    // the commit it resolves to now is admitted.
    if (const auto key = revision_change_key(detail::resolved_revisions(facts));
        !key.empty() && ctx.admitted_for(key) && detail::names_resolved_or_symbolic(op, facts))
        return true;
    return ctx.updating_for(facts.intended_hash) && deploys_exactly(op, facts.new_desired, facts.new_revisions, facts);
}

admission_verdict decide_managed(const request_context& ctx, const admission_snapshot& state) {
    const auto& facts = ctx.facts;
    const auto& ids = ctx.ids;
    const bool by_application_set = facts.username == ids.application_set_controller;
    const bool by_self = !ids.self.empty() && facts.username == ids.self;
    const bool by_application_controller = facts.username == ids.application_controller;
    const bool held_since_create = facts.old_protected.contains(std::string(created_held_annotation));

    if (by_application_set) return decide_application_set_controller(ctx);

    // Rule 3: recreating a managed Application would skip the rollout.
    if (facts.operation == operation_kind::create)
        return deny_or_bypass(
            ctx, "creation",
            "Managed Applications are created only by the ApplicationSet controller " + ids.application_set_controller);

    // Rule 1: dropping the owner would make the next write unmanaged, a way around every rule.
    if (!by_application_set_controller_or_gc(facts, ids))
        for (const auto& set : facts.removed_application_sets)
            if (state.find_rollout(facts.namespace_, set))
                return deny_or_bypass(ctx, "removal of the ownerReference to ApplicationSet " + quote(set),
                                      "Only the ApplicationSet controller and the garbage collector orphan a managed "
                                      "Application");

    // Rule 3: moving an Application takes what it runs to a cluster that was never admitted.
    if (facts.destination_changed())
        return deny_or_bypass(ctx, "change to spec.destination",
                              "Only the ApplicationSet controller moves a managed Application");

    // Rule 2: only the hold and the controller record changes; anyone may cancel one (remove it).
    if (!by_self) {
        for (const auto& [key, value] : facts.new_protected) {
            auto old = facts.old_protected.find(key);
            if (old != facts.old_protected.end() && old->second == value) continue;
            return deny_or_bypass(ctx, "change to annotation " + key,
                                  "Only the rollout writes it; removing it cancels a held change");
        }
        if (held_since_create && !facts.new_protected.contains(std::string(created_held_annotation)))
            return deny_or_bypass(ctx, "removal of annotation " + std::string(created_held_annotation),
                                  "It records that the Application's state was never admitted; the rollout removes "
                                  "it when it admits the cluster");
    }

    // The resolved revision is what a sync to "the current state" is checked against: only Argo
    // CD's application controller may say what it is.
    if (facts.resolved_revision_changed && !by_application_controller)
        return deny_or_bypass(ctx, "change to status.sync.revision",
                              "Only Argo CD's application controller records the resolved revision");

    // Rule 5: a sync that deploys anything but the current desired state waits for the cluster's
    // turn, and so does any sync of a state that was itself never admitted (a held CREATE).
    // On a cluster admitted for the held change, a sync may also deploy exactly that change (the
    // controller's patch may still be on its way), but nothing else: no other revision, no override.
    // A sync naming only a revision keeps the spec's other source fields, so it deploys the held
    // change only when that differs from the spec in its revisions alone.
    const auto syncs_admitted_held_change = [&] {
        const auto& op = *facts.operation_sync;
        const bool overrides_source = op.source || op.sources;
        return ctx.admitted_for(facts.old_pending_hash) && facts.held_desired &&
               (overrides_source || facts.held_differs_only_in_revisions) &&
               deploys_exactly(overrides_source ? op : with_spec_revisions(op, facts.new_revisions),
                               *facts.held_desired, facts.held_revisions, facts, false);
    };
    // A created Application's own state was never admitted: admitted for a later change, the
    // cluster still is not admitted for that one (the held branch covers a created state admitted).
    const auto sync_allowed = [&] {
        return syncs_admitted_held_change() ||
               (!held_since_create &&
                deploys_exactly(*facts.operation_sync, facts.new_desired, facts.new_revisions, facts));
    };
    const bool tracked = ctx.tracks_revisions();
    if (tracked && facts.running_revision_changed && !by_application_controller)
        return deny_or_bypass(ctx, "change to status.operationState or status.history",
                              "Only Argo CD's application controller records the revision the cluster runs");
    if (facts.operation_changed && facts.operation_sync && !by_application_controller) {
        // With trackRevisions the resolved revision is itself the new change: what may be synced
        // is the revision that runs, or a new commit on a cluster admitted for it (a held spec
        // change on a cluster admitted for it stays allowed too).
        if (tracked && !syncs_admitted_held_change() && !revision_sync_allowed(ctx, held_since_create))
            return deny_or_bypass(ctx, sync_denied_what(*facts.operation_sync), detail::revision_sync_remedy(facts));
        if (!tracked && !sync_allowed())
            return deny_or_bypass(ctx, "sync operation to another revision or source",
                                  "A sync may deploy only the Application's current desired state (its targetRevision "
                                  "or the revision Argo CD resolved it to) until the rollout admits the cluster");
    }

    if (!facts.desired_changed()) return allow("unchanged");

    if (by_self) {
        // Rule 4: the controller applies exactly the held change, on a cluster status admitted for it.
        const bool applies_held_change =
            !facts.old_pending_hash.empty() && facts.old_pending_hash == facts.new_pending.hash;
        if (applies_held_change && ctx.admitted_for(facts.old_pending_hash)) {
            // An operation still waiting on the object (an auto-sync or a Sync of the old state,
            // naming its commit) would run the new spec at the old revision: a state never admitted.
            auto v = allow("admitted");
            if (facts.operation_sync &&
                !deploys_exactly(*facts.operation_sync, facts.new_desired, facts.new_revisions, facts, false))
                v.patch.push_back({"remove", "/operation", std::nullopt});
            return v;
        }
        // A rollback (docs/controller.md): exactly the state the rolled-back change replaced.
        if (!facts.old_previous_hash.empty() && facts.old_previous_hash == facts.new_pending.hash &&
            ctx.rolled_back_from(facts.old_previous_for))
            return allow("restored");
        return refuse(std::string("the rollout controller may only apply a held change to a cluster that its status ") +
                      "admitted for that change (" +
                      (applies_held_change ? "not admitted yet" : "not the held change") + "); " + ctx.where());
    }

    return deny_or_bypass(ctx, "change to the desired state (source, sources, sourceHydrator, syncPolicy)",
                          through_rollout);
}

}  // namespace

admission_verdict decide(const application_facts& facts, const admission_snapshot& state,
                         const admission_identities& ids) {
    if (facts.operation == operation_kind::other) return allow("unmanaged");
    const request_context ctx{facts, ids, state.find_rollouts(facts.namespace_, facts.application_sets),
                              state.resolve_cluster(facts.destination_server, facts.destination_name)};
    if (ctx.windows.empty()) return allow("unmanaged");
    if (!ctx.tracks_revisions()) return decide_managed(ctx, state);
    // The hot path (Argo CD's status writes): nothing of the sync policy changes and auto-sync is
    // already off with its record in place, so the intended facts are the facts and nothing is patched.
    const auto record = facts.new_protected.find(std::string(sync_policy_annotation));
    if (facts.operation == operation_kind::update && facts.username != ids.application_set_controller &&
        !facts.new_sync_automated && facts.recorded_sync_policy && record != facts.new_protected.end() &&
        record->second == *facts.recorded_sync_policy && !facts.desired_changed())
        return decide_managed(ctx, state);
    // docs/admission.md#moving-revisions: the rules read the sync policy the writer asked for, and
    // the answer keeps auto-sync off on whatever the write leaves.
    const auto intended = detail::with_intended_sync_policy(facts, ids);
    const request_context intended_ctx{intended, ids, ctx.windows, ctx.cluster};
    auto v = decide_managed(intended_ctx, state);
    detail::keep_auto_sync_off(facts, intended, ids, ctx.window().namespace_ + "/" + ctx.window().name, v);
    return v;
}

}  // namespace apr::core
