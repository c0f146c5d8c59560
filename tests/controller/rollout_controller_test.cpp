// The rollout controller against a fixed fleet, a recording API and a fixed clock: the order
// of its writes (docs/controller.md, "Restart safety"), what a 409 or 403 does, and how a
// deleted rollout lets go of its Applications.

#include "controller_fakes.hpp"

#include "codec/canonical_json.hpp"
#include "codec/kube_objects.hpp"
#include "codec/rollout_codec.hpp"

#include <boost/test/unit_test.hpp>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <deque>
#include <functional>

namespace apr::controller {

using namespace std::chrono_literals;
using namespace test;

BOOST_FIXTURE_TEST_SUITE(rollout_controller_writes, fixture)

BOOST_AUTO_TEST_CASE(the_finalizer_is_added_before_anything_else) {
    fleet.rollout_list = {rollout("7", "[]")};
    controller.reconcile_all();
    BOOST_REQUIRE_EQUAL(api.calls.size(), 1u);
    BOOST_TEST(api.calls[0].verb == "json_patch");
    BOOST_TEST(api.calls[0].path == rollout_path);
    BOOST_TEST(api.calls[0].body ==
               R"([{"op":"add","path":"/metadata/finalizers","value":["deployment.skyscanner.net/finalizer"]}])");
}

BOOST_AUTO_TEST_CASE(the_finalizer_is_appended_to_other_finalizers) {
    fleet.rollout_list = {rollout("7", R"(["example.com/other"])")};
    controller.reconcile_all();
    BOOST_REQUIRE_EQUAL(api.calls.size(), 1u);
    BOOST_TEST(api.calls[0].body ==
               R"([{"op":"add","path":"/metadata/finalizers/-","value":"deployment.skyscanner.net/finalizer"}])");
}

BOOST_AUTO_TEST_CASE(status_is_written_before_any_application_is_patched) {
    fleet.rollout_list = {rollout("7", finalizers_with_ours)};
    controller.reconcile_all();
    const auto status = api.index_of("put", std::string(rollout_path) + "/status");
    const auto admit = api.index_of("json_patch", apps_path);
    BOOST_REQUIRE_GE(status, 0);
    BOOST_REQUIRE_GE(admit, 0);
    BOOST_TEST(status < admit);
    // The status PUT carries the resourceVersion it was computed from, and admits one cluster
    // (maxUnavailable 1).
    BOOST_TEST(api.calls[status].body.find(R"("resourceVersion":"7")") != std::string::npos);
    BOOST_TEST(api.calls[status].body.find("Updating") != std::string::npos);
    BOOST_REQUIRE_EQUAL(api.writes_to("json_patch").size(), 1u);
    BOOST_TEST(api.calls[admit].body.find(R"("op":"test")") != std::string::npos);
    BOOST_TEST(controller.admissions() == 1u);
    // Events come last.
    for (std::size_t i = 0; i < api.calls.size(); ++i)
        if (api.calls[i].verb == "event") BOOST_TEST(static_cast<long>(i) > admit);
}

BOOST_AUTO_TEST_CASE(a_status_conflict_patches_nothing_and_is_recomputed_next_time) {
    fleet.rollout_list = {rollout("7", finalizers_with_ours)};
    api.answer = [](const api_call& c) -> kube::api_result<void> {
        if (c.verb == "put") return kube::api_error{409, "Conflict", "the object has been modified", {}};
        return {};
    };
    const auto next = controller.reconcile_all();
    BOOST_TEST(next <= 500ms);
    BOOST_TEST(api.writes_to("put").size() == 1u);
    BOOST_TEST(api.writes_to("json_patch").empty());
    BOOST_TEST(controller.admissions() == 0u);

    // The watch brings the newer object; this time the write goes through.
    api.calls.clear();
    api.answer = nullptr;
    fleet.rollout_list = {rollout("8", finalizers_with_ours)};
    controller.reconcile_all();
    const auto status = api.index_of("put", std::string(rollout_path) + "/status");
    BOOST_REQUIRE_GE(status, 0);
    BOOST_TEST(api.calls[status].body.find(R"("resourceVersion":"8")") != std::string::npos);
    BOOST_TEST(api.index_of("json_patch", apps_path) > status);
    BOOST_TEST(controller.admissions() == 1u);
}

// The controller stamps each held change with when it first saw it: a cluster with nothing
// pending waits until no new hold has arrived for the settle time (5 s), then is skipped.
BOOST_AUTO_TEST_CASE(a_cluster_with_nothing_pending_is_skipped_only_after_the_holds_settled) {
    auto idle = std::make_shared<codec::application_record>(*held_application("c2"));
    idle->pending_spec.clear();
    idle->observation.pending_hash.clear();
    fleet.applications = {held_application("c1"), idle};
    fleet.rollout_list = {rollout("7", finalizers_with_ours)};
    controller.reconcile_all();
    auto puts = api.writes_to("put");
    BOOST_REQUIRE_EQUAL(puts.size(), 1u);
    BOOST_TEST(puts[0].body.find("changes to settle") != std::string::npos, puts[0].body);
    BOOST_TEST(puts[0].body.find("nothing to roll out") == std::string::npos, puts[0].body);

    // c1's hold is still the one first seen 6 s ago: nothing new arrived, c2 is skipped.
    api.calls.clear();
    clock_now += 6s;
    controller.reconcile_all();
    puts = api.writes_to("put");
    BOOST_REQUIRE_EQUAL(puts.size(), 1u);
    BOOST_TEST(puts[0].body.find("nothing to roll out") != std::string::npos, puts[0].body);
}

BOOST_AUTO_TEST_CASE(a_forbidden_admission_is_retried_with_growing_waits) {
    fleet.rollout_list = {rollout("7", finalizers_with_ours)};
    int refusals = 2;
    api.answer = [&](const api_call& c) -> kube::api_result<void> {
        if (c.verb == "json_patch" && c.path.starts_with(apps_path) && refusals-- > 0)
            return kube::api_error{403, "Forbidden", "the cache has not seen the status yet", {}};
        return {};
    };
    controller.reconcile_all();
    BOOST_TEST(api.writes_to("json_patch").size() == 3u);
    BOOST_TEST((sleeps == std::vector<std::chrono::milliseconds>{100ms, 200ms}));
    BOOST_TEST(controller.admissions() == 1u);
}

BOOST_AUTO_TEST_CASE(a_forbidden_admission_gives_up_after_five_waits) {
    fleet.rollout_list = {rollout("7", finalizers_with_ours)};
    api.answer = [&](const api_call& c) -> kube::api_result<void> {
        if (c.verb == "json_patch") return kube::api_error{403, "Forbidden", "denied", {}};
        return {};
    };
    controller.reconcile_all();
    BOOST_TEST(api.writes_to("json_patch").size() == 6u);
    BOOST_TEST((sleeps == std::vector<std::chrono::milliseconds>{100ms, 200ms, 400ms, 800ms, 1600ms}));
    BOOST_TEST(controller.admissions() == 0u);
}

BOOST_AUTO_TEST_CASE(a_deleted_rollout_releases_its_applications_then_drops_its_finalizer) {
    fleet.rollout_list = {rollout("9", R"(["example.com/other","deployment.skyscanner.net/finalizer"])", true)};
    controller.reconcile_all();
    const auto release_c1 = api.index_of("json_patch", std::string(apps_path) + "web-c1");
    const auto release_c2 = api.index_of("json_patch", std::string(apps_path) + "web-c2");
    const auto refresh = api.index_of("merge_patch", appset_path);
    const auto finalizer = api.index_of("merge_patch", rollout_path);
    BOOST_REQUIRE_GE(release_c1, 0);
    BOOST_REQUIRE_GE(release_c2, 0);
    BOOST_REQUIRE_GE(refresh, 0);
    BOOST_REQUIRE_GE(finalizer, 0);
    BOOST_TEST(api.writes_to("put").empty());
    // Only the pending annotations go, and only if the Application still holds its hash.
    BOOST_TEST(api.calls[release_c1].body.find(R"("op":"test")") != std::string::npos);
    BOOST_TEST(api.calls[release_c1].body.find("pending-spec") != std::string::npos);
    BOOST_TEST(api.calls[release_c1].body.find("targetRevision") == std::string::npos);
    BOOST_TEST(api.calls[refresh].body ==
               R"({"metadata":{"annotations":{"argocd.argoproj.io/application-set-refresh":"true"}}})");
    BOOST_TEST(api.calls[finalizer].body ==
               R"({"metadata":{"finalizers":["example.com/other"],"resourceVersion":"9"}})");
    BOOST_TEST(std::max(release_c1, release_c2) < refresh);
    BOOST_TEST(refresh < finalizer);
    BOOST_TEST(api.calls.back().verb == "event");
    BOOST_TEST(api.calls.back().path == "Released");
}

BOOST_AUTO_TEST_CASE(a_failed_release_keeps_the_finalizer) {
    fleet.rollout_list = {rollout("9", finalizers_with_ours, true)};
    api.answer = [](const api_call& c) -> kube::api_result<void> {
        if (c.verb == "json_patch") return kube::api_error{500, "InternalError", "etcd", {}};
        return {};
    };
    controller.reconcile_all();
    BOOST_TEST(api.writes_to("json_patch").size() == 1u);
    BOOST_TEST(api.writes_to("merge_patch").empty());
}

BOOST_AUTO_TEST_CASE(an_application_already_changed_or_gone_does_not_block_the_release) {
    fleet.rollout_list = {rollout("9", finalizers_with_ours, true)};
    api.answer = [](const api_call& c) -> kube::api_result<void> {
        if (c.path.ends_with("web-c1")) return kube::api_error{422, "Invalid", "test failed", {}};
        if (c.path.ends_with("web-c2")) return kube::api_error{404, "NotFound", "gone", {}};
        return {};
    };
    controller.reconcile_all();
    BOOST_TEST(api.index_of("merge_patch", rollout_path) >= 0);
    BOOST_TEST(api.calls[api.index_of("merge_patch", rollout_path)].body ==
               R"({"metadata":{"finalizers":[],"resourceVersion":"9"}})");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(operator_requests, fixture)

const std::string hold_c2 =
    R"({"verb":"hold","id":"q1","cluster":"c2","reason":"INC-9","user":"alice","groups":["oncall"],"at":"2027-01-15T08:00:00Z"})";

BOOST_AUTO_TEST_CASE(a_request_is_recorded_in_status_before_its_annotation_is_removed) {
    // The first reconcile plans the stages; the request comes with the next version.
    fleet.rollout_list = {rollout("7", finalizers_with_ours)};
    controller.reconcile_all();
    BOOST_REQUIRE(!api.writes_to("put").empty());
    rapidjson::Document written;
    const auto put = api.writes_to("put").back().body;
    written.Parse(put.c_str());
    api.calls.clear();
    auto next = std::make_shared<cached_rollout>(*rollout("8", finalizers_with_ours, false, hold_c2));
    next->rollout.status = codec::decode_status(written["status"]);
    next->rollout.status.observed_generation = 1;
    fleet.rollout_list = {next};
    controller.reconcile_all();

    const auto status = api.index_of("put", std::string(rollout_path) + "/status");
    const auto removal = api.index_of("json_patch", rollout_path);
    BOOST_REQUIRE_GE(status, 0);
    BOOST_REQUIRE_GE(removal, 0);
    BOOST_TEST(status < removal);
    const auto& body = api.calls[status].body;
    BOOST_TEST(body.find(R"("holds":[{"cluster":"c2","reason":"INC-9","by":"alice","at":"2027-01-15T08:00:00Z"}])") !=
                   std::string::npos,
               body);
    BOOST_TEST(body.find(R"("requests":[{"id":"q1","verb":"hold","user":"alice")") != std::string::npos, body);
    // Only the request carried out is removed: a newer one fails the test and stays.
    BOOST_TEST(api.calls[removal].body.find(
                   R"({"op":"test","path":"/metadata/annotations/deployment.skyscanner.net~1request")") !=
               std::string::npos);
    BOOST_TEST(api.calls[removal].body.find(R"({"op":"remove")") != std::string::npos);
    bool held_event = false;
    for (std::size_t i = 0; i < api.calls.size(); ++i)
        if (api.calls[i].verb == "event" && api.calls[i].path == "ClusterHeld") {
            held_event = true;
            BOOST_TEST(api.calls[i].body == "cluster c2 held by alice: INC-9");
            BOOST_TEST(static_cast<long>(i) > removal);
        }
    BOOST_TEST(held_event);
}

BOOST_AUTO_TEST_CASE(a_request_already_recorded_is_only_removed) {
    auto r = std::make_shared<cached_rollout>(*rollout("8", finalizers_with_ours, false, hold_c2));
    r->rollout.status.requests.push_back({"q1", "hold", "alice", {}, "", "c2", "INC-9", "cluster c2 held", false});
    fleet.rollout_list = {r};
    controller.reconcile_all();
    BOOST_TEST(api.index_of("json_patch", rollout_path) >= 0);
    for (const auto& c : api.calls) BOOST_TEST(!(c.verb == "event" && c.path == "ClusterHeld"));
}

BOOST_AUTO_TEST_CASE(an_unstamped_request_is_refused_and_removed) {
    fleet.rollout_list = {rollout("8", finalizers_with_ours, false, R"({"verb":"abort","id":"q2"})")};
    controller.reconcile_all();
    BOOST_TEST(api.index_of("json_patch", rollout_path) >= 0);
    bool refused = false;
    for (const auto& c : api.calls) refused = refused || (c.verb == "event" && c.path == "RequestRefused");
    BOOST_TEST(refused);
    for (const auto& c : api.writes_to("put")) BOOST_TEST(c.body.find("Aborted") == std::string::npos);
}

// A promote reaches the gates: the step that carries it out passes the approval it waits for.
BOOST_AUTO_TEST_CASE(a_promote_request_approves_the_gate_the_stage_waits_for) {
    auto with_gate = [](std::shared_ptr<const cached_rollout> base) {
        auto r = std::make_shared<cached_rollout>(*base);
        core::gate_spec approval;
        approval.name = "change-board";
        approval.when = core::gate_timing::before;
        approval.approval = core::approval_check{{"oncall"}};
        r->rollout.spec.stages[0].gates = {approval};
        return r;
    };
    fleet.rollout_list = {with_gate(rollout("7", finalizers_with_ours))};
    controller.reconcile_all();
    BOOST_REQUIRE(!api.writes_to("put").empty());
    rapidjson::Document written;
    const auto put = api.writes_to("put").back().body;
    written.Parse(put.c_str());
    BOOST_TEST(put.find("waiting for approval by oncall") != std::string::npos, put);
    BOOST_TEST(api.writes_to("json_patch").empty());  // nothing admitted before the approval
    api.calls.clear();

    auto next = with_gate(
        rollout("8", finalizers_with_ours, false,
                R"({"verb":"promote","id":"q3","user":"alice","groups":["oncall"],"at":"2027-01-15T08:00:00Z"})"));
    next->rollout.status = codec::decode_status(written["status"]);
    fleet.rollout_list = {next};
    controller.reconcile_all();
    const auto status = api.index_of("put", std::string(rollout_path) + "/status");
    BOOST_REQUIRE_GE(status, 0);
    const auto& body = api.calls[status].body;
    BOOST_TEST(body.find(R"("decidedBy":"alice","decidedAt":"2027-01-15T08:00:00Z")") != std::string::npos, body);
    BOOST_TEST(body.find("stage all: gate change-board approved") != std::string::npos, body);
    // The stage started in the same step: its first cluster is admitted after the status write.
    BOOST_TEST(api.index_of("json_patch", apps_path) > status);
    bool approved = false;
    for (const auto& c : api.calls) approved = approved || (c.verb == "event" && c.path == "GateApproved");
    BOOST_TEST(approved);
}

// An Application of web-set on `cluster` that runs the admitted change (no hold) and records the
// state it replaced, as the controller's admission leaves it.
std::shared_ptr<const codec::application_record> admitted_application(const std::string& cluster) {
    auto a = std::make_shared<codec::application_record>(*held_application(cluster));
    const auto hash = a->observation.pending_hash;
    a->live_desired = a->pending_spec;
    a->pending_spec.clear();
    a->observation.pending_hash.clear();
    a->observation.compared_to_current = true;
    a->previous_spec = R"({"source":{"repoURL":"https://git.example.com/web","targetRevision":"v1"}})";
    a->observation.previous_for = hash;
    return a;
}

// Rollback is restart-safe as admission is (docs/controller.md, "Rollback"): status says
// RolledBack before any Application is patched, and a restore that did not land (a crash, an
// error) is patched again on the next reconcile from the same status.
BOOST_AUTO_TEST_CASE(a_rollback_writes_status_before_restoring_and_restores_again_until_it_lands) {
    fleet.applications = {admitted_application("c1"), admitted_application("c2")};
    const auto hash = fleet.applications[0]->observation.previous_for;
    auto r = std::make_shared<cached_rollout>(*rollout(
        "8", finalizers_with_ours, false,
        R"({"verb":"abort","id":"q4","rollback":true,"reason":"errors","user":"alice","groups":["oncall"],"at":"2027-01-15T08:00:00Z"})"));
    r->rollout.status.observed_generation = 1;
    r->rollout.status.pass = 1;
    r->rollout.status.phase = core::rollout_phase::completed;
    core::stage_status all{"all", core::stage_phase::completed};
    all.clusters = {{"c1", core::cluster_phase::done, hash}, {"c2", core::cluster_phase::done, hash}};
    r->rollout.status.stages = {all};
    fleet.rollout_list = {r};
    // The restore of c2 fails (the controller stops before it lands, say).
    api.answer = [](const api_call& c) -> kube::api_result<void> {
        if (c.verb == "json_patch" && c.path.ends_with("web-c2"))
            return kube::api_error{500, "InternalError", "etcd timeout", {}};
        return {};
    };
    controller.reconcile_all();
    const auto status = api.index_of("put", std::string(rollout_path) + "/status");
    const auto restore = api.index_of("json_patch", std::string(apps_path) + "web-c1");
    BOOST_REQUIRE_GE(status, 0);
    BOOST_REQUIRE_GE(restore, 0);
    BOOST_TEST(status < restore);
    const auto& put = api.calls[status].body;
    BOOST_TEST(put.find(R"("phase":"RolledBack")") != std::string::npos, put);
    const auto& patch = api.calls[restore].body;
    const std::string test_op =
        R"({"op":"test","path":"/metadata/annotations/deployment.skyscanner.net~1previous-for","value":")" + hash +
        R"("})";
    BOOST_TEST(patch.find(test_op) != std::string::npos, patch);
    BOOST_TEST(patch.find(R"("targetRevision":"v1")") != std::string::npos, patch);

    // The next reconcile starts from the status written: c1's restore landed (its record is
    // gone), c2's did not and is patched again; nothing is admitted.
    rapidjson::Document written;
    written.Parse(put.c_str());
    auto next = std::make_shared<cached_rollout>(*rollout("9", finalizers_with_ours));
    next->rollout.status = codec::decode_status(written["status"]);
    fleet.rollout_list = {next};
    auto c1 = std::make_shared<codec::application_record>(*fleet.applications[0]);
    c1->observation.previous_for.clear();
    c1->previous_spec.clear();
    fleet.applications[0] = c1;
    api.calls.clear();
    api.answer = nullptr;
    controller.reconcile_all();
    const auto patches = api.writes_to("json_patch");
    BOOST_REQUIRE_EQUAL(patches.size(), 1u);
    BOOST_TEST(patches[0].path == std::string(apps_path) + "web-c2");
    BOOST_TEST(patches[0].body.find(R"("targetRevision":"v1")") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace apr::controller
