// Why a rollout waits (core/waiting.hpp): what the dashboard says, from core values and a fixed
// clock.
#define BOOST_TEST_MODULE waiting
#include <boost/test/unit_test.hpp>

#include "core/waiting.hpp"

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

// Two stages, the first one in progress.
core::rollout in_stage_one(std::vector<core::cluster_status> clusters) {
    core::rollout r;
    r.name = "guestbook";
    r.generation = 1;
    for (const char* name : {"canary", "rest"}) {
        core::stage_spec s;
        s.name = name;
        s.requeue = core::requeue_policy{std::nullopt, 5, core::duration_field::of("30s")};
        r.spec.stages.push_back(s);
    }
    r.status.observed_generation = 1;
    r.status.phase = core::rollout_phase::progressing;
    r.status.pass = 1;
    r.status.current_stage = "canary";
    core::stage_status canary;
    canary.name = "canary";
    canary.phase = core::stage_phase::progressing;
    canary.started_at = now - 5min;
    canary.clusters = std::move(clusters);
    core::stage_status rest;
    rest.name = "rest";
    rest.clusters = {cluster("c", cluster_phase::pending)};
    r.status.stages = {canary, rest};
    return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(why_a_rollout_waits)

BOOST_AUTO_TEST_CASE(updating_clusters_are_named) {
    const auto why = core::why_waiting(
        in_stage_one({cluster("a", cluster_phase::updating), cluster("b", cluster_phase::done)}), now);
    BOOST_TEST(why.reason == "waiting for 1 cluster of stage \"canary\" to be Synced and Healthy on the new change: a");
    BOOST_TEST(!why.until.has_value());
}

BOOST_AUTO_TEST_CASE(a_requeued_cluster_says_its_attempt_and_next_try) {
    auto drained = cluster("a", cluster_phase::requeued);
    drained.attempts = 2;
    drained.next_attempt_at = now + 20s;
    const auto why = core::why_waiting(in_stage_one({cluster("b", cluster_phase::done), drained}), now);
    BOOST_TEST(why.reason == "a is requeued (still matching the requeue selector), attempt 2 of 5, next try in 20s");
    BOOST_TEST((why.until == now + 20s));
}

BOOST_AUTO_TEST_CASE(updating_and_requeued_together_wait_on_the_fleet) {
    auto drained = cluster("a", cluster_phase::requeued);
    drained.next_attempt_at = now + 20s;
    const auto why = core::why_waiting(in_stage_one({cluster("b", cluster_phase::updating), drained}), now);
    BOOST_TEST(why.reason.find("to be Synced and Healthy on the new change: b; a is requeued") != std::string::npos,
               why.reason);
    BOOST_TEST(!why.until.has_value());
}

BOOST_AUTO_TEST_CASE(a_bake_counts_down) {
    auto r = in_stage_one({cluster("a", cluster_phase::done)});
    r.status.stages[0].phase = core::stage_phase::baking;
    r.status.stages[0].bake_until = now + 90s;
    const auto why = core::why_waiting(r, now);
    BOOST_TEST(why.reason ==
               "stage \"canary\" is baking: every cluster must stay healthy until the bake time ends in 1m30s");
    BOOST_TEST((why.until == now + 90s));
}

BOOST_AUTO_TEST_CASE(paused_failed_stale_and_idle_rollouts_say_so) {
    auto r = in_stage_one({cluster("a", cluster_phase::updating)});
    r.spec.paused = true;
    BOOST_TEST(core::why_waiting(r, now).reason.starts_with("paused (spec.paused)"));
    r.spec.paused = false;
    r.status.phase = core::rollout_phase::failed;
    r.status.message = "stage \"canary\" failed: 1 cluster failed";
    BOOST_TEST(core::why_waiting(r, now).reason ==
               "failed: stage \"canary\" failed: 1 cluster failed; nothing more is admitted until the template "
               "changes again");
    r.status.phase = core::rollout_phase::progressing;
    r.generation = 2;
    BOOST_TEST(core::why_waiting(r, now).reason == "the controller has not acted on generation 2 yet");
    core::rollout idle;
    idle.spec.stages = r.spec.stages;
    BOOST_TEST(core::why_waiting(idle, now).reason.starts_with("no change is held"));
    idle.status.phase = core::rollout_phase::completed;
    idle.status.pass = 1;
    BOOST_TEST(core::why_waiting(idle, now).reason.empty());
}

BOOST_AUTO_TEST_CASE(a_gate_that_holds_the_stage_is_named_with_its_next_measurement) {
    // Every cluster done, an After gate measuring: the stage machine's message, until the next one.
    auto r = in_stage_one({cluster("a", cluster_phase::done), cluster("b", cluster_phase::done)});
    core::gate_status smoke;
    smoke.name = "smoke";
    smoke.phase = core::gate_phase::running;
    smoke.next_at = now + 40s;
    r.status.stages[0].gates = {smoke};
    r.status.message = "stage canary: gate smoke: 1/3 measurements";
    auto why = core::why_waiting(r, now);
    BOOST_TEST(why.reason == "stage canary: gate smoke: 1/3 measurements");
    BOOST_TEST((why.until == now + 40s));
    // An approval: no time ends it, a person does.
    r.status.stages[0].gates[0].next_at.reset();
    r.status.message = "stage canary: waiting for approval: argocd-progressive-rollout promote guestbook";
    why = core::why_waiting(r, now);
    BOOST_TEST(why.reason.find("waiting for approval") != std::string::npos, why.reason);
    BOOST_TEST(!why.until.has_value());
    // Clusters still updating come first: they are what the stage waits for.
    r.status.stages[0].clusters[1].phase = cluster_phase::updating;
    BOOST_TEST(core::why_waiting(r, now).reason.starts_with("waiting for 1 cluster of stage \"canary\""));
}

BOOST_AUTO_TEST_CASE(after_the_bake_an_after_gate_is_what_the_stage_waits_for) {
    auto r = in_stage_one({cluster("a", cluster_phase::done)});
    r.status.stages[0].phase = core::stage_phase::baking;
    r.status.stages[0].bake_until = now - 1s;
    r.status.message =
        "stage canary: gate change-board: waiting for approval: argocd-progressive-rollout promote guestbook";
    BOOST_TEST(core::why_waiting(r, now).reason == r.status.message);
    r.status.stages[0].bake_until = now + 1min;  // still baking: the bake comes first
    BOOST_TEST(core::why_waiting(r, now).reason.find("is baking") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_closed_window_says_when_it_opens) {
    auto r = in_stage_one({cluster("a", cluster_phase::pending)});
    r.status.window_opens_at = now + 2h;
    auto why = core::why_waiting(r, now);
    BOOST_TEST(why.reason == "outside the rollout's windows: the next cluster is admitted when one opens in 2h");
    BOOST_TEST((why.until == now + 2h));
    r.status.message = "no new cluster is admitted: outside window office-hours; the next window opens at 19:00";
    BOOST_TEST(core::why_waiting(r, now).reason == r.status.message);
}

BOOST_AUTO_TEST_CASE(held_clusters_are_named) {
    const auto why =
        core::why_waiting(in_stage_one({cluster("a", cluster_phase::done), cluster("b", cluster_phase::held)}), now);
    BOOST_TEST(why.reason == "b is held by an operator (release lets it take a turn)");
    BOOST_TEST(!why.until.has_value());
}

BOOST_AUTO_TEST_CASE(a_gate_pause_an_abort_and_a_rollback_say_what_stopped_them) {
    auto r = in_stage_one({cluster("a", cluster_phase::done)});
    r.status.phase = core::rollout_phase::paused;
    r.status.message =
        "paused: gate smoke Inconclusive: 1 inconclusive; to continue: argocd-progressive-rollout "
        "promote guestbook";
    BOOST_TEST(core::why_waiting(r, now).reason == r.status.message);
    r.status.phase = core::rollout_phase::aborted;
    r.status.message = "aborted by ops";
    BOOST_TEST(core::why_waiting(r, now).reason ==
               "aborted: aborted by ops; nothing more is admitted until retry or a new change");
    r.status.phase = core::rollout_phase::rolled_back;
    r.status.message = "";
    BOOST_TEST(core::why_waiting(r, now).reason.starts_with("rolled back; nothing more is admitted"));
}

// Every stage done, a held cluster still waiting: the controller's message says for whom.
BOOST_AUTO_TEST_CASE(a_pass_with_every_stage_done_names_the_clusters_it_still_waits_for) {
    auto r = in_stage_one({cluster("a", cluster_phase::held)});
    r.status.current_stage.clear();
    r.status.message = "every stage is done but 1 held cluster waits: a";
    BOOST_TEST(core::why_waiting(r, now).reason == "every stage is done but 1 held cluster waits: a");
}

BOOST_AUTO_TEST_SUITE_END()
