#define BOOST_TEST_MODULE rollback_e2e
#include <boost/test/unit_test.hpp>

#include "rollout_scenario.hpp"

// Rollbacks through the real API server and the real webhook (docs/controller.md, "Rollback"):
// the controller's restore patches go through the webhook like any write, and the Applications,
// not only the status, are checked.

using namespace apr;
using namespace apr::e2e;
using core::cluster_phase;
using core::rollout_phase;
using names = std::vector<std::string>;

namespace {

// Two canaries in eu-west-1 (one at a time), the rest of eu-west-1, then eu-central-1.
std::string regional_stages() {
    return "  - name: canary\n    maxClusters: 2\n    bakeTime: 0s\n"
           "    clusters: {selector: {matchLabels: {region: eu-west-1}}}\n"
           "  - name: eu-west-1\n    clusters: {selector: {matchLabels: {region: eu-west-1}}}\n"
           "  - name: eu-central-1\n    clusters: {selector: {matchLabels: {region: eu-central-1}}}\n";
}

const names emea{"eu-west-1a-1",    "eu-west-1b-1",    "eu-west-1c-1",
                 "eu-central-1a-1", "eu-central-1b-1", "eu-central-1c-1"};

// The scenario's Applications by cluster (prefix dropped).
std::map<std::string, sim::application_view> applications(rollout_scenario& s) {
    std::map<std::string, sim::application_view> out;
    for (auto& a : s.argo.applications()) out[a.cluster.substr(s.id.size() + 1)] = a;
    return out;
}

// Every cluster in `restored` runs `old_revision` again, synced, with the pass's change held
// under the hash status recorded for it; every other one of `all` never left `old_revision`.
bool restored_on_the_applications(rollout_scenario& s, const core::rollout& r, const names& restored, const names& all,
                                  const std::string& old_revision) {
    auto apps = applications(s);
    for (const auto& name : all) {
        const auto& a = apps[name];
        if (a.target_revision != old_revision || a.synced_revision != old_revision || a.sync != "Synced") return false;
        if (count(restored, name) == 0) continue;
        const auto* c = s.cluster_state(r, name);
        if (!a.held || !c || c->phase != cluster_phase::rolled_back || a.pending_hash != c->hash) return false;
    }
    return true;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(rollback_through_the_real_api_server)

// Scenario 2: a Degraded canary with onFailure: Rollback: every cluster updated in the pass gets
// its previous desired state back (on the Applications), the change stays held, phase RolledBack;
// retry after the fault is fixed runs the pass again and completes it.
BOOST_AUTO_TEST_CASE(a_degraded_canary_with_on_failure_rollback_restores_the_pass_and_retry_completes_it) {
    rollout_scenario s("onfail");
    s.start_webhook();
    s.create_fleet(s.emea_fleet());
    s.apply_rollout(regional_stages(), "  onFailure: Rollback\n");
    BOOST_REQUIRE(s.play_until([](const core::rollout& r) { return r.status.observed_generation > 0; }, 30s));
    s.argo.degraded.insert(s.cluster("eu-west-1b-1"));  // the second canary runs v2 Degraded
    s.argo.set_template_revision("v2");

    BOOST_REQUIRE(s.play_until([](const core::rollout& r) { return phase_is(r, rollout_phase::rolled_back); }, 120s));
    const names canaries{"eu-west-1a-1", "eu-west-1b-1"};
    auto order = s.updated("v2");
    std::sort(order.begin(), order.end());
    BOOST_TEST(order == canaries, boost::test_tools::per_element());
    auto r = s.rollout();
    BOOST_TEST(contains(r.status.message, "rolled back (onFailure Rollback): stage canary failed"), r.status.message);
    BOOST_TEST(r.status.stages[0].phase == core::stage_phase::failed);
    // The restores went through the webhook: both canaries run v1 again, v2 stays held.
    s.argo.degraded.clear();  // v1 was healthy there
    BOOST_REQUIRE(s.play_until(
        [&](const core::rollout& r) { return restored_on_the_applications(s, r, canaries, emea, "v1"); }, 60s));
    BOOST_TEST(s.updated("v2").size() == 2u);  // nothing more was admitted
    r = s.rollout();
    BOOST_TEST(r.status.phase == rollout_phase::rolled_back);
    auto events = s.events();
    BOOST_TEST(contains(events, "RolledBack"), events);
    BOOST_TEST(contains(events, "2 cluster(s) updated in it restored to their previous desired state"), events);
    BOOST_TEST(!contains(events, "RolloutFailed"), events);
    BOOST_TEST(!s.webhook->log_contains("rolling back Application"), s.webhook->log());

    // The fault is fixed: retry runs pass 1 again and completes it.
    auto retried = cli("OPS", "retry " + s.id + " --reason 'fixed in the chart'");
    BOOST_TEST_REQUIRE(retried.status == 0, retried.out);
    BOOST_REQUIRE(s.play_until([](const core::rollout& r) { return phase_is(r, rollout_phase::completed); }, 120s));
    r = s.rollout();
    BOOST_TEST(r.status.pass == 1);
    auto apps = applications(s);
    for (const auto& name : emea) {
        BOOST_TEST(apps[name].target_revision == "v2", name);
        BOOST_TEST(!apps[name].held, name);
    }
    BOOST_TEST(contains(s.events(), "retried by ops: fixed in the chart"));
}

// Scenario 3: abort --rollback by hand on a healthy rollout; then a new template change starts a
// fresh pass from stage 1.
BOOST_AUTO_TEST_CASE(abort_rollback_by_hand_restores_the_pass_and_a_new_change_starts_a_fresh_one) {
    rollout_scenario s("abortrb");
    s.start_webhook();
    s.create_fleet(s.emea_fleet());
    s.apply_rollout(regional_stages());
    BOOST_REQUIRE(s.play_until([](const core::rollout& r) { return r.status.observed_generation > 0; }, 30s));
    s.argo.set_template_revision("v2");
    // Stop in stage eu-central-1: all of eu-west-1 runs v2.
    BOOST_REQUIRE(s.play_until([](const core::rollout& r) { return r.status.current_stage == "eu-central-1"; }, 120s));
    auto aborted = cli("OPS", "abort --rollback " + s.id + " --reason 'error budget'");
    BOOST_TEST_REQUIRE(aborted.status == 0, aborted.out);
    auto r = s.rollout();
    BOOST_TEST(r.status.phase == rollout_phase::rolled_back);
    BOOST_REQUIRE(!r.status.requests.empty());
    BOOST_TEST(r.status.requests.back().verb == "abort");
    BOOST_TEST(r.status.requests.back().user == "ops");
    BOOST_TEST(r.status.requests.back().reason == "error budget");
    // Every cluster the pass updated (those Argo CD synced to v2) is restored.
    names updated;
    for (const auto& stage : r.status.stages)
        for (const auto& c : stage.clusters)
            if (c.phase == cluster_phase::rolled_back) updated.push_back(c.name.substr(s.id.size() + 1));
    BOOST_TEST(updated.size() >= 3u);  // the three eu-west-1 clusters at least
    BOOST_REQUIRE(s.play_until(
        [&](const core::rollout& r) { return restored_on_the_applications(s, r, updated, emea, "v1"); }, 60s));
    // Each cluster that ran v2 was restored (one admitted just before the abort may not have
    // synced yet), and none was admitted after the abort.
    for (const auto& name : s.updated("v2")) BOOST_TEST(count(updated, name) == 1u, name);
    BOOST_TEST(s.updated("v2").size() <= updated.size());
    BOOST_TEST(contains(s.events(), "rolled back by ops: error budget"));

    // A newer template change starts pass 2 from stage 1 and completes it.
    s.argo.set_template_revision("v3");
    const bool completed = s.play_until(
        [](const core::rollout& r) { return r.status.pass == 2 && phase_is(r, rollout_phase::completed); }, 150s);
    BOOST_REQUIRE_MESSAGE(completed, "pass " << s.rollout().status.pass << ", stage "
                                             << s.rollout().status.current_stage << "; events:\n"
                                             << s.events() << "\nwebhook log:\n"
                                             << s.webhook->log());
    auto apps = applications(s);
    for (const auto& name : emea) BOOST_TEST(apps[name].target_revision == "v3", name);
    BOOST_TEST(contains(s.events(), "pass 2 started from stage 1"));
}

BOOST_AUTO_TEST_SUITE_END()
