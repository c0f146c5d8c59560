#define BOOST_TEST_MODULE stage_machine
#include <boost/test/unit_test.hpp>

#include "core/planner.hpp"
#include "test_fleet.hpp"

#include <random>

using namespace apr::core;
using namespace apr::test;
using names = std::vector<std::string>;

namespace {

std::size_t position(const names& order, const std::string& name) {
    return static_cast<std::size_t>(std::find(order.begin(), order.end(), name) - order.begin());
}

const condition& condition_of(const rollout_status& st, const std::string& type) {
    for (const auto& c : st.conditions)
        if (c.type == type) return c;
    BOOST_FAIL("no condition " + type);
    throw;
}

std::size_t events_named(const fleet_sim& sim, std::string_view reason) {
    return static_cast<std::size_t>(std::count_if(sim.events.begin(), sim.events.end(),
                                                  [&](const rollout_event& e) { return e.reason == reason; }));
}

const stage_status& stage_named(const fleet_sim& sim, const std::string& name) {
    for (const auto& s : sim.rollout.status.stages)
        if (s.name == name) return s;
    BOOST_FAIL("no stage " + name);
    throw;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(rollout_scenarios)

BOOST_AUTO_TEST_CASE(nothing_happens_until_the_application_set_changes) {
    fleet_sim sim(seed_spec(), emea_fleet());
    sim.step();
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::pending);
    BOOST_TEST(sim.admitted_order.empty());
    BOOST_TEST(sim.rollout.status.stages.size() == 3u);  // the plan is visible before anything moves
    BOOST_TEST(sim.rollout.status.unstaged_clusters == (names{"us-east-1a-1"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(happy_path_walks_three_stages_in_order) {
    fleet_sim sim(seed_spec(), emea_fleet());
    sim.change_template("v2");
    sim.run();
    const auto& st = sim.rollout.status;
    BOOST_TEST(st.phase == rollout_phase::completed);
    BOOST_TEST(st.pass == 1);
    // Canary first (two regions in parallel), then eu-west-1 one at a time, then eu-central-1.
    names expected = {"eu-central-1a-1", "eu-north-1a-1", "eu-west-1a-1",    "eu-west-1a-2",
                      "eu-west-1b-1",    "eu-west-1c-1",  "eu-central-1b-1", "eu-central-1c-1"};
    BOOST_TEST(sim.admitted_order == expected, boost::test_tools::per_element());
    BOOST_TEST(sim.apps.at("us-east-1a-1").pending == "v2");  // unstaged: held, never updated
    BOOST_TEST(st.clusters_done() == 8);
    for (const auto& s : st.stages) BOOST_TEST(s.phase == stage_phase::completed);
    auto ready =
        std::find_if(st.conditions.begin(), st.conditions.end(), [](const condition& c) { return c.type == "Ready"; });
    BOOST_REQUIRE(ready != st.conditions.end());
    BOOST_TEST(ready->status == "False");
    BOOST_TEST(ready->reason == "UnstagedClusters");
    BOOST_TEST(sim.has_event("RolloutCompleted"));
}

// The ApplicationSet controller writes its Applications one after another, and the controller may
// step between two writes: a canary whose change has not arrived yet is not "nothing to roll
// out", or the next stage would go first.
BOOST_AUTO_TEST_CASE(a_canary_whose_change_has_not_arrived_yet_is_not_skipped) {
    fleet_sim sim(seed_spec(), emea_fleet());
    // Alphabetical order: eu-central-1a-1 (a canary too) before eu-north-1a-1 (the other canary).
    sim.change_application("eu-central-1b-1", "v2");
    sim.step();
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::progressing);
    BOOST_TEST(sim.admitted_order.empty());  // a later stage's cluster waits for the canary stage
    const auto* canary = sim.cluster_status("eu-north-1a-1");
    BOOST_REQUIRE(canary);
    BOOST_TEST((canary->phase == cluster_phase::pending));
    BOOST_TEST(canary->message.find("settle") != std::string::npos, canary->message);
    sim.advance(2s);
    for (const auto& c : emea_fleet()) sim.change_application(c.name, "v2");
    sim.run();
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::completed);
    const auto& order = sim.admitted_order;
    BOOST_REQUIRE(order.size() == 8u);
    BOOST_TEST(position(order, "eu-north-1a-1") < position(order, "eu-west-1a-1"));
    BOOST_TEST(position(order, "eu-central-1a-1") < position(order, "eu-central-1b-1"));
    BOOST_TEST(position(order, "eu-west-1c-1") < position(order, "eu-central-1b-1"));
}

// Once no new hold has appeared for the settle time, a cluster with nothing pending is skipped.
BOOST_AUTO_TEST_CASE(a_cluster_with_nothing_pending_is_skipped_once_the_changes_settled) {
    fleet_sim sim(seed_spec(), emea_fleet());
    for (const auto& c : emea_fleet())
        if (c.name != "eu-north-1a-1") sim.change_application(c.name, "v2");
    sim.step();
    BOOST_TEST((sim.cluster_status("eu-north-1a-1")->phase == cluster_phase::pending));
    sim.advance(5s);
    sim.run();
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::completed);
    BOOST_TEST(sim.cluster_status("eu-north-1a-1")->message == "nothing to roll out");
    BOOST_TEST(position(sim.admitted_order, "eu-north-1a-1") == sim.admitted_order.size());  // never admitted
}

BOOST_AUTO_TEST_CASE(max_unavailable_bounds_parallel_updates) {
    std::vector<cluster> fleet;
    for (int i = 0; i < 9; ++i) fleet.push_back(make_cluster("c" + std::to_string(i), {{"region", "r"}}));
    rollout_spec spec;
    spec.source = {"argoproj.io", "ApplicationSet", "set"};
    spec.stages = {stage("all", match({{"region", "r"}}), int_or_percent::percent(34))};  // 3 of 9
    fleet_sim sim(spec, fleet);
    sim.settle_steps = 3;
    sim.change_template("v2");
    for (int i = 0; i < 40; ++i) {
        sim.step();
        long long updating = 0;
        for (const auto& c : sim.rollout.status.stages[0].clusters) updating += c.phase == cluster_phase::updating;
        BOOST_TEST(updating <= 3);
        sim.argo();
        sim.advance(10s);
    }
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::completed);
}

BOOST_AUTO_TEST_CASE(drained_cluster_is_requeued_to_the_end_and_updated_once_undrained) {
    auto fleet = emea_fleet();
    fleet[1].labels["drained"] = "true";  // eu-west-1a-2
    fleet_sim sim(seed_spec(), fleet);
    sim.change_template("v2");
    // Run until eu-west-1's other clusters are done.
    for (int i = 0; i < 30; ++i) {
        sim.step();
        sim.argo();
        sim.advance(10s);
    }
    const auto* drained = sim.cluster_status("eu-west-1a-2");
    BOOST_REQUIRE(drained);
    BOOST_TEST(drained->phase == cluster_phase::requeued);
    BOOST_TEST(drained->attempts == 1);
    BOOST_REQUIRE(drained->next_attempt_at.has_value());
    BOOST_TEST(stage_named(sim, "eu-west-1").clusters.back().name == "eu-west-1a-2");  // moved to the end
    BOOST_TEST(sim.rollout.status.current_stage == "eu-west-1");                       // the stage waits for it
    BOOST_TEST(position(sim.admitted_order, "eu-central-1b-1") == sim.admitted_order.size());
    BOOST_TEST(sim.has_event("ClusterRequeued"));

    // Maintenance over: the label goes, the next attempt (after the interval) updates it.
    sim.clusters[1].labels.erase("drained");
    sim.advance(30min);
    sim.run();
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::completed);
    BOOST_TEST(position(sim.admitted_order, "eu-west-1a-2") < position(sim.admitted_order, "eu-central-1b-1"));
    BOOST_TEST(sim.cluster_status("eu-west-1a-2")->phase == cluster_phase::done);
}

BOOST_AUTO_TEST_CASE(requeue_retries_every_interval_and_fails_after_the_attempts) {
    auto fleet = emea_fleet();
    fleet[3].labels["drained"] = "true";  // eu-west-1c-1 stays drained
    fleet_sim sim(seed_spec(), fleet);
    sim.change_template("v2");
    std::vector<long long> attempts_seen;
    for (int i = 0; i < 400 && sim.rollout.status.phase != rollout_phase::failed; ++i) {
        sim.step();
        sim.argo();
        sim.advance(1min);
        if (auto* c = sim.cluster_status("eu-west-1c-1");
            c && (attempts_seen.empty() || attempts_seen.back() != c->attempts))
            attempts_seen.push_back(c->attempts);
    }
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::failed);
    BOOST_TEST(sim.cluster_status("eu-west-1c-1")->phase == cluster_phase::failed);
    BOOST_TEST(sim.cluster_status("eu-west-1c-1")->message == "still matches the requeue selector after 5 attempts");
    BOOST_TEST(attempts_seen.back() == 5);
    BOOST_TEST(position(sim.admitted_order, "eu-central-1b-1") == sim.admitted_order.size());  // nothing after
    BOOST_TEST(sim.has_event("RolloutFailed"));
}

BOOST_AUTO_TEST_CASE(degraded_application_fails_the_stage_and_stops_the_rollout) {
    fleet_sim sim(seed_spec(), emea_fleet());
    sim.apps.at("eu-west-1a-2").degrade = true;
    sim.change_template("v2");
    sim.run();
    const auto& st = sim.rollout.status;
    BOOST_TEST(st.phase == rollout_phase::failed);
    BOOST_TEST(st.current_stage == "eu-west-1");
    BOOST_TEST(sim.cluster_status("eu-west-1a-2")->message == "Application app-eu-west-1a-2 is Degraded");
    BOOST_TEST(stage_named(sim, "eu-west-1").phase == stage_phase::failed);
    // Nothing after the failure: the next eu-west-1 cluster and eu-central-1 stay untouched.
    BOOST_TEST(position(sim.admitted_order, "eu-west-1b-1") == sim.admitted_order.size());
    BOOST_TEST(sim.apps.at("eu-central-1b-1").pending == "v2");
    auto stalled = std::find_if(st.conditions.begin(), st.conditions.end(),
                                [](const condition& c) { return c.type == "Stalled"; });
    BOOST_TEST(stalled->status == "True");
    BOOST_TEST(sim.has_event("ClusterFailed"));
}

BOOST_AUTO_TEST_CASE(max_failures_tolerates_failed_clusters) {
    auto spec = seed_spec();
    spec.stages[1].max_failures = 1;
    fleet_sim sim(spec, emea_fleet());
    sim.apps.at("eu-west-1a-2").degrade = true;
    sim.change_template("v2");
    sim.run();
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::completed);
    BOOST_TEST(sim.cluster_status("eu-west-1a-2")->phase == cluster_phase::failed);
}

BOOST_AUTO_TEST_CASE(a_cluster_not_healthy_within_the_progress_deadline_fails) {
    auto spec = seed_spec();
    spec.stages[0].progress_deadline = duration_field::of("5m");
    fleet_sim sim(spec, emea_fleet());
    sim.change_template("v2");
    sim.step();                                     // canary admitted
    sim.apps.at("eu-north-1a-1").settle_in = 1000;  // Argo CD never gets there
    for (int i = 0; i < 6; ++i) {
        sim.argo();
        sim.advance(1min);
        sim.step();
    }
    BOOST_TEST(sim.cluster_status("eu-north-1a-1")->phase == cluster_phase::failed);
    BOOST_TEST(sim.cluster_status("eu-north-1a-1")->message == "not Synced and Healthy within progressDeadline 5m");
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::failed);
}

BOOST_AUTO_TEST_CASE(old_healthy_status_does_not_count_as_done) {
    fleet_sim sim(seed_spec(), emea_fleet());
    sim.settle_steps = 1000;  // Argo CD has not compared the new spec yet
    sim.change_template("v2");
    sim.step();
    for (auto& [name, a] : sim.apps) {
        a.sync = "Synced";
        a.health = "Healthy";  // but compared == false: that health is about the old revision
    }
    sim.advance(10s);
    sim.step();
    BOOST_TEST(sim.cluster_status("eu-central-1a-1")->phase == cluster_phase::updating);
}

BOOST_AUTO_TEST_CASE(bake_time_waits_and_a_failure_during_bake_fails_the_stage) {
    auto spec = seed_spec();
    spec.stages[0].bake_time = duration_field::of("1h");
    {
        fleet_sim sim(spec, emea_fleet());
        sim.change_template("v2");
        for (int i = 0; i < 5; ++i) {
            sim.step();
            sim.argo();
            sim.advance(10s);
        }
        BOOST_TEST(stage_named(sim, "canary in EMEA").phase == stage_phase::baking);
        BOOST_TEST(sim.admitted_order.size() == 2u);
        sim.advance(1h);
        sim.run();
        BOOST_TEST(sim.rollout.status.phase == rollout_phase::completed);
    }
    {
        fleet_sim sim(spec, emea_fleet());
        sim.change_template("v2");
        for (int i = 0; i < 5; ++i) {
            sim.step();
            sim.argo();
            sim.advance(10s);
        }
        sim.apps.at("eu-central-1a-1").health = "Degraded";  // goes bad while baking
        sim.step();
        BOOST_TEST(stage_named(sim, "canary in EMEA").phase == stage_phase::failed);
        BOOST_TEST(sim.rollout.status.phase == rollout_phase::failed);
        sim.advance(2h);
        sim.run();
        BOOST_TEST(sim.admitted_order.size() == 2u);
    }
}

BOOST_AUTO_TEST_CASE(paused_rollout_admits_nothing_until_resumed) {
    fleet_sim sim(seed_spec(), emea_fleet());
    sim.change_template("v2");
    sim.step();  // canary admitted
    sim.rollout.spec.paused = true;
    sim.rollout.generation = 2;
    for (int i = 0; i < 10; ++i) {
        sim.argo();
        sim.advance(10s);
        sim.step();
    }
    BOOST_TEST(sim.admitted_order.size() == 2u);  // in-flight ones finished, nothing new
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::paused);
    BOOST_TEST(sim.cluster_status("eu-north-1a-1")->phase == cluster_phase::done);
    sim.rollout.spec.paused = false;
    sim.rollout.generation = 3;
    sim.run();
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::completed);
    BOOST_TEST(sim.rollout.status.observed_generation == 3);
}

BOOST_AUTO_TEST_CASE(a_newer_change_mid_rollout_starts_a_new_pass_from_stage_one) {
    fleet_sim sim(seed_spec(), emea_fleet());
    sim.change_template("v2");
    for (int i = 0; i < 6; ++i) {
        sim.step();
        sim.argo();
        sim.advance(10s);
    }
    BOOST_TEST(sim.rollout.status.current_stage == "eu-west-1");
    const auto before = sim.admitted_order.size();
    sim.change_template("v3");
    sim.run();
    BOOST_TEST(sim.rollout.status.pass == 2);
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::completed);
    // The first clusters of pass 2 are the canaries again.
    names second(sim.admitted_order.begin() + static_cast<long>(before), sim.admitted_order.end());
    BOOST_TEST(second.at(0) == "eu-central-1a-1");
    BOOST_TEST(second.at(1) == "eu-north-1a-1");
    for (const auto& [name, a] : sim.apps)
        if (name != "us-east-1a-1") BOOST_TEST(a.live == "v3");
    BOOST_TEST(sim.has_event("PassStarted"));
}

BOOST_AUTO_TEST_CASE(a_cluster_appearing_in_a_finished_stage_is_admitted_at_once) {
    auto fleet = emea_fleet();
    fleet_sim sim(seed_spec(), fleet);
    sim.change_template("v2");
    for (int i = 0; i < 8; ++i) {
        sim.step();
        sim.argo();
        sim.advance(10s);
    }
    BOOST_TEST(sim.rollout.status.current_stage == "eu-west-1");
    // A new eu-central-1 cluster would be canary material, but the canary already took its two.
    // A fourth eu-west-1 cluster joins the running stage instead.
    sim.clusters.push_back(make_cluster("eu-west-1d-1", {{"area", "emea"}, {"region", "eu-west-1"}}));
    sim.apps["eu-west-1d-1"] = fleet_sim::app{"eu-west-1d-1", "v1", "v2"};
    sim.run();
    BOOST_TEST(sim.cluster_status("eu-west-1d-1")->phase == cluster_phase::done);
    BOOST_TEST(position(sim.admitted_order, "eu-west-1d-1") < position(sim.admitted_order, "eu-central-1b-1"));
}

BOOST_AUTO_TEST_CASE(editing_the_spec_after_a_failure_retries_the_failed_cluster) {
    fleet_sim sim(seed_spec(), emea_fleet());
    sim.apps.at("eu-west-1a-1").degrade = true;
    sim.change_template("v2");
    sim.run();
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::failed);
    sim.apps.at("eu-west-1a-1").degrade = false;
    sim.apps.at("eu-west-1a-1").health = "Healthy";
    sim.rollout.spec.stages[1].max_failures = 1;
    sim.rollout.generation = 2;
    sim.run();
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::completed);
    BOOST_TEST(sim.has_event("SpecChanged"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(missing_application_set)

const std::string not_found =
    "ApplicationSet \"my-app-set\" not found in namespace \"argocd\"; the rollout waits until it exists";

BOOST_AUTO_TEST_CASE(a_missing_source_is_reported_once_and_clears_when_it_appears) {
    fleet_sim sim(seed_spec(), emea_fleet());
    sim.source = source_presence::missing;
    sim.step();
    const auto missing_since = sim.now;
    {
        const auto& st = sim.rollout.status;
        BOOST_TEST(st.phase == rollout_phase::pending);
        BOOST_TEST(st.message == not_found);
        const auto& ready = condition_of(st, "Ready");
        BOOST_TEST(ready.status == "False");
        BOOST_TEST(ready.reason == "SourceNotFound");
        BOOST_TEST(ready.message == not_found);
        BOOST_REQUIRE_EQUAL(sim.events.size(), 1u);
        BOOST_TEST(sim.events[0].warning);
        BOOST_TEST(sim.events[0].reason == "SourceNotFound");
        BOOST_TEST(sim.events[0].message == not_found);
    }
    // Still missing: the status holds still and no second Event is emitted.
    sim.advance(30s);
    const auto before = sim.rollout.status;
    sim.step();
    BOOST_TEST((sim.rollout.status == before));
    BOOST_TEST(events_named(sim, "SourceNotFound") == 1u);

    // Created: back to the usual waiting state, the transition time says when.
    sim.advance(30s);
    sim.source = source_presence::exists;
    sim.step();
    {
        const auto& st = sim.rollout.status;
        BOOST_TEST(st.message == "waiting for a change of ApplicationSet my-app-set");
        const auto& ready = condition_of(st, "Ready");
        BOOST_TEST(ready.status == "True");
        BOOST_TEST(ready.reason == "UpToDate");
        BOOST_TEST((ready.last_transition_time == sim.now && sim.now != missing_since));
        BOOST_TEST(events_named(sim, "SourceNotFound") == 1u);
    }
    // Deleted again: reported again.
    sim.source = source_presence::missing;
    sim.step();
    BOOST_TEST(events_named(sim, "SourceNotFound") == 2u);
}

BOOST_AUTO_TEST_CASE(a_source_missing_mid_pass_changes_what_is_reported_not_what_is_admitted) {
    // Twin fleets, one told that the ApplicationSet is gone: the same clusters are admitted in the
    // same order (its Applications are garbage-collected by Kubernetes, not released by us).
    fleet_sim present(seed_spec(), emea_fleet()), gone(seed_spec(), emea_fleet());
    gone.source = source_presence::missing;
    for (auto* sim : {&present, &gone}) {
        sim->change_template("v2");
        sim->run();
    }
    BOOST_TEST(gone.admitted_order == present.admitted_order, boost::test_tools::per_element());
    BOOST_TEST(gone.rollout.status.phase == rollout_phase::completed);
    BOOST_TEST((gone.rollout.status.stages == present.rollout.status.stages));
    BOOST_TEST(gone.rollout.status.message == present.rollout.status.message);  // the pass speaks for itself
    BOOST_TEST(condition_of(gone.rollout.status, "Ready").reason == "SourceNotFound");
    BOOST_TEST(events_named(gone, "SourceNotFound") == 1u);
}

BOOST_AUTO_TEST_CASE(unknown_presence_reports_nothing) {
    fleet_sim sim(seed_spec(), emea_fleet());  // source_presence::unknown, as callers that do not watch
    sim.step();
    BOOST_TEST(condition_of(sim.rollout.status, "Ready").reason == "UpToDate");
    BOOST_TEST(events_named(sim, "SourceNotFound") == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(rollout_properties)

// Random fleets and specs: the invariants users judge the product on.
BOOST_AUTO_TEST_CASE(a_change_too_large_to_hold_is_reported_on_its_cluster_while_it_lasts) {
    fleet_sim sim(seed_spec(), emea_fleet());
    sim.change_template("v2");
    // eu-west-1c-1's Application could not be held: nothing is pending for it.
    sim.apps.at("eu-west-1c-1").pending.clear();
    sim.apps.at("eu-west-1c-1").hold_refused =
        "cluster eu-west-1c-1: 300000 bytes of annotations exceed the 262144-byte limit";
    sim.step();
    auto find = [&](const std::string& name) -> const cluster_status& {
        for (const auto& s : sim.rollout.status.stages)
            for (const auto& c : s.clusters)
                if (c.name == name) return c;
        BOOST_FAIL("no cluster " + name);
        throw;
    };
    BOOST_TEST(
        find("eu-west-1c-1").message ==
        "template change not held: cluster eu-west-1c-1: 300000 bytes of annotations exceed the 262144-byte limit");
    BOOST_TEST(events_named(sim, "HoldRefused") == 1u);
    sim.step();
    BOOST_TEST(events_named(sim, "HoldRefused") == 1u);  // once per refusal, not per step
    sim.apps.at("eu-west-1c-1").hold_refused.clear();
    sim.step();
    BOOST_TEST(find("eu-west-1c-1").message.empty());
}

BOOST_AUTO_TEST_CASE(random_fleets_keep_order_bounds_and_finish) {
    std::mt19937 rng(20261127);
    const std::vector<std::string> regions = {"r1", "r2", "r3", "r4"};
    for (int trial = 0; trial < 150; ++trial) {
        std::vector<cluster> fleet;
        const int n = std::uniform_int_distribution<int>(0, 40)(rng);
        for (int i = 0; i < n; ++i) {
            label_map labels{{"region", regions[rng() % regions.size()]}};
            if (rng() % 3) labels["tier"] = (rng() % 2) ? "a" : "b";
            fleet.push_back(make_cluster("c" + std::to_string(i), labels));
        }
        rollout_spec spec;
        spec.source = {"argoproj.io", "ApplicationSet", "set"};
        const int stages = std::uniform_int_distribution<int>(1, 4)(rng);
        for (int s = 0; s < stages; ++s) {
            label_selector sel;
            if (rng() % 4) sel = match({{"region", regions[rng() % regions.size()]}});
            auto mu = (rng() % 2) ? int_or_percent::integer(1 + rng() % 4) : int_or_percent::percent(1 + rng() % 100);
            auto mc = (rng() % 2) ? int_or_percent::percent(rng() % 101) : int_or_percent::integer(rng() % 12);
            auto st = stage("s" + std::to_string(s), sel, mu, mc);
            if (rng() % 2) st.topology_key = "tier";
            spec.stages.push_back(st);
        }
        fleet_sim sim(spec, fleet);
        sim.settle_steps = static_cast<int>(rng() % 3);
        std::set<std::string> doomed;
        for (auto& [name, a] : sim.apps)
            if (rng() % 10 == 0) {
                a.degrade = true;
                doomed.insert(name);
            }
        sim.change_template("v2");
        const auto assignment = assign_stages(spec, fleet);
        std::map<std::string, std::size_t> stage_of;
        for (std::size_t s = 0; s < assignment.stages.size(); ++s)
            for (const auto& c : assignment.stages[s].clusters) stage_of[c] = s;

        for (int round = 0; round < 300; ++round) {
            const auto before = sim.rollout.status;
            const auto admitted_before = sim.admitted_order.size();
            sim.step();
            const auto& st = sim.rollout.status;
            for (std::size_t s = 0; s < st.stages.size(); ++s) {
                long long updating = 0;
                for (const auto& c : st.stages[s].clusters) updating += c.phase == cluster_phase::updating;
                BOOST_TEST(updating <= assignment.stages[s].max_unavailable);
            }
            // Never a cluster of stage k+1 before stage k completed.
            for (auto i = admitted_before; i < sim.admitted_order.size(); ++i) {
                const auto k = stage_of.at(sim.admitted_order[i]);
                for (std::size_t earlier = 0; earlier < k; ++earlier)
                    BOOST_TEST(
                        ((earlier < before.stages.size() && before.stages[earlier].phase == stage_phase::completed) ||
                         st.stages[earlier].phase == stage_phase::completed));
            }
            sim.argo();
            sim.advance(10s);
            if (st.phase == rollout_phase::completed || st.phase == rollout_phase::failed) break;
        }
        const auto& st = sim.rollout.status;
        if (doomed.empty() ||
            std::none_of(doomed.begin(), doomed.end(), [&](const std::string& d) { return stage_of.contains(d); })) {
            // With no staged cluster there is nothing to roll out: the rollout keeps waiting.
            const auto expected = stage_of.empty() ? rollout_phase::pending : rollout_phase::completed;
            BOOST_TEST(st.phase == expected, "trial " << trial << " ended " << st.phase << ": " << st.message);
            for (const auto& s : st.stages)
                for (const auto& c : s.clusters) BOOST_TEST(c.phase == cluster_phase::done);
        } else {
            BOOST_TEST(st.phase == rollout_phase::failed, "trial " << trial << " ended " << st.phase << " at stage "
                                                                   << st.current_stage << ": " << st.message);
        }
        // Unstaged clusters are never touched.
        for (const auto& name : assignment.unstaged) BOOST_TEST(sim.apps.at(name).pending == "v2");
    }
}

BOOST_AUTO_TEST_SUITE_END()
