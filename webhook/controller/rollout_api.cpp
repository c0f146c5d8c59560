#include "controller/rollout_api.hpp"

#include "kube/client.hpp"

namespace apr::controller {

namespace {

kube::api_result<void> discard_body(kube::api_result<rapidjson::Document> res) {
    if (!res) return res.error();
    return {};
}

}  // namespace

kube::api_result<void> client_rollout_api::put(std::string_view path, std::string_view json) {
    return discard_body(client_.put(path, json));
}

kube::api_result<void> client_rollout_api::json_patch(std::string_view path, std::string_view json) {
    return discard_body(client_.json_patch(path, json));
}

kube::api_result<void> client_rollout_api::merge_patch(std::string_view path, std::string_view json) {
    return discard_body(client_.merge_patch(path, json));
}

void client_rollout_api::record(const kube::object_reference& object, kube::event_type type, std::string reason,
                                std::string message) {
    events_.record(object, type, std::move(reason), std::move(message));
}

}  // namespace apr::controller
