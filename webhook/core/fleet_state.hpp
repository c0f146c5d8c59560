#pragma once
// One immutable picture of everything admission reads: rollouts (with their status windows) and
// the cluster inventory. The shell builds a new one when a cache changes and swaps a shared_ptr,
// so admission threads never wait on the watch threads.

#include "core/admission.hpp"
#include "core/rollout.hpp"
#include "core/validation.hpp"

#include <memory>
#include <unordered_map>
#include <vector>

namespace apr::core {

struct fleet_state {
    admission_snapshot admission;
    std::unordered_map<std::string, std::vector<rollout_reference>> rollouts_by_namespace;
    std::vector<cluster> clusters;

    validation_context validation_context_for(const std::string& namespace_, const std::string& name) const;
};

fleet_state build_fleet_state(const std::vector<rollout>& rollouts, std::vector<cluster> clusters);

}  // namespace apr::core
