#define BOOST_TEST_MODULE promotion
#include <boost/test/unit_test.hpp>

// `promote` reaching the gates that wait for a person (docs/api.md#stage-gates): the request is
// checked and recorded (operator_request.hpp), and the step that follows passes the gates.

#include "core/operator_request.hpp"
#include "core/promotion.hpp"
#include "test_fleet.hpp"

using namespace apr::core;
using namespace apr::test;

namespace {

operator_request promote_by(std::string user, std::vector<std::string> groups, std::string id = "p1") {
    operator_request q;
    q.verb = request_verb::promote;
    q.id = std::move(id);
    q.user = std::move(user);
    q.groups = std::move(groups);
    q.at = time_point{std::chrono::sys_days{std::chrono::year{2026} / 11 / 28}};
    return q;
}

// As the controller does: carry out the request, then step with its promotion observed.
request_outcome carry_out(fleet_sim& sim, const operator_request& q) {
    auto outcome = apply_request(sim.rollout, q, sim.now);
    sim.rollout.status = outcome.status;
    sim.events.insert(sim.events.end(), outcome.events.begin(), outcome.events.end());
    sim.promotion = outcome.promotion;
    sim.step();
    sim.promotion.reset();
    return outcome;
}

rollout_spec with_approval(std::vector<std::string> groups) {
    auto spec = seed_spec();
    gate_spec approval;
    approval.name = "change-board";
    approval.when = gate_timing::before;
    approval.approval = approval_check{std::move(groups)};
    spec.stages[1].gates.push_back(approval);
    return spec;
}

rollout_spec with_inconclusive_metric() {
    auto spec = seed_spec();
    gate_spec g;
    g.name = "error-rate";
    g.when = gate_timing::after;
    prometheus_check p;
    p.address = "http://prometheus:9090";
    p.query = "error_rate";
    p.threshold.max = 0.05;
    g.prometheus = p;
    spec.stages[0].gates.push_back(g);
    return spec;
}

const gate_status* gate_of(const stage_status& s, const std::string& name) {
    for (const auto& g : s.gates)
        if (g.name == name) return &g;
    return nullptr;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_promote_by_a_user_outside_the_approval_groups_is_refused_with_who_may) {
    fleet_sim sim(with_approval({"oncall", "release-managers"}), emea_fleet());
    sim.change_template("v2");
    sim.run(40);
    BOOST_REQUIRE(sim.rollout.status.current_stage == "eu-west-1");
    const auto refusal = refuse_request(sim.rollout, promote_by("mallory", {"dev", "system:authenticated"}), sim.now);
    BOOST_REQUIRE(refusal);
    BOOST_TEST(*refusal ==
               "ProgressiveRollout argocd/rollout: gate \"change-board\" of stage \"eu-west-1\" waits for approval by "
               "a member of oncall, release-managers; mallory (groups: dev, system:authenticated) is in none of them, "
               "so may not approve it");
    // The controller refuses it as well when the webhook was bypassed: recorded, nothing passed.
    const auto outcome = carry_out(sim, promote_by("mallory", {"dev"}));
    BOOST_TEST(!outcome.promotion);
    BOOST_REQUIRE(!sim.rollout.status.requests.empty());
    BOOST_TEST(sim.rollout.status.requests.back().refused);
    const auto* g = gate_of(sim.rollout.status.stages[1], "change-board");
    BOOST_REQUIRE(g);
    BOOST_TEST((g->phase == gate_phase::running));
    BOOST_TEST(g->decided_by.empty());
    BOOST_TEST(sim.rollout.status.stages[1].phase == stage_phase::pending);
}

BOOST_AUTO_TEST_CASE(a_promote_by_a_member_approves_and_status_records_who_and_when) {
    fleet_sim sim(with_approval({"oncall"}), emea_fleet());
    sim.change_template("v2");
    sim.run(40);
    const auto q = promote_by("bob", {"system:authenticated", "oncall"});
    BOOST_TEST(!refuse_request(sim.rollout, q, sim.now));
    const auto outcome = carry_out(sim, q);
    BOOST_REQUIRE(outcome.promotion);
    BOOST_TEST(outcome.promotion->stage == "eu-west-1");
    BOOST_TEST(sim.rollout.status.requests.back().result == "stage eu-west-1: gate change-board approved");
    const auto* g = gate_of(sim.rollout.status.stages[1], "change-board");
    BOOST_REQUIRE(g);
    BOOST_TEST((g->phase == gate_phase::successful));
    BOOST_TEST(g->decided_by == "bob");
    BOOST_TEST((g->decided_at == q.at));
    BOOST_TEST(sim.has_event("GateApproved"));
    BOOST_TEST(sim.rollout.status.stages[1].phase == stage_phase::progressing);  // started in the same step
    sim.run();
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::completed);
}

BOOST_AUTO_TEST_CASE(an_approval_gate_without_groups_takes_anyone) {
    fleet_sim sim(with_approval({}), emea_fleet());
    sim.change_template("v2");
    sim.run(40);
    BOOST_TEST(!refuse_request(sim.rollout, promote_by("carol", {}), sim.now));
    carry_out(sim, promote_by("carol", {}));
    BOOST_TEST(gate_of(sim.rollout.status.stages[1], "change-board")->decided_by == "carol");
}

BOOST_AUTO_TEST_CASE(an_inconclusive_gate_waits_for_promote_by_anyone_and_the_rollout_continues) {
    fleet_sim sim(with_inconclusive_metric(), emea_fleet());
    sim.measure = [&](const measurement_request& r) { return judge_samples(*r.prometheus, {}, sim.now); };
    sim.change_template("v2");
    sim.run(40);
    BOOST_REQUIRE(sim.rollout.status.phase == rollout_phase::paused);
    // Not the spec.paused message: promote is what passes this pause.
    const auto q = promote_by("dave", {"dev"});
    BOOST_TEST(!refuse_request(sim.rollout, q, sim.now));
    const auto outcome = carry_out(sim, q);
    BOOST_TEST(outcome.events.at(0).message ==
               "stage canary in EMEA promoted by dave (gate error-rate passed (Inconclusive))");
    const auto* g = gate_of(sim.rollout.status.stages[0], "error-rate");
    BOOST_REQUIRE(g);
    BOOST_TEST(g->decided_by == "dave");
    BOOST_TEST(sim.has_event("GatePromoted"));
    sim.run();
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::completed);
    // Nothing waits any more: a second promote is refused.
    BOOST_TEST(refuse_request(sim.rollout, promote_by("dave", {}, "p2"), sim.now).has_value());
}

BOOST_AUTO_TEST_CASE(the_machine_passes_only_the_approvals_the_promoter_may_pass) {
    // A promotion reaching the step without the request's check (a forged observation) still
    // cannot approve for a group its user is not in.
    fleet_sim sim(with_approval({"oncall"}), emea_fleet());
    sim.change_template("v2");
    sim.run(40);
    sim.promotion = promote_request{"mallory", "", sim.now, {"dev"}};
    sim.step();
    sim.promotion.reset();
    BOOST_TEST(gate_of(sim.rollout.status.stages[1], "change-board")->decided_by.empty());
    BOOST_TEST(!sim.has_event("GateApproved"));
}

BOOST_AUTO_TEST_CASE(may_approve_needs_one_common_group) {
    BOOST_TEST(may_approve({}, {}));
    BOOST_TEST(may_approve({"a", "b"}, {"x", "b"}));
    BOOST_TEST(!may_approve({"a"}, {}));
    BOOST_TEST(!may_approve({"a"}, {"A"}));  // group names are exact
}
