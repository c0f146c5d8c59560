#define BOOST_TEST_MODULE decide_scope
#include <boost/test/unit_test.hpp>

// core::decide with spec.scope.paths (docs/admission.md rule 3): a template write whose change
// touches none of the rollout's paths passes at once; one that touches any is held whole; no
// scope stages every change. The facts are written out by hand, as in decide_test.cpp, and once
// through the codec from real AdmissionReviews.

#include "codec/admission_review.hpp"
#include "codec/canonical_json.hpp"
#include "codec/json_reader.hpp"
#include "codec/kube_objects.hpp"
#include "core/admission.hpp"
#include "core/fleet_state.hpp"
#include "patch_oracle.hpp"
#include "review_fixtures.hpp"

#include <algorithm>

using namespace apr;
using namespace apr::core;

namespace {

const std::string appset_user = "system:serviceaccount:argocd:argocd-applicationset-controller";
const std::string human = "alice";

std::string source_json(const std::string& revision, const std::string& replicas) {
    return R"({"helm":{"valuesObject":{"replicas":)" + replicas +
           R"(}},"repoURL":"https://git.example.com/app.git","targetRevision":")" + revision + "\"}";
}

value_path place(const std::string& text) {
    std::string problem;
    return parse_scope_path(text, problem).value();
}

rollout rollout_of(const std::string& name, const std::string& application_set,
                   std::optional<std::vector<std::string>> scope) {
    rollout r;
    r.namespace_ = "argocd";
    r.name = name;
    r.spec.source = {"argoproj.io", "ApplicationSet", application_set};
    if (scope) r.spec.scope = scope_spec{*scope};
    r.status.phase = rollout_phase::progressing;
    r.status.current_stage = "canary";
    stage_status canary{"canary", stage_phase::progressing};
    canary.clusters.push_back({"c1", cluster_phase::pending});
    r.status.stages = {canary};
    return r;
}

// "scoped" stages only source.targetRevision; "unscoped" everything; "broken" names a path that
// does not parse (it never passed validation): every path then.
admission_snapshot fleet() {
    return build_fleet_state({rollout_of("scoped-rollout", "scoped", std::vector<std::string>{"source.targetRevision"}),
                              rollout_of("unscoped-rollout", "unscoped", std::nullopt),
                              rollout_of("broken-rollout", "broken", std::vector<std::string>{"destination.server"})},
                             {{"c1", "https://c1.example.com", {}}})
        .admission;
}
const admission_snapshot state = fleet();
const admission_identities ids = [] {
    admission_identities i;
    i.self = "system:serviceaccount:argocd:argocd-progressive-rollout";
    return i;
}();

// The ApplicationSet controller's UPDATE of an Application of `set` on c1 from (v1, 1 replica) to
// (revision, replicas), with the places that changed as the codec lists them.
application_facts template_write(const std::string& set, const std::string& revision, const std::string& replicas,
                                 const std::string& user = appset_user) {
    application_facts f;
    f.operation = operation_kind::update;
    f.username = user;
    f.namespace_ = "argocd";
    f.name = "app-c1";
    f.application_sets = {set};
    f.destination_server = f.old_destination_server = "https://c1.example.com";
    f.old_desired = {source_json("v1", "1"), std::nullopt, std::nullopt, std::nullopt};
    f.new_desired = {source_json(revision, replicas), std::nullopt, std::nullopt, std::nullopt};
    f.old_revisions = {"v1", {}};
    f.new_revisions = {revision, {}};
    f.new_pending = {"{\"source\":" + source_json(revision, replicas) + "}", "hash-" + revision + "-" + replicas};
    f.new_has_annotations = true;
    desired_changes changes;
    if (revision != "v1") changes.places.push_back(place("source.targetRevision"));
    if (replicas != "1") changes.places.push_back(place("source.helm.valuesObject.replicas"));
    f.changes = changes;
    return f;
}

bool has_path(const admission_verdict& v, const std::string& path) {
    return std::any_of(v.patch.begin(), v.patch.end(), [&](const patch_operation& p) { return p.path == path; });
}

const std::string pending_spec_path = "/metadata/annotations/deployment.skyscanner.net~1pending-spec";
const std::string pending_hash_path = "/metadata/annotations/deployment.skyscanner.net~1pending-hash";

}  // namespace

BOOST_AUTO_TEST_SUITE(change_scope)

BOOST_AUTO_TEST_CASE(a_change_outside_the_scope_passes_at_once_with_no_hold) {
    const auto v = decide(template_write("scoped", "v1", "3"), state, ids);
    BOOST_TEST((v.kind == verdict_kind::allow));
    BOOST_TEST(v.reason == "out-of-scope");
    BOOST_TEST(v.patch.empty());
}

BOOST_AUTO_TEST_CASE(a_change_inside_the_scope_is_held) {
    const auto v = decide(template_write("scoped", "v2", "1"), state, ids);
    BOOST_TEST((v.kind == verdict_kind::hold));
    BOOST_TEST(has_path(v, "/spec/source"));
    BOOST_TEST(has_path(v, pending_hash_path));
}

BOOST_AUTO_TEST_CASE(a_change_touching_the_scope_and_more_is_held_whole) {
    const auto f = template_write("scoped", "v2", "3");
    const auto v = decide(f, state, ids);
    BOOST_TEST((v.kind == verdict_kind::hold));
    // The whole old source comes back (replicas included), and the whole new state is recorded.
    auto restore =
        std::find_if(v.patch.begin(), v.patch.end(), [](const patch_operation& p) { return p.path == "/spec/source"; });
    BOOST_REQUIRE(restore != v.patch.end());
    BOOST_TEST(restore->value_json.value() == source_json("v1", "1"));
    auto record = std::find_if(v.patch.begin(), v.patch.end(),
                               [](const patch_operation& p) { return p.path == pending_spec_path; });
    BOOST_REQUIRE(record != v.patch.end());
    BOOST_TEST(record->value_json.value().find("replicas") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(without_a_scope_every_change_is_held) {
    BOOST_TEST((decide(template_write("unscoped", "v1", "3"), state, ids).kind == verdict_kind::hold));
    // A scope that does not parse (a rollout created before the validating webhook) counts as none.
    BOOST_TEST((decide(template_write("broken", "v1", "3"), state, ids).kind == verdict_kind::hold));
}

BOOST_AUTO_TEST_CASE(every_rollout_owning_the_application_must_leave_the_change_out) {
    auto f = template_write("scoped", "v1", "3");
    f.application_sets = {"scoped", "unscoped"};
    BOOST_TEST((decide(f, state, ids).kind == verdict_kind::hold));
}

BOOST_AUTO_TEST_CASE(a_change_whose_places_were_not_listed_is_held) {
    auto f = template_write("scoped", "v1", "3");
    f.changes.reset();
    BOOST_TEST((decide(f, state, ids).kind == verdict_kind::hold));
    f.changes = desired_changes{{}, false};  // cut short: too large to list
    BOOST_TEST((decide(f, state, ids).kind == verdict_kind::hold));
}

BOOST_AUTO_TEST_CASE(passing_a_template_that_dropped_a_held_change_cancels_the_record) {
    // v2 is held; the template goes back to v1 and changes replicas: nothing scoped changes
    // against what runs, so the write passes and the record of v2 goes.
    auto f = template_write("scoped", "v1", "3");
    f.old_pending_hash = "hash-v2-1";
    f.old_protected = {{std::string(pending_spec_annotation), "{\"source\":" + source_json("v2", "1") + "}"},
                       {std::string(pending_hash_annotation), "hash-v2-1"}};
    f.new_protected = f.old_protected;
    const auto v = decide(f, state, ids);
    BOOST_TEST((v.kind == verdict_kind::allow));
    BOOST_TEST(v.reason == "cancelled");
    BOOST_TEST(has_path(v, pending_spec_path));
    BOOST_TEST(has_path(v, pending_hash_path));
    BOOST_TEST(!has_path(v, "/spec/source"));
}

BOOST_AUTO_TEST_CASE(a_created_application_waits_for_its_turn_whatever_changes) {
    // Its own state was never admitted (the hold of its CREATE turned auto-sync off): a template
    // write outside the scope must not bring auto-sync back.
    auto f = template_write("scoped", "v1", "3");
    f.old_protected = {{std::string(created_held_annotation), "hash-v1-1"}};
    f.new_protected = f.old_protected;
    f.new_desired[3] = R"({"automated":{}})";
    f.changes->places.push_back(place("syncPolicy.automated"));
    BOOST_TEST((decide(f, state, ids).kind == verdict_kind::hold));
}

BOOST_AUTO_TEST_CASE(an_operation_that_would_deploy_another_state_is_removed) {
    auto f = template_write("scoped", "v1", "3");
    f.operation_sync = sync_operation{"v2"};
    f.operation_changed = true;
    const auto v = decide(f, state, ids);
    BOOST_TEST((v.kind == verdict_kind::allow));
    BOOST_TEST(has_path(v, "/operation"));
}

BOOST_AUTO_TEST_CASE(the_scope_is_the_application_set_controllers_only) {
    // Everyone else still changes no desired state of a managed Application, in scope or not.
    const auto v = decide(template_write("scoped", "v1", "3", human), state, ids);
    BOOST_TEST((v.kind == verdict_kind::deny));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(change_scope_through_the_codec)

// The ApplicationSet controller's write from `before` to `after` against the guestbook fleet whose
// rollout stages only targetRevision; the object as the API server stores it afterwards.
std::pair<codec::review_answer, std::string> template_review(const test::app_spec& before,
                                                             const test::app_spec& after) {
    test::review_spec r;
    r.object = test::application_json(after);
    r.old_object = test::application_json(before);
    const auto answer = codec::review_application("application/json", test::review_json(r),
                                                  test::guestbook_fleet(scope_spec{{"source.targetRevision"}}),
                                                  test::test_identities());
    rapidjson::Document doc;
    doc.Parse(answer.body.c_str());
    std::string stored = r.object;
    if (const auto* patch = codec::find_path(doc["response"], {"patch"}))
        stored = test::apply_json_patch(r.object, codec::base64_decode(patch->GetString()).value_or(""));
    return {answer, stored};
}

std::string desired_of(const std::string& object) {
    rapidjson::Document doc;
    doc.Parse(object.c_str());
    return codec::desired_state_canonical(doc["spec"]);
}

BOOST_AUTO_TEST_CASE(a_sync_policy_change_passes_and_a_revision_change_is_held) {
    test::app_spec before, after;
    after.automated = false;
    auto [passed, stored] = template_review(before, after);
    BOOST_TEST(passed.outcome == "allowed");
    BOOST_TEST(passed.detail == "out-of-scope");
    BOOST_TEST(desired_of(stored) == desired_of(test::application_json(after)));

    after.revision = "v2";
    auto [held, kept] = template_review(before, after);
    BOOST_TEST(held.outcome == "held");
    BOOST_TEST(desired_of(kept) == desired_of(test::application_json(before)));  // held whole: auto-sync too
}

BOOST_AUTO_TEST_SUITE_END()
