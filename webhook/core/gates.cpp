#include "core/gates.hpp"

#include "core/observed_fleet.hpp"
#include "core/stage_gates.hpp"
#include "core/window_gates.hpp"

#include <algorithm>

namespace apr::core {

gate_verdict gate_verdict::wait(std::string gate, std::string reason, std::optional<time_point> until) {
    return {gate_answer::wait, std::move(gate), std::move(reason), until};
}

gate_verdict gate_verdict::pause(std::string gate, std::string reason) {
    return {gate_answer::pause, std::move(gate), std::move(reason), std::nullopt};
}

gate_verdict gate_verdict::fail(std::string gate, std::string reason) {
    return {gate_answer::fail, std::move(gate), std::move(reason), std::nullopt};
}

void step_context::emit(bool warning, std::string reason, std::string message) const {
    events.push_back({warning, std::move(reason), std::move(message)});
}

// A gate asked twice in one step (a stage's running gates are asked before and after its
// admissions) still asks for one measurement.
void step_context::request(measurement_request r) const {
    if (requested.insert(r.key()).second) requests.push_back(std::move(r));
}

void step_context::look_again_at(time_point when) const {
    if (!look_again || when < *look_again) look_again = when;
}

const cluster* step_context::cluster_named(std::string_view name) const {
    const auto* view = fleet.find(name);
    return view ? view->identity : nullptr;
}

namespace {

// spec.paused: no cluster is admitted or requeued; clusters already Updating finish.
class paused_gate final : public gate {
public:
    gate_verdict admission(const step_context& ctx) const override {
        if (!ctx.rollout.spec.paused) return gate_verdict::open();
        return gate_verdict::pause("paused", "paused: no new cluster is admitted");
    }
};

// More failed clusters than maxFailures fail the stage (and so the rollout).
class failure_budget_gate final : public gate {
public:
    gate_verdict stage_running(const stage_context& ctx) const override {
        const auto& clusters = ctx.status.clusters;
        const long long failed = std::count_if(
            clusters.begin(), clusters.end(), [](const cluster_status& c) { return c.phase == cluster_phase::failed; });
        const auto budget = ctx.spec.max_failures;
        if (failed <= budget) return gate_verdict::open();
        return gate_verdict::fail(
            "maxFailures", std::to_string(failed) + " failed cluster(s), maxFailures is " + std::to_string(budget));
    }
};

// bakeTime: a stage that changed something stays Baking until bakeUntil before it completes.
class bake_gate final : public gate {
public:
    gate_verdict stage_completion(const stage_context& ctx) const override {
        auto& s = ctx.status;
        if (s.phase == stage_phase::progressing) {
            const bool changed_something = std::any_of(s.clusters.begin(), s.clusters.end(),
                                                       [](const cluster_status& c) { return !c.hash.empty(); });
            const auto bake = ctx.spec.bake_time.get();
            if (bake <= duration::zero() || !changed_something) return gate_verdict::open();
            s.phase = stage_phase::baking;
            s.bake_until = ctx.step.now + std::chrono::ceil<std::chrono::seconds>(bake);
            ctx.step.emit(false, "StageBaking", "stage " + s.name + " done; baking for " + format_duration(bake));
        }
        if (s.phase != stage_phase::baking) return gate_verdict::open();
        if (s.bake_until && *s.bake_until <= ctx.step.now) return gate_verdict::open();
        return gate_verdict::wait("bakeTime", "stage " + s.name + " is baking", s.bake_until);
    }
};

}  // namespace

gate_set::gate_set(const rollout&) {
    gates_.push_back(std::make_unique<paused_gate>());
    gates_.push_back(make_rollout_windows_gate());
    gates_.push_back(make_project_windows_gate());
    gates_.push_back(std::make_unique<failure_budget_gate>());
    gates_.push_back(std::make_unique<bake_gate>());
    gates_.push_back(std::make_unique<stage_gates>());
}

template <typename Ask>
gate_verdict gate_set::first_closed(Ask ask) const {
    for (const auto& g : gates_)
        if (auto verdict = ask(*g); !verdict.is_open()) return verdict;
    return gate_verdict::open();
}

gate_verdict gate_set::admission(const step_context& ctx) const {
    return first_closed([&](const gate& g) { return g.admission(ctx); });
}

gate_verdict gate_set::cluster_admission(const stage_context& ctx, const cluster_status& cluster) const {
    return first_closed([&](const gate& g) { return g.cluster_admission(ctx, cluster); });
}

gate_verdict gate_set::stage_start(const stage_context& ctx) const {
    return first_closed([&](const gate& g) { return g.stage_start(ctx); });
}

gate_verdict gate_set::stage_running(const stage_context& ctx) const {
    return first_closed([&](const gate& g) { return g.stage_running(ctx); });
}

gate_verdict gate_set::cluster_running(const stage_context& ctx, cluster_status& cluster) const {
    return first_closed([&](const gate& g) { return g.cluster_running(ctx, cluster); });
}

gate_verdict gate_set::cluster_completion(const stage_context& ctx, cluster_status& cluster) const {
    return first_closed([&](const gate& g) { return g.cluster_completion(ctx, cluster); });
}

gate_verdict gate_set::stage_completion(const stage_context& ctx) const {
    return first_closed([&](const gate& g) { return g.stage_completion(ctx); });
}

}  // namespace apr::core
