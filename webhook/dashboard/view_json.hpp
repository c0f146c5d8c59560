#pragma once
// What the dashboard's JSON API answers (docs/dashboard.md): the list of rollouts and one
// rollout in detail (stages in order with their clusters, why it waits, recent Events). Pure
// functions from the decoded objects and the time to JSON text, so the page's data is tested
// without a server. What does not live here: fetching (dashboard_server.cpp), drawing (assets/).

#include "core/rollout.hpp"
#include "dashboard/rollout_event.hpp"

#include <string>
#include <vector>

namespace apr::dashboard {

struct list_view {
    std::string namespace_;
    std::vector<const core::rollout*> rollouts;  // in the order shown
    bool synced = false;                         // the watch has listed at least once
    bool actions = false;                        // --allow-actions
};

// {"namespace","now","synced","actions","rollouts":[{name, phase, pass, paused, currentStage,
//  done, total, waiting, stages:[{name, phase, done, total}]}]}
std::string list_json(const list_view& view, core::time_point now);

// {"now","actions","rollout":{... every stage with its clusters ...},"events":[...]}; `events`
// are this rollout's, newest first.
std::string rollout_json(const core::rollout& r, const std::vector<rollout_event>& events, bool actions,
                         core::time_point now);

}  // namespace apr::dashboard
