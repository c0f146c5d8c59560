#include "codec/snapshot.hpp"

#include "codec/json_reader.hpp"
#include "codec/kube_objects.hpp"
#include "codec/rollout_codec.hpp"

#include <stdexcept>

namespace apr::codec {

core::fleet_state decode_snapshot(std::string_view text, const std::string& source) {
    std::vector<core::rollout> rollouts;
    std::vector<core::cluster> clusters;
    std::vector<core::application_set_ref> application_sets;
    for (const auto& object : parse_objects(text)) {
        const auto kind = string_at(object, {"kind"});
        if (kind == core::rollout_kind) {
            auto decoded = decode_rollout(object);
            if (!decoded.errors.empty())
                throw std::runtime_error(source + ": ProgressiveRollout " + decoded.rollout.name + ": " +
                                         decoded.errors.front().to_string());
            rollouts.push_back(std::move(decoded.rollout));
        } else if (kind == "ApplicationSet") {
            if (auto set = decode_application_set(object)) application_sets.push_back(std::move(*set));
        } else if (auto c = decode_cluster_secret(object)) {
            clusters.push_back(std::move(*c));
        }
    }
    return core::build_fleet_state(rollouts, std::move(clusters), std::move(application_sets));
}

std::string describe_snapshot(const core::fleet_state& state) {
    std::size_t application_sets = 0;
    if (state.application_sets_by_namespace)
        for (const auto& [namespace_, names] : *state.application_sets_by_namespace) application_sets += names.size();
    return std::to_string(state.admission.rollouts.size()) + " rollouts, " + std::to_string(state.clusters.size()) +
           " clusters, " + std::to_string(application_sets) + " ApplicationSets";
}

}  // namespace apr::codec
