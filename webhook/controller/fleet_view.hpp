#pragma once
// What the controller reads about the cluster: the rollouts as cached, the clusters, the
// Applications of an ApplicationSet, the webhook's recent hold refusals and the fleet_state
// admission answers from. fleet_cache implements it from watch caches; tests give a fixed one.

#include "codec/kube_objects.hpp"
#include "core/fleet_state.hpp"
#include "core/project_windows.hpp"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace apr::controller {

struct cached_rollout {
    core::rollout rollout;
    core::field_errors spec_errors;  // decoding errors (the validating webhook normally prevents them)
    std::string uid;
    std::string resource_version;
    std::vector<std::string> finalizers;
    // The annotation deployment.skyscanner.net/request: an operator request not carried out yet.
    std::optional<std::string> request;
};

std::optional<cached_rollout> decode_cached_rollout(const rapidjson::Value& object);

class fleet_view {
public:
    virtual ~fleet_view() = default;

    virtual bool synced() const = 0;
    // What admission reads: never null.
    virtual std::shared_ptr<const core::fleet_state> state() const = 0;
    virtual std::vector<std::shared_ptr<const cached_rollout>> rollouts() const = 0;
    virtual std::vector<core::cluster> clusters() const = 0;
    // The Applications owned by `application_set` in the cached namespace.
    virtual std::vector<std::shared_ptr<const codec::application_record>> applications_of(
        const std::string& application_set) const = 0;
    // The webhook's recent refusals to hold a template change, by Application name.
    virtual std::map<std::string, codec::hold_refusal> hold_refusals() const = 0;
    // Argo CD AppProjects in the cached namespace by name, reduced to their sync windows; nullopt
    // until they have been listed (docs/windows.md). A view without any has them listed, empty.
    virtual std::optional<std::map<std::string, core::app_project>> app_projects() const {
        return std::map<std::string, core::app_project>{};
    }
};

}  // namespace apr::controller
