#define BOOST_TEST_MODULE operator_request
#include <boost/test/unit_test.hpp>

#include "core/operator_request.hpp"
#include "test_fleet.hpp"

#include <algorithm>

using namespace apr::core;
using namespace apr::test;

namespace {

operator_request ask(request_verb verb, std::string id = "r1") {
    operator_request q;
    q.verb = verb;
    q.id = std::move(id);
    q.user = "alice";
    q.groups = {"oncall"};
    q.at = time_point{std::chrono::sys_days{std::chrono::year{2026} / 11 / 27}};
    return q;
}

// Carries out a request on the simulated rollout as the controller does: apply, then step.
request_outcome carry_out(fleet_sim& sim, const operator_request& q) {
    auto outcome = apply_request(sim.rollout, q, sim.now);
    sim.rollout.status = outcome.status;
    sim.events.insert(sim.events.end(), outcome.events.begin(), outcome.events.end());
    return outcome;
}

// A one-stage-at-a-time rollout of four clusters, a bake after the first stage.
rollout_spec two_stages(std::string bake = "1h") {
    rollout_spec spec;
    spec.source = {"argoproj.io", "ApplicationSet", "set"};
    auto canary = stage("canary", match({{"tier", "canary"}}), int_or_percent::integer(1));
    canary.bake_time = duration_field::of(bake);
    spec.stages = {canary, stage("rest", match({{"tier", "rest"}}), int_or_percent::integer(1))};
    return spec;
}

std::vector<cluster> four_clusters() {
    return {make_cluster("c1", {{"tier", "canary"}}), make_cluster("r1", {{"tier", "rest"}}),
            make_cluster("r2", {{"tier", "rest"}}), make_cluster("r3", {{"tier", "rest"}})};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(requests)

BOOST_AUTO_TEST_CASE(the_fields_a_request_needs_are_checked_with_their_paths) {
    operator_request q;
    q.verb = request_verb::hold;
    auto errors = check_request_fields(q, "req", true);
    std::vector<std::string> texts;
    for (const auto& e : errors) texts.push_back(e.to_string());
    BOOST_TEST(texts == (std::vector<std::string>{
                            "req.id: Required value",
                            "req.cluster: Required value: hold and release name a cluster",
                            "req.reason: Required value: a hold says why",
                            "req.user: Required value: not stamped by the mutating webhook for ProgressiveRollouts: "
                            "is it registered?",
                        }),
               boost::test_tools::per_element());
    auto promote = ask(request_verb::promote);
    promote.cluster = "c1";
    promote.rollback = true;
    texts.clear();
    for (const auto& e : check_request_fields(promote, "req", true)) texts.push_back(e.to_string());
    BOOST_TEST(texts == (std::vector<std::string>{"req.cluster: Forbidden: only hold and release name a cluster",
                                                  "req.rollback: Forbidden: only abort rolls back"}),
               boost::test_tools::per_element());
    BOOST_TEST(check_request_fields(ask(request_verb::retry), "req", true).empty());
}

BOOST_AUTO_TEST_CASE(promote_on_a_rollout_that_waits_for_nothing_says_so) {
    fleet_sim sim(two_stages(), four_clusters());
    sim.step();
    auto refusal = refuse_request(sim.rollout, ask(request_verb::promote), sim.now);
    BOOST_REQUIRE(refusal);
    BOOST_TEST(*refusal == "ProgressiveRollout argocd/rollout has no pass under way: nothing waits for promote");

    sim.change_template("v2");
    sim.step();  // the canary is updating
    refusal = refuse_request(sim.rollout, ask(request_verb::promote), sim.now);
    BOOST_REQUIRE(refusal);
    BOOST_TEST(*refusal ==
               "ProgressiveRollout argocd/rollout waits for nothing promote can pass: stage \"canary\" is "
               "Progressing with 1 cluster(s) updating");
    auto other = ask(request_verb::promote);
    other.stage = "nope";
    BOOST_TEST(*refuse_request(sim.rollout, other, sim.now) ==
               "ProgressiveRollout argocd/rollout has no stage \"nope\"");
}

BOOST_AUTO_TEST_CASE(promote_skip_bake_ends_the_bake_and_the_next_stage_starts) {
    fleet_sim sim(two_stages("1h"), four_clusters());
    sim.change_template("v2");
    for (int i = 0; i < 5; ++i) {
        sim.step();
        sim.argo();
    }
    BOOST_REQUIRE(sim.rollout.status.stages[0].phase == stage_phase::baking);
    // Without --skip-bake promote has nothing to pass, and says what would.
    auto refusal = refuse_request(sim.rollout, ask(request_verb::promote), sim.now);
    BOOST_REQUIRE(refusal);
    BOOST_TEST(refusal->find("promote --skip-bake ends the bake now") != std::string::npos);

    auto q = ask(request_verb::promote);
    q.skip_bake = true;
    q.reason = "hotfix";
    const auto outcome = carry_out(sim, q);
    BOOST_REQUIRE_EQUAL(outcome.events.size(), 1u);
    BOOST_TEST(outcome.events[0].reason == "Promoted");
    BOOST_TEST(outcome.events[0].message == "stage canary promoted by alice: hotfix (bake time skipped)");
    BOOST_REQUIRE_EQUAL(sim.rollout.status.requests.size(), 1u);
    BOOST_TEST(sim.rollout.status.requests[0].user == "alice");
    BOOST_TEST(sim.rollout.status.requests[0].verb == "promote");
    BOOST_TEST(sim.rollout.status.requests[0].reason == "hotfix");
    sim.step();
    BOOST_TEST(sim.rollout.status.stages[0].phase == stage_phase::completed);
    BOOST_TEST(sim.rollout.status.current_stage == "rest");
    BOOST_TEST(sim.admitted_order.size() == 2u);  // the next stage admitted its first cluster at once
}

BOOST_AUTO_TEST_CASE(a_request_is_carried_out_once_even_when_seen_twice) {
    fleet_sim sim(two_stages("1h"), four_clusters());
    sim.change_template("v2");
    for (int i = 0; i < 5; ++i) {
        sim.step();
        sim.argo();
    }
    auto q = ask(request_verb::abort);
    carry_out(sim, q);
    const auto after_first = sim.rollout.status;
    // The controller stopped before removing the annotation: the next leader sees it again.
    const auto again = apply_request(sim.rollout, q, sim.now + 10s);
    BOOST_TEST((again.status == after_first));
    BOOST_TEST(again.events.empty());
}

BOOST_AUTO_TEST_CASE(abort_stops_admission_and_retry_continues_the_pass) {
    fleet_sim sim(two_stages("0s"), four_clusters());
    sim.change_template("v2");
    sim.step();
    sim.argo();
    carry_out(sim, ask(request_verb::abort));
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::aborted);
    BOOST_TEST(sim.rollout.status.message == "aborted by alice: no further cluster is admitted");
    sim.run(20);
    BOOST_TEST(sim.admitted_order.size() == 1u);  // nothing after the canary
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::aborted);
    BOOST_TEST(*refuse_request(sim.rollout, ask(request_verb::abort, "r2"), sim.now) ==
               "ProgressiveRollout argocd/rollout is already Aborted: abort --rollback restores what the pass "
               "changed, retry runs it again");

    carry_out(sim, ask(request_verb::retry, "r3"));
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::progressing);
    sim.run();
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::completed);
    BOOST_TEST(sim.admitted_order.size() == 4u);
    BOOST_TEST(sim.has_event("Aborted"));
    BOOST_TEST(sim.has_event("Retried"));
}

BOOST_AUTO_TEST_CASE(retry_gives_failed_clusters_a_fresh_deadline) {
    fleet_sim sim(two_stages("0s"), four_clusters());
    sim.apps.at("c1").degrade = true;
    sim.change_template("v2");
    sim.run(20);
    BOOST_REQUIRE(sim.rollout.status.phase == rollout_phase::failed);
    BOOST_TEST(*refuse_request(sim.rollout, ask(request_verb::promote), sim.now) ==
               "ProgressiveRollout argocd/rollout is Failed: promote passes a bake or a gate of a running pass; retry "
               "runs the pass again");
    sim.apps.at("c1").health = "Healthy";  // the fault is fixed
    sim.apps.at("c1").degrade = false;
    carry_out(sim, ask(request_verb::retry));
    BOOST_TEST(sim.cluster_status("c1")->phase == cluster_phase::updating);
    BOOST_TEST((sim.cluster_status("c1")->admitted_at == sim.now));
    sim.run();
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::completed);
    BOOST_TEST(sim.admitted_order.size() == 4u);  // the canary was not admitted twice
}

BOOST_AUTO_TEST_CASE(retry_of_a_running_rollout_is_refused) {
    fleet_sim sim(two_stages(), four_clusters());
    sim.change_template("v2");
    sim.step();
    const auto outcome = apply_request(sim.rollout, ask(request_verb::retry), sim.now);
    BOOST_REQUIRE_EQUAL(outcome.events.size(), 1u);
    BOOST_TEST(outcome.events[0].warning);
    BOOST_TEST(outcome.events[0].reason == "RequestRefused");
    BOOST_REQUIRE_EQUAL(outcome.status.requests.size(), 1u);
    BOOST_TEST(outcome.status.requests[0].refused);
    BOOST_TEST(outcome.status.requests[0].result ==
               "ProgressiveRollout argocd/rollout is Progressing: retry runs again a pass that is Failed, Aborted or "
               "RolledBack");
    BOOST_TEST(outcome.status.phase == rollout_phase::progressing);
}

BOOST_AUTO_TEST_CASE(pause_and_resume_are_recorded_with_who_asked) {
    fleet_sim sim(two_stages(), four_clusters());
    sim.step();
    // Judged against the rollout before the write that pauses it.
    BOOST_TEST(!refuse_request(sim.rollout, ask(request_verb::pause), sim.now).has_value());
    BOOST_TEST(*refuse_request(sim.rollout, ask(request_verb::resume), sim.now) ==
               "ProgressiveRollout argocd/rollout is not paused");
    sim.rollout.spec.paused = true;
    BOOST_TEST(*refuse_request(sim.rollout, ask(request_verb::pause), sim.now) ==
               "ProgressiveRollout argocd/rollout is already paused");
    // The controller sees it after the write: recorded, never refused.
    carry_out(sim, ask(request_verb::pause));
    BOOST_TEST(sim.has_event("Paused"));
    BOOST_TEST(sim.rollout.status.requests.back().user == "alice");
}

BOOST_AUTO_TEST_CASE(only_the_newest_requests_are_kept) {
    fleet_sim sim(two_stages(), four_clusters());
    sim.step();
    sim.rollout.spec.paused = true;
    for (int i = 0; i < 15; ++i) carry_out(sim, ask(request_verb::pause, std::string("p").append(std::to_string(i))));
    BOOST_TEST(sim.rollout.status.requests.size() == max_request_records);
    BOOST_TEST(sim.rollout.status.requests.front().id == "p5");
    BOOST_TEST(sim.rollout.status.requests.back().id == "p14");
}

BOOST_AUTO_TEST_CASE(abort_rollback_restores_every_cluster_of_the_pass_at_once_and_keeps_the_change_held) {
    fleet_sim sim(two_stages("0s"), four_clusters());
    sim.change_template("v2");
    // The canary and the first two clusters of the next stage are updated; r3 not yet.
    while (sim.admitted_order.size() < 3) {
        sim.step();
        sim.argo();
    }
    BOOST_REQUIRE(sim.apps.at("r3").live == "v1");
    auto q = ask(request_verb::abort);
    q.rollback = true;
    q.reason = "error rate";
    const auto outcome = carry_out(sim, q);
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::rolled_back);
    BOOST_TEST(sim.rollout.status.requests.back().result ==
               "3 cluster(s) updated in pass 1 restored to their previous desired state");
    BOOST_REQUIRE_EQUAL(outcome.events.size(), 1u);
    BOOST_TEST(outcome.events[0].reason == "RolledBack");
    // One step restores all of them at once.
    const auto restored = sim.step();
    BOOST_TEST(restored.restorations.size() == 3u);
    BOOST_TEST(restored.admissions.empty());
    for (const auto* name : {"c1", "r1", "r2"}) {
        BOOST_TEST(sim.cluster_status(name)->phase == cluster_phase::rolled_back);
        BOOST_TEST(sim.apps.at(name).live == "v1");
        BOOST_TEST(sim.apps.at(name).pending == "v2");  // the new change stays held
    }
    sim.run(20);
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::rolled_back);
    BOOST_TEST(sim.admitted_order.size() == 3u);  // nothing more admitted
    BOOST_TEST(sim.restored_order.size() == 3u);  // restored once each
    BOOST_TEST(sim.apps.at("r3").live == "v1");

    // retry runs this pass again, from the restored state.
    carry_out(sim, ask(request_verb::retry, "r2"));
    sim.run();
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::completed);
    for (const auto& [name, app] : sim.apps) BOOST_TEST(app.live == "v2", name);
}

// onFailure: Rollback: the failure that would fail the rollout rolls the pass back instead, in
// the same step, as abort --rollback does; retry runs the pass again once the fault is fixed.
BOOST_AUTO_TEST_CASE(on_failure_rollback_restores_every_cluster_of_the_pass_when_a_stage_fails) {
    auto spec = two_stages("0s");
    spec.on_failure = failure_policy::rollback;
    fleet_sim sim(spec, four_clusters());
    sim.apps.at("r1").degrade = true;
    sim.change_template("v2");
    step_result failed;
    for (int i = 0; i < 50 && sim.rollout.status.phase != rollout_phase::rolled_back; ++i) {
        failed = sim.step();
        sim.argo();
        sim.advance(10s);
    }
    BOOST_REQUIRE(sim.rollout.status.phase == rollout_phase::rolled_back);
    // The canary (Done) and r1 (Failed) were updated in the pass; r2 and r3 were never admitted.
    BOOST_TEST(sim.admitted_order == (std::vector<std::string>{"c1", "r1"}), boost::test_tools::per_element());
    BOOST_TEST(failed.restorations.size() == 2u);  // restored in the step that failed, all at once
    BOOST_TEST(sim.rollout.status.message ==
               "rolled back (onFailure Rollback): stage rest failed: 1 failed cluster(s), maxFailures is 0");
    BOOST_TEST(sim.rollout.status.stages[1].phase == stage_phase::failed);
    BOOST_TEST(sim.has_event("RolledBack"));
    BOOST_TEST(!sim.has_event("RolloutFailed"));
    for (const auto* name : {"c1", "r1"}) {
        BOOST_TEST(sim.cluster_status(name)->phase == cluster_phase::rolled_back, name);
        BOOST_TEST(sim.apps.at(name).live == "v1", name);
        BOOST_TEST(sim.apps.at(name).pending == "v2", name);  // the change stays held
    }
    sim.run(20);
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::rolled_back);
    BOOST_TEST(sim.admitted_order.size() == 2u);  // nothing more admitted
    BOOST_TEST(sim.restored_order.size() == 2u);  // restored once each
    for (const auto* name : {"r2", "r3"}) BOOST_TEST(sim.apps.at(name).live == "v1", name);

    // The fault is fixed; retry runs the pass again and completes it.
    sim.apps.at("r1").degrade = false;
    carry_out(sim, ask(request_verb::retry, "r2"));
    sim.run();
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::completed);
    BOOST_TEST(sim.rollout.status.pass == 1);
    for (const auto& [name, app] : sim.apps) BOOST_TEST(app.live == "v2", name);
}

BOOST_AUTO_TEST_CASE(a_newer_change_after_a_rollback_starts_a_new_pass) {
    fleet_sim sim(two_stages("0s"), four_clusters());
    sim.change_template("v2");
    sim.run();
    BOOST_REQUIRE(sim.rollout.status.phase == rollout_phase::completed);
    auto q = ask(request_verb::abort);
    q.rollback = true;
    carry_out(sim, q);  // a completed pass can be rolled back too
    sim.run(10);
    for (const auto& [name, app] : sim.apps) BOOST_TEST(app.live == "v1", name);
    sim.change_template("v3");
    sim.run();
    BOOST_TEST(sim.rollout.status.pass == 2);
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::completed);
    for (const auto& [name, app] : sim.apps) BOOST_TEST(app.live == "v3", name);
    BOOST_TEST(*refuse_request(sim.rollout, ask(request_verb::retry, "r9"), sim.now) ==
               "ProgressiveRollout argocd/rollout is Completed: retry runs again a pass that is Failed, Aborted or "
               "RolledBack");
}

// The ApplicationSet controller writes Applications one by one. A newer change that has reached
// some rolled-back clusters but not yet the others starts the new pass; those others still hold
// the change that was rolled back, and while the changes settle they wait for the newer one.
BOOST_AUTO_TEST_CASE(after_a_rollback_a_cluster_not_yet_given_the_newer_change_is_not_given_the_rolled_back_one) {
    auto spec = two_stages("0s");
    spec.stages[1].max_unavailable = int_or_percent::integer(3);  // the whole stage at once
    fleet_sim sim(spec, four_clusters());
    sim.change_template("v2");
    sim.run();
    BOOST_REQUIRE(sim.rollout.status.phase == rollout_phase::completed);
    auto q = ask(request_verb::abort);
    q.rollback = true;
    carry_out(sim, q);
    sim.run(10);
    for (const auto& [name, app] : sim.apps) {
        BOOST_TEST_REQUIRE(app.live == "v1", name);
        BOOST_TEST_REQUIRE(app.pending == "v2", name);  // held again
    }
    const auto admitted_before = sim.admitted_order.size();

    // v3 has reached the canary and r1 only.
    sim.change_application("c1", "v3");
    sim.change_application("r1", "v3");
    for (int i = 0; i < 4; ++i) {  // 4 s, within the 5 s the changes get to settle
        sim.step();
        sim.argo();
        sim.advance(1s);
    }
    BOOST_TEST(sim.rollout.status.pass == 2);
    const std::vector<std::string> in_pass_2(sim.admitted_order.begin() + admitted_before, sim.admitted_order.end());
    BOOST_TEST(in_pass_2 == (std::vector<std::string>{"c1", "r1"}), boost::test_tools::per_element());
    for (const auto* name : {"r2", "r3"}) {
        BOOST_TEST(sim.apps.at(name).live == "v1", name);
        BOOST_TEST(sim.cluster_status(name)->phase == cluster_phase::pending, name);
        BOOST_TEST(sim.cluster_status(name)->message ==
                       "holds the change rolled back earlier: waiting for the ApplicationSet's changes to settle",
                   name);
    }

    // The controller reaches r2 and r3: they take their turn with v3, in the same pass.
    sim.change_application("r2", "v3");
    sim.change_application("r3", "v3");
    sim.run();
    BOOST_TEST(sim.rollout.status.pass == 2);
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::completed);
    for (const auto& [name, app] : sim.apps) BOOST_TEST(app.live == "v3", name);
}

// Settled, a cluster whose Application still holds the rolled-back change (the template asks for
// it there) gets it in its turn, as any held change.
BOOST_AUTO_TEST_CASE(after_a_rollback_a_cluster_the_newer_change_leaves_alone_gets_its_turn_once_settled) {
    auto spec = two_stages("0s");
    spec.stages[1].max_unavailable = int_or_percent::integer(3);
    fleet_sim sim(spec, four_clusters());
    sim.change_template("v2");
    sim.run();
    auto q = ask(request_verb::abort);
    q.rollback = true;
    carry_out(sim, q);
    sim.run(10);
    sim.change_application("c1", "v3");
    sim.change_application("r1", "v3");
    sim.run();
    BOOST_TEST(sim.rollout.status.pass == 2);
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::completed);
    BOOST_TEST(sim.apps.at("r2").live == "v2");
    BOOST_TEST(sim.cluster_status("r2")->rolled_back_from.empty());  // admitted: nothing left to remember
}

BOOST_AUTO_TEST_CASE(a_held_cluster_waits_without_blocking_and_takes_its_turn_after_expiry_or_release) {
    fleet_sim sim(two_stages("0s"), four_clusters());
    sim.step();
    auto hold = ask(request_verb::hold);
    hold.cluster = "r1";
    hold.reason = "disk replacement";
    hold.until = sim.now + 10min;
    carry_out(sim, hold);
    auto hold2 = ask(request_verb::hold, "h2");
    hold2.cluster = "r2";
    hold2.reason = "maintenance";
    carry_out(sim, hold2);
    BOOST_TEST(sim.rollout.status.holds.size() == 2u);
    sim.change_template("v2");
    sim.run(20);
    // The stage went on without them: r3 done, r1 and r2 Held, counted neither done nor failed.
    BOOST_TEST(sim.cluster_status("r1")->phase == cluster_phase::held);
    BOOST_TEST(sim.cluster_status("r1")->message == "held by alice: disk replacement");
    BOOST_TEST(sim.cluster_status("r3")->phase == cluster_phase::done);
    BOOST_TEST(sim.rollout.status.stages[1].phase == stage_phase::completed);
    BOOST_TEST(sim.rollout.status.clusters_done() == 2);
    BOOST_TEST(sim.apps.at("r1").live == "v1");

    carry_out(sim, [] {
        auto q = ask(request_verb::release, "h3");
        q.cluster = "r2";
        return q;
    }());
    sim.run(5);
    BOOST_TEST(sim.apps.at("r2").live == "v2");  // joined its completed stage at once
    BOOST_TEST(sim.apps.at("r1").live == "v1");
    sim.advance(10min);
    sim.run();
    BOOST_TEST(sim.apps.at("r1").live == "v2");  // after the expiry
    BOOST_TEST(sim.rollout.status.holds.empty());
    BOOST_TEST(sim.has_event("HoldExpired"));
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::completed);
}

// Every stage done but a held cluster: the pass is not Completed (a Completed pass with a change
// still pending would start a new pass at every step), it says whom it waits for, and it completes
// once the held cluster had its turn.
BOOST_AUTO_TEST_CASE(a_pass_whose_only_unfinished_cluster_is_held_waits_for_it_in_the_same_pass) {
    fleet_sim sim(two_stages("0s"), four_clusters());
    sim.step();
    auto hold = ask(request_verb::hold);
    hold.cluster = "c1";  // the canary
    hold.reason = "disk replacement";
    hold.until = sim.now + 10min;
    carry_out(sim, hold);
    sim.change_template("v2");
    sim.run(30);
    BOOST_TEST(sim.rollout.status.pass == 1);
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::progressing);
    BOOST_TEST(sim.rollout.status.current_stage.empty());
    BOOST_TEST(sim.rollout.status.message == "every stage is done but 1 held cluster waits: c1");
    BOOST_TEST(sim.cluster_status("c1")->phase == cluster_phase::held);
    for (const auto* name : {"r1", "r2", "r3"}) BOOST_TEST(sim.apps.at(name).live == "v2", name);
    BOOST_TEST(sim.apps.at("c1").live == "v1");
    BOOST_TEST(!sim.has_event("RolloutCompleted"));
    const auto progressing = std::find_if(sim.rollout.status.conditions.begin(), sim.rollout.status.conditions.end(),
                                          [](const condition& c) { return c.type == "Progressing"; });
    BOOST_REQUIRE(progressing != sim.rollout.status.conditions.end());
    BOOST_TEST(progressing->reason == "LateClusters");

    sim.advance(10min);
    // The hold expired: c1 joins its completed stage; the pass is not completed before c1 is done.
    sim.step();
    BOOST_TEST(sim.cluster_status("c1")->phase == cluster_phase::updating);
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::progressing);
    BOOST_TEST(sim.rollout.status.message == "every stage is done but 1 cluster is updating: c1");
    BOOST_TEST(!sim.has_event("RolloutCompleted"));
    sim.run();
    BOOST_TEST(sim.apps.at("c1").live == "v2");
    BOOST_TEST(sim.rollout.status.pass == 1);
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::completed);
    BOOST_TEST(sim.cluster_status("c1")->phase == cluster_phase::done);
}

// A hold on a cluster with nothing to roll out keeps nothing waiting.
BOOST_AUTO_TEST_CASE(a_held_cluster_with_nothing_pending_does_not_keep_the_pass_open) {
    fleet_sim sim(two_stages("0s"), four_clusters());
    sim.step();
    auto hold = ask(request_verb::hold);
    hold.cluster = "r2";
    hold.reason = "maintenance";
    carry_out(sim, hold);
    sim.change_template("v2");
    sim.apps.at("r2").pending.clear();  // the template change does not reach r2
    sim.run();
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::completed);
    BOOST_TEST(sim.rollout.status.pass == 1);
    BOOST_TEST(sim.cluster_status("r2")->phase == cluster_phase::done);
    BOOST_TEST(sim.rollout.status.holds.size() == 1u);  // the hold itself stays until released
}

BOOST_AUTO_TEST_CASE(hold_and_release_of_unknown_or_unheld_clusters_are_refused) {
    fleet_sim sim(two_stages(), four_clusters());
    sim.step();
    auto hold = ask(request_verb::hold);
    hold.cluster = "nope";
    hold.reason = "r";
    BOOST_TEST(refuse_request(sim.rollout, hold, sim.now)->find("has no cluster \"nope\"") != std::string::npos);
    hold.cluster = "r1";
    hold.until = sim.now - 1s;
    BOOST_TEST(*refuse_request(sim.rollout, hold, sim.now) == "the hold's until is in the past: nothing to hold");
    auto release = ask(request_verb::release);
    release.cluster = "r1";
    BOOST_TEST(*refuse_request(sim.rollout, release, sim.now) ==
               "ProgressiveRollout argocd/rollout: cluster \"r1\" is not held");
}

BOOST_AUTO_TEST_SUITE_END()
