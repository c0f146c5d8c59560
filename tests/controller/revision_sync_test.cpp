// The controller's writes on a rollout with spec.trackRevisions (docs/controller.md, "Moving
// revisions"): a cluster admitted for a new commit gets a sync operation at that commit with the
// recorded sync options, after the status that admits it; a crash between the two is made good; a
// template change is synced by its admission patch; drift is healed at the running revision.

#include "controller_fakes.hpp"

namespace apr::controller {

using namespace std::chrono_literals;
using namespace test;

namespace {

constexpr std::string_view recorded_policy =
    R"({"automated":{"prune":true,"selfHeal":true},"retry":{"limit":2},"syncOptions":["CreateNamespace=true"]})";

std::shared_ptr<const cached_rollout> tracking(std::string_view resource_version, core::rollout_status status = {}) {
    auto r = std::make_shared<cached_rollout>(*rollout(resource_version, finalizers_with_ours));
    r->rollout.spec.track_revisions = true;
    r->rollout.status = std::move(status);
    return r;
}

// An Application of web-set on `cluster` whose branch moved: Argo CD resolved `resolved`, the
// cluster runs `running`, auto-sync is off and the webhook recorded the intended policy.
std::shared_ptr<codec::application_record> branch_application(const std::string& cluster, const std::string& resolved,
                                                              const std::string& running) {
    auto a = std::make_shared<codec::application_record>(*held_application(cluster));
    a->pending_spec.clear();
    a->observation.pending_hash.clear();
    a->sync_policy = std::string(recorded_policy);
    a->observation.self_heal = true;
    a->observation.resolved_revision = resolved;
    a->observation.running_revision = running;
    a->observation.sync_status = resolved == running ? "Synced" : "OutOfSync";
    a->observation.compared_to_current = true;
    return a;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(revision_syncs, fixture)

BOOST_AUTO_TEST_CASE(a_cluster_admitted_for_a_new_commit_gets_a_sync_at_that_commit_after_the_status) {
    fleet.applications = {branch_application("c1", "abc123", "fed999"), branch_application("c2", "abc123", "fed999")};
    fleet.rollout_list = {tracking("7")};
    controller.reconcile_all();
    const auto status = api.index_of("put", std::string(rollout_path) + "/status");
    const auto sync = api.index_of("merge_patch", apps_path);
    BOOST_REQUIRE_GE(status, 0);
    BOOST_REQUIRE_GE(sync, 0);
    BOOST_TEST(status < sync);
    BOOST_TEST(api.calls[status].body.find(R"("hash":"rev:abc123")") != std::string::npos, api.calls[status].body);
    // maxUnavailable 1: one cluster, and no desired-state patch at all.
    BOOST_REQUIRE_EQUAL(api.writes_to("merge_patch").size(), 1u);
    BOOST_TEST(api.writes_to("json_patch").empty());
    BOOST_TEST(api.calls[sync].path == std::string(apps_path) + "web-c1");
    BOOST_TEST(api.calls[sync].body ==
               R"({"operation":{"sync":{"revision":"abc123","prune":true,"syncOptions":["CreateNamespace=true"]},)"
               R"("retry":{"limit":2},"initiatedBy":{"username":"argocd-progressive-rollout"}}})");
    BOOST_TEST(controller.admissions() == 1u);
}

// Status says Updating at rev:R but the sync never reached the Application (a crash in between):
// after the grace period it is written again; while Argo CD runs it, nothing more.
BOOST_AUTO_TEST_CASE(a_sync_lost_between_the_status_and_the_patch_is_written_again) {
    core::rollout_status status;
    status.observed_generation = 1;
    status.phase = core::rollout_phase::progressing;
    status.pass = 1;
    core::stage_status all;
    all.name = "all";
    all.phase = core::stage_phase::progressing;
    all.started_at = clock_now - 1min;
    core::cluster_status c1{.name = "c1"};
    c1.phase = core::cluster_phase::updating;
    c1.hash = "rev:abc123";
    c1.admitted_at = clock_now - 10s;
    all.clusters = {c1, core::cluster_status{.name = "c2"}};
    status.stages = {all};
    fleet.applications = {branch_application("c1", "abc123", "fed999"), branch_application("c2", "abc123", "fed999")};
    fleet.rollout_list = {tracking("7", status)};

    controller.reconcile_all();  // 10 s after the admission: the patch may still be on its way
    BOOST_TEST(api.writes_to("merge_patch").empty());

    clock_now += 25s;
    controller.reconcile_all();
    const auto syncs = api.writes_to("merge_patch");
    BOOST_REQUIRE_EQUAL(syncs.size(), 1u);
    BOOST_TEST(syncs[0].path == std::string(apps_path) + "web-c1");
    BOOST_TEST(syncs[0].body.find(R"("revision":"abc123")") != std::string::npos);

    // Argo CD took it: an operation runs, so no change is pending and nothing is written again.
    api.calls.clear();
    auto running = branch_application("c1", "abc123", "fed999");
    running->observation.operation_in_progress = true;
    fleet.applications = {running, branch_application("c2", "abc123", "fed999")};
    clock_now += 60s;
    controller.reconcile_all();
    BOOST_TEST(api.writes_to("merge_patch").empty());
}

BOOST_AUTO_TEST_CASE(a_template_change_admitted_on_a_tracking_rollout_carries_its_sync) {
    auto held = std::make_shared<codec::application_record>(*held_application("c1"));
    held->sync_policy = std::string(recorded_policy);
    fleet.applications = {held};
    fleet.rollout_list = {tracking("7")};
    controller.reconcile_all();
    const auto patches = api.writes_to("json_patch");
    BOOST_REQUIRE_EQUAL(patches.size(), 1u);
    // The desired state and a sync of it (no revision: what the applied spec names) in one write.
    BOOST_TEST(patches[0].body.find(R"("op":"test")") != std::string::npos);
    BOOST_TEST(
        patches[0].body.find(R"({"op":"add","path":"/operation","value":{"sync":{"prune":true,)"
                             R"("syncOptions":["CreateNamespace=true"]},"retry":{"limit":2},)"
                             R"("initiatedBy":{"username":"argocd-progressive-rollout"}}})") != std::string::npos,
        patches[0].body);
    BOOST_TEST(api.writes_to("merge_patch").empty());
}

BOOST_AUTO_TEST_CASE(without_track_revisions_a_template_change_is_admitted_without_a_sync) {
    fleet.applications = {held_application("c1")};
    fleet.rollout_list = {rollout("7", finalizers_with_ours)};
    controller.reconcile_all();
    const auto patches = api.writes_to("json_patch");
    BOOST_REQUIRE_EQUAL(patches.size(), 1u);
    BOOST_TEST(patches[0].body.find("/operation") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(drift_at_the_running_revision_is_synced_there_when_self_heal_was_recorded) {
    auto drifted = branch_application("c2", "fed999", "fed999");
    drifted->observation.sync_status = "OutOfSync";
    fleet.applications = {branch_application("c1", "fed999", "fed999"), drifted};
    fleet.rollout_list = {tracking("7")};
    controller.reconcile_all();
    const auto syncs = api.writes_to("merge_patch");
    BOOST_REQUIRE_EQUAL(syncs.size(), 1u);
    BOOST_TEST(syncs[0].path == std::string(apps_path) + "web-c2");
    BOOST_TEST(syncs[0].body.find(R"("revision":"fed999")") != std::string::npos, syncs[0].body);
    BOOST_TEST(controller.admissions() == 0u);  // a heal admits nothing
    const auto events = api.writes_to("event");
    BOOST_TEST(std::any_of(events.begin(), events.end(), [](const api_call& e) { return e.path == "SelfHeal"; }));
}

// An Application created before the rollout tracked revisions still syncs by itself: a write that
// changes nothing lets the webhook turn that off; once the cache shows it off, nothing more.
BOOST_AUTO_TEST_CASE(an_application_still_syncing_by_itself_is_written_so_the_webhook_turns_that_off) {
    auto automated = branch_application("c1", "fed999", "fed999");
    automated->observation.automated_sync = true;
    fleet.applications = {automated, branch_application("c2", "fed999", "fed999")};
    fleet.rollout_list = {tracking("7")};
    controller.reconcile_all();
    auto touches = api.writes_to("json_patch");
    BOOST_REQUIRE_EQUAL(touches.size(), 1u);
    BOOST_TEST(touches[0].path == std::string(apps_path) + "web-c1");
    BOOST_TEST(touches[0].body == R"([{"op":"test","path":"/metadata/name","value":"web-c1"}])");
    // Not again at once (the watch brings the answer), but again later if it is still on.
    api.calls.clear();
    clock_now += 5s;
    controller.reconcile_all();
    BOOST_TEST(api.writes_to("json_patch").empty());
    clock_now += 30s;
    controller.reconcile_all();
    BOOST_TEST(api.writes_to("json_patch").size() == 1u);
    // Off: nothing.
    api.calls.clear();
    fleet.applications = {branch_application("c1", "fed999", "fed999"), branch_application("c2", "fed999", "fed999")};
    clock_now += 60s;
    controller.reconcile_all();
    BOOST_TEST(api.writes_to("json_patch").empty());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace apr::controller
