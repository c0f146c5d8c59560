#pragma once
// What a `promote` passes (docs/api.md#stage-gates): the gates of a stage that wait for a person —
// an approval gate, or a gate that ended Inconclusive. Approval gates with `approval.groups` may
// be passed only by a member of one of them. The operator request (operator_request.hpp) decides
// whether a promote may happen; the stage machine passes the gates (observations.promotion).

#include "core/observations.hpp"
#include "core/rollout.hpp"

#include <string>
#include <vector>

namespace apr::core {

struct waiting_gate {
    std::string gate;
    std::string cluster;              // scope Cluster; empty for Stage
    bool approval = false;            // else: Inconclusive
    std::vector<std::string> groups;  // approval.groups
};

// The gates of a started stage that wait for a person now.
std::vector<waiting_gate> gates_waiting_for_promote(const stage_spec& spec, const stage_status& status);

// Whether someone in `groups` may approve: approval.groups is empty or shares a group with them.
bool may_approve(const std::vector<std::string>& approval_groups, const std::vector<std::string>& groups);

// Whether the promoter may pass this waiting gate (anyone may pass an Inconclusive one).
bool may_pass(const waiting_gate& gate, const std::vector<std::string>& groups);

// Passes the gates of the stage that wait for a person and that the promoter may pass: an
// approval becomes Successful, an Inconclusive gate counts as decided; both record who and when.
void pass_waiting_gates(const stage_spec& spec, stage_status& status, const promote_request& promotion, time_point now,
                        std::vector<rollout_event>& events);

}  // namespace apr::core
