#include "core/window_gates.hpp"

#include "core/observed_fleet.hpp"

#include <date/date.h>

namespace apr::core {

namespace {

std::string at_text(time_point t) {
    return date::format("%FT%TZ", t);
}

class rollout_windows_gate_impl final : public gate {
public:
    gate_verdict admission(const step_context& ctx) const override {
        const auto& windows = ctx.rollout.spec.windows;
        if (windows.empty()) return gate_verdict::open();
        const auto state = windows_at(windows, ctx.now);
        if (state.admitting) return gate_verdict::open();
        auto reason = "no new cluster is admitted: " + state.reason;
        reason += state.changes_at ? "; the next window opens at " + at_text(*state.changes_at)
                                   : "; no window opens within a year";
        return gate_verdict::wait(std::string(rollout_windows_gate), std::move(reason), state.changes_at);
    }
};

class project_windows_gate_impl final : public gate {
public:
    gate_verdict cluster_admission(const stage_context& ctx, const cluster_status& cluster) const override {
        const auto& observed = ctx.step.observed;
        if (!observed.app_projects)
            return gate_verdict::wait("syncWindows", "waiting for the Argo CD AppProjects to be listed");
        std::optional<gate_verdict> closed;
        const auto* view = ctx.step.fleet.find(cluster.name);
        if (!view) return gate_verdict::open();  // no Application there: nothing to sync
        for (const auto* a : view->apps) {
            const auto& app = *a;
            if (change_key(app, ctx.step.rollout.spec.track_revisions).empty()) continue;
            auto project = observed.app_projects->find(app.project);
            if (project == observed.app_projects->end()) continue;  // no windows known for it
            const application_target target{app.name, app.destination_name, app.destination_server,
                                            app.destination_namespace};
            // Argo CD's controller asks CanSync(false) before an automated sync; without one a
            // person starts the sync, and manualSync windows let them.
            auto sync = project_can_sync(project->second, target, !app.automated_sync, ctx.step.now);
            if (sync.allowed) continue;
            auto reason = "Argo CD would not sync Application " + app.name + " now: " + sync.reason;
            if (sync.changes_at) reason += " (until " + at_text(*sync.changes_at) + ")";
            // The earliest reopening decides when to look again.
            if (!closed || (sync.changes_at && (!closed->until || *sync.changes_at < *closed->until)))
                closed = gate_verdict::wait("syncWindows", std::move(reason), sync.changes_at);
        }
        return closed.value_or(gate_verdict::open());
    }
};

}  // namespace

std::unique_ptr<const gate> make_rollout_windows_gate() {
    return std::make_unique<rollout_windows_gate_impl>();
}
std::unique_ptr<const gate> make_project_windows_gate() {
    return std::make_unique<project_windows_gate_impl>();
}

}  // namespace apr::core
