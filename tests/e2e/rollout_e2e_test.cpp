#define BOOST_TEST_MODULE rollout_e2e
#include <boost/test/unit_test.hpp>

#include "rollout_scenario.hpp"

#include <boost/algorithm/string/join.hpp>
#include <boost/algorithm/string/replace.hpp>

#include <fstream>
#include <sstream>

using namespace apr;
using namespace apr::e2e;
using core::cluster_phase;
using core::rollout_phase;
using names = std::vector<std::string>;

namespace {

std::string seed_example() {
    return read_source("manifests/samples/progressiverollout.yaml");
}

// The seed's stages with a requeue interval short enough for a test.
std::string seed_stages(const std::string& interval) {
    auto seed = seed_example();
    auto stages = seed.substr(seed.find("  stages:\n") + 10);
    boost::replace_all(stages, "interval: 30m", "interval: " + interval);
    return stages;
}

std::size_t position(const names& order, const std::string& name) {
    return static_cast<std::size_t>(std::find(order.begin(), order.end(), name) - order.begin());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(staged_rollouts_through_the_real_api_server)

BOOST_AUTO_TEST_CASE(seed_example_rolls_canary_then_regions_and_holds_unstaged_clusters) {
    rollout_scenario s("seed");
    s.start_webhook();
    s.create_fleet(s.emea_fleet());
    // The seed example unchanged but for its two names.
    auto manifest = seed_example();
    boost::replace_all(manifest, "name: progressiverollout-sample", "name: " + s.id);
    boost::replace_all(manifest, "name: my-app-set", "name: " + s.id + "-set");
    BOOST_REQUIRE_EQUAL(kubectl("ADMIN", "apply -f -", manifest).status, 0);
    BOOST_REQUIRE(s.play_until([](const core::rollout& r) { return r.status.observed_generation > 0; }, 30s));
    // The live plan preview is the plan the controller then follows.
    const auto preview = run(std::string(APR_BINARY_PATH) + " plan --live " + s.id + " -n argocd --kubeconfig " +
                             env("KUBECONFIG_ADMIN") + " -o json");
    BOOST_TEST(preview.status == 0, preview.out);
    const std::string canary = "{\"name\":\"canary in EMEA\",\"clusters\":[\"" + s.cluster("eu-central-1a-1") +
                               "\",\"" + s.cluster("eu-west-1a-1") + "\"]";
    BOOST_TEST(preview.out.find(canary) != std::string::npos, preview.out);
    BOOST_TEST(preview.out.find("\"unstaged\":[\"" + s.cluster("ap-southeast-1a-1") + "\",\"" +
                                s.cluster("us-east-1a-1") + "\"]") != std::string::npos,
               preview.out);

    s.argo.set_template_revision("v2");
    std::vector<core::rollout> seen;
    BOOST_REQUIRE_MESSAGE(s.play_until(
                              [](const core::rollout& r) {
                                  return phase_is(r, rollout_phase::completed) && r.status.pass == 1;
                              },
                              180s, [&](const core::rollout& r) { seen.push_back(r); }),
                          "rollout did not complete:\n"
                              << s.webhook->log());

    const auto order = s.updated("v2");
    BOOST_TEST_MESSAGE("update order: " << boost::algorithm::join(order, ", "));
    BOOST_REQUIRE_EQUAL(order.size(), 6u);
    // Canary: two clusters, one per region, in parallel.
    BOOST_TEST((std::set<std::string>(order.begin(), order.begin() + 2) ==
                std::set<std::string>{"eu-central-1a-1", "eu-west-1a-1"}));
    // Then eu-west-1 at 25% (one at a time), then eu-central-1.
    BOOST_TEST((names(order.begin() + 2, order.end()) ==
                names{"eu-west-1b-1", "eu-west-1c-1", "eu-central-1b-1", "eu-central-1c-1"}),
               boost::test_tools::per_element());

    const auto r = s.rollout();
    BOOST_TEST(r.status.current_stage.empty());
    for (const auto& stage : r.status.stages) BOOST_TEST(stage.phase == core::stage_phase::completed);
    BOOST_TEST((r.status.unstaged_clusters == names{s.cluster("ap-southeast-1a-1"), s.cluster("us-east-1a-1")}),
               boost::test_tools::per_element());
    // Unstaged clusters stay held on v1, and a condition says so.
    for (const auto& app : s.argo.applications()) {
        if (app.cluster == s.cluster("us-east-1a-1") || app.cluster == s.cluster("ap-southeast-1a-1")) {
            BOOST_TEST(app.held);
            BOOST_TEST(app.target_revision == "v1");
        } else {
            BOOST_TEST(!app.held);
            BOOST_TEST(app.target_revision == "v2");
            BOOST_TEST(app.auto_sync);
        }
    }
    auto ready = std::find_if(r.status.conditions.begin(), r.status.conditions.end(),
                              [](const core::condition& c) { return c.type == "Ready"; });
    BOOST_REQUIRE(ready != r.status.conditions.end());
    BOOST_TEST(ready->reason == "UnstagedClusters");
    // The status moved stage by stage: while the canary was in progress no region cluster was Updating.
    for (const auto& snapshot : seen)
        if (snapshot.status.current_stage == "canary in EMEA")
            for (const auto& stage : snapshot.status.stages)
                if (stage.name != "canary in EMEA")
                    for (const auto& c : stage.clusters) BOOST_TEST(c.phase == cluster_phase::pending);
    BOOST_TEST(s.events().find("StageCompleted") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_change_outside_the_scope_reaches_every_cluster_at_once_a_revision_change_is_staged) {
    rollout_scenario s("scope");
    s.start_webhook();
    s.create_fleet(s.emea_fleet());
    s.apply_rollout(seed_stages("30m"), "  scope:\n    paths: [source.targetRevision]\n");
    BOOST_REQUIRE(s.play_until([](const core::rollout& r) { return r.status.observed_generation > 0; }, 30s));

    // New Helm values touch no scoped path: every Application takes them at once, unstaged
    // clusters too, and no pass starts.
    s.argo.set_template_helm_values("replicas: 3\n");
    BOOST_REQUIRE_MESSAGE(s.play_until_every_application(
                              8,
                              [](const sim::application_view& a) {
                                  return a.helm_values == "replicas: 3\n" && a.sync == "Synced" && !a.held;
                              },
                              60s),
                          "values did not reach every cluster:\n"
                              << s.webhook->log());
    BOOST_TEST(s.rollout().status.pass == 0);

    // A new revision is staged, and held whole: the canary takes it first, the rest keep v1 with
    // the new values meanwhile.
    s.argo.set_template_revision("v2");
    BOOST_REQUIRE(s.play_until([&](const core::rollout&) { return s.updated("v2").size() >= 3; }, 120s));
    const auto order = s.updated("v2");
    BOOST_TEST((std::set<std::string>(order.begin(), order.begin() + 2) ==
                std::set<std::string>{"eu-central-1a-1", "eu-west-1a-1"}));
    for (const auto& app : s.argo.applications()) {
        BOOST_TEST(app.helm_values == "replicas: 3\n");
        if (app.cluster == s.cluster("eu-central-1c-1") || app.cluster == s.cluster("us-east-1a-1")) {
            BOOST_TEST(app.held);
            BOOST_TEST(app.target_revision == "v1");
        }
    }
}

BOOST_AUTO_TEST_CASE(drained_cluster_is_requeued_and_updated_once_undrained) {
    rollout_scenario s("drain");
    s.start_webhook();
    auto fleet = s.emea_fleet();
    fleet[1].labels["drained"] = "true";  // eu-west-1b-1
    s.create_fleet(fleet);
    s.apply_rollout(seed_stages("4s"));
    s.argo.set_template_revision("v2");

    BOOST_REQUIRE(s.play_until(
        [&](const core::rollout& r) {
            const auto* c = s.cluster_state(r, "eu-west-1b-1");
            return c && c->phase == cluster_phase::requeued && c->attempts >= 2;
        },
        120s));
    auto r = s.rollout();
    BOOST_TEST(r.status.current_stage == "eu-west-1");
    const auto* drained = s.cluster_state(r, "eu-west-1b-1");
    BOOST_TEST(drained->next_attempt_at.has_value());
    BOOST_TEST(r.status.stages[1].clusters.back().name == s.cluster("eu-west-1b-1"));  // moved to the end
    auto order = s.updated("v2");
    BOOST_TEST(position(order, "eu-west-1c-1") < order.size());      // the stage went on without it
    BOOST_TEST(position(order, "eu-central-1b-1") == order.size());  // but did not finish

    s.argo.set_cluster_labels(s.cluster("eu-west-1b-1"), {{"area", "emea"}, {"region", "eu-west-1"}, {"e2e", s.id}});
    BOOST_REQUIRE(s.play_until([](const core::rollout& r) { return phase_is(r, rollout_phase::completed); }, 120s));
    order = s.updated("v2");
    BOOST_TEST(position(order, "eu-west-1b-1") < position(order, "eu-central-1b-1"));
    BOOST_TEST(position(order, "eu-west-1c-1") < position(order, "eu-west-1b-1"));
    BOOST_TEST(s.events().find("ClusterRequeued") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_cluster_drained_for_good_fails_the_rollout_after_the_attempts) {
    rollout_scenario s("drained-for-good");
    s.start_webhook();
    auto fleet = s.emea_fleet();
    fleet[2].labels["drained"] = "true";  // eu-west-1c-1
    s.create_fleet(fleet);
    auto stages = seed_stages("2s");
    boost::replace_all(stages, "attempts: 5", "attempts: 2");
    s.apply_rollout(stages);
    s.argo.set_template_revision("v2");
    BOOST_REQUIRE(s.play_until([](const core::rollout& r) { return phase_is(r, rollout_phase::failed); }, 120s));
    const auto r = s.rollout();
    BOOST_TEST(s.cluster_state(r, "eu-west-1c-1")->message == "still matches the requeue selector after 2 attempts");
    BOOST_TEST(position(s.updated("v2"), "eu-central-1b-1") == s.updated("v2").size());
}

BOOST_AUTO_TEST_CASE(a_degraded_application_fails_its_stage_and_stops_the_rollout) {
    rollout_scenario s("degraded");
    s.start_webhook();
    s.create_fleet(s.emea_fleet());
    s.apply_rollout(seed_stages("30m"));
    s.argo.degraded = {s.cluster("eu-west-1b-1")};
    s.argo.set_template_revision("v2");
    BOOST_REQUIRE(s.play_until([](const core::rollout& r) { return phase_is(r, rollout_phase::failed); }, 120s));
    // A few more rounds: nothing else may be admitted.
    for (int i = 0; i < 5; ++i) s.argo_round();
    const auto r = s.rollout();
    BOOST_TEST(r.status.current_stage == "eu-west-1");
    BOOST_TEST(s.cluster_state(r, "eu-west-1b-1")->phase == cluster_phase::failed);
    BOOST_TEST(s.cluster_state(r, "eu-west-1b-1")->message.find("is Degraded") != std::string::npos);
    const auto order = s.updated("v2");
    BOOST_TEST(position(order, "eu-west-1c-1") == order.size());
    BOOST_TEST(position(order, "eu-central-1b-1") == order.size());
    const auto events = s.events();
    BOOST_TEST(events.find("ClusterFailed") != std::string::npos, events);
    BOOST_TEST(events.find("RolloutFailed") != std::string::npos, events);
}

BOOST_AUTO_TEST_CASE(humans_are_denied_unless_they_bypass_and_dry_runs_change_nothing) {
    rollout_scenario s("human");
    s.start_webhook();
    s.create_fleet(s.emea_fleet());
    s.apply_rollout(seed_stages("30m"));
    s.argo.set_template_revision("v2");
    BOOST_REQUIRE(s.play_until([&](const core::rollout& r) { return r.status.current_stage == "eu-west-1"; }, 120s));
    const std::string app = "applications.argoproj.io/" + s.id + "-" + s.cluster("eu-central-1c-1");
    BOOST_REQUIRE_MESSAGE(kubectl("ADMIN", "get " + app).status == 0, "no Application " << app);

    const std::string edit = R"(--type merge -p '{"spec":{"source":{"targetRevision":"v3"}}}')";
    auto denied = kubectl("ALICE", "patch " + app + " " + edit);
    BOOST_TEST(denied.status != 0);
    BOOST_TEST(denied.out.find("ProgressiveRollout argocd/" + s.id + ": cluster \"" + s.cluster("eu-central-1c-1") +
                               "\" is in stage \"eu-central-1\", current stage is \"eu-west-1\"") != std::string::npos,
               denied.out);
    // The same answer for a dry run, and nothing changes.
    auto dry = kubectl("ALICE", "patch " + app + " --dry-run=server " + edit);
    BOOST_TEST(dry.status != 0);
    BOOST_TEST(dry.out.find("denied the request") != std::string::npos);
    auto dry_ops = kubectl(
        "OPS",
        "patch " + app + " --dry-run=server " +
            R"(--type merge -p '{"metadata":{"annotations":{"deployment.skyscanner.net/bypass":"INC-1"}},"spec":{"source":{"targetRevision":"v3"}}}')");
    BOOST_TEST(dry_ops.status == 0, dry_ops.out);
    BOOST_TEST(kubectl("ADMIN", "get " + app + " -o jsonpath={.spec.source.targetRevision}").out == "v1");

    // A bypass needs the annotation and a bypass group; alice has neither group.
    auto alice_bypass = kubectl(
        "ALICE",
        "patch " + app + " " +
            R"(--type merge -p '{"metadata":{"annotations":{"deployment.skyscanner.net/bypass":"INC-1"}},"spec":{"source":{"targetRevision":"v3"}}}')");
    BOOST_TEST(alice_bypass.status != 0);
    auto ops = kubectl(
        "OPS",
        "patch " + app + " " +
            R"(--type merge -p '{"metadata":{"annotations":{"deployment.skyscanner.net/bypass":"hotfix INC-1"}},"spec":{"source":{"targetRevision":"v3"}}}')");
    BOOST_TEST(ops.status == 0, ops.out);
    BOOST_TEST(kubectl("ADMIN", "get " + app + " -o jsonpath={.spec.source.targetRevision}").out == "v3");
    BOOST_TEST(eventually(
        [&] {
            return kubectl("ADMIN", "get events --field-selector reason=Bypassed -o custom-columns=MSG:.message")
                       .out.find("hotfix INC-1") != std::string::npos;
        },
        20s));

    // A dry run of the ApplicationSet controller's write is held the same way and stores nothing.
    const std::string app2 = "applications.argoproj.io/" + s.id + "-" + s.cluster("eu-central-1b-1");
    auto appset_dry =
        kubectl("APPSET", "patch " + app2 + " --dry-run=server -o jsonpath={.spec.source.targetRevision} " +
                              R"(--type merge -p '{"spec":{"source":{"targetRevision":"v4"}}}')");
    BOOST_TEST(appset_dry.status == 0, appset_dry.out);
    BOOST_TEST(appset_dry.out.find("v1") != std::string::npos, appset_dry.out);  // the answer restored v1
    // The stored record is still the held v2 change (read it: the jsonpath must be quoted for the shell).
    const auto stored =
        kubectl("ADMIN",
                "get " + app2 + " -o 'jsonpath={.metadata.annotations.deployment\\.skyscanner\\.net/pending-spec}'")
            .out;
    BOOST_TEST(stored.find("\"targetRevision\":\"v2\"") != std::string::npos, stored);
    BOOST_TEST(stored.find("v4") == std::string::npos, stored);
}

BOOST_AUTO_TEST_CASE(deleting_the_rollout_releases_its_applications) {
    rollout_scenario s("release");
    s.start_webhook();
    s.create_fleet(s.emea_fleet());
    s.apply_rollout(seed_stages("30m"));
    s.argo.set_template_revision("v2");
    BOOST_REQUIRE(s.play_until([&](const core::rollout& r) { return r.status.current_stage == "eu-west-1"; }, 120s));
    BOOST_REQUIRE_EQUAL(kubectl("ADMIN", "delete pr " + s.id + " --wait=true --timeout=60s").status, 0);
    // Argo CD's own behaviour returns: the refresh rewrites every Application to the template.
    BOOST_TEST(eventually(
        [&] {
            s.argo_round();
            auto apps = s.argo.applications();
            return std::all_of(apps.begin(), apps.end(),
                               [](const sim::application_view& a) { return !a.held && a.target_revision == "v2"; });
        },
        60s, 300ms));
}

BOOST_AUTO_TEST_SUITE_END()
