#pragma once
// A Kubernetes Event about a ProgressiveRollout as the dashboard shows it (what the controller
// recorded: StageStarted, ClusterRequeued, RolloutFailed, ...), decoded from core/v1 Events.
// What does not live here: recording events (kube/event_recorder.hpp).

#include "core/duration.hpp"

#include <rapidjson/document.h>

#include <optional>
#include <string>

namespace apr::dashboard {

struct rollout_event {
    std::string rollout;  // involvedObject.name
    std::string type;     // Normal | Warning
    std::string reason;
    std::string message;
    std::optional<core::time_point> last_seen;  // lastTimestamp, else eventTime, else firstTimestamp
    long long count = 1;
};

// nullopt for an Event about anything but a ProgressiveRollout, or one without a name.
std::optional<rollout_event> decode_rollout_event(const rapidjson::Value& event);

}  // namespace apr::dashboard
