#pragma once
// The API writes the controller makes, and nothing else: a status PUT (carrying the
// resourceVersion it read, so a concurrent writer makes it fail with 409), JSON and merge
// patches, and Events. client_rollout_api sends them to the API server; tests record them.

#include "kube/api_error.hpp"
#include "kube/event_recorder.hpp"

#include <string>
#include <string_view>

namespace apr::kube {
class client;
}

namespace apr::controller {

class rollout_api {
public:
    virtual ~rollout_api() = default;

    // Paths are absolute API paths; bodies are JSON text.
    virtual kube::api_result<void> put(std::string_view path, std::string_view json) = 0;
    virtual kube::api_result<void> json_patch(std::string_view path, std::string_view json) = 0;
    virtual kube::api_result<void> merge_patch(std::string_view path, std::string_view json) = 0;
    // Best effort, never blocks.
    virtual void record(const kube::object_reference& object, kube::event_type type, std::string reason,
                        std::string message) = 0;
};

class client_rollout_api final : public rollout_api {
public:
    client_rollout_api(kube::client& client, kube::event_recorder& events) : client_(client), events_(events) {}

    kube::api_result<void> put(std::string_view path, std::string_view json) override;
    kube::api_result<void> json_patch(std::string_view path, std::string_view json) override;
    kube::api_result<void> merge_patch(std::string_view path, std::string_view json) override;
    void record(const kube::object_reference& object, kube::event_type type, std::string reason,
                std::string message) override;

private:
    kube::client& client_;
    kube::event_recorder& events_;
};

}  // namespace apr::controller
