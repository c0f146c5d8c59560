#pragma once
// The gates a stage lists under `gates` (docs/api.md#stage-gates) as one gate of the model.

#include "core/gates.hpp"

namespace apr::core {

class stage_gates final : public gate {
public:
    gate_verdict stage_start(const stage_context& ctx) const override;
    gate_verdict stage_running(const stage_context& ctx) const override;
    gate_verdict cluster_running(const stage_context& ctx, cluster_status& cluster) const override;
    gate_verdict cluster_completion(const stage_context& ctx, cluster_status& cluster) const override;
    gate_verdict stage_completion(const stage_context& ctx) const override;

private:
    gate_verdict judge(const stage_context& ctx, const gate_spec& spec, gate_status& status,
                       const cluster_status* target) const;
    void request(const stage_context& ctx, const gate_spec& spec, const gate_status& status,
                 const cluster_status* target) const;
};

// The command that passes an approval or Inconclusive gate, as status tells people to run it.
std::string promote_command(const rollout& r);

}  // namespace apr::core
