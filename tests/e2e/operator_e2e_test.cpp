#define BOOST_TEST_MODULE operator_e2e
#include <boost/test/unit_test.hpp>

#include "rollout_scenario.hpp"

#include <boost/algorithm/string/join.hpp>

#include <filesystem>
#include <fstream>

// The operator commands through the real API server and the real webhook (docs/operations.md,
// "Operator commands"): the CLI writes, the mutating webhook stamps who asked, the validating
// webhook refuses illegal moves, the controller carries them out and records them in status.

using namespace apr;
using namespace apr::e2e;
using core::cluster_phase;
using core::rollout_phase;
using names = std::vector<std::string>;

namespace {

// Three stages over six EMEA clusters, one cluster at a time.
std::string regional_stages(const std::string& bake = "0s") {
    return "  - name: canary\n    maxClusters: 1\n    bakeTime: " + bake +
           "\n    clusters: {selector: {matchLabels: {region: eu-west-1}}}\n"
           "  - name: eu-west-1\n    clusters: {selector: {matchLabels: {region: eu-west-1}}}\n"
           "  - name: eu-central-1\n    clusters: {selector: {matchLabels: {region: eu-central-1}}}\n";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(operator_commands_through_the_real_api_server)

// Scenario 1: pause mid-stage; in-flight clusters finish, nothing new is admitted; resume continues.
BOOST_AUTO_TEST_CASE(pause_mid_stage_lets_in_flight_clusters_finish_and_resume_continues) {
    rollout_scenario s("pause");
    s.start_webhook();
    s.create_fleet(s.emea_fleet());
    s.apply_rollout(regional_stages());
    s.argo.set_template_revision("v2");
    // Into stage eu-west-1 with one cluster in flight (its Application not synced yet).
    BOOST_REQUIRE(s.play_until([&](const core::rollout& r) { return r.status.current_stage == "eu-west-1"; }, 120s));
    std::string in_flight;
    BOOST_REQUIRE(eventually(
        [&] {
            auto r = s.rollout();
            for (const auto& c : r.status.stages[1].clusters)
                if (c.phase == cluster_phase::updating) in_flight = c.name.substr(s.id.size() + 1);
            return !in_flight.empty();
        },
        30s));
    auto paused = cli("OPS", "pause " + s.id + " --reason 'INC-7 investigating'");
    BOOST_TEST_REQUIRE(paused.status == 0, paused.out);
    BOOST_TEST(contains(paused.out, "pause by ops"), paused.out);
    auto r = s.rollout();
    BOOST_TEST(r.status.phase == rollout_phase::paused);
    BOOST_REQUIRE(!r.status.requests.empty());
    BOOST_TEST(r.status.requests.back().user == "ops");
    BOOST_TEST(r.status.requests.back().reason == "INC-7 investigating");
    // The in-flight cluster finishes; nothing new is admitted.
    BOOST_REQUIRE(s.play_until(
        [&](const core::rollout& r) {
            for (const auto& c : r.status.stages[1].clusters)
                if (c.phase == cluster_phase::updating) return false;
            return true;
        },
        60s));
    for (int i = 0; i < 6; ++i) s.argo_round();
    // Exactly the clusters admitted before the pause were updated, the in-flight one included,
    // and no other: eu-central-1 did not start.
    r = s.rollout();
    names done;
    for (const auto& stage : r.status.stages)
        for (const auto& c : stage.clusters)
            if (c.phase == cluster_phase::done && !c.hash.empty()) done.push_back(c.name.substr(s.id.size() + 1));
    auto order = s.updated("v2");
    std::sort(order.begin(), order.end());
    std::sort(done.begin(), done.end());
    BOOST_TEST(order == done, boost::test_tools::per_element());
    BOOST_TEST(count(order, in_flight) == 1u);
    for (const auto* later : {"eu-central-1a-1", "eu-central-1b-1", "eu-central-1c-1"})
        BOOST_TEST(count(order, later) == 0u, later);
    BOOST_TEST(s.rollout().status.phase == rollout_phase::paused);
    // Pausing twice is an illegal move, said clearly.
    auto twice = cli("OPS", "pause " + s.id);
    BOOST_TEST(twice.status == 1);
    BOOST_TEST(contains(twice.out, "is already paused"), twice.out);

    auto resumed = cli("ALICE", "resume " + s.id);
    BOOST_TEST_REQUIRE(resumed.status == 0, resumed.out);
    BOOST_REQUIRE(s.play_until([](const core::rollout& r) { return phase_is(r, rollout_phase::completed); }, 120s));
    BOOST_TEST(s.updated("v2").size() == 6u);
    const auto events = s.events();
    BOOST_TEST(contains(events, "paused by ops: INC-7 investigating"), events);
    BOOST_TEST(contains(events, "resumed by alice"), events);
}

// A promote with nothing to pass, and the errors a user meets.
BOOST_AUTO_TEST_CASE(illegal_moves_and_unknown_rollouts_say_so_and_exit_1) {
    rollout_scenario s("illegal");
    s.start_webhook();
    s.create_fleet(s.emea_fleet());
    s.apply_rollout(regional_stages());
    BOOST_REQUIRE(s.play_until([](const core::rollout& r) { return r.status.observed_generation > 0; }, 30s));
    auto promote = cli("OPS", "promote " + s.id);
    BOOST_TEST(promote.status == 1);
    BOOST_TEST(contains(promote.out, "has no pass under way: nothing waits for promote"), promote.out);
    auto retry = cli("OPS", "retry " + s.id);
    BOOST_TEST(retry.status == 1);
    BOOST_TEST(contains(retry.out, "retry runs again a pass that is Failed, Aborted or RolledBack"), retry.out);
    auto unknown = cli("OPS", "abort no-such-rollout");
    BOOST_TEST(unknown.status == 1);
    BOOST_TEST(contains(unknown.out, "ProgressiveRollout argocd/no-such-rollout not found"), unknown.out);
    auto usage = cli("OPS", "hold " + s.id + " " + s.cluster("eu-west-1a-1"));
    BOOST_TEST(usage.status == 2);
    BOOST_TEST(contains(usage.out, "reason"), usage.out);
}

// The binary works as a kubectl plugin, with kubectl's KUBECONFIG.
BOOST_AUTO_TEST_CASE(the_binary_is_a_kubectl_plugin) {
    rollout_scenario s("plugin");
    s.start_webhook();
    s.create_fleet(s.emea_fleet());
    s.apply_rollout(regional_stages());
    BOOST_REQUIRE(s.play_until([](const core::rollout& r) { return r.status.observed_generation > 0; }, 30s));
    const auto dir = env("TESTENV_DIR") + "/plugin-" + s.id;
    std::filesystem::create_directories(dir);
    std::filesystem::create_symlink(APR_BINARY_PATH, dir + "/kubectl-progressive_rollout");
    auto status = run("PATH=" + dir + ":$PATH KUBECONFIG=" + env("KUBECONFIG_ALICE") +
                      " kubectl progressive-rollout status " + s.id + " 2>&1");
    BOOST_TEST(status.status == 0, status.out);
    BOOST_TEST(contains(status.out, "ProgressiveRollout argocd/" + s.id), status.out);
    // A KUBECONFIG list, merged as kubectl merges it: the context from one file (the first that
    // sets current-context), the cluster and user from another, a missing file skipped.
    {
        std::ofstream(dir + "/context.yaml")
            << "apiVersion: v1\nkind: Config\ncurrent-context: as-alice\n"
               "contexts:\n- name: as-alice\n  context: {cluster: testenv, user: alice}\n";
    }
    const auto list = dir + "/absent.yaml:" + dir + "/context.yaml:" + env("KUBECONFIG_ALICE");
    auto merged =
        run("PATH=" + dir + ":$PATH KUBECONFIG=" + list + " kubectl progressive-rollout status " + s.id + " 2>&1");
    BOOST_TEST(merged.status == 0, merged.out);
    BOOST_TEST(contains(merged.out, "ProgressiveRollout argocd/" + s.id), merged.out);
    auto help = run("PATH=" + dir + ":$PATH kubectl progressive-rollout promote --help 2>&1");
    BOOST_TEST(help.status == 0, help.out);
    BOOST_TEST(contains(help.out, "Usage: kubectl progressive-rollout promote NAME"), help.out);
}

// Scenario 4: a hold with --until keeps one cluster (here the canary) out while its stage and the
// later ones go on; after the expiry it is admitted. release ends another hold early.
BOOST_AUTO_TEST_CASE(held_clusters_wait_without_blocking_and_are_admitted_after_expiry_or_release) {
    rollout_scenario s("hold");
    s.start_webhook();
    s.create_fleet(s.emea_fleet());
    s.apply_rollout(regional_stages());
    BOOST_REQUIRE(s.play_until([](const core::rollout& r) { return r.status.observed_generation > 0; }, 30s));
    const auto until = std::chrono::system_clock::now() + 60s;
    auto held = cli("OPS", "hold " + s.id + " " + s.cluster("eu-west-1a-1") + " --reason 'disk swap' --until 60s");
    BOOST_TEST_REQUIRE(held.status == 0, held.out);
    BOOST_TEST(contains(held.out, "cluster " + s.cluster("eu-west-1a-1") + " held"), held.out);
    held = cli("OPS", "hold " + s.id + " " + s.cluster("eu-central-1b-1") + " --reason maintenance");
    BOOST_TEST_REQUIRE(held.status == 0, held.out);
    auto r = s.rollout();
    BOOST_REQUIRE_EQUAL(r.status.holds.size(), 2u);
    BOOST_TEST(r.status.holds[0].by == "ops");
    BOOST_TEST(r.status.holds[0].reason == "disk swap");
    BOOST_TEST(r.status.holds[0].until.has_value());
    BOOST_TEST(!r.status.holds[1].until.has_value());

    s.argo.set_template_revision("v2");
    // Every stage goes on without the held clusters; they show as Held in status.
    const names others{"eu-west-1b-1", "eu-west-1c-1", "eu-central-1a-1", "eu-central-1c-1"};
    BOOST_REQUIRE(s.play_until(
        [&](const core::rollout&) {
            auto order = s.updated("v2");
            return std::all_of(others.begin(), others.end(), [&](const auto& n) { return count(order, n) == 1u; });
        },
        90s));
    BOOST_TEST_REQUIRE((std::chrono::system_clock::now() < until), "the hold expired before the stages were done");
    r = s.rollout();
    for (const auto* name : {"eu-west-1a-1", "eu-central-1b-1"}) {
        const auto* c = s.cluster_state(r, name);
        BOOST_REQUIRE(c);
        BOOST_TEST(c->phase == cluster_phase::held, name);
        BOOST_TEST(count(s.updated("v2"), name) == 0u, name);
    }
    BOOST_TEST(contains(s.cluster_state(r, "eu-west-1a-1")->message, "held by ops: disk swap"));

    // release ends a hold early: the cluster joins its finished stage at once.
    auto released = cli("ALICE", "release " + s.id + " " + s.cluster("eu-central-1b-1"));
    BOOST_TEST_REQUIRE(released.status == 0, released.out);
    BOOST_REQUIRE(
        s.play_until([&](const core::rollout&) { return count(s.updated("v2"), "eu-central-1b-1") == 1u; }, 60s));
    BOOST_TEST(count(s.updated("v2"), "eu-west-1a-1") == 0u);
    // After the expiry the canary cluster is admitted and the rollout completes.
    BOOST_REQUIRE(s.play_until([](const core::rollout& r) { return phase_is(r, rollout_phase::completed); }, 120s));
    BOOST_TEST((std::chrono::system_clock::now() >= until));
    BOOST_TEST(s.updated("v2").size() == 6u);
    r = s.rollout();
    BOOST_TEST(r.status.holds.empty());
    const auto events = s.events();
    BOOST_TEST(contains(events, "held by ops: disk swap"), events);
    BOOST_TEST(contains(events, "released by alice"), events);
    BOOST_TEST(contains(events, "HoldExpired"), events);
}

// Scenario 7: without RBAC to update the rollout, every command gets the API server's 403.
BOOST_AUTO_TEST_CASE(commands_without_rbac_get_the_api_servers_403) {
    rollout_scenario s("rbac");
    s.start_webhook();
    s.create_fleet(s.emea_fleet());
    s.apply_rollout(regional_stages());
    BOOST_REQUIRE(s.play_until([](const core::rollout& r) { return r.status.observed_generation > 0; }, 30s));
    const auto c = s.cluster("eu-west-1a-1");
    for (const std::string& command : std::vector<std::string>{
             "pause " + s.id, "resume " + s.id, "promote " + s.id, "abort " + s.id, "abort --rollback " + s.id,
             "retry " + s.id, "hold " + s.id + " " + c + " --reason r", "release " + s.id + " " + c}) {
        auto r = cli("VIEWER", command);
        BOOST_TEST(r.status == 1, command << ": " << r.out);
        BOOST_TEST(
            contains(r.out, "progressiverollouts.deployment.skyscanner.net \"" + s.id +
                                "\" is forbidden: User \"viewer\" cannot patch resource \"progressiverollouts\""),
            command << ": " << r.out);
    }
}

BOOST_AUTO_TEST_SUITE_END()
