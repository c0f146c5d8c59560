#pragma once
// The shell's view of the cluster: watch caches of ProgressiveRollouts, Argo CD cluster Secrets,
// ApplicationSets, Applications and AppProjects in the Argo CD namespace, reduced at decode time to what the
// project reads, and the immutable core::fleet_state that admission answers from (swapped, never
// mutated).

#include "controller/fleet_view.hpp"
#include "kube/informer.hpp"

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace apr::controller {

class fleet_cache final : public fleet_view {
public:
    // `on_change` runs on a watch thread after any cache changed (the controller's wake-up).
    fleet_cache(kube::client& client, std::string namespace_, std::function<void()> on_change);
    // Gate URL prefixes the validation context carries (serve --gate-url-prefix); before start().
    void set_allowed_gate_urls(std::vector<std::string> prefixes) { allowed_gate_urls_ = std::move(prefixes); }
    ~fleet_cache();

    void start();
    void stop();
    bool synced() const override;

    // Readiness (synced()) keeps admission traffic away until the caches are whole.
    std::shared_ptr<const core::fleet_state> state() const override;

    std::vector<std::shared_ptr<const cached_rollout>> rollouts() const override;
    std::vector<core::cluster> clusters() const override;
    std::vector<std::shared_ptr<const codec::application_record>> applications_of(
        const std::string& application_set) const override;
    std::map<std::string, codec::hold_refusal> hold_refusals() const override;
    std::optional<std::map<std::string, core::app_project>> app_projects() const override;

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
    // Not part of synced() either: admission of Applications does not read them, and a missing
    // AppProject CRD or grant must not keep the webhook unready. The controller admits no cluster
    // until they are listed (app_projects() is nullopt until then).
    kube::informer<core::app_project> app_projects_;
    // Set by the first publish of application_sets_ (its synced() turns true only after that
    // publish's callback): until then fleet_state says "unknown", not "none exists".
    std::atomic<bool> application_sets_listed_{false};
    std::vector<std::string> application_set_keys_;  // as last published; its watch thread only
    std::mutex rebuild_mutex_;
    mutable std::mutex state_mutex_;
    std::shared_ptr<const core::fleet_state> state_;
    std::vector<std::string> allowed_gate_urls_;
};

}  // namespace apr::controller
