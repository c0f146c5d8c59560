#include "core/fleet_state.hpp"

namespace apr::core {

fleet_state build_fleet_state(const std::vector<rollout>& rollouts, std::vector<cluster> clusters) {
    fleet_state state;
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
            for (const auto& c : s.clusters) window.clusters[c.name] = {s.name, c.phase, c.hash};
        window.unstaged.insert(r.status.unstaged_clusters.begin(), r.status.unstaged_clusters.end());
        state.admission.rollouts.emplace(rollout_key(r.namespace_, r.spec.source.name), std::move(window));
    }
    state.clusters = std::move(clusters);
    return state;
}

validation_context fleet_state::validation_context_for(const std::string& namespace_, const std::string& name) const {
    validation_context context;
    context.name = name;
    if (auto it = rollouts_by_namespace.find(namespace_); it != rollouts_by_namespace.end()) context.others = it->second;
    context.clusters_known = true;  // an empty inventory is still an inventory
    context.clusters = clusters;
    return context;
}

}  // namespace apr::core
