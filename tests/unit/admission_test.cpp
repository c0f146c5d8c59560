#define BOOST_TEST_MODULE admission
#include <boost/test/unit_test.hpp>

#include "codec/admission_review.hpp"
#include "codec/canonical_json.hpp"
#include "codec/json_reader.hpp"
#include "codec/kube_objects.hpp"
#include "codec/pending_record.hpp"
#include "core/json_string.hpp"
#include "patch_oracle.hpp"
#include "review_fixtures.hpp"

using namespace apr;
using namespace apr::test;

namespace {

const auto fleet = guestbook_fleet();
const auto ids = test_identities();

struct answer {
    codec::review_answer raw;
    rapidjson::Document doc;
    const rapidjson::Value& response() const { return doc["response"]; }
    bool allowed() const { return response()["allowed"].GetBool(); }
    std::string patch() const {
        auto encoded = codec::string_at(response(), {"patch"});
        BOOST_TEST(encoded.find('\n') == std::string::npos);
        return codec::base64_decode(encoded).value_or("");
    }
    std::string message() const { return codec::string_at(response(), {"status", "message"}); }
    int code() const {
        const auto* c = codec::find_path(response(), {"status", "code"});
        return c && c->IsInt() ? c->GetInt() : 0;
    }
    std::vector<std::string> warnings() const {
        std::vector<std::string> out;
        if (const auto* w = codec::find_path(response(), {"warnings"}))
            for (const auto& s : w->GetArray()) out.emplace_back(s.GetString());
        return out;
    }
};

answer ask_with(const std::string& body, const core::fleet_state& state,
                std::string_view content_type = "application/json") {
    answer a;
    a.raw = codec::review_application(content_type, body, state, ids);
    a.doc.Parse(a.raw.body.c_str());
    BOOST_REQUIRE(!a.doc.HasParseError());
    BOOST_REQUIRE(a.doc.HasMember("response"));
    return a;
}

answer ask(const std::string& body, std::string_view content_type = "application/json") {
    return ask_with(body, fleet, content_type);
}

// The fixture's fleet, with `cluster` Updating for the change `hash` in the current stage.
core::fleet_state admitting(const std::string& cluster, const std::string& hash) {
    core::rollout r;
    r.namespace_ = "argocd";
    r.name = "guestbook-rollout";
    r.spec.source = {"argoproj.io/v1alpha1", "ApplicationSet", "guestbook"};
    r.status.phase = core::rollout_phase::progressing;
    r.status.current_stage = "eu-west-1";
    core::stage_status west{"eu-west-1", core::stage_phase::progressing};
    west.clusters.push_back({cluster, core::cluster_phase::updating, hash});
    r.status.stages = {west};
    return core::build_fleet_state({r}, {{cluster, "https://" + cluster + ".example.com", {}}});
}

rapidjson::Document parse(const std::string& json) {
    rapidjson::Document d;
    d.Parse(json.c_str());
    BOOST_REQUIRE_MESSAGE(!d.HasParseError(), "not JSON: " << json.substr(0, 200));
    return d;
}

std::string update_by(const std::string& user, const app_spec& before, const app_spec& after,
                      std::vector<std::string> groups = {"system:authenticated"}, bool dry_run = false) {
    review_spec r;
    r.username = user;
    r.groups = std::move(groups);
    r.object = application_json(after);
    r.old_object = application_json(before);
    r.dry_run = dry_run;
    return review_json(r);
}

const std::string appset_user = "system:serviceaccount:argocd:argocd-applicationset-controller";

}  // namespace

BOOST_AUTO_TEST_SUITE(application_set_controller_writes)

BOOST_AUTO_TEST_CASE(a_new_revision_is_held_and_the_patch_restores_the_old_spec) {
    app_spec before, after;
    after.revision = "v2";
    auto a = ask(update_by(appset_user, before, after));
    BOOST_TEST(a.raw.http_status == 200u);
    BOOST_TEST(a.raw.outcome == "held");
    BOOST_TEST(codec::string_at(a.response(), {"uid"}) == "705ab4f5-6393-11e8-b7cc-42010a800002");
    BOOST_TEST(a.allowed());
    BOOST_TEST(codec::string_at(a.response(), {"patchType"}) == "JSONPatch");
    const auto patched = parse(apply_json_patch(application_json(after), a.patch()));
    const auto old_object = parse(application_json(before));
    BOOST_TEST((patched["spec"] == old_object["spec"]));  // nothing of the new desired state leaks through
    const auto& annotations = patched["metadata"]["annotations"];
    BOOST_TEST(codec::string_at(annotations, {"seen-by"}) == "wh");
    const auto pending = codec::string_at(annotations, {"deployment.skyscanner.net/pending-spec"});
    const auto new_spec = parse(application_json(after));
    BOOST_TEST(pending == codec::desired_state_canonical(new_spec["spec"]));
    BOOST_TEST(codec::string_at(annotations, {"deployment.skyscanner.net/pending-hash"}) ==
               codec::content_hash(pending));
    BOOST_REQUIRE_EQUAL(a.warnings().size(), 1u);
    BOOST_TEST(a.warnings()[0] ==
               "change held by ProgressiveRollout argocd/guestbook-rollout: cluster \"eu-west-1a-1\" is "
               "in stage \"eu-west-1\", current stage is \"canary in EMEA\"");
}

BOOST_AUTO_TEST_CASE(annotations_are_created_when_the_object_has_none) {
    app_spec before, after;
    before.annotations = after.annotations = false;
    after.revision = "v2";
    auto a = ask(update_by(appset_user, before, after));
    const auto patched = parse(apply_json_patch(application_json(after), a.patch()));
    BOOST_TEST(patched["metadata"]["annotations"].MemberCount() == 2u);
    BOOST_TEST(codec::string_at(patched, {"spec", "source", "targetRevision"}) == "v1");
}

BOOST_AUTO_TEST_CASE(annotation_keys_with_slash_and_tilde_are_escaped) {
    app_spec before, after;
    before.extra_annotations = after.extra_annotations = R"("example.com/a~b":"kept")";
    after.revision = "v2";
    auto a = ask(update_by(appset_user, before, after));
    BOOST_TEST(a.patch().find("/metadata/annotations/deployment.skyscanner.net~1pending-spec") != std::string::npos);
    const auto patched = parse(apply_json_patch(application_json(after), a.patch()));
    BOOST_TEST(codec::string_at(patched, {"metadata", "annotations", "example.com/a~b"}) == "kept");
    BOOST_TEST(patched["metadata"]["annotations"].HasMember("deployment.skyscanner.net/pending-hash"));
}

BOOST_AUTO_TEST_CASE(a_sync_policy_change_is_held_too) {
    app_spec before, after;
    before.automated = false;  // the template turns auto-sync on
    auto a = ask(update_by(appset_user, before, after));
    BOOST_TEST(a.raw.outcome == "held");
    const auto patched = parse(apply_json_patch(application_json(after), a.patch()));
    BOOST_TEST(!codec::find_path(patched, {"spec", "syncPolicy", "automated"}));
}

BOOST_AUTO_TEST_CASE(a_new_application_is_created_with_auto_sync_held) {
    review_spec r;
    r.operation = "CREATE";
    r.username = appset_user;
    app_spec created;
    created.annotations = false;
    r.object = application_json(created);
    auto a = ask(review_json(r));
    BOOST_TEST(a.allowed());
    BOOST_TEST(a.raw.outcome == "held");
    const auto patched = parse(apply_json_patch(r.object, a.patch()));
    BOOST_TEST(!codec::find_path(patched, {"spec", "syncPolicy", "automated"}));
    BOOST_TEST(codec::string_at(patched, {"spec", "source", "targetRevision"}) == "v1");
    const auto pending =
        codec::string_at(patched, {"metadata", "annotations", "deployment.skyscanner.net/pending-spec"});
    BOOST_TEST(pending.find("\"automated\":{\"prune\":true,\"selfHeal\":true}") != std::string::npos);
    const auto hash = codec::string_at(patched, {"metadata", "annotations", "deployment.skyscanner.net/pending-hash"});
    BOOST_TEST(codec::string_at(patched, {"metadata", "annotations", "deployment.skyscanner.net/created-held"}) ==
               hash);
    // The controller's admission restores auto-sync and removes every record of the hold.
    const auto record = codec::decode_application(patched);
    const auto admitted =
        parse(apply_json_patch(apply_json_patch(r.object, a.patch()), *codec::admit_patch(record, hash)));
    BOOST_TEST(codec::find_path(admitted, {"spec", "syncPolicy", "automated"}));
    BOOST_TEST(!codec::find_path(admitted, {"metadata", "annotations", "deployment.skyscanner.net/created-held"}));
}

BOOST_AUTO_TEST_CASE(only_the_application_set_controller_creates_managed_applications) {
    review_spec r;
    r.operation = "CREATE";
    r.username = "alice";
    app_spec created;
    created.revision = "v9";
    r.object = application_json(created);
    auto a = ask(review_json(r));
    BOOST_TEST(!a.allowed());
    BOOST_TEST(a.message().find("created only by the ApplicationSet controller") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_same_decision_for_a_large_application) {
    app_spec before, after;
    before.status_padding = after.status_padding = 20000;
    after.revision = "v2";
    const auto body = update_by(appset_user, before, after);
    BOOST_TEST(body.size() > 40000u);
    auto a = ask(body);
    BOOST_TEST(a.raw.outcome == "held");
    const auto patched = parse(apply_json_patch(application_json(after), a.patch()));
    BOOST_TEST(codec::string_at(patched, {"spec", "source", "targetRevision"}) == "v1");
}

BOOST_AUTO_TEST_CASE(status_and_managed_fields_do_not_change_the_decision) {
    // The parser skips these without reading them; whatever they hold, the answer is the one for
    // the same review without them.
    app_spec before, after;
    after.revision = "v2";
    const auto plain = ask(update_by(appset_user, before, after));
    std::string noisy = update_by(appset_user, before, after);
    const std::string managed =
        R"("managedFields":[{"manager":"argocd-applicationset-controller","operation":"Update","fieldsV1":{"f:spec":{"f:source":{"f:targetRevision":{}}},"f:metadata":{"f:annotations":{".":{},"f:deployment.skyscanner.net/pending-spec":{}}}}}],)";
    for (std::size_t at = noisy.find("\"metadata\":{"); at != std::string::npos;
         at = noisy.find("\"metadata\":{", at + 1))
        noisy.insert(at + 12, managed);
    for (std::size_t at = noisy.find("\"resources\":["); at != std::string::npos;
         at = noisy.find("\"resources\":[", at + 1))
        noisy.insert(at + 13, R"({"message":"a \"quoted\" ]} message\\","status":{"x":[[],{}]}},)");
    const auto held = ask(noisy);
    BOOST_TEST(held.raw.outcome == plain.raw.outcome);
    BOOST_TEST(held.patch() == plain.patch());
    BOOST_TEST(held.raw.outcome == "held");
}

BOOST_AUTO_TEST_CASE(a_truncated_or_unbalanced_status_is_still_bad_json) {
    app_spec before, after;
    const auto body = update_by(appset_user, before, after);
    const auto status = body.find("\"status\":{\"health\"");
    BOOST_REQUIRE(status != std::string::npos);
    for (const auto& broken :
         {body.substr(0, status + 40), body.substr(0, status + 9) + "[" + body.substr(status + 9)}) {
        auto raw = codec::review_application("application/json", broken, fleet, ids);
        BOOST_TEST(raw.http_status == 400u);
        BOOST_TEST(raw.body.find("request body is not valid JSON") != std::string::npos, raw.body);
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(other_writers)

BOOST_AUTO_TEST_CASE(unmanaged_applications_pass_untouched) {
    app_spec before, after;
    before.owned = after.owned = false;
    after.revision = "v2";
    auto a = ask(update_by("alice", before, after));
    BOOST_TEST(a.allowed());
    BOOST_TEST(!a.response().HasMember("patch"));
    BOOST_TEST(!a.response().HasMember("patchType"));
}

BOOST_AUTO_TEST_CASE(status_writes_by_argo_cd_are_allowed_without_a_patch) {
    app_spec before, after;
    after.health = "Degraded";
    auto a = ask(update_by("system:serviceaccount:argocd:argocd-application-controller", before, after));
    BOOST_TEST(a.allowed());
    BOOST_TEST(a.raw.outcome == "allowed");
    BOOST_TEST(!a.response().HasMember("patch"));
}

BOOST_AUTO_TEST_CASE(a_human_edit_of_a_held_application_is_denied_naming_rollout_and_stage) {
    app_spec before, after;
    after.revision = "v2";
    auto a = ask(update_by("alice", before, after, {"developers"}));
    BOOST_TEST(!a.allowed());
    BOOST_TEST(a.code() == 403);
    BOOST_TEST(a.message().find("ProgressiveRollout argocd/guestbook-rollout: cluster \"eu-west-1a-1\" is in stage "
                                "\"eu-west-1\", current stage is \"canary in EMEA\"") != std::string::npos);
    BOOST_TEST(a.message().find("deployment.skyscanner.net/bypass=<reason>") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(bypass_needs_the_annotation_and_an_allowed_group) {
    app_spec before, after;
    after.revision = "v2";
    after.extra_annotations = R"("deployment.skyscanner.net/bypass":"hotfix INC-42")";
    auto not_allowed = ask(update_by("alice", before, after, {"developers"}));
    BOOST_TEST(!not_allowed.allowed());
    auto bypass = ask(update_by("ops", before, after, {"rollout-admins"}));
    BOOST_TEST(bypass.allowed());
    BOOST_TEST(!bypass.response().HasMember("patch"));
    BOOST_TEST(codec::string_at(bypass.response(), {"auditAnnotations", "bypass"}) == "ops: hotfix INC-42");
    BOOST_REQUIRE(bypass.raw.event.has_value());
    BOOST_TEST(bypass.raw.event->event.reason == "Bypassed");
    auto dry = ask(update_by("ops", before, after, {"rollout-admins"}, true));
    BOOST_TEST(dry.allowed());
    BOOST_TEST(!dry.raw.event.has_value());  // no side effect for a dry run
}

BOOST_AUTO_TEST_CASE(dry_run_gets_the_same_decision) {
    app_spec before, after;
    after.revision = "v2";
    auto wet = ask(update_by("alice", before, after));
    auto dry = ask(update_by("alice", before, after, {"system:authenticated"}, true));
    BOOST_TEST(dry.allowed() == wet.allowed());
    BOOST_TEST(dry.message() == wet.message());
    auto held = ask(update_by(appset_user, before, after, {}, true));
    BOOST_TEST(held.raw.outcome == "held");
}

BOOST_AUTO_TEST_CASE(the_rollout_controller_may_apply_only_the_held_change_once_status_admitted_it) {
    const std::string self = "system:serviceaccount:argocd:argocd-progressive-rollout";
    app_spec target;
    target.revision = "v2";
    const auto target_doc = parse(application_json(target));
    const auto hash = codec::content_hash(codec::desired_state_canonical(target_doc["spec"]));
    app_spec held;
    held.extra_annotations = R"("deployment.skyscanner.net/pending-hash":")" + hash + "\"";
    // eu-west-1a-1 is still Pending in the fixture: status has not admitted it.
    auto early = ask(update_by(self, held, target));
    BOOST_TEST(!early.allowed());
    BOOST_TEST(early.message().find("rollout controller may only apply a held change") != std::string::npos);

    const auto admitted = admitting("eu-west-1a-1", hash);
    auto applying = ask_with(update_by(self, held, target), admitted);
    BOOST_TEST(applying.allowed());
    app_spec other = target;
    other.revision = "v3";
    auto sneaky = ask_with(update_by(self, held, other), admitted);
    BOOST_TEST(!sneaky.allowed());
}

BOOST_AUTO_TEST_CASE(manual_sync_to_another_revision_before_the_clusters_turn_is_denied) {
    app_spec before, after;
    after.operation = R"({"sync":{"revision":"v2"},"initiatedBy":{"username":"alice"}})";
    auto human = ask(update_by("system:serviceaccount:argocd:argocd-server", before, after));
    BOOST_TEST(!human.allowed());
    auto auto_sync = ask(update_by("system:serviceaccount:argocd:argocd-application-controller", before, after));
    BOOST_TEST(auto_sync.allowed());
    app_spec same = before;
    same.operation = R"({"sync":{"revision":"v1"}})";
    BOOST_TEST(ask(update_by("system:serviceaccount:argocd:argocd-server", before, same)).allowed());
    // The UI's Sync button writes the commit Argo CD resolved the spec to (status.sync.revision).
    app_spec ui = before;
    ui.operation = R"({"sync":{"revision":"53e28ff20cc530b9ada2173fbbd64d48338583ba"}})";
    BOOST_TEST(ask(update_by("system:serviceaccount:argocd:argocd-server", before, ui)).allowed());
    // A cluster admitted for the change this Application holds may be synced to it by hand.
    app_spec v2;
    v2.revision = "v2";
    const auto v2_object = parse(application_json(v2));
    const auto canonical = codec::desired_state_canonical(v2_object["spec"]);
    const std::string hash = codec::content_hash(canonical);
    app_spec holding_before, holding_after;
    holding_before.extra_annotations = holding_after.extra_annotations =
        R"("deployment.skyscanner.net/pending-hash":")" + hash + R"(","deployment.skyscanner.net/pending-spec":)" +
        core::quote_json(canonical);
    holding_after.operation = after.operation;
    BOOST_TEST(ask_with(update_by("system:serviceaccount:argocd:argocd-server", holding_before, holding_after),
                        admitting("eu-west-1a-1", hash))
                   .allowed());
    BOOST_TEST(!ask_with(update_by("system:serviceaccount:argocd:argocd-server", holding_before, holding_after),
                         admitting("eu-west-1a-1", "another-change"))
                    .allowed());
    // But only to exactly that change: not another revision, not a local sync.
    for (const char* other : {R"({"sync":{"revision":"v3"}})", R"({"sync":{"manifests":["kind: ConfigMap"]}})"}) {
        holding_after.operation = other;
        BOOST_TEST(!ask_with(update_by("system:serviceaccount:argocd:argocd-server", holding_before, holding_after),
                             admitting("eu-west-1a-1", hash))
                        .allowed(),
                   other);
    }
}

// Right after the rollout applied a change, status.sync.revision is still the commit of the old
// spec (status.sync.comparedTo says so) until Argo CD compares again: a sync naming it would run
// the new spec at the old revision.
BOOST_AUTO_TEST_CASE(a_stale_resolved_revision_does_not_count_as_the_current_state) {
    app_spec admitted;  // the spec already says v2; status still compares v1
    admitted.revision = "v2";
    auto stale = parse(application_json(admitted));
    auto& a = stale.GetAllocator();
    stale["status"]["sync"]["comparedTo"]["source"]["targetRevision"].SetString("v1", a);
    const std::string stored = codec::canonical_json(stale);
    app_spec ui = admitted;
    ui.operation = R"({"sync":{"revision":"53e28ff20cc530b9ada2173fbbd64d48338583ba"}})";
    const std::string server = "system:serviceaccount:argocd:argocd-server";
    review_spec r;
    r.username = server;
    r.old_object = stored;
    r.object = application_json(ui);
    BOOST_TEST(!ask(review_json(r)).allowed());
    r.old_object = application_json(admitted);  // compared again: the commit is the current spec's
    BOOST_TEST(ask(review_json(r)).allowed());
}

BOOST_AUTO_TEST_CASE(dropping_the_owner_reference_while_changing_the_source_is_denied) {
    app_spec before, after;
    after.owned = false;
    after.revision = "v2";
    auto a = ask(update_by("alice", before, after));
    BOOST_TEST(!a.allowed());
    BOOST_TEST(a.message().find("guestbook-rollout") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_decoy_owner_reference_in_front_is_seen_through) {
    app_spec before, after;
    const std::string decoy =
        R"({"apiVersion":"argoproj.io/v1alpha1","kind":"ApplicationSet","name":"decoy","uid":"d"},)";
    std::string old_json = application_json(before);
    after.revision = "v2";
    std::string new_json = application_json(after);
    for (auto* json : {&old_json, &new_json}) json->insert(json->find("\"ownerReferences\":[") + 19, decoy);
    review_spec r;
    r.username = "alice";
    r.object = new_json;
    r.old_object = old_json;
    BOOST_TEST(!ask(review_json(r)).allowed());
}

BOOST_AUTO_TEST_CASE(a_human_edit_of_the_pending_spec_is_denied) {
    app_spec before, after;
    after.extra_annotations =
        R"("deployment.skyscanner.net/pending-spec":"{}","deployment.skyscanner.net/pending-hash":"x")";
    auto a = ask(update_by("alice", before, after));
    BOOST_TEST(!a.allowed());
    BOOST_TEST(a.code() == 403);
}

BOOST_AUTO_TEST_CASE(an_operation_sync_source_override_is_denied) {
    app_spec before, after;
    after.operation =
        R"({"sync":{"source":{"repoURL":"https://evil.example.com/x.git","path":"x","targetRevision":"v1"}}})";
    BOOST_TEST(!ask(update_by("system:serviceaccount:argocd:argocd-server", before, after)).allowed());
    after.operation = R"({"sync":{"manifests":["apiVersion: v1\nkind: ConfigMap"]}})";
    BOOST_TEST(!ask(update_by("system:serviceaccount:argocd:argocd-server", before, after)).allowed());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(bad_requests)

BOOST_AUTO_TEST_CASE(unreadable_bodies_get_a_plain_400_with_a_reason) {
    struct bad {
        std::string body;
        std::string content_type;
        std::string says;
    };
    const std::vector<bad> cases = {
        {"", "application/json", "request body is empty"},
        {R"({"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":"x")", "application/json",
         "request body is not valid JSON"},
        {"{}", "text/plain", "Content-Type must be application/json"},
        {R"({"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{}})", "application/json",
         "request.uid: Required value"},
        {R"({"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1beta1","request":{"uid":"x"}})",
         "application/json", "unsupported AdmissionReview apiVersion"},
        {R"([1,2,3])", "application/json", "not an AdmissionReview"},
        {R"({"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":7}})", "application/json",
         "request.uid"},
        {std::string(R"({"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":"x"}})") + '\0' +
             "[]",
         "application/json", "NUL byte at offset 83"},
    };
    for (const auto& c : cases) {
        auto raw = codec::review_application(c.content_type, c.body, fleet, ids);
        BOOST_TEST(raw.http_status == 400u, c.body);
        BOOST_TEST(raw.outcome == "error");
        BOOST_TEST(raw.body.find(c.says) != std::string::npos, raw.body);
    }
}

BOOST_AUTO_TEST_CASE(wrong_types_in_fields_we_read_are_answered_in_the_review) {
    const std::string prefix = R"({"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":"u1",)";
    const std::vector<std::pair<std::string, std::string>> cases = {
        {R"("operation":5})", "request.operation"},
        {R"("userInfo":{"username":["a"]}})", "request.userInfo.username"},
        {R"("userInfo":{"groups":"admins"}})", "request.userInfo.groups"},
        {R"("userInfo":{"groups":[1]}})", "request.userInfo.groups"},
        {R"("dryRun":"yes"})", "request.dryRun"},
        {R"("object":[]})", "request.object"},
        {R"("object":{"metadata":{"annotations":"x"}}})", "request.object.metadata.annotations"},
        {R"("object":{"metadata":{"ownerReferences":{}}}})", "request.object.metadata.ownerReferences"},
        {R"("object":{"spec":{"destination":"x"}}})", "request.object.spec.destination"},
        {R"("object":{"spec":{"syncPolicy":[]}}})", "request.object.spec.syncPolicy"},
        {R"("oldObject":{"spec":7}})", "request.oldObject.spec"},
        {R"("object":{"spec":{"destination":{"server":["https://a"]}}}})", "request.object.spec.destination.server"},
        {R"("oldObject":{"spec":{"destination":{"name":7}}}})", "request.oldObject.spec.destination.name"},
        {R"("object":{"metadata":{"ownerReferences":[{"kind":"ApplicationSet","name":{}}]}}})",
         "request.object.metadata.ownerReferences[0].name"},
        {R"("object":{"metadata":{"annotations":{"a":1}}}})", "request.object.metadata.annotations[\"a\"]"},
        {R"("object":{"operation":{"sync":{"revision":1}}}})", "request.object.operation.sync.revision"},
        {R"("object":{"operation":{"sync":{"revisions":[1]}}}})", "request.object.operation.sync.revisions[0]"},
        {R"("object":{"spec":{"sources":[{"targetRevision":2}]}}})", "request.object.spec.sources[0].targetRevision"},
        {R"("oldObject":{"status":{"sync":{"revision":false}}}})", "request.oldObject.status.sync.revision"},
        {R"("operation":"UPDATE","object":{"spec":{}}})", "request.oldObject: Required value"},
    };
    for (const auto& [tail, field] : cases) {
        auto a = ask(prefix + tail + "}");
        BOOST_TEST(a.raw.http_status == 200u);
        BOOST_TEST(!a.allowed());
        BOOST_TEST(a.code() == 400);
        BOOST_TEST(a.message().starts_with(field), a.message());
        BOOST_TEST(codec::string_at(a.response(), {"uid"}) == "u1");
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(rollout_validation_webhook)

std::string rollout_review(const std::string& spec_yamlish_json, const std::string& name = "new-rollout") {
    return R"({"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":"v1","operation":"CREATE","namespace":"argocd","name":")" +
           name +
           R"(","object":{"apiVersion":"deployment.skyscanner.net/v1alpha1","kind":"ProgressiveRollout","metadata":{"name":")" +
           name + R"(","namespace":"argocd"},"spec":)" + spec_yamlish_json + "}}}";
}

BOOST_AUTO_TEST_CASE(invalid_rollouts_are_rejected_with_every_field_path) {
    const auto body = rollout_review(
        R"({"sourceRef":{"kind":"ApplicationSet","name":"other-set"},"stages":[{"name":"a","clusters":{"selector":{}},"maxUnavailable":"125%"},{"name":"a","clusters":{"selector":{}},"bakeTime":"soon","extra":1}]})");
    auto raw = codec::review_rollout("application/json", body, fleet);
    auto doc = parse(raw.body);
    BOOST_TEST(!doc["response"]["allowed"].GetBool());
    BOOST_TEST(doc["response"]["status"]["code"].GetInt() == 422);
    BOOST_TEST(!doc["response"].HasMember("patch"));
    BOOST_TEST(
        codec::string_at(doc["response"], {"status", "message"}) ==
        "ProgressiveRollout.deployment.skyscanner.net \"new-rollout\" is invalid: [unknown field "
        "\"spec.stages[1].extra\", spec.stages[0].maxUnavailable: Invalid value: \"125%\": must be an integer or "
        "a percentage between 0% and 100%, spec.stages[1].bakeTime: Invalid value: \"soon\": must be a duration "
        "such as \"90s\", \"30m\" or \"1h30m\", spec.stages[1].name: Duplicate value: \"a\"]");
}

BOOST_AUTO_TEST_CASE(a_second_rollout_for_the_same_application_set_is_rejected) {
    const std::string spec =
        R"({"sourceRef":{"kind":"ApplicationSet","name":"guestbook"},"stages":[{"name":"all","clusters":{"selector":{}}}]})";
    auto second = parse(codec::review_rollout("application/json", rollout_review(spec), fleet).body);
    BOOST_TEST(!second["response"]["allowed"].GetBool());
    BOOST_TEST(codec::string_at(second["response"], {"status", "message"})
                   .find("already rolled out by ProgressiveRollout \"guestbook-rollout\"") != std::string::npos);
    // Updating the existing one is fine.
    auto same = parse(codec::review_rollout("application/json", rollout_review(spec, "guestbook-rollout"), fleet).body);
    BOOST_TEST(same["response"]["allowed"].GetBool());
}

BOOST_AUTO_TEST_CASE(valid_rollouts_are_allowed_with_warnings) {
    const std::string spec =
        R"({"sourceRef":{"kind":"ApplicationSet","name":"new-set"},"stages":[{"name":"mars","clusters":{"selector":{"matchLabels":{"region":"mars-1"}}}}]})";
    auto doc = parse(codec::review_rollout("application/json", rollout_review(spec), fleet).body);
    BOOST_TEST(doc["response"]["allowed"].GetBool());
    BOOST_TEST(codec::string_at(doc["response"]["warnings"][0], {}) ==
               "spec.stages[0].clusters.selector: stage \"mars\" matches no known cluster");
}

BOOST_AUTO_TEST_CASE(a_rollout_for_a_missing_application_set_is_allowed_with_a_warning) {
    core::rollout existing;
    existing.namespace_ = "argocd";
    existing.name = "guestbook-rollout";
    existing.spec.source = {"argoproj.io", "ApplicationSet", "guestbook"};
    const auto state = core::build_fleet_state(
        {existing}, {{"c1", "https://c1.example.com", {}}},
        std::vector<core::application_set_ref>{{"argocd", "guestbook"}, {"other-namespace", "new-set"}});
    const std::string spec =
        R"({"sourceRef":{"kind":"ApplicationSet","name":"new-set"},"stages":[{"name":"all","clusters":{"selector":{}}}]})";
    auto doc = parse(codec::review_rollout("application/json", rollout_review(spec), state).body);
    BOOST_TEST(doc["response"]["allowed"].GetBool());
    BOOST_REQUIRE(doc["response"].HasMember("warnings"));
    BOOST_TEST(codec::string_at(doc["response"]["warnings"][0], {}) ==
               "spec.sourceRef.name: ApplicationSet \"new-set\" not found in namespace \"argocd\"; the rollout waits "
               "until it exists");

    // The rollout of an existing ApplicationSet gets no such warning.
    const std::string existing_spec =
        R"({"sourceRef":{"kind":"ApplicationSet","name":"guestbook"},"stages":[{"name":"all","clusters":{"selector":{}}}]})";
    auto same = parse(
        codec::review_rollout("application/json", rollout_review(existing_spec, "guestbook-rollout"), state).body);
    BOOST_TEST(same["response"]["allowed"].GetBool());
    BOOST_TEST(!same["response"].HasMember("warnings"));
}

BOOST_AUTO_TEST_CASE(application_set_presence_is_unknown_until_known) {
    const auto unknown = core::build_fleet_state({}, {});
    BOOST_TEST((unknown.application_set_presence("argocd", "guestbook") == core::source_presence::unknown));
    const auto known = core::build_fleet_state({}, {}, std::vector<core::application_set_ref>{{"argocd", "guestbook"}});
    BOOST_TEST((known.application_set_presence("argocd", "guestbook") == core::source_presence::exists));
    BOOST_TEST((known.application_set_presence("argocd", "other") == core::source_presence::missing));
    BOOST_TEST((known.application_set_presence("elsewhere", "guestbook") == core::source_presence::missing));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(large_desired_states)

BOOST_AUTO_TEST_CASE(four_hundred_kib_of_helm_values_are_held_compressed_and_admitted_intact) {
    // Values as large as real charts carry: 400 KiB of varied, repetitive YAML-like text.
    std::string values;
    for (int i = 0; values.size() < 400 * 1024; ++i)
        values += "replica-" + std::to_string(i) + ": {image: registry.example.com/team/service-" +
                  std::to_string(i % 97) + ":v2, cpu: " + std::to_string(i % 13) + "00m}\\n";
    app_spec before, after;
    after.revision = "v2";
    std::string new_json = application_json(after);
    const std::string helm = R"(,"helm":{"values":")" + values + "\"}";
    new_json.insert(new_json.find(R"("targetRevision":"v2")") + 21, helm);
    review_spec r;
    r.username = appset_user;
    r.object = new_json;
    r.old_object = application_json(before);
    auto a = ask(review_json(r));
    BOOST_TEST(a.raw.outcome == "held");
    const auto patched = parse(apply_json_patch(new_json, a.patch()));
    const auto stored =
        codec::string_at(patched, {"metadata", "annotations", "deployment.skyscanner.net/pending-spec"});
    BOOST_TEST(stored.starts_with(codec::compressed_marker));
    std::size_t annotation_bytes = 0;
    for (const auto& m : patched["metadata"]["annotations"].GetObject())
        annotation_bytes += m.name.GetStringLength() + m.value.GetStringLength();
    BOOST_TEST(annotation_bytes < core::annotations_size_limit);

    // The controller's patch decodes the record, checks it against the hash and sets every value.
    const auto hash = codec::string_at(patched, {"metadata", "annotations", "deployment.skyscanner.net/pending-hash"});
    const auto record = codec::decode_application(patched);
    const auto admit = codec::admit_patch(record, hash);
    BOOST_REQUIRE(admit.has_value());
    const auto admitted = parse(apply_json_patch(apply_json_patch(new_json, a.patch()), *admit));
    BOOST_TEST(codec::string_at(admitted, {"spec", "source", "helm", "values"}) ==
               parse(new_json)["spec"]["source"]["helm"]["values"].GetString());
    BOOST_TEST(codec::string_at(admitted, {"spec", "source", "targetRevision"}) == "v2");
    BOOST_TEST(!admitted["metadata"]["annotations"].HasMember("deployment.skyscanner.net/pending-spec"));
}

BOOST_AUTO_TEST_CASE(a_record_that_does_not_match_its_hash_is_never_applied) {
    app_spec held;
    const auto doc = parse(application_json(held));
    auto record = codec::decode_application(doc);
    record.pending_spec = R"({"source":{"repoURL":"https://evil.example.com/x.git"}})";
    BOOST_TEST(!codec::admit_patch(record, "0000000000000000").has_value());
    BOOST_TEST(codec::admit_patch(record, codec::content_hash(record.pending_spec)).has_value());
    record.pending_spec = std::string(codec::compressed_marker) + "bm90IGd6aXA=";  // "not gzip"
    BOOST_TEST(!codec::admit_patch(record, codec::content_hash("not gzip")).has_value());
}

BOOST_AUTO_TEST_CASE(records_round_trip_and_small_ones_stay_readable) {
    const std::string small = R"({"source":{"targetRevision":"v2"}})";
    BOOST_TEST(codec::encode_pending_record(small) == small);
    const std::string large(100 * 1024, 'a');
    const auto encoded = codec::encode_pending_record(large);
    BOOST_TEST(encoded.size() < 2048u);
    BOOST_TEST(codec::decode_pending_record(encoded).value_or("") == large);
    // A truncated record is corrupt, not a shorter spec.
    BOOST_TEST(!codec::decode_pending_record(encoded.substr(0, encoded.size() - 8)).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
