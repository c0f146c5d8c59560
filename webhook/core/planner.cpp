#include "core/planner.hpp"

#include <algorithm>
#include <map>
#include <unordered_map>

namespace apr::core {

std::vector<const cluster*> topology_order(std::vector<const cluster*> members, const std::string& topology_key) {
    if (topology_key.empty()) return members;
    // Labelled domains sorted by value; the unlabelled domain goes last even though "" sorts first.
    std::map<std::string, std::vector<const cluster*>> labelled;
    std::vector<const cluster*> unlabelled;
    for (const auto* c : members) {
        auto it = c->labels.find(topology_key);
        if (it == c->labels.end())
            unlabelled.push_back(c);
        else
            labelled[it->second].push_back(c);
    }
    std::vector<const std::vector<const cluster*>*> domains;
    for (const auto& [value, list] : labelled) domains.push_back(&list);
    if (!unlabelled.empty()) domains.push_back(&unlabelled);

    std::vector<const cluster*> order;
    order.reserve(members.size());
    for (std::size_t round = 0; order.size() < members.size(); ++round)
        for (const auto* domain : domains)
            if (round < domain->size()) order.push_back((*domain)[round]);
    return order;
}

stage_assignments assign_stages(const rollout_spec& spec, std::span<const cluster> input) {
    std::vector<const cluster*> fleet;
    fleet.reserve(input.size());
    for (const auto& c : input) fleet.push_back(&c);
    return assign_stages(spec, std::move(fleet));
}

stage_assignments assign_stages(const rollout_spec& spec, std::vector<const cluster*> fleet) {
    auto by_name = [](const cluster* a, const cluster* b) {
        return std::tie(a->name, a->server) < std::tie(b->name, b->server);
    };
    // Callers often hand over a fleet already in name order (the state machine's is).
    if (!std::is_sorted(fleet.begin(), fleet.end(), by_name)) std::sort(fleet.begin(), fleet.end(), by_name);
    fleet.erase(
        std::unique(fleet.begin(), fleet.end(), [](const cluster* a, const cluster* b) { return a->name == b->name; }),
        fleet.end());

    stage_assignments out;
    // Position in `fleet` of each cluster, so "taken" is a flag rather than a name lookup.
    std::unordered_map<const cluster*, std::size_t> index;
    index.reserve(fleet.size());
    for (std::size_t i = 0; i < fleet.size(); ++i) index.emplace(fleet[i], i);
    std::vector<char> taken(fleet.size(), 0);
    for (const auto& stage : spec.stages) {
        stage_assignment assignment;
        std::vector<const cluster*> available;
        long long matched = 0;
        // Only a percentage below 100% needs the count of taken clusters the selector matches.
        const bool count_taken = stage.max_clusters.is_percent && stage.max_clusters.value < 100;
        if (stage.selector) {
            for (std::size_t i = 0; i < fleet.size(); ++i) {
                if (taken[i] && !count_taken) continue;
                if (!stage.selector->matches(fleet[i]->labels)) continue;
                ++matched;
                if (!taken[i]) available.push_back(fleet[i]);
            }
        }
        auto ordered = topology_order(std::move(available), stage.topology_key);
        auto limit =
            std::clamp<long long>(stage.max_clusters.resolve(matched), 0, static_cast<long long>(ordered.size()));
        for (long long i = 0; i < limit; ++i) {
            assignment.clusters.push_back(ordered[i]->name);
            taken[index.at(ordered[i])] = 1;
        }
        assignment.max_unavailable =
            std::max<long long>(1, stage.max_unavailable.resolve(static_cast<long long>(assignment.clusters.size())));
        out.stages.push_back(std::move(assignment));
    }
    for (std::size_t i = 0; i < fleet.size(); ++i)
        if (!taken[i]) out.unstaged.push_back(fleet[i]->name);
    return out;
}

rollout_plan make_plan(const rollout_spec& spec, std::span<const cluster> clusters) {
    auto assignments = assign_stages(spec, clusters);
    std::unordered_map<std::string_view, const cluster*> by_name;
    for (const auto& c : clusters) by_name.emplace(c.name, &c);

    rollout_plan plan;
    plan.unstaged = std::move(assignments.unstaged);
    for (std::size_t i = 0; i < spec.stages.size(); ++i) {
        const auto& stage = spec.stages[i];
        auto& assignment = assignments.stages[i];
        planned_stage planned;
        planned.name = stage.name;
        planned.max_unavailable = assignment.max_unavailable;
        std::vector<std::string> ready;
        for (auto& name : assignment.clusters) {
            const bool requeue =
                stage.requeue && stage.requeue->selector && stage.requeue->selector->matches(by_name.at(name)->labels);
            (requeue ? planned.requeued : ready).push_back(name);
        }
        planned.clusters = ready;
        planned.clusters.insert(planned.clusters.end(), planned.requeued.begin(), planned.requeued.end());
        for (std::size_t at = 0; at < planned.clusters.size(); at += planned.max_unavailable) {
            auto end = std::min(planned.clusters.size(), at + static_cast<std::size_t>(planned.max_unavailable));
            planned.waves.emplace_back(planned.clusters.begin() + at, planned.clusters.begin() + end);
        }
        plan.stages.push_back(std::move(planned));
    }
    return plan;
}

}  // namespace apr::core
