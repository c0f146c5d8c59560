#pragma once
// A fixed bundle of objects as the whole world admission answers from (`serve --snapshot`:
// benchmarks, offline tests): ProgressiveRollouts (with status), ApplicationSets and cluster
// Secrets, in JSON or YAML. An ApplicationSet it lacks does not exist, as a cluster it lacks
// does not.

#include "core/fleet_state.hpp"

#include <string>
#include <string_view>

namespace apr::codec {

// Throws std::runtime_error, prefixed with `source` (the file name), for a bundle it cannot
// read or a rollout with an invalid spec.
core::fleet_state decode_snapshot(std::string_view text, const std::string& source);

// "N rollouts, N clusters, N ApplicationSets": what a snapshot holds, for the log.
std::string describe_snapshot(const core::fleet_state& state);

}  // namespace apr::codec
