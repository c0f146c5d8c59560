// How long a pass may take (core/time_budget.hpp): the bound the "Progressing longer than its
// stages' deadlines allow" alert compares the pass's age with.
#define BOOST_TEST_MODULE time_budget
#include <boost/test/unit_test.hpp>

#include "core/time_budget.hpp"

using namespace apr;
using namespace std::chrono_literals;
using core::cluster_phase;

namespace {

const core::time_point now{std::chrono::sys_days{std::chrono::November / 27 / 2026} + 17h};

core::cluster_status cluster(std::string name, cluster_phase phase) {
    core::cluster_status c;
    c.name = std::move(name);
    c.phase = phase;
    return c;
}

// Stage "canary" with three clusters (started 5 minutes ago), stage "rest" with one; defaults
// otherwise (maxUnavailable 1, progressDeadline 30m, no bake, no requeue, no gates).
core::rollout two_stages() {
    core::rollout r;
    r.name = "guestbook";
    for (const char* name : {"canary", "rest"}) {
        core::stage_spec s;
        s.name = name;
        r.spec.stages.push_back(s);
    }
    r.status.phase = core::rollout_phase::progressing;
    r.status.pass = 1;
    core::stage_status canary;
    canary.name = "canary";
    canary.phase = core::stage_phase::progressing;
    canary.started_at = now - 5min;
    canary.clusters = {cluster("a", cluster_phase::updating), cluster("b", cluster_phase::pending),
                       cluster("c", cluster_phase::pending)};
    core::stage_status rest;
    rest.name = "rest";
    rest.clusters = {cluster("d", cluster_phase::pending)};
    r.status.stages = {canary, rest};
    return r;
}

core::gate_spec gate(std::string name, core::gate_timing when, core::gate_scope scope) {
    core::gate_spec g;
    g.name = std::move(name);
    g.when = when;
    g.scope = scope;
    g.interval = core::duration_field::of("1m");
    g.count = 3;
    g.webhook = core::webhook_check{"http://smoke", core::duration_field::of("10s"), {}};
    return g;
}

long long seconds(core::duration d) {
    return std::chrono::duration_cast<std::chrono::seconds>(d).count();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(what_the_deadlines_allow)

BOOST_AUTO_TEST_CASE(each_cluster_one_after_the_other_gets_the_full_deadline) {
    // Four clusters, one at a time, 30m each.
    BOOST_TEST(seconds(core::pass_time_budget(two_stages())) == seconds(4 * 30min));
}

BOOST_AUTO_TEST_CASE(waves_times_deadline_plus_bake_plus_requeue_allowance) {
    auto r = two_stages();
    r.spec.stages[0].max_unavailable = core::int_or_percent::integer(2);  // 3 clusters: 2 waves
    r.spec.stages[0].progress_deadline = core::duration_field::of("10m");
    r.spec.stages[0].bake_time = core::duration_field::of("5m");
    r.spec.stages[0].requeue = core::requeue_policy{std::nullopt, 5, core::duration_field::of("30s")};
    r.spec.stages[1].progress_deadline = core::duration_field::of("20m");  // 1 cluster: 1 wave
    BOOST_TEST(seconds(core::pass_time_budget(r)) == seconds(2 * 10min + 5min + 5 * 30s + 20min));
}

BOOST_AUTO_TEST_CASE(a_percentage_of_the_stage_makes_wider_waves) {
    auto r = two_stages();
    r.spec.stages[0].max_unavailable = core::int_or_percent::percent(100);  // all 3 at once
    BOOST_TEST(seconds(core::pass_time_budget(r)) == seconds(30min + 30min));
}

BOOST_AUTO_TEST_CASE(a_stage_not_planned_yet_counts_one_wave) {
    auto r = two_stages();
    r.status.stages.pop_back();
    r.spec.stages[1].progress_deadline = core::duration_field::of("7m");
    BOOST_TEST(seconds(core::pass_time_budget(r)) == seconds(3 * 30min + 7min));
}

BOOST_AUTO_TEST_CASE(before_and_after_gates_add_their_measurements_during_gates_and_approvals_nothing) {
    auto r = two_stages();
    const auto base = core::pass_time_budget(r);
    // Before, scope Stage: 3 x (1m + 10s), once.
    r.spec.stages[0].gates = {gate("smoke", core::gate_timing::before, core::gate_scope::stage)};
    BOOST_TEST(seconds(core::pass_time_budget(r) - base) == seconds(3 * 70s));
    // After, scope Cluster: once per wave (3 waves of one cluster).
    r.spec.stages[0].gates = {gate("smoke", core::gate_timing::after, core::gate_scope::cluster)};
    BOOST_TEST(seconds(core::pass_time_budget(r) - base) == seconds(3 * 3 * 70s));
    // During runs inside the stage's deadline; an approval waits for a person.
    auto approval = gate("change-board", core::gate_timing::before, core::gate_scope::stage);
    approval.webhook.reset();
    approval.approval = core::approval_check{};
    r.spec.stages[0].gates = {gate("errors", core::gate_timing::during, core::gate_scope::cluster), approval};
    BOOST_TEST(seconds(core::pass_time_budget(r) - base) == 0);
}

BOOST_AUTO_TEST_CASE(the_pass_started_when_its_first_stage_did) {
    auto r = two_stages();
    r.status.stages[1].started_at = now - 1min;
    BOOST_TEST((core::pass_started_at(r.status) == now - 5min));
    BOOST_TEST(!core::pass_started_at(core::rollout_status{}).has_value());
    r.status.stages[0].started_at.reset();
    r.status.stages[1].started_at.reset();
    BOOST_TEST(!core::pass_started_at(r.status).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
