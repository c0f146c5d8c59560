#define BOOST_TEST_MODULE gates
#include <boost/test/unit_test.hpp>

#include "core/gates.hpp"
#include "core/observed_fleet.hpp"
#include "test_fleet.hpp"

using namespace apr::core;
using namespace apr::test;

namespace {

// One stage of the seed spec at a point of its life, with the context a gate is asked in.
struct stage_at_point {
    rollout r;
    observations observed;
    observed_fleet fleet{observed};
    std::vector<rollout_event> events;
    std::vector<measurement_request> requests;
    std::unordered_set<std::string> requested;
    std::optional<time_point> look_again;
    long long pass = 1;
    stage_status status;
    time_point now = time_point{std::chrono::sys_days{std::chrono::year{2026} / 11 / 27}};
    step_context step{r, observed, fleet, now, pass, events, requests, requested, look_again};

    explicit stage_at_point(rollout_spec spec) {
        r.spec = std::move(spec);
        status.name = r.spec.stages[0].name;
    }
    stage_context context() { return {step, 0, r.spec.stages[0], status}; }
    void add_cluster(std::string name, cluster_phase phase, std::string hash = "h1") {
        status.clusters.push_back(cluster_status{.name = std::move(name), .phase = phase, .hash = std::move(hash)});
    }
};

}  // namespace

BOOST_AUTO_TEST_CASE(spec_paused_pauses_admission_with_its_reason) {
    stage_at_point p(seed_spec());
    gate_set gates(p.r);
    BOOST_TEST(gates.admission(p.step).is_open());
    p.r.spec.paused = true;
    const auto verdict = gate_set(p.r).admission(p.step);
    BOOST_TEST((verdict.answer == gate_answer::pause));
    BOOST_TEST(verdict.gate == "paused");
    BOOST_TEST(verdict.reason == "paused: no new cluster is admitted");
}

BOOST_AUTO_TEST_CASE(failure_budget_fails_the_running_stage_beyond_max_failures) {
    auto spec = seed_spec();
    spec.stages[0].max_failures = 1;
    stage_at_point p(spec);
    p.status.phase = stage_phase::progressing;
    p.add_cluster("a", cluster_phase::failed);
    p.add_cluster("b", cluster_phase::updating);
    gate_set gates(p.r);
    BOOST_TEST(gates.stage_running(p.context()).is_open());
    p.add_cluster("c", cluster_phase::failed);
    const auto verdict = gates.stage_running(p.context());
    BOOST_TEST((verdict.answer == gate_answer::fail));
    BOOST_TEST(verdict.gate == "maxFailures");
    BOOST_TEST(verdict.reason == "2 failed cluster(s), maxFailures is 1");
}

BOOST_AUTO_TEST_CASE(bake_time_waits_until_bake_until_then_opens) {
    auto spec = seed_spec();
    spec.stages[0].bake_time = duration_field::of("10m");
    stage_at_point p(spec);
    p.status.phase = stage_phase::progressing;
    p.add_cluster("a", cluster_phase::done);
    gate_set gates(p.r);
    auto verdict = gates.stage_completion(p.context());
    BOOST_TEST((verdict.answer == gate_answer::wait));
    BOOST_TEST((p.status.phase == stage_phase::baking));
    BOOST_TEST((verdict.until == p.now + std::chrono::minutes(10)));
    BOOST_TEST(p.events.size() == 1u);  // StageBaking, once
    BOOST_TEST(p.events.front().reason == "StageBaking");

    p.step.now += std::chrono::minutes(9);
    BOOST_TEST((gates.stage_completion(p.context()).answer == gate_answer::wait));
    p.step.now += std::chrono::minutes(1);
    BOOST_TEST(gates.stage_completion(p.context()).is_open());
    BOOST_TEST(p.events.size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_stage_that_changed_nothing_does_not_bake) {
    auto spec = seed_spec();
    spec.stages[0].bake_time = duration_field::of("10m");
    stage_at_point p(spec);
    p.status.phase = stage_phase::progressing;
    p.add_cluster("a", cluster_phase::done, "");  // nothing to roll out
    BOOST_TEST(gate_set(p.r).stage_completion(p.context()).is_open());
    BOOST_TEST((p.status.phase == stage_phase::progressing));
}
