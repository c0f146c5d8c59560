#pragma once
// Which clusters each stage takes, and in what order. Pure and deterministic: the input order of
// clusters never matters. The state machine and the `plan` command share assign_stages().

#include "core/rollout.hpp"

#include <span>
#include <string>
#include <vector>

namespace apr::core {

struct stage_assignment {
    std::vector<std::string> clusters;  // admission order before any requeue
    long long max_unavailable = 1;      // resolved against clusters.size()
};

struct stage_assignments {
    std::vector<stage_assignment> stages;  // parallel to spec.stages
    std::vector<std::string> unstaged;     // sorted by name
};

// Per stage: clusters matching its selector, minus those taken by earlier stages, ordered by
// topology round-robin, cut to maxClusters (a percentage is of all clusters the selector matches).
stage_assignments assign_stages(const rollout_spec& spec, std::span<const cluster> clusters);
// The same over clusters owned elsewhere (the state machine's view of its fleet), without copies.
stage_assignments assign_stages(const rollout_spec& spec, std::vector<const cluster*> clusters);

// The same over a fleet already in name order with no name twice (the state machine's), as
// positions in it: no names copied, and the caller finds its own record of each cluster by position.
struct stage_positions {
    std::vector<std::vector<std::size_t>> stages;  // parallel to spec.stages, admission order
    std::vector<long long> max_unavailable;        // parallel to spec.stages
    std::vector<std::size_t> unstaged;             // in name order
};
stage_positions assign_stage_positions(const rollout_spec& spec, std::span<const cluster* const> sorted_fleet);

struct planned_stage {
    std::string name;
    std::vector<std::string> clusters;            // requeued ones last
    std::vector<std::vector<std::string>> waves;  // clusters cut by maxUnavailable
    std::vector<std::string> requeued;            // match the requeue selector now
    long long max_unavailable = 1;
};

struct rollout_plan {
    std::vector<planned_stage> stages;
    std::vector<std::string> unstaged;
};

rollout_plan make_plan(const rollout_spec& spec, std::span<const cluster> clusters);

// Topology round-robin over `members` (already sorted by name): domains sorted by label value,
// the unlabelled domain "" last, one cluster per domain per round.
std::vector<const cluster*> topology_order(std::vector<const cluster*> members, const std::string& topology_key);

}  // namespace apr::core
