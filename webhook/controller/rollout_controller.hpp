#pragma once
// The background controller (run only on the Lease holder): feeds the caches to the core's
// stage state machine and carries out what it decides — status first, then admissions, then
// Events — so a restart at any moment resumes from status with no cluster admitted twice.

#include "controller/fleet_view.hpp"
#include "controller/measurement_runner.hpp"
#include "controller/rollout_api.hpp"
#include "core/operator_request.hpp"
#include "core/stage_machine.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <stop_token>

namespace apr::controller {

inline constexpr std::string_view finalizer_name = "deployment.skyscanner.net/finalizer";
inline constexpr std::string_view refresh_annotation = "argocd.argoproj.io/application-set-refresh";

struct controller_options {
    core::step_options step;
    std::chrono::milliseconds resync{std::chrono::seconds(30)};  // look again even when nothing changed
    std::chrono::milliseconds debounce{std::chrono::milliseconds(100)};
    std::function<core::time_point()> clock;               // default: the system clock, in whole seconds
    std::function<void(std::chrono::milliseconds)> sleep;  // default: std::this_thread::sleep_for
    measurement_port* measurements = nullptr;              // takes gate measurements; none: gates never measure
    // The controller's own username (serve --self-user), written as the initiator of its syncs.
    std::string self_user = "argocd-progressive-rollout";
};

class rollout_controller {
public:
    rollout_controller(rollout_api& api, const fleet_view& cache, controller_options options = {});

    void wake();
    // Reconciles until `stop` is requested; meant for its own thread while leading.
    void run(std::stop_token stop);
    // One pass over every rollout; returns when to look again at the latest.
    std::chrono::milliseconds reconcile_all();

    std::uint64_t reconciles() const { return reconciles_.load(); }
    std::uint64_t admissions() const { return admissions_.load(); }

private:
    std::optional<core::duration> reconcile(const cached_rollout& rollout);
    bool ensure_finalizer(const cached_rollout& rollout);
    core::request_outcome carry_out_request(const core::rollout& rollout, const std::string& text) const;
    void remove_request(const cached_rollout& rollout);
    void release(const cached_rollout& rollout);
    bool write_status(const cached_rollout& rollout, const core::rollout_status& status);
    void admit(const core::rollout& rollout, const core::admit_action& action);
    void restore(const core::rollout& rollout, const core::admit_action& action);
    // Writes the sync operations of a new commit's admission or of a self-heal.
    void sync(const core::rollout& rollout, const core::admit_action& action, bool heal);
    // On a rollout with trackRevisions, an Application still syncing by itself (it predates the
    // rollout or the field) gets a write that changes nothing: the webhook's answer turns its
    // auto-sync off and records the policy (docs/controller.md, "Moving revisions").
    void turn_auto_sync_off(const core::rollout& rollout);
    // Calls f with each cached Application the action names (in the rollout's namespace).
    void for_each_application(const core::rollout& rollout, const core::admit_action& action,
                              const std::function<void(const codec::application_record&, const std::string&)>& f) const;
    kube::api_result<void> patch_application(const std::string& path, const std::string& patch, bool merge = false);
    void emit(const cached_rollout& rollout, const std::vector<core::rollout_event>& events);
    core::observations observe(const core::rollout& rollout);
    std::string rollout_path(const core::rollout& rollout) const;
    core::time_point now() const;

    void wait_before_retry(std::chrono::milliseconds wait) const;

    rollout_api& api_;
    const fleet_view& cache_;
    controller_options options_;
    std::mutex mutex_;
    std::condition_variable_any wake_cv_;
    bool woken_ = false;
    std::atomic<std::uint64_t> reconciles_{0}, admissions_{0};
    // Per rollout ("ns/name"), per Application: the change (core::change_key) last seen and when it
    // was first seen (core::application_observation::pending_since). Reconcile's thread only.
    std::map<std::string, std::map<std::string, std::pair<std::string, core::time_point>>> pending_seen_;
    // Per Application ("ns/name"): when turn_auto_sync_off() last wrote it. Reconcile's thread only.
    std::map<std::string, core::time_point> auto_sync_touched_;
};

// Prometheus lines about the rollouts as cached: phase, stage and clusters per state.
void write_rollout_metrics(const fleet_view& cache, std::string& out);

}  // namespace apr::controller
