// spec.trackRevisions end to end (docs/controller.md, "Moving revisions"): the real kube-apiserver
// calling the real webhook over TLS, the fleet simulator playing Argo CD for a branch (it resolves
// `main` to a commit, marks Applications OutOfSync when the branch moves and performs the sync
// operations it finds). A new commit reaches the canary first, then each stage in order; a change
// outside spec.scope reaches every cluster at once while a targetRevision change is staged.
#define BOOST_TEST_MODULE revisions_e2e
#include <boost/test/unit_test.hpp>

#include "rollout_scenario.hpp"

#include <boost/algorithm/string/join.hpp>
#include <boost/algorithm/string/replace.hpp>

using namespace apr;
using namespace apr::e2e;
using core::cluster_phase;
using core::rollout_phase;
using names = std::vector<std::string>;

namespace {

// The seed's stages (canary: one cluster per EMEA region; then eu-west-1 and eu-central-1, one
// cluster at a time); us-east-1a-1 and ap-southeast-1a-1 are unstaged.
std::string seed_stages() {
    auto seed = read_source("manifests/samples/progressiverollout.yaml");
    auto stages = seed.substr(seed.find("  stages:\n") + 10);
    boost::replace_all(stages, "interval: 30m", "interval: 5s");
    return stages;
}

const std::string canary_stage = "canary in EMEA";

int stage_index(const core::rollout& r, const std::string& cluster) {
    for (std::size_t i = 0; i < r.status.stages.size(); ++i)
        for (const auto& c : r.status.stages[i].clusters)
            if (c.name == cluster) return static_cast<int>(i);
    return -1;
}

// Every Application runs the webhook's answer: auto-sync off (the sim would deploy a new commit
// everywhere otherwise) with the intended policy recorded.
bool auto_sync_off_everywhere(rollout_scenario& s) {
    const auto apps = s.argo.applications();
    return apps.size() == 8 && std::none_of(apps.begin(), apps.end(), [](const auto& a) { return a.auto_sync; });
}

// The EMEA fleet on `main` at `commit`, a rollout with trackRevisions (and `extra_spec`), and
// the webhook's answer on every Application: auto-sync off.
void start_tracking_main(rollout_scenario& s, const std::string& commit, const std::string& extra_spec) {
    s.start_webhook();
    s.argo.set_branch("main", commit);
    s.create_fleet(s.emea_fleet(), "main");
    s.apply_rollout(seed_stages(), "  trackRevisions: true\n" + extra_spec);
    BOOST_REQUIRE_MESSAGE(s.play_until(
                              [&](const core::rollout& r) {
                                  return r.status.observed_generation > 0 && auto_sync_off_everywhere(s);
                              },
                              60s),
                          "auto-sync stayed on:\n"
                              << s.webhook->log());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(moving_revisions_through_the_real_api_server)

BOOST_AUTO_TEST_CASE(a_new_commit_on_main_reaches_the_canary_first_then_each_stage_in_order) {
    rollout_scenario s("rev");
    start_tracking_main(s, "c0ffee0001", "");
    BOOST_TEST(s.rollout().status.pass == 0);  // nothing to roll out: every cluster runs what main resolves to

    s.argo.set_branch("main", "c0ffee0002");
    std::vector<core::rollout> seen;
    BOOST_REQUIRE_MESSAGE(s.play_until(
                              [](const core::rollout& r) {
                                  return phase_is(r, rollout_phase::completed) && r.status.pass == 1;
                              },
                              150s,
                              [&](const core::rollout& r) {
                                  seen.push_back(r);
                                  // No cluster ahead of its stage: while a stage runs, every later
                                  // stage's clusters are still waiting, and none runs the commit.
                                  const auto apps = s.argo.applications();
                                  int current = -1;
                                  for (std::size_t i = 0; i < r.status.stages.size(); ++i)
                                      if (r.status.stages[i].name == r.status.current_stage)
                                          current = static_cast<int>(i);
                                  if (current < 0) return;
                                  for (const auto& a : apps)
                                      if (stage_index(r, a.cluster) > current)
                                          BOOST_TEST(a.running_revision == "c0ffee0001", a.cluster << " ran ahead");
                              }),
                          "rollout did not complete:\n"
                              << s.webhook->log());

    const auto order = s.updated("c0ffee0002");
    BOOST_TEST_MESSAGE("update order: " << boost::algorithm::join(order, ", "));
    BOOST_REQUIRE_EQUAL(order.size(), 6u);
    BOOST_TEST((std::set<std::string>(order.begin(), order.begin() + 2) ==
                std::set<std::string>{"eu-central-1a-1", "eu-west-1a-1"}));
    BOOST_TEST((names(order.begin() + 2, order.end()) ==
                names{"eu-west-1b-1", "eu-west-1c-1", "eu-central-1b-1", "eu-central-1c-1"}),
               boost::test_tools::per_element());

    // Every deployment of the commit was a sync operation the rollout controller wrote for exactly
    // that commit, with the recorded options (the template's prune).
    std::size_t ours = 0;
    for (const auto& op : s.argo.operations())
        if (op.deployed == "c0ffee0002") {
            ++ours;
            BOOST_TEST(op.revision == "c0ffee0002");
            BOOST_TEST(op.prune);
            BOOST_TEST(!op.initiated_by.empty());
        }
    BOOST_TEST(ours == 6u);
    const auto r = s.rollout();
    for (const auto& stage : r.status.stages)
        for (const auto& c : stage.clusters) BOOST_TEST(c.hash == "rev:c0ffee0002", c.name);
    // Unstaged clusters still run the old commit, OutOfSync.
    for (const auto& a : s.argo.applications())
        if (a.cluster == s.cluster("us-east-1a-1") || a.cluster == s.cluster("ap-southeast-1a-1")) {
            BOOST_TEST(a.running_revision == "c0ffee0001");
            BOOST_TEST(a.sync == "OutOfSync");
        }
    // `status` and `plan --live` show the commit rolled out and which clusters run it.
    const auto kubeconfig = " -n argocd --kubeconfig " + env("KUBECONFIG_ADMIN");
    const auto status = run(std::string(APR_BINARY_PATH) + " status " + s.id + kubeconfig);
    BOOST_TEST(status.status == 0, status.out);
    BOOST_TEST(status.out.find("Revision:  c0ffee0002: runs on 6 cluster(s)") != std::string::npos, status.out);
    const auto plan = run(std::string(APR_BINARY_PATH) + " plan --live " + s.id + kubeconfig);
    BOOST_TEST(plan.status == 0, plan.out);
    BOOST_TEST(plan.out.find("c0ffee0002 (resolved on 8 cluster(s), rolling out): runs on " +
                             s.cluster("eu-central-1a-1")) != std::string::npos,
               plan.out);
    BOOST_TEST(plan.out.find("c0ffee0001: runs on " + s.cluster("ap-southeast-1a-1") + ", " +
                             s.cluster("us-east-1a-1")) != std::string::npos,
               plan.out);

    // The canary's stage was the only one running while its clusters updated.
    bool canary_seen = false;
    for (const auto& snapshot : seen)
        if (snapshot.status.current_stage == canary_stage) {
            canary_seen = true;
            for (const auto& stage : snapshot.status.stages)
                if (stage.name != canary_stage)
                    for (const auto& c : stage.clusters) BOOST_TEST((c.phase == cluster_phase::pending));
        }
    BOOST_TEST(canary_seen);
}

BOOST_AUTO_TEST_CASE(a_change_outside_the_scope_reaches_every_cluster_at_once_a_revision_change_is_staged) {
    rollout_scenario s("rev-scope");
    start_tracking_main(s, "5c0be00001", "  scope:\n    paths: [source.targetRevision]\n");

    // New Helm values touch no scoped path: no hold, no pass; with auto-sync off the controller
    // syncs them where auto-sync would have, on every cluster (unstaged ones too), at the commit
    // each runs.
    s.argo.set_template_helm_values("replicas: 3\n");
    BOOST_REQUIRE_MESSAGE(s.play_until_every_application(
                              8,
                              [](const sim::application_view& a) {
                                  return a.helm_values == "replicas: 3\n" && a.sync == "Synced" && !a.held &&
                                         a.running_revision == "5c0be00001";
                              },
                              60s),
                          "values did not reach every cluster:\n"
                              << s.webhook->log());
    BOOST_TEST(s.rollout().status.pass == 0);

    // A new targetRevision is in scope: held, then synced stage by stage; the others keep main.
    s.argo.set_template_revision("v2");
    BOOST_REQUIRE(s.play_until([&](const core::rollout&) { return s.updated("v2").size() >= 3; }, 120s));
    const auto order = s.updated("v2");
    BOOST_TEST((std::set<std::string>(order.begin(), order.begin() + 2) ==
                std::set<std::string>{"eu-central-1a-1", "eu-west-1a-1"}));
    for (const auto& app : s.argo.applications()) {
        BOOST_TEST(app.helm_values == "replicas: 3\n");
        BOOST_TEST(!app.auto_sync);
        if (app.cluster == s.cluster("eu-central-1c-1") || app.cluster == s.cluster("us-east-1a-1")) {
            BOOST_TEST(app.held);
            BOOST_TEST(app.target_revision == "main");
            BOOST_TEST(app.running_revision == "5c0be00001");
        }
    }
    BOOST_TEST(s.rollout().status.pass == 1);
}

BOOST_AUTO_TEST_SUITE_END()
