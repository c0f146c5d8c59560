#include "core/fleet_state.hpp"

#include <algorithm>

namespace apr::core {

namespace {

// A scope with a path that does not parse never passed validation: staging every change is the
// safe reading of it.
std::optional<std::vector<value_path>> parse_scope(const std::optional<scope_spec>& scope) {
    if (!scope || scope->paths.empty()) return std::nullopt;
    std::vector<value_path> out;
    std::string problem;
    for (const auto& text : scope->paths) {
        auto path = parse_scope_path(text, problem);
        if (!path) return std::nullopt;
        out.push_back(std::move(*path));
    }
    return out;
}

}  // namespace

fleet_state build_fleet_state(const std::vector<rollout>& rollouts, std::vector<cluster> clusters,
                              std::optional<std::vector<application_set_ref>> application_sets) {
    fleet_state state;
    if (application_sets) {
        auto& by_namespace = state.application_sets_by_namespace.emplace();
        for (auto& set : *application_sets) by_namespace[set.namespace_].push_back(std::move(set.name));
    }
    for (const auto& c : clusters) {
        if (!c.server.empty()) state.admission.cluster_by_server.emplace(normalise_server(c.server), c.name);
        state.admission.cluster_names.insert(c.name);
    }
    for (const auto& r : rollouts) {
        state.rollouts_by_namespace[r.namespace_].push_back({r.name, r.spec.source.name});
        // A rollout being deleted has released its Applications: admission lets Argo CD through.
        if (!references_application_set(r.spec.source) || r.deleting) continue;
        rollout_window window;
        window.namespace_ = r.namespace_;
        window.name = r.name;
        window.current_stage = r.status.current_stage;
        window.phase = r.status.phase;
        for (const auto& s : r.status.stages)
            for (const auto& c : s.clusters) window.clusters[c.name] = {s.name, c.phase, c.hash, c.application_hashes};
        window.unstaged.insert(r.status.unstaged_clusters.begin(), r.status.unstaged_clusters.end());
        window.scope = parse_scope(r.spec.scope);
        window.track_revisions = r.spec.track_revisions;
        state.admission.rollouts.emplace(rollout_key(r.namespace_, r.spec.source.name), std::move(window));
    }
    state.clusters = std::move(clusters);
    return state;
}

validation_context fleet_state::validation_context_for(const std::string& namespace_, const std::string& name) const {
    validation_context context;
    context.namespace_ = namespace_;
    context.name = name;
    if (auto it = rollouts_by_namespace.find(namespace_); it != rollouts_by_namespace.end())
        context.others = it->second;
    context.clusters_known = true;  // an empty inventory is still an inventory
    context.clusters = clusters;
    context.allowed_gate_urls = allowed_gate_urls;
    if (application_sets_by_namespace) {
        auto it = application_sets_by_namespace->find(namespace_);
        context.application_sets = it == application_sets_by_namespace->end() ? std::vector<std::string>{} : it->second;
    }
    return context;
}

source_presence fleet_state::application_set_presence(const std::string& namespace_, const std::string& name) const {
    if (!application_sets_by_namespace) return source_presence::unknown;
    auto it = application_sets_by_namespace->find(namespace_);
    if (it == application_sets_by_namespace->end()) return source_presence::missing;
    return std::find(it->second.begin(), it->second.end(), name) != it->second.end() ? source_presence::exists
                                                                                     : source_presence::missing;
}

}  // namespace apr::core
