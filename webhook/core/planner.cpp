#include "core/planner.hpp"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string_view>
#include <tuple>
#include <unordered_map>

namespace apr::core {

namespace {

// Topology round-robin over `members` (in name order): domains sorted by label value, the
// unlabelled domain "" last, one member per domain per round. `domain_of` gives a member's label
// value, or nullptr when it has none.
template <class Member, class DomainOf>
std::vector<Member> round_robin(std::vector<Member> members, DomainOf domain_of) {
    std::map<std::string_view, std::vector<Member>> labelled;
    std::vector<Member> unlabelled;
    for (const auto& m : members) {
        if (const std::string* value = domain_of(m))
            labelled[*value].push_back(m);
        else
            unlabelled.push_back(m);
    }
    std::vector<const std::vector<Member>*> domains;
    for (const auto& [value, list] : labelled) domains.push_back(&list);
    if (!unlabelled.empty()) domains.push_back(&unlabelled);

    std::vector<Member> order;
    order.reserve(members.size());
    for (std::size_t round = 0; order.size() < members.size(); ++round)
        for (const auto* domain : domains)
            if (round < domain->size()) order.push_back((*domain)[round]);
    return order;
}

const std::string* label_value(const label_map& labels, const std::string& key) {
    auto it = labels.find(key);
    return it == labels.end() ? nullptr : &it->second;
}

// Clusters with equal labels answer every selector and topology key alike: each distinct label
// set gets an id, and a stage asks its selector once per id instead of once per cluster.
class label_sets {
public:
    explicit label_sets(std::span<const cluster* const> fleet) : id_of_(fleet.size()) {
        std::unordered_map<std::size_t, std::uint32_t> newest_by_hash;  // chained through next_
        newest_by_hash.reserve(fleet.size());
        for (std::size_t i = 0; i < fleet.size(); ++i) {
            const auto& labels = fleet[i]->labels;
            auto [it, inserted] = newest_by_hash.try_emplace(hash_of(labels), none);
            auto id = it->second;
            while (id != none && *sets_[id] != labels) id = next_[id];
            if (id == none) {
                id = static_cast<std::uint32_t>(sets_.size());
                sets_.push_back(&labels);
                next_.push_back(it->second);
                it->second = id;
            }
            id_of_[i] = id;
        }
    }
    std::size_t count() const { return sets_.size(); }
    std::uint32_t id_of(std::size_t position) const { return id_of_[position]; }
    const label_map& labels(std::uint32_t id) const { return *sets_[id]; }

private:
    static constexpr std::uint32_t none = static_cast<std::uint32_t>(-1);
    static std::size_t hash_of(const label_map& labels) {
        std::size_t h = labels.size();
        for (const auto& [key, value] : labels) {
            h = h * 31 + std::hash<std::string_view>{}(key);
            h = h * 31 + std::hash<std::string_view>{}(value);
        }
        return h;
    }
    std::vector<const label_map*> sets_;
    std::vector<std::uint32_t> next_;  // an earlier set with the same hash
    std::vector<std::uint32_t> id_of_;
};

bool name_order(const cluster* a, const cluster* b) {
    return std::tie(a->name, a->server) < std::tie(b->name, b->server);
}

}  // namespace

std::vector<const cluster*> topology_order(std::vector<const cluster*> members, const std::string& topology_key) {
    if (topology_key.empty()) return members;
    return round_robin(std::move(members), [&](const cluster* c) { return label_value(c->labels, topology_key); });
}

stage_positions assign_stage_positions(const rollout_spec& spec, std::span<const cluster* const> fleet) {
    stage_positions out;
    const label_sets sets(fleet);
    std::vector<char> taken(fleet.size(), 0);
    // Per label set, in the current stage: -1 not asked yet, else whether the selector matches.
    std::vector<signed char> matches(sets.count());
    // Per label set, in the current stage: its topology value (nullptr: none), once looked up.
    std::vector<std::optional<const std::string*>> domains(sets.count());
    for (const auto& stage : spec.stages) {
        std::vector<std::size_t> available;
        long long matched = 0;
        // Only a percentage below 100% needs the count of taken clusters the selector matches.
        const bool count_taken = stage.max_clusters.is_percent && stage.max_clusters.value < 100;
        if (stage.selector) {
            std::fill(matches.begin(), matches.end(), -1);
            for (std::size_t i = 0; i < fleet.size(); ++i) {
                if (taken[i] && !count_taken) continue;
                auto& match = matches[sets.id_of(i)];
                if (match < 0) match = stage.selector->matches(sets.labels(sets.id_of(i))) ? 1 : 0;
                if (!match) continue;
                ++matched;
                if (!taken[i]) available.push_back(i);
            }
        }
        if (!stage.topology_key.empty()) {
            std::fill(domains.begin(), domains.end(), std::nullopt);
            available = round_robin(std::move(available), [&](std::size_t i) {
                auto& domain = domains[sets.id_of(i)];
                if (!domain) domain = label_value(sets.labels(sets.id_of(i)), stage.topology_key);
                return *domain;
            });
        }
        auto limit =
            std::clamp<long long>(stage.max_clusters.resolve(matched), 0, static_cast<long long>(available.size()));
        available.resize(static_cast<std::size_t>(limit));
        for (auto i : available) taken[i] = 1;
        out.max_unavailable.push_back(
            std::max<long long>(1, stage.max_unavailable.resolve(static_cast<long long>(available.size()))));
        out.stages.push_back(std::move(available));
    }
    for (std::size_t i = 0; i < fleet.size(); ++i)
        if (!taken[i]) out.unstaged.push_back(i);
    return out;
}

stage_assignments assign_stages(const rollout_spec& spec, std::span<const cluster> input) {
    std::vector<const cluster*> fleet;
    fleet.reserve(input.size());
    for (const auto& c : input) fleet.push_back(&c);
    return assign_stages(spec, std::move(fleet));
}

stage_assignments assign_stages(const rollout_spec& spec, std::vector<const cluster*> fleet) {
    // Callers often hand over a fleet already in name order (the state machine's is).
    if (!std::is_sorted(fleet.begin(), fleet.end(), name_order)) std::sort(fleet.begin(), fleet.end(), name_order);
    fleet.erase(
        std::unique(fleet.begin(), fleet.end(), [](const cluster* a, const cluster* b) { return a->name == b->name; }),
        fleet.end());
    const auto positions = assign_stage_positions(spec, fleet);
    stage_assignments out;
    for (std::size_t k = 0; k < positions.stages.size(); ++k) {
        stage_assignment assignment;
        assignment.max_unavailable = positions.max_unavailable[k];
        assignment.clusters.reserve(positions.stages[k].size());
        for (auto i : positions.stages[k]) assignment.clusters.push_back(fleet[i]->name);
        out.stages.push_back(std::move(assignment));
    }
    for (auto i : positions.unstaged) out.unstaged.push_back(fleet[i]->name);
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
