#include "core/admission.hpp"

#include "core/json_string.hpp"

#include <algorithm>

namespace apr::core {

std::string escape_pointer_token(std::string_view token) {
    std::string out;
    out.reserve(token.size());
    for (char c : token) {
        if (c == '~') out += "~0";
        else if (c == '/') out += "~1";
        else out += c;
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

bool rollout_window::admits(const std::string& cluster) const {
    auto it = clusters.find(cluster);
    if (it == clusters.end() || it->second.hash.empty()) return false;
    return it->second.phase == cluster_phase::updating || it->second.phase == cluster_phase::done;
}

const rollout_window* admission_snapshot::find_rollout(std::string_view namespace_, std::string_view application_set) const {
    auto it = rollouts.find(rollout_key(namespace_, application_set));
    return it == rollouts.end() ? nullptr : &it->second;
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
    const rollout_window& window;
    std::string cluster;

    std::string stage_of_cluster() const {
        if (auto it = window.clusters.find(cluster); it != window.clusters.end()) return "stage " + quote(it->second.stage);
        if (window.unstaged.contains(cluster)) return "no stage (unstaged)";
        return "no stage yet";
    }

    std::string where() const {
        std::string s = "ProgressiveRollout " + window.namespace_ + "/" + window.name + ": cluster " + quote(cluster) +
                        " is in " + stage_of_cluster();
        s += window.current_stage.empty() ? ", no stage is in progress" : ", current stage is " + quote(window.current_stage);
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

// Records the new desired state on the object so the controller can apply it later.
void add_pending_annotations(const application_facts& facts, std::vector<patch_operation>& patch) {
    const std::string spec_json = quote_json(facts.new_desired_canonical);
    const std::string hash_json = quote_json(facts.new_desired_hash);
    if (!facts.new_has_annotations) {
        patch.push_back({"add", "/metadata/annotations",
                         "{" + quote_json(pending_spec_annotation) + ":" + spec_json + "," +
                             quote_json(pending_hash_annotation) + ":" + hash_json + "}"});
        return;
    }
    const std::string base = "/metadata/annotations/";
    patch.push_back({"add", base + escape_pointer_token(pending_spec_annotation), spec_json});
    patch.push_back({"add", base + escape_pointer_token(pending_hash_annotation), hash_json});
}

admission_verdict hold_update(const request_context& ctx) {
    const auto& facts = ctx.facts;
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
    add_pending_annotations(facts, v.patch);
    v.warnings.push_back("change held by " + ctx.where());
    return v;
}

admission_verdict hold_create(const request_context& ctx) {
    admission_verdict v;
    v.kind = verdict_kind::hold;
    v.reason = "held";
    // Removing `automated` works on every Argo CD version; the controller restores it on admission.
    v.patch.push_back({"remove", "/spec/syncPolicy/automated", std::nullopt});
    add_pending_annotations(ctx.facts, v.patch);
    v.warnings.push_back("auto-sync held by " + ctx.where());
    return v;
}

admission_verdict deny_or_bypass(const request_context& ctx, const admission_identities& ids, const std::string& what) {
    const auto& facts = ctx.facts;
    if (!facts.bypass_reason.empty() && in_any_group(facts.groups, ids.bypass_groups)) {
        admission_verdict v;
        v.reason = "bypass";
        v.audit_annotations["bypass"] = facts.username + ": " + facts.bypass_reason;
        v.warnings.push_back("bypassing " + ctx.window.namespace_ + "/" + ctx.window.name + ": " + facts.bypass_reason);
        if (!facts.dry_run)
            v.event = rollout_event{true, "Bypassed",
                                    facts.username + " bypassed the rollout for Application " + facts.name +
                                        " (cluster " + ctx.cluster + "): " + facts.bypass_reason};
        return v;
    }
    admission_verdict v;
    v.kind = verdict_kind::deny;
    v.reason = "denied";
    v.code = 403;
    std::string groups;
    for (const auto& g : ids.bypass_groups) groups += (groups.empty() ? "" : ", ") + g;
    v.message = what + " of Application " + facts.namespace_ + "/" + facts.name + " denied: " + ctx.where() +
                ". Changes reach it only through the rollout; to override, set annotation " +
                std::string(bypass_annotation) + "=<reason> as a member of " + (groups.empty() ? "no group" : groups);
    return v;
}

bool names_other_revision(const application_facts& facts) {
    for (const auto& revision : facts.operation_revisions)
        if (std::find(facts.target_revisions.begin(), facts.target_revisions.end(), revision) ==
            facts.target_revisions.end())
            return true;
    return false;
}

}  // namespace

admission_verdict decide(const application_facts& facts, const admission_snapshot& state,
                         const admission_identities& ids) {
    if (facts.operation == operation_kind::other || facts.application_set.empty()) return allow("unmanaged");
    const auto* window = state.find_rollout(facts.namespace_, facts.application_set);
    if (!window) return allow("unmanaged");
    const request_context ctx{facts, *window, state.resolve_cluster(facts.destination_server, facts.destination_name)};

    if (facts.operation == operation_kind::create) {
        if (facts.username == ids.application_set_controller && facts.new_sync_automated) return hold_create(ctx);
        return allow("created");
    }

    // Rule 6: a sync to another revision than the spec's, before the cluster's turn.
    if (facts.operation_changed && facts.username != ids.application_controller && names_other_revision(facts) &&
        !window->admits(ctx.cluster)) {
        auto v = deny_or_bypass(ctx, ids, "sync operation to another revision");
        if (v.kind == verdict_kind::deny || !facts.desired_changed()) return v;
    }

    if (!facts.desired_changed()) return allow("unchanged");

    if (facts.username == ids.application_set_controller) return hold_update(ctx);

    if (!ids.self.empty() && facts.username == ids.self) {
        const auto it = window->clusters.find(ctx.cluster);
        const bool applies_held_change = !facts.old_pending_hash.empty() && facts.old_pending_hash == facts.new_desired_hash;
        const bool status_admits = it != window->clusters.end() && it->second.hash == facts.new_desired_hash;
        if (applies_held_change || status_admits) return allow("admitted");
        admission_verdict v;
        v.kind = verdict_kind::deny;
        v.reason = "denied";
        v.code = 403;
        v.message = "the rollout controller may only apply a held change; " + ctx.where();
        return v;
    }

    return deny_or_bypass(ctx, ids, "change to the desired state (source, sources, sourceHydrator, syncPolicy)");
}

}  // namespace apr::core
