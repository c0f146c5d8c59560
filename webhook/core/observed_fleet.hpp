#pragma once
// The fleet as one step of the stage machine sees it: each cluster's labels and the managed
// Applications on it, looked up by name. Views into the observations, which outlive it.

#include "core/observations.hpp"

#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace apr::core {

struct cluster_view {
    const cluster* identity = nullptr;  // the observed Secret's cluster, or a label-less stand-in
    // Bookkeeping of the status rebuild: the stage the planner gives it, its record in the
    // previous status, and whether the new status has it yet.
    std::size_t stage = static_cast<std::size_t>(-1);
    const cluster_status* record = nullptr;
    bool placed = false;
    const label_map* labels = nullptr;
    std::vector<const application_observation*> apps;
    std::string pending_hash;  // the combined change_key() of its Applications

    bool has_pending() const { return !pending_hash.empty(); }
    // Done (docs/controller.md): nothing held, Synced, Healthy, compared against the current spec, idle.
    bool up_to_date() const;
    // Why the cluster failed since it was admitted at `admitted_at`, if it did.
    std::optional<std::string> failure_since(time_point admitted_at) const;
    std::optional<std::string> degraded() const;
};

class observed_fleet {
public:
    // With `track_revisions` a cluster's pending change includes new commits (change_key()).
    explicit observed_fleet(const observations& observed, bool track_revisions = false);
    observed_fleet(const observed_fleet&) = delete;
    observed_fleet& operator=(const observed_fleet&) = delete;

    cluster_view* find(std::string_view name);
    const cluster_view* find(std::string_view name) const;
    // Every cluster with a managed Application, in no particular order.
    std::unordered_map<std::string_view, cluster_view>& views() { return views_; }

private:
    // Looked up for every cluster in every phase of a step, so hashed rather than ordered.
    std::unordered_map<std::string_view, cluster_view> views_;
    std::deque<cluster> unregistered_;
};

}  // namespace apr::core
