#pragma once
// One immutable picture of everything admission reads: rollouts (with their status windows),
// the cluster inventory and which ApplicationSets exist. The shell builds a new one when a cache
// changes and swaps a shared_ptr, so admission threads never wait on the watch threads.

#include "core/admission.hpp"
#include "core/rollout.hpp"
#include "core/stage_machine.hpp"
#include "core/validation.hpp"

#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

namespace apr::core {

struct fleet_state {
    admission_snapshot admission;
    std::unordered_map<std::string, std::vector<rollout_reference>> rollouts_by_namespace;
    std::vector<cluster> clusters;
    // ApplicationSet names by namespace; nullopt while unknown (not watched, not listed yet).
    std::optional<std::unordered_map<std::string, std::vector<std::string>>> application_sets_by_namespace;
    std::vector<std::string> allowed_gate_urls;  // serve --gate-url-prefix; empty: any

    validation_context validation_context_for(const std::string& namespace_, const std::string& name) const;
    source_presence application_set_presence(const std::string& namespace_, const std::string& name) const;
};

// `application_sets`: every ApplicationSet that exists, or nullopt when that is not known.
fleet_state build_fleet_state(const std::vector<rollout>& rollouts, std::vector<cluster> clusters,
                              std::optional<std::vector<application_set_ref>> application_sets = std::nullopt);

}  // namespace apr::core
