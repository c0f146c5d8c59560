#define BOOST_TEST_MODULE track_revisions
#include <boost/test/unit_test.hpp>

// Admission of Applications of a rollout with spec.trackRevisions (docs/admission.md, "Moving
// revisions"), through the real review path (parse, facts, decide, render) and with every patch
// applied by kubectl: auto-sync stays off with the intended policy recorded, an ApplicationSet
// write that differs only in the removed `automated` is no change, and a sync may deploy only the
// revision the cluster runs, or a new commit on a cluster admitted for it.

#include "codec/admission_review.hpp"
#include "codec/canonical_json.hpp"
#include "codec/json_reader.hpp"
#include "codec/kube_objects.hpp"
#include "core/json_string.hpp"
#include "patch_oracle.hpp"
#include "review_fixtures.hpp"

#include <optional>

using namespace apr;
using namespace apr::test;

namespace {

const std::string appset_user = "system:serviceaccount:argocd:argocd-applicationset-controller";
const std::string app_controller = "system:serviceaccount:argocd:argocd-application-controller";
const auto ids = test_identities();
const std::string human = "alice";

const std::string old_sha = "1111111111111111111111111111111111111111";
const std::string new_sha = "2222222222222222222222222222222222222222";
const std::string other_sha = "3333333333333333333333333333333333333333";

// What the template asks for, and what the webhook leaves on the object (canonical JSON).
const std::string intended_policy =
    R"({"automated":{"prune":true,"selfHeal":true},"syncOptions":["CreateNamespace=true"]})";
const std::string stored_policy = R"({"syncOptions":["CreateNamespace=true"]})";
const std::string sync_policy_key = "deployment.skyscanner.net/sync-policy";

// One Application of ApplicationSet "guestbook" on cluster `cluster`, as the API server stores it.
struct app_state {
    std::string cluster = "west";
    std::string target = "main";
    bool multi_source = false;
    std::string policy = stored_policy;                     // spec.syncPolicy JSON; empty: none
    std::optional<std::string> recorded = intended_policy;  // the sync-policy annotation
    std::string extra_annotations;                          // JSON members
    std::vector<std::string> running = {old_sha};           // operationState.syncResult
    std::vector<std::string> resolved = {new_sha};          // status.sync
    std::string operation;                                  // JSON of `operation`
};

std::string strings(const std::vector<std::string>& list) {
    std::string out = "[";
    for (const auto& s : list) out += (out.size() > 1 ? ",\"" : "\"") + s + "\"";
    return out + "]";
}

std::string source(const std::string& repo, const std::string& target) {
    return R"({"path":"guestbook","repoURL":"https://git.example.com/)" + repo + R"(.git","targetRevision":")" +
           target + "\"}";
}

// The revisions of status.sync / syncResult / a history entry: `revision` or, multi-source, `revisions`.
std::string revisions_json(const app_state& a, const std::vector<std::string>& revisions) {
    if (a.multi_source) return "\"revisions\":" + strings(revisions);
    return "\"revision\":\"" + (revisions.empty() ? std::string() : revisions.front()) + "\"";
}

std::string application(const app_state& a) {
    std::string annotations;
    if (a.recorded) annotations += "\"" + sync_policy_key + "\":" + core::quote_json(*a.recorded);
    if (!a.extra_annotations.empty()) annotations += (annotations.empty() ? "" : ",") + a.extra_annotations;
    const std::string sources = a.multi_source
                                    ? "\"sources\":[" + source("app", a.target) + "," + source("values", a.target) + "]"
                                    : "\"source\":" + source("app", a.target);
    std::string json =
        R"({"apiVersion":"argoproj.io/v1alpha1","kind":"Application","metadata":{"name":"guestbook-)" + a.cluster +
        R"(","namespace":"argocd","annotations":{)" + annotations +
        R"(},"ownerReferences":[{"apiVersion":"argoproj.io/v1alpha1","kind":"ApplicationSet","name":"guestbook","uid":"u1","controller":true}]},)" +
        R"("spec":{"destination":{"namespace":"guestbook","server":"https://)" + a.cluster +
        R"(.example.com"},"project":"default",)" + sources;
    if (!a.policy.empty()) json += ",\"syncPolicy\":" + a.policy;
    json += "}";
    if (!a.operation.empty()) json += ",\"operation\":" + a.operation;
    // The status as Argo CD writes it: what runs in the last sync result and the history (whose
    // sources and resources the webhook's parser skips), what the spec resolves to in sync.
    json += R"(,"status":{"health":{"status":"Healthy"},"sync":{"status":"OutOfSync",)" +
            revisions_json(a, a.resolved) + R"(,"comparedTo":{"destination":{"server":"https://)" + a.cluster +
            R"(.example.com"},)" + sources + R"(}},"operationState":{"phase":"Succeeded","operation":{"sync":{)" +
            revisions_json(a, a.running) + R"(}},"syncResult":{)" + revisions_json(a, a.running) +
            R"(,"resources":[{"kind":"Deployment","name":"guestbook-ui","status":"Synced"}],)" + sources +
            R"(}},"history":[{"id":1,"revision":"0000000000000000000000000000000000000000",)" + sources +
            R"(},{"id":2,)" + revisions_json(a, a.running) + "," + sources + "}]}}";
    return json;
}

struct cluster_record {
    core::cluster_phase phase = core::cluster_phase::pending;
    std::string hash;
};

// Rollout guestbook-rollout (trackRevisions unless `track` is false): stage "canary" (cluster
// canary, Updating for the new commit) is in progress; "west" waits.
core::fleet_state fleet(cluster_record west = {}, bool track = true) {
    core::rollout r;
    r.namespace_ = "argocd";
    r.name = "guestbook-rollout";
    r.spec.source = {"argoproj.io", "ApplicationSet", "guestbook"};
    r.spec.track_revisions = track;
    r.status.phase = core::rollout_phase::progressing;
    r.status.current_stage = "canary";
    core::stage_status canary{"canary", core::stage_phase::progressing};
    canary.clusters.push_back({"canary", core::cluster_phase::updating, "rev:" + new_sha});
    core::stage_status rest{"west", core::stage_phase::pending};
    rest.clusters.push_back({"west", west.phase, west.hash});
    r.status.stages = {canary, rest};
    return core::build_fleet_state(
        {r}, {{"canary", "https://canary.example.com", {}}, {"west", "https://west.example.com", {}}});
}
const auto waiting = fleet();

struct answer {
    codec::review_answer raw;
    rapidjson::Document doc;
    std::string object;  // the object as written
    const rapidjson::Value& response() const { return doc["response"]; }
    bool allowed() const { return response()["allowed"].GetBool(); }
    std::string patch() const { return codec::base64_decode(codec::string_at(response(), {"patch"})).value_or(""); }
    std::string message() const { return codec::string_at(response(), {"status", "message"}); }
    std::string warnings() const {
        std::string out;
        if (const auto* w = codec::find_path(response(), {"warnings"}))
            for (const auto& s : w->GetArray()) out += std::string(s.GetString()) + "\n";
        return out;
    }
    // The object the API server stores: the write with the answer's patch applied.
    std::string stored() const {
        const auto p = patch();
        return p.empty() ? object : apply_json_patch(object, p);
    }
};

answer review(const std::string& user, const std::string& old_object, const std::string& object,
              const core::fleet_state& state = waiting, std::vector<std::string> groups = {"system:authenticated"}) {
    review_spec r;
    r.username = user;
    r.groups = std::move(groups);
    r.object = object;
    r.old_object = old_object;
    if (old_object.empty()) r.operation = "CREATE";
    answer a;
    a.object = object;
    a.raw = codec::review_application("application/json", review_json(r), state, ids);
    a.doc.Parse(a.raw.body.c_str());
    BOOST_REQUIRE(!a.doc.HasParseError());
    return a;
}

rapidjson::Document parse(const std::string& json) {
    rapidjson::Document d;
    d.Parse(json.c_str());
    BOOST_REQUIRE_MESSAGE(!d.HasParseError(), "not JSON: " << json.substr(0, 300));
    return d;
}

std::string annotation(const rapidjson::Value& object, const std::string& key) {
    return codec::string_at(object, {"metadata", "annotations", key});
}

bool has_annotation(const rapidjson::Value& object, const std::string& key) {
    return codec::find_path(object, {"metadata", "annotations", key}) != nullptr;
}

std::string policy_of(const rapidjson::Value& object) {
    const auto* p = codec::find_path(object, {"spec", "syncPolicy"});
    return p ? codec::canonical_json(*p) : std::string();
}

// What the ApplicationSet controller writes: the template's state, `automated` included, and the
// template's annotations (none of the protected ones).
app_state template_of(app_state a, const std::string& policy = intended_policy) {
    a.policy = policy;
    a.recorded.reset();
    return a;
}

std::string sync_to(const std::string& revision) {
    return R"({"sync":{"revision":")" + revision + R"("},"initiatedBy":{"username":"alice"}})";
}

// The stored Application `a` with a sync operation added by the write.
std::string with_operation(app_state a, const std::string& operation) {
    a.operation = operation;
    return application(a);
}

// `object` (any JSON text, kubectl's output too) with `operation` set.
std::string with_operation(const std::string& object, const std::string& operation) {
    auto doc = parse(object);
    rapidjson::Document op;
    op.Parse(operation.c_str());
    doc.RemoveMember("operation");
    doc.AddMember("operation", rapidjson::Value(op, doc.GetAllocator()), doc.GetAllocator());
    return codec::canonical_json(doc);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(auto_sync_stays_off)

BOOST_AUTO_TEST_CASE(a_created_application_comes_out_without_automated_and_with_its_policy_recorded) {
    app_state created = template_of(app_state{});
    created.running.clear();
    const auto a = review(appset_user, "", application(created));
    BOOST_TEST(a.allowed());
    BOOST_TEST(a.raw.outcome == "held");
    const auto stored = parse(a.stored());
    BOOST_TEST(policy_of(stored) == stored_policy);
    BOOST_TEST(annotation(stored, sync_policy_key) == intended_policy);
    BOOST_TEST(has_annotation(stored, "deployment.skyscanner.net/created-held"));
    // The held record keeps the template's state, auto-sync included: its hash is the template's.
    BOOST_TEST(annotation(stored, "deployment.skyscanner.net/pending-spec").find(intended_policy) != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_create_without_annotations_gets_them) {
    app_state created = template_of(app_state{});
    auto json = application(created);
    const std::string empty = "\"annotations\":{},";
    json.erase(json.find(empty), empty.size());
    const auto stored = parse(review(appset_user, "", json).stored());
    BOOST_TEST(annotation(stored, sync_policy_key) == intended_policy);
    BOOST_TEST(policy_of(stored) == stored_policy);
}

BOOST_AUTO_TEST_CASE(a_template_write_differing_only_in_the_removed_automated_is_no_change) {
    const app_state stored_state;
    const auto before = application(stored_state);
    auto a = review(appset_user, before, application(template_of(stored_state)));
    BOOST_TEST(a.allowed());
    BOOST_TEST(a.raw.outcome != "held");
    BOOST_TEST(a.raw.detail.find("unchanged") != std::string::npos);
    BOOST_TEST(a.warnings().empty());
    // The write loop: the ApplicationSet controller keeps writing its template, and every time the
    // stored object comes out exactly as it was, with no pending record.
    for (int i = 0; i < 3; ++i) {
        const auto stored = parse(a.stored());
        BOOST_TEST(policy_of(stored) == stored_policy);
        BOOST_TEST(annotation(stored, sync_policy_key) == intended_policy);
        BOOST_TEST(!has_annotation(stored, "deployment.skyscanner.net/pending-hash"));
        BOOST_TEST(codec::canonical_json(stored) == codec::canonical_json(parse(before)));
        a = review(appset_user, a.stored(), application(template_of(stored_state)));
        BOOST_TEST(a.raw.outcome != "held");
    }
}

BOOST_AUTO_TEST_CASE(a_real_sync_policy_change_in_the_template_is_held_and_the_record_stays) {
    const app_state stored_state;
    const std::string no_self_heal =
        R"({"automated":{"prune":true,"selfHeal":false},"syncOptions":["CreateNamespace=true"]})";
    const auto a = review(appset_user, application(stored_state), application(template_of(stored_state, no_self_heal)));
    BOOST_TEST(a.raw.outcome == "held");
    const auto stored = parse(a.stored());
    BOOST_TEST(policy_of(stored) == stored_policy);
    BOOST_TEST(annotation(stored, sync_policy_key) == intended_policy);
    BOOST_TEST(annotation(stored, "deployment.skyscanner.net/pending-spec").find(no_self_heal) != std::string::npos);
    // A new syncOption is a change too.
    const std::string more_options =
        R"({"automated":{"prune":true,"selfHeal":true},"syncOptions":["CreateNamespace=true","ServerSideApply=true"]})";
    BOOST_TEST(review(appset_user, application(stored_state), application(template_of(stored_state, more_options)))
                   .raw.outcome == "held");
}

BOOST_AUTO_TEST_CASE(the_controller_applying_a_held_change_is_admitted_and_auto_sync_stays_off) {
    app_state stored_state;
    app_state next = template_of(stored_state);
    next.target = "release-2";
    const auto held = review(appset_user, application(stored_state), application(next));
    BOOST_REQUIRE(held.raw.outcome == "held");
    const auto held_object = held.stored();
    BOOST_TEST(policy_of(parse(held_object)) == stored_policy);
    const auto hash = annotation(parse(held_object), "deployment.skyscanner.net/pending-hash");
    // The rollout admits the cluster and applies the record: the write carries `automated` again.
    const auto record = codec::decode_application(parse(held_object));
    const auto applied = apply_json_patch(held_object, *codec::admit_patch(record, hash));
    BOOST_TEST(codec::find_path(parse(applied), {"spec", "syncPolicy", "automated"}));
    const auto admitted = fleet({core::cluster_phase::updating, hash});
    const auto a = review(ids.self, held_object, applied, admitted);
    BOOST_TEST(a.allowed());
    BOOST_TEST(a.raw.detail.find("admitted") != std::string::npos);
    const auto stored = parse(a.stored());
    BOOST_TEST(policy_of(stored) == stored_policy);
    BOOST_TEST(annotation(stored, sync_policy_key) == intended_policy);
    BOOST_TEST(codec::string_at(stored, {"spec", "source", "targetRevision"}) == "release-2");
    // The state the admission replaced is recorded as intended (its hash is the template's), and a
    // rollback that restores it is recognised and keeps auto-sync off too.
    const auto previous = annotation(stored, "deployment.skyscanner.net/previous-spec");
    BOOST_TEST(previous.find(intended_policy) != std::string::npos);
    const auto restore = codec::restore_patch(codec::decode_application(stored), hash);
    BOOST_REQUIRE(restore.has_value());
    const auto restored_write = apply_json_patch(a.stored(), *restore);
    auto rolled_back = fleet({core::cluster_phase::rolled_back, hash});
    const auto r = review(ids.self, a.stored(), restored_write, rolled_back);
    BOOST_TEST(r.allowed());
    const auto after_rollback = parse(r.stored());
    BOOST_TEST(codec::string_at(after_rollback, {"spec", "source", "targetRevision"}) == "main");
    BOOST_TEST(policy_of(after_rollback) == stored_policy);
    BOOST_TEST(annotation(after_rollback, sync_policy_key) == intended_policy);
}

BOOST_AUTO_TEST_CASE(a_human_putting_automated_back_gets_it_removed_or_is_denied) {
    const app_state stored_state;
    app_state edited = stored_state;
    edited.policy = intended_policy;
    const auto a = review(human, application(stored_state), application(edited));
    BOOST_TEST(a.allowed());
    BOOST_TEST(policy_of(parse(a.stored())) == stored_policy);
    BOOST_TEST(a.warnings().find("auto-sync stays off") != std::string::npos);
    // Any other policy is a change to the desired state.
    edited.policy = R"({"automated":{},"syncOptions":["CreateNamespace=true"]})";
    const auto d = review(human, application(stored_state), application(edited));
    BOOST_TEST(!d.allowed());
    BOOST_TEST(d.message().find("change to the desired state") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_recorded_policy_is_protected) {
    const app_state stored_state;
    app_state forged = stored_state;
    forged.recorded = R"({"automated":{"prune":true,"selfHeal":true},"syncOptions":["Replace=true"]})";
    const auto d = review(human, application(stored_state), application(forged));
    BOOST_TEST(!d.allowed());
    BOOST_TEST(d.message().find("change to annotation deployment.skyscanner.net/sync-policy") != std::string::npos);
    // Removing it changes nothing: the answer puts it back.
    app_state removed = stored_state;
    removed.recorded.reset();
    const auto a = review(human, application(stored_state), application(removed));
    BOOST_TEST(a.allowed());
    BOOST_TEST(annotation(parse(a.stored()), sync_policy_key) == intended_policy);
    // The template cannot plant one either: the record follows the state the object keeps.
    app_state planted = template_of(stored_state);
    planted.extra_annotations = "\"" + sync_policy_key + "\":\"{\\\"automated\\\":{}}\"";
    const auto t = review(appset_user, application(stored_state), application(planted));
    BOOST_TEST(annotation(parse(t.stored()), sync_policy_key) == intended_policy);
}

BOOST_AUTO_TEST_CASE(argo_cd_status_writes_pass_untouched) {
    const app_state stored_state;
    app_state next = stored_state;
    next.resolved = {other_sha};
    const auto a = review(app_controller, application(stored_state), application(next));
    BOOST_TEST(a.allowed());
    BOOST_TEST(a.patch().empty());
}

BOOST_AUTO_TEST_CASE(an_application_from_before_track_revisions_loses_automated_on_its_next_write) {
    app_state legacy;
    legacy.policy = intended_policy;
    legacy.recorded.reset();
    const auto a = review(app_controller, application(legacy), application(legacy));
    BOOST_TEST(a.allowed());
    const auto stored = parse(a.stored());
    BOOST_TEST(policy_of(stored) == stored_policy);
    BOOST_TEST(annotation(stored, sync_policy_key) == intended_policy);
    // And without trackRevisions nothing of this happens.
    BOOST_TEST(review(app_controller, application(legacy), application(legacy), fleet({}, false)).patch().empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(syncs)

BOOST_AUTO_TEST_CASE(a_human_sync_to_the_new_commit_on_a_cluster_not_admitted_is_denied) {
    const app_state stored_state;
    const auto d = review(human, application(stored_state), with_operation(stored_state, sync_to(new_sha)));
    BOOST_TEST(!d.allowed());
    const auto m = d.message();
    BOOST_TEST(m.find("sync operation to revision \"" + new_sha + "\"") != std::string::npos);
    BOOST_TEST(m.find("ProgressiveRollout argocd/guestbook-rollout") != std::string::npos);
    BOOST_TEST(m.find("cluster \"west\" is in stage \"west\"") != std::string::npos);
    BOOST_TEST(m.find("sync revision " + old_sha + " to re-sync what runs") != std::string::npos);
    // Without trackRevisions the resolved commit is the current state, as ever.
    BOOST_TEST(
        review(human, application(stored_state), with_operation(stored_state, sync_to(new_sha)), fleet({}, false))
            .allowed());
}

BOOST_AUTO_TEST_CASE(a_symbolic_revision_waits_for_the_cluster_admitted_for_what_it_resolves_to) {
    const app_state stored_state;
    for (const std::string& revision : std::vector<std::string>{"", "main", "HEAD", other_sha}) {
        BOOST_TEST_CONTEXT("revision " << revision) {
            BOOST_TEST(
                !review(human, application(stored_state), with_operation(stored_state, sync_to(revision))).allowed());
        }
    }
    // Admitted for the resolved commit: the commit and the branch (which resolves to it) are allowed,
    // another commit is not.
    const auto admitted = fleet({core::cluster_phase::updating, "rev:" + new_sha});
    for (const std::string& revision : std::vector<std::string>{new_sha, "main", ""})
        BOOST_TEST_CONTEXT("revision " << revision) {
            BOOST_TEST(
                review(human, application(stored_state), with_operation(stored_state, sync_to(revision)), admitted)
                    .allowed());
        }
    BOOST_TEST(!review(human, application(stored_state), with_operation(stored_state, sync_to(other_sha)), admitted)
                    .allowed());
    BOOST_TEST(!review(human, application(stored_state), with_operation(stored_state, sync_to("feature-x")), admitted)
                    .allowed());
    // Admitted for an older commit is not admitted for this one.
    const auto older = fleet({core::cluster_phase::done, "rev:" + old_sha});
    BOOST_TEST(
        !review(human, application(stored_state), with_operation(stored_state, sync_to(new_sha)), older).allowed());
}

BOOST_AUTO_TEST_CASE(a_sync_at_the_running_revision_is_allowed) {
    const app_state stored_state;
    const auto a = review(human, application(stored_state), with_operation(stored_state, sync_to(old_sha)));
    BOOST_TEST(a.allowed());
    BOOST_TEST(a.patch().empty());
    // But not with another source: an override deploys something else at that commit.
    const std::string override_source =
        R"({"sync":{"revision":")" + old_sha + R"(","source":)" + source("other", old_sha) + "}}";
    BOOST_TEST(!review(human, application(stored_state), with_operation(stored_state, override_source)).allowed());
    const std::string same_source =
        R"({"sync":{"revision":")" + old_sha + R"(","source":)" + source("app", "main") + "}}";
    BOOST_TEST(review(human, application(stored_state), with_operation(stored_state, same_source)).allowed());
}

BOOST_AUTO_TEST_CASE(what_runs_is_read_from_the_history_when_there_is_no_sync_result) {
    app_state stored_state;
    auto json = application(stored_state);
    const auto start = json.find(",\"operationState\"");
    const auto end = json.find(",\"history\"");
    json.erase(start, end - start);
    BOOST_TEST(review(human, json, with_operation(json, sync_to(old_sha))).allowed());
}

BOOST_AUTO_TEST_CASE(multi_source_revisions_are_compared_by_position) {
    app_state stored_state;
    stored_state.multi_source = true;
    stored_state.running = {old_sha, "a1"};
    stored_state.resolved = {new_sha, "a1"};
    auto sync_revisions = [](const std::vector<std::string>& r) {
        return R"({"sync":{"revisions":)" + strings(r) + "}}";
    };
    BOOST_TEST(review(human, application(stored_state), with_operation(stored_state, sync_revisions({old_sha, "a1"})))
                   .allowed());
    BOOST_TEST(!review(human, application(stored_state), with_operation(stored_state, sync_revisions({new_sha, "a1"})))
                    .allowed());
    BOOST_TEST(!review(human, application(stored_state), with_operation(stored_state, sync_revisions({"a1", old_sha})))
                    .allowed());
    BOOST_TEST(
        !review(human, application(stored_state), with_operation(stored_state, sync_revisions({old_sha}))).allowed());
    const auto admitted = fleet({core::cluster_phase::updating, "rev:" + new_sha + ",a1"});
    BOOST_TEST(review(human, application(stored_state), with_operation(stored_state, sync_revisions({new_sha, "a1"})),
                      admitted)
                   .allowed());
    BOOST_TEST(review(human, application(stored_state), with_operation(stored_state, sync_revisions({"main", "main"})),
                      admitted)
                   .allowed());
    BOOST_TEST(!review(human, application(stored_state),
                       with_operation(stored_state, sync_revisions({new_sha, other_sha})), admitted)
                    .allowed());
}

BOOST_AUTO_TEST_CASE(the_rollout_controller_syncs_a_cluster_admitted_for_the_commit_or_what_runs) {
    const app_state stored_state;
    const auto self_sync = [&](const std::string& revision) {
        return with_operation(stored_state, R"({"sync":{"revision":")" + revision +
                                                R"(","prune":true},"initiatedBy":{"username":"progressive-rollout"}})");
    };
    BOOST_TEST(!review(ids.self, application(stored_state), self_sync(new_sha)).allowed());
    BOOST_TEST(review(ids.self, application(stored_state), self_sync(old_sha)).allowed());
    BOOST_TEST(review(ids.self, application(stored_state), self_sync(new_sha),
                      fleet({core::cluster_phase::updating, "rev:" + new_sha}))
                   .allowed());
}

BOOST_AUTO_TEST_CASE(argo_cd_application_controller_syncs_are_never_blocked) {
    const app_state stored_state;
    BOOST_TEST(
        review(app_controller, application(stored_state), with_operation(stored_state, sync_to(new_sha))).allowed());
}

BOOST_AUTO_TEST_CASE(a_bypass_still_works) {
    app_state stored_state;
    app_state bypassing = stored_state;
    bypassing.extra_annotations = R"("deployment.skyscanner.net/bypass":"hotfix INC-1")";
    const auto a = review(human, application(stored_state), with_operation(bypassing, sync_to(new_sha)), waiting,
                          {"system:masters"});
    BOOST_TEST(a.allowed());
    BOOST_TEST(a.warnings().find("bypassing argocd/guestbook-rollout: hotfix INC-1") != std::string::npos);
    BOOST_TEST(!review(human, application(stored_state), with_operation(bypassing, sync_to(new_sha))).allowed());
}

BOOST_AUTO_TEST_CASE(what_runs_cannot_be_planted_by_anyone_but_argo_cd) {
    const app_state stored_state;
    app_state planted = stored_state;
    planted.running = {new_sha};
    const auto d = review(human, application(stored_state), application(planted));
    BOOST_TEST(!d.allowed());
    BOOST_TEST(d.message().find("status.operationState") != std::string::npos);
    BOOST_TEST(review(app_controller, application(stored_state), application(planted)).allowed());
    // In the same write as the sync, what runs is read from the stored object.
    BOOST_TEST(!review(human, application(stored_state), with_operation(planted, sync_to(new_sha))).allowed());
}

BOOST_AUTO_TEST_CASE(a_spec_change_the_rollout_is_applying_may_be_synced) {
    // The rollout applied a held change (release-2) and is syncing it: the cluster is Updating at
    // the change's hash (the template's state, auto-sync included).
    app_state stored_state;
    app_state next = template_of(stored_state);
    next.target = "release-2";
    const auto held = review(appset_user, application(stored_state), application(next));
    const auto hash = annotation(parse(held.stored()), "deployment.skyscanner.net/pending-hash");
    const auto admitted = fleet({core::cluster_phase::updating, hash});
    const auto held_object = held.stored();
    const auto applied =
        review(ids.self, held_object,
               apply_json_patch(held_object, *codec::admit_patch(codec::decode_application(parse(held_object)), hash)),
               admitted)
            .stored();
    const auto with_sync = [&](const std::string& revision) { return with_operation(applied, sync_to(revision)); };
    BOOST_TEST(review(ids.self, applied, with_sync("release-2"), admitted).allowed());
    BOOST_TEST(review(human, applied, with_sync(""), admitted).allowed());
    // Done, it is not being applied any more: a new commit of release-2 waits for its turn.
    const auto done = fleet({core::cluster_phase::done, hash});
    BOOST_TEST(!review(human, applied, with_sync("release-2"), done).allowed());
}

BOOST_AUTO_TEST_CASE(a_created_application_is_not_synced_before_its_turn) {
    app_state created = template_of(app_state{});
    const auto held = review(appset_user, "", application(created)).stored();
    BOOST_TEST(!review(human, held, with_operation(held, sync_to(old_sha))).allowed());
}

BOOST_AUTO_TEST_SUITE_END()
