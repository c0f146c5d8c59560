#pragma once
// The shell's view of the cluster: watch caches of ProgressiveRollouts, Argo CD cluster Secrets,
// ApplicationSets and Applications in the Argo CD namespace, reduced at decode time to what the
// project reads, and the immutable core::fleet_state that admission answers from (swapped, never
// mutated).

#include "codec/kube_objects.hpp"
#include "core/fleet_state.hpp"
#include "kube/informer.hpp"

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace apr::controller {

struct cached_rollout {
    core::rollout rollout;
    core::field_errors spec_errors;  // decoding errors (the validating webhook normally prevents them)
    std::string uid;
    std::string resource_version;
    std::vector<std::string> finalizers;
};

std::optional<cached_rollout> decode_cached_rollout(const rapidjson::Value& object);

class fleet_cache {
public:
    // `on_change` runs on a watch thread after any cache changed (the controller's wake-up).
    fleet_cache(kube::client& client, std::string namespace_, std::function<void()> on_change);
    ~fleet_cache();

    void start();
    void stop();
    bool synced() const;

    // What admission reads: never null. Readiness (synced()) keeps traffic away until it is whole.
    std::shared_ptr<const core::fleet_state> state() const;

    std::vector<std::shared_ptr<const cached_rollout>> rollouts() const;
    std::vector<core::cluster> clusters() const;
    // The Applications owned by `application_set` in the cached namespace.
    std::vector<std::shared_ptr<const codec::application_record>> applications_of(const std::string& application_set) const;
    // The webhook's recent refusals to hold a template change, by Application name.
    std::map<std::string, codec::hold_refusal> hold_refusals() const;

    const std::string& namespace_name() const { return namespace_; }
    // Prometheus lines for the watch caches (lists, relists, 410s, restarts, errors, synced).
    void write_metrics(std::string& out) const;

private:
    void rebuild_state();
    void application_sets_changed();

    std::string namespace_;
    std::function<void()> on_change_;
    kube::informer<cached_rollout> rollouts_;
    kube::informer<core::cluster> clusters_;
    kube::informer<codec::application_record> applications_;
    kube::informer<core::application_set_ref> application_sets_;
    // Events are not part of synced(): they only add detail to status, never gate admission.
    kube::informer<codec::hold_refusal> hold_refusals_;
    // Set by the first publish of application_sets_ (its synced() turns true only after that
    // publish's callback): until then fleet_state says "unknown", not "none exists".
    std::atomic<bool> application_sets_listed_{false};
    std::vector<std::string> application_set_keys_;  // as last published; its watch thread only
    std::mutex rebuild_mutex_;
    mutable std::mutex state_mutex_;
    std::shared_ptr<const core::fleet_state> state_;
};

}  // namespace apr::controller
