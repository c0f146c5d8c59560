#define BOOST_TEST_MODULE stage_gates
#include <boost/test/unit_test.hpp>

#include "test_fleet.hpp"

using namespace apr::core;
using namespace apr::test;
using names = std::vector<std::string>;

namespace {

gate_spec prometheus_gate(std::string name, gate_timing when, gate_scope scope, double max) {
    gate_spec g;
    g.name = std::move(name);
    g.when = when;
    g.scope = scope;
    g.interval = duration_field::of("1m");
    prometheus_check p;
    p.address = "http://prometheus:9090";
    p.query = scope == gate_scope::cluster ? "error_rate{cluster=\"$(cluster.name)\"}" : "error_rate";
    p.threshold.max = max;
    g.prometheus = p;
    return g;
}

// A Prometheus stand-in: each cluster's error rate, answered through the gate's threshold.
struct fake_prometheus {
    std::map<std::string, double> error_rate;  // by cluster; absent: 0
    std::vector<std::string> queries;
    measurement operator()(const measurement_request& r, time_point now) {
        queries.push_back(r.prometheus->query);
        std::vector<double> samples;
        if (r.cluster.empty()) {
            for (const auto& c : r.clusters) samples.push_back(error_rate.count(c.name) ? error_rate.at(c.name) : 0);
        } else {
            samples.push_back(error_rate.count(r.cluster) ? error_rate.at(r.cluster) : 0);
        }
        return judge_samples(*r.prometheus, samples, now);
    }
};

const gate_status* gate_of(const stage_status& s, const std::string& name) {
    for (const auto& g : s.gates)
        if (g.name == name) return &g;
    return nullptr;
}

bool admitted(const fleet_sim& sim, const std::string& cluster) {
    return std::find(sim.admitted_order.begin(), sim.admitted_order.end(), cluster) != sim.admitted_order.end();
}

std::string event_message(const fleet_sim& sim, std::string_view reason) {
    for (const auto& e : sim.events)
        if (e.reason == reason) return e.message;
    return {};
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_failing_cluster_gate_fails_the_canary_and_nothing_later_is_admitted) {
    auto spec = seed_spec();
    spec.stages[0].gates.push_back(prometheus_gate("error-rate", gate_timing::during, gate_scope::cluster, 0.05));
    fleet_sim sim(spec, emea_fleet());
    fake_prometheus prom;
    prom.error_rate["eu-central-1a-1"] = 0.2;
    sim.measure = [&](const measurement_request& r) { return prom(r, sim.now); };
    sim.change_template("v2");
    sim.run();
    const auto& st = sim.rollout.status;
    BOOST_TEST(st.phase == rollout_phase::failed);
    BOOST_TEST(st.current_stage == "canary in EMEA");
    const auto* c = sim.cluster_status("eu-central-1a-1");
    BOOST_TEST(c->phase == cluster_phase::failed);
    BOOST_TEST(c->message.find("error-rate") != std::string::npos);
    BOOST_TEST(c->message.find("0.2") != std::string::npos);
    BOOST_TEST(!admitted(sim, "eu-west-1a-2"));  // the next stage's first cluster
    const auto warning = event_message(sim, "GateFailed");
    BOOST_TEST(warning.find("gate error-rate (cluster eu-central-1a-1) Failed") != std::string::npos, warning);
    BOOST_TEST(warning.find("value 0.2 outside thresholdRange [-inf, 0.05]") != std::string::npos, warning);
    // The query was expanded for each cluster measured.
    BOOST_TEST((std::find(prom.queries.begin(), prom.queries.end(), "error_rate{cluster=\"eu-central-1a-1\"}") !=
                prom.queries.end()));
}

BOOST_AUTO_TEST_CASE(a_failing_stage_gate_fails_the_stage_with_the_gate_and_value_in_status) {
    auto spec = seed_spec();
    spec.stages[0].gates.push_back(prometheus_gate("error-rate", gate_timing::during, gate_scope::stage, 0.05));
    fleet_sim sim(spec, emea_fleet());
    fake_prometheus prom;
    prom.error_rate["eu-north-1a-1"] = 0.3;
    sim.measure = [&](const measurement_request& r) { return prom(r, sim.now); };
    sim.change_template("v2");
    sim.run();
    const auto& st = sim.rollout.status;
    BOOST_TEST(st.phase == rollout_phase::failed);
    BOOST_TEST(st.stages[0].phase == stage_phase::failed);
    BOOST_TEST(st.message.find("gate error-rate Failed") != std::string::npos, st.message);
    BOOST_TEST(st.message.find("0.3") != std::string::npos, st.message);
    const auto* g = gate_of(st.stages[0], "error-rate");
    BOOST_REQUIRE(g);
    BOOST_TEST((g->phase == gate_phase::failed));
    BOOST_TEST(g->failed == 1);
    BOOST_TEST(st.stages[1].phase == stage_phase::pending);
}

BOOST_AUTO_TEST_CASE(an_after_gate_holds_the_next_stage_until_its_count_passed) {
    auto spec = seed_spec();
    auto gate = prometheus_gate("smoke-metric", gate_timing::after, gate_scope::stage, 0.05);
    gate.count = 3;
    spec.stages[0].gates.push_back(gate);
    fleet_sim sim(spec, emea_fleet());
    fake_prometheus prom;
    sim.measure = [&](const measurement_request& r) { return prom(r, sim.now); };
    sim.change_template("v2");
    // The canary's two clusters are done after a few rounds; the gate then needs 3 measurements
    // one minute apart: the next stage waits for them.
    for (int i = 0; i < 6; ++i) {
        sim.step();
        sim.argo();
        sim.advance(10s);
    }
    const auto& st = sim.rollout.status;
    BOOST_TEST(st.stages[0].phase == stage_phase::progressing);
    BOOST_TEST(!admitted(sim, "eu-west-1a-1"));
    BOOST_TEST(st.message.find("smoke-metric") != std::string::npos, st.message);  // why it waits
    sim.run(200, 30s);
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::completed);
    const auto* g = gate_of(sim.rollout.status.stages[0], "smoke-metric");
    BOOST_REQUIRE(g);
    BOOST_TEST((g->phase == gate_phase::successful));
    BOOST_TEST(g->taken == 3);
}

BOOST_AUTO_TEST_CASE(inconclusive_pauses_until_promote) {
    auto spec = seed_spec();
    auto gate = prometheus_gate("error-rate", gate_timing::after, gate_scope::stage, 0.05);
    spec.stages[0].gates.push_back(gate);
    fleet_sim sim(spec, emea_fleet());
    sim.measure = [&](const measurement_request& r) { return judge_samples(*r.prometheus, {}, sim.now); };
    sim.change_template("v2");
    sim.run(40);
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::paused);
    BOOST_TEST(sim.rollout.status.message.find("Inconclusive") != std::string::npos, sim.rollout.status.message);
    BOOST_TEST(sim.rollout.status.message.find("argocd-progressive-rollout promote rollout") != std::string::npos);
    BOOST_TEST(!admitted(sim, "eu-west-1a-1"));

    sim.promotion = promote_request{"alice", "", sim.now};
    sim.step();
    sim.promotion.reset();
    const auto* g = gate_of(sim.rollout.status.stages[0], "error-rate");
    BOOST_TEST(g->decided_by == "alice");
    sim.run();
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::completed);
}

BOOST_AUTO_TEST_CASE(an_approval_gate_waits_for_promote_and_records_who) {
    auto spec = seed_spec();
    gate_spec approval;
    approval.name = "change-board";
    approval.when = gate_timing::before;
    approval.approval = approval_check{{"oncall"}};
    spec.stages[1].gates.push_back(approval);
    fleet_sim sim(spec, emea_fleet());
    sim.change_template("v2");
    sim.run(40);
    const auto& st = sim.rollout.status;
    BOOST_TEST(st.phase == rollout_phase::progressing);
    BOOST_TEST(st.current_stage == "eu-west-1");
    BOOST_TEST(st.stages[1].phase == stage_phase::pending);
    BOOST_TEST(st.message.find("waiting for approval by oncall") != std::string::npos, st.message);
    BOOST_TEST(!admitted(sim, "eu-west-1a-1"));

    const auto approved_at = sim.now;
    sim.promotion = promote_request{"bob", "", approved_at, {"oncall"}};
    sim.step();
    sim.promotion.reset();
    sim.run();
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::completed);
    const auto* g = gate_of(sim.rollout.status.stages[1], "change-board");
    BOOST_REQUIRE(g);
    BOOST_TEST((g->phase == gate_phase::successful));
    BOOST_TEST(g->decided_by == "bob");
    BOOST_TEST((g->decided_at == approved_at));
    BOOST_TEST(sim.has_event("GateApproved"));
}

BOOST_AUTO_TEST_CASE(a_dry_run_gate_reports_its_failure_and_blocks_nothing) {
    auto spec = seed_spec();
    auto gate = prometheus_gate("shadow", gate_timing::after, gate_scope::stage, 0.05);
    gate.dry_run = true;
    spec.stages[0].gates.push_back(gate);
    fleet_sim sim(spec, emea_fleet());
    fake_prometheus prom;
    prom.error_rate["eu-north-1a-1"] = 0.5;
    sim.measure = [&](const measurement_request& r) { return prom(r, sim.now); };
    sim.change_template("v2");
    sim.run();
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::completed);
    const auto* g = gate_of(sim.rollout.status.stages[0], "shadow");
    BOOST_REQUIRE(g);
    BOOST_TEST((g->phase == gate_phase::failed));
    BOOST_TEST(event_message(sim, "GateFailed").find("dryRun: does not block") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(on_failure_pause_pauses_instead_of_failing) {
    auto spec = seed_spec();
    spec.on_failure = failure_policy::pause;
    spec.stages[0].gates.push_back(prometheus_gate("error-rate", gate_timing::during, gate_scope::stage, 0.05));
    fleet_sim sim(spec, emea_fleet());
    fake_prometheus prom;
    prom.error_rate["eu-north-1a-1"] = 0.3;
    sim.measure = [&](const measurement_request& r) { return prom(r, sim.now); };
    sim.change_template("v2");
    sim.run(40);
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::paused);
    BOOST_TEST(sim.rollout.status.message.find("onFailure Pause") != std::string::npos, sim.rollout.status.message);
    BOOST_TEST(!admitted(sim, "eu-west-1a-1"));
}

BOOST_AUTO_TEST_CASE(a_result_handed_in_twice_counts_once) {
    auto spec = seed_spec();
    auto gate = prometheus_gate("error-rate", gate_timing::after, gate_scope::stage, 0.05);
    gate.count = 2;
    spec.stages[0].gates.push_back(gate);
    fleet_sim sim(spec, emea_fleet());
    fake_prometheus prom;
    sim.measure = [&](const measurement_request& r) { return prom(r, sim.now); };
    sim.change_template("v2");
    auto no_gate_yet = [&] { return sim.rollout.status.stages.empty() || sim.rollout.status.stages[0].gates.empty(); };
    for (int i = 0; i < 30 && no_gate_yet(); ++i) {
        sim.step();
        sim.argo();
        sim.advance(10s);
    }
    // The first result reaches the machine: then a restarted controller hands it in again.
    sim.step();
    BOOST_REQUIRE(!sim.rollout.status.stages[0].gates.empty());
    const auto once = sim.rollout.status.stages[0].gates[0];
    BOOST_TEST(once.taken == 1);
    sim.measured = sim.last_measured;  // the same result again
    sim.measure = nullptr;
    sim.step();
    BOOST_TEST(sim.rollout.status.stages[0].gates[0].taken == 1);
}
