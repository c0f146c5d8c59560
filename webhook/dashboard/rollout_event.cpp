#include "dashboard/rollout_event.hpp"

#include "codec/json_reader.hpp"
#include "codec/time_format.hpp"
#include "core/rollout.hpp"

namespace apr::dashboard {

std::optional<rollout_event> decode_rollout_event(const rapidjson::Value& event) {
    if (!event.IsObject()) return std::nullopt;
    if (codec::string_at(event, {"involvedObject", "kind"}) != core::rollout_kind) return std::nullopt;
    rollout_event e;
    e.rollout = codec::string_at(event, {"involvedObject", "name"});
    if (e.rollout.empty()) return std::nullopt;
    e.type = codec::string_at(event, {"type"});
    e.reason = codec::string_at(event, {"reason"});
    e.message = codec::string_at(event, {"message"});
    for (const char* field : {"lastTimestamp", "eventTime", "firstTimestamp"}) {
        if (auto t = codec::parse_time(codec::string_at(event, {field}))) {
            e.last_seen = t;
            break;
        }
    }
    if (const auto* count = codec::find_path(event, {"count"}); count && count->IsInt64()) e.count = count->GetInt64();
    return e;
}

}  // namespace apr::dashboard
