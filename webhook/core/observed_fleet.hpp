#pragma once
// The fleet as one step of the stage machine sees it: each cluster's labels and the managed
// Applications on it, looked up by name. Views into the observations, which outlive it.

#include "core/observations.hpp"

#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace apr::core {

struct cluster_view {
    std::string_view name;
    const cluster* identity = nullptr;  // the observed Secret's cluster, or a label-less stand-in
    // Bookkeeping of the status rebuild: the stage the planner gives it, its record in the
    // previous status, and whether the new status has it yet.
    std::size_t stage = static_cast<std::size_t>(-1);
    const cluster_status* record = nullptr;
    bool placed = false;
    const label_map* labels = nullptr;
    std::span<const application_observation* const> apps;  // in the order they were observed
    std::string pending_hash;                              // the combined change_key() of its Applications
    // The last of its Applications the webhook refused to hold a change of, if any.
    const application_observation* hold_refused = nullptr;

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
    // Every cluster with a managed Application, in name order.
    std::span<cluster_view> views() { return views_; }
    std::span<const cluster_view> views() const { return views_; }
    // Whether any Application's change was refused a hold (cluster_view::hold_refused).
    bool any_hold_refused() const { return any_hold_refused_; }

private:
    std::size_t index_of(std::string_view name) const;

    // Looked up for every cluster in several phases of every step: a flat open-addressing
    // table of positions in views_ (plus one, 0 is free) next to a few bits of each name's hash.
    struct slot {
        std::uint32_t position = 0;
        std::uint32_t hash = 0;
    };
    std::string names_;  // every cluster's name, one after the other: compared on every lookup
    std::vector<const application_observation*> apps_;  // grouped by cluster, the views' spans
    std::vector<cluster_view> views_;
    std::vector<slot> slots_;  // a power of two, at most half full
    bool any_hold_refused_ = false;
    std::deque<cluster> unregistered_;
};

}  // namespace apr::core
