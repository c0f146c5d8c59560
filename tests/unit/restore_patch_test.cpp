// The rollback patch (codec::restore_patch, docs/controller.md "Rollback") on an Application that
// went through the real hold and the real admission: applied with an independent RFC 6902
// implementation (kubectl's), and the webhook's answer to the controller's write of it.
#define BOOST_TEST_MODULE restore_patch
#include <boost/test/unit_test.hpp>

#include "codec/admission_review.hpp"
#include "codec/canonical_json.hpp"
#include "codec/json_reader.hpp"
#include "codec/kube_objects.hpp"
#include "codec/pending_record.hpp"
#include "patch_oracle.hpp"
#include "review_fixtures.hpp"

#include <stdexcept>

using namespace apr;
using namespace apr::test;

namespace {

const auto ids = test_identities();
const std::string appset_user = "system:serviceaccount:argocd:argocd-applicationset-controller";
const std::string cluster = "eu-west-1a-1";

rapidjson::Document parse(const std::string& json) {
    rapidjson::Document d;
    d.Parse(json.c_str());
    BOOST_REQUIRE_MESSAGE(!d.HasParseError(), "not JSON: " << json.substr(0, 200));
    return d;
}

std::string to_json(const rapidjson::Value& v) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    v.Accept(w);
    return buffer.GetString();
}

std::string annotation(const std::string& application, const std::string& key) {
    const auto doc = parse(application);
    return codec::string_at(doc, {"metadata", "annotations", key});
}

bool has_annotation(const std::string& application, const std::string& key) {
    const auto doc = parse(application);
    return codec::find_path(doc, {"metadata", "annotations", key}) != nullptr;
}

std::string revision(const std::string& application) {
    const auto doc = parse(application);
    return codec::string_at(doc, {"spec", "source", "targetRevision"});
}

// The rollout's status as the webhook's cache sees it: the cluster in `phase` for change `hash`.
core::fleet_state cluster_is(core::cluster_phase phase, const std::string& hash) {
    core::rollout r;
    r.namespace_ = "argocd";
    r.name = "guestbook-rollout";
    r.spec.source = {"argoproj.io/v1alpha1", "ApplicationSet", "guestbook"};
    r.status.phase =
        phase == core::cluster_phase::rolled_back ? core::rollout_phase::rolled_back : core::rollout_phase::progressing;
    r.status.current_stage = "eu-west-1";
    core::stage_status west{"eu-west-1", core::stage_phase::progressing};
    west.clusters.push_back({cluster, phase, hash});
    r.status.stages = {west};
    return core::build_fleet_state({r}, {{cluster, "https://" + cluster + ".example.com", {}}});
}

struct answer {
    bool allowed = false;
    std::string outcome;
    std::string patch;  // JSON Patch, empty when none
};

// The webhook's answer to `user` writing `after` over `before`.
answer review(const std::string& user, const std::string& before, const std::string& after,
              const core::fleet_state& state) {
    review_spec r;
    r.username = user;
    r.object = after;
    r.old_object = before;
    const auto raw = codec::review_application("application/json", review_json(r), state, ids);
    const auto doc = parse(raw.body);
    answer a;
    a.allowed = doc["response"]["allowed"].GetBool();
    a.outcome = raw.outcome;
    if (const auto* p = codec::find_path(doc["response"], {"patch"}); p && p->IsString())
        a.patch = codec::base64_decode(p->GetString()).value_or("");
    return a;
}

// The ApplicationSet controller rewrites the Application at `to`; the webhook holds it.
std::string held_write(const std::string& live, const std::string& to, const core::fleet_state& state) {
    auto doc = parse(live);
    app_spec written;
    written.revision = to;
    // The template write keeps the annotations the live object has (protected ones included).
    auto after = parse(application_json(written));
    after["metadata"]["annotations"].CopyFrom(doc["metadata"]["annotations"], after.GetAllocator());
    const auto after_json = to_json(after);
    const auto a = review(appset_user, live, after_json, state);
    BOOST_REQUIRE(a.allowed);
    BOOST_REQUIRE_EQUAL(a.outcome, "held");
    return apply_json_patch(after_json, a.patch);
}

// v1 live, v2 written by the template and held, then admitted by the controller: the state a
// rollback starts from, with the hash of the admitted change.
std::pair<std::string, std::string> admitted_v2() {
    const auto v1 = application_json(app_spec{});
    const auto held = held_write(v1, "v2", cluster_is(core::cluster_phase::pending, ""));
    BOOST_REQUIRE_EQUAL(revision(held), "v1");
    const auto hash = annotation(held, "deployment.skyscanner.net/pending-hash");
    const auto admit = codec::admit_patch(codec::decode_application(parse(held)), hash);
    BOOST_REQUIRE(admit.has_value());
    const auto admitted = apply_json_patch(held, *admit);
    BOOST_REQUIRE(review(ids.self, held, admitted, cluster_is(core::cluster_phase::updating, hash)).allowed);
    BOOST_REQUIRE_EQUAL(revision(admitted), "v2");
    BOOST_REQUIRE_EQUAL(annotation(admitted, "deployment.skyscanner.net/previous-for"), hash);
    return {admitted, hash};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(rollback_patch)

BOOST_AUTO_TEST_CASE(restores_the_replaced_state_and_holds_the_change_again_under_the_same_hash) {
    const auto [admitted, hash] = admitted_v2();
    const auto patch = codec::restore_patch(codec::decode_application(parse(admitted)), hash);
    BOOST_REQUIRE(patch.has_value());
    const auto restored = apply_json_patch(admitted, *patch);
    BOOST_TEST(revision(restored) == "v1");
    const auto doc = parse(restored);
    BOOST_TEST(codec::find_path(doc, {"spec", "syncPolicy", "automated"}) != nullptr);
    // The change it ran is held again under the hash status recorded for it: a retry admits it
    // again, and the state machine does not take it for a newer change.
    BOOST_TEST(annotation(restored, "deployment.skyscanner.net/pending-hash") == hash);
    const auto pending = codec::decode_pending_record(annotation(restored, "deployment.skyscanner.net/pending-spec"));
    BOOST_REQUIRE(pending.has_value());
    BOOST_TEST(pending->find("\"targetRevision\":\"v2\"") != std::string::npos, *pending);
    BOOST_TEST(!has_annotation(restored, "deployment.skyscanner.net/previous-spec"));
    BOOST_TEST(!has_annotation(restored, "deployment.skyscanner.net/previous-for"));

    // retry: the restored Application is admitted again, recording v1 as the state v2 replaces.
    const auto readmit = codec::admit_patch(codec::decode_application(parse(restored)), hash);
    BOOST_REQUIRE(readmit.has_value());
    const auto again = apply_json_patch(restored, *readmit);
    BOOST_TEST(revision(again) == "v2");
    BOOST_TEST(annotation(again, "deployment.skyscanner.net/previous-for") == hash);
}

BOOST_AUTO_TEST_CASE(the_webhook_lets_the_restore_through_only_for_a_cluster_rolled_back_at_that_hash) {
    const auto [admitted, hash] = admitted_v2();
    const auto restored =
        apply_json_patch(admitted, *codec::restore_patch(codec::decode_application(parse(admitted)), hash));
    const auto a = review(ids.self, admitted, restored, cluster_is(core::cluster_phase::rolled_back, hash));
    BOOST_TEST(a.allowed);
    BOOST_TEST(a.patch.empty());  // let through as written
    // Not rolled back (status still says Done), or rolled back from another change: refused.
    BOOST_TEST(!review(ids.self, admitted, restored, cluster_is(core::cluster_phase::done, hash)).allowed);
    BOOST_TEST(!review(ids.self, admitted, restored, cluster_is(core::cluster_phase::rolled_back, "0123456789abcdef"))
                    .allowed);
    // Nobody else may write it, rolled back or not.
    BOOST_TEST(!review("alice", admitted, restored, cluster_is(core::cluster_phase::rolled_back, hash)).allowed);
}

BOOST_AUTO_TEST_CASE(a_newer_change_already_held_stays_what_is_pending) {
    const auto [admitted, hash] = admitted_v2();
    // The template moved on to v3 after the admission: held on top of the running v2.
    const auto held_v3 = held_write(admitted, "v3", cluster_is(core::cluster_phase::done, hash));
    const auto v3_hash = annotation(held_v3, "deployment.skyscanner.net/pending-hash");
    BOOST_REQUIRE_NE(v3_hash, hash);
    BOOST_REQUIRE_EQUAL(annotation(held_v3, "deployment.skyscanner.net/previous-for"), hash);
    const auto patch = codec::restore_patch(codec::decode_application(parse(held_v3)), hash);
    BOOST_REQUIRE(patch.has_value());
    const auto restored = apply_json_patch(held_v3, *patch);
    BOOST_TEST(revision(restored) == "v1");
    BOOST_TEST(annotation(restored, "deployment.skyscanner.net/pending-hash") == v3_hash);
    const auto pending = codec::decode_pending_record(annotation(restored, "deployment.skyscanner.net/pending-spec"));
    BOOST_REQUIRE(pending.has_value());
    BOOST_TEST(pending->find("\"targetRevision\":\"v3\"") != std::string::npos, *pending);
    BOOST_TEST(!has_annotation(restored, "deployment.skyscanner.net/previous-for"));
}

BOOST_AUTO_TEST_CASE(nothing_is_restored_without_a_readable_record_of_that_change) {
    const auto [admitted, hash] = admitted_v2();
    auto record = codec::decode_application(parse(admitted));
    BOOST_TEST(!codec::restore_patch(record, "0123456789abcdef").has_value());  // another change
    BOOST_TEST(!codec::restore_patch(record, "").has_value());
    auto corrupt = record;
    corrupt.previous_spec = std::string(codec::compressed_marker) + "bm90IGd6aXA=";  // "not gzip"
    BOOST_TEST(!codec::restore_patch(corrupt, hash).has_value());
    // Never admitted: no record at all.
    BOOST_TEST(!codec::restore_patch(codec::decode_application(parse(application_json(app_spec{}))), hash).has_value());
}

// The patch tests previous-for: on an Application whose record changed since (restored already,
// or admitted for another change), the API server rejects it whole.
BOOST_AUTO_TEST_CASE(the_patch_applies_only_while_the_application_still_records_that_change) {
    const auto [admitted, hash] = admitted_v2();
    const auto patch = *codec::restore_patch(codec::decode_application(parse(admitted)), hash);
    const auto restored = apply_json_patch(admitted, patch);
    BOOST_CHECK_THROW(apply_json_patch(restored, patch), std::runtime_error);
}

BOOST_AUTO_TEST_SUITE_END()
