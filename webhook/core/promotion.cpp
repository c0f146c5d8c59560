#include "core/promotion.hpp"

#include <algorithm>

namespace apr::core {

namespace {

const gate_spec* find_spec(const stage_spec& stage, std::string_view name) {
    auto it = std::find_if(stage.gates.begin(), stage.gates.end(), [&](const gate_spec& g) { return g.name == name; });
    return it == stage.gates.end() ? nullptr : &*it;
}

// The gate waits for a person: an approval gate that was asked and not yet passed, or a gate
// that ended Inconclusive and pauses the rollout (a dryRun one pauses nothing).
std::optional<waiting_gate> waiting(const gate_spec* spec, const gate_status& g, const std::string& cluster) {
    if (!spec || !g.decided_by.empty()) return std::nullopt;
    if (spec->approval && g.started_at && g.phase != gate_phase::successful)
        return waiting_gate{g.name, cluster, true, spec->approval->groups};
    if (g.phase == gate_phase::inconclusive && !spec->dry_run) return waiting_gate{g.name, cluster, false, {}};
    return std::nullopt;
}

}  // namespace

std::vector<waiting_gate> gates_waiting_for_promote(const stage_spec& spec, const stage_status& status) {
    std::vector<waiting_gate> out;
    for (const auto& g : status.gates)
        if (auto w = waiting(find_spec(spec, g.name), g, {})) out.push_back(std::move(*w));
    for (const auto& c : status.clusters)
        for (const auto& g : c.gates)
            if (auto w = waiting(find_spec(spec, g.name), g, c.name)) out.push_back(std::move(*w));
    return out;
}

bool may_approve(const std::vector<std::string>& approval_groups, const std::vector<std::string>& groups) {
    if (approval_groups.empty()) return true;
    return std::any_of(groups.begin(), groups.end(), [&](const std::string& g) {
        return std::find(approval_groups.begin(), approval_groups.end(), g) != approval_groups.end();
    });
}

bool may_pass(const waiting_gate& gate, const std::vector<std::string>& groups) {
    return !gate.approval || may_approve(gate.groups, groups);
}

void pass_waiting_gates(const stage_spec& spec, stage_status& status, const promote_request& p, time_point now,
                        std::vector<rollout_event>& events) {
    auto decide = [&](gate_status& g, const std::string& cluster) {
        auto w = waiting(find_spec(spec, g.name), g, cluster);
        if (!w || !may_pass(*w, p.groups)) return;
        g.decided_by = p.user;
        g.decided_at = p.at;
        if (w->approval) {
            g.phase = gate_phase::successful;
            g.finished_at = now;
            g.message = "approved by " + p.user;
        }
        events.push_back({false, w->approval ? "GateApproved" : "GatePromoted",
                          "stage " + status.name + ": gate " + g.name +
                              (cluster.empty() ? "" : " (cluster " + cluster + ")") + " " +
                              (w->approval ? "approved" : "promoted past Inconclusive") + " by " + p.user});
    };
    for (auto& g : status.gates) decide(g, {});
    for (auto& c : status.clusters)
        for (auto& g : c.gates) decide(g, c.name);
}

}  // namespace apr::core
