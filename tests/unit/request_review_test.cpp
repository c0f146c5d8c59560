#define BOOST_TEST_MODULE request_review
#include <boost/test/unit_test.hpp>

// Operator requests through the ProgressiveRollout webhooks (docs/operations.md): the mutating
// webhook stamps who asked, the validating webhook refuses malformed and illegal requests.

#include "codec/admission_review.hpp"
#include "codec/canonical_json.hpp"
#include "codec/json_reader.hpp"
#include "codec/operator_request_codec.hpp"
#include "core/json_string.hpp"

#include <rapidjson/document.h>

using namespace apr;

namespace {

const core::time_point now{std::chrono::sys_days{std::chrono::year{2027} / 1 / 15} + std::chrono::hours(8)};

rapidjson::Document parse(const std::string& text) {
    rapidjson::Document d;
    d.Parse(text.c_str());
    BOOST_REQUIRE(!d.HasParseError());
    return d;
}

// A rollout as stored: one stage in progress with cluster c1 updating and c2 pending.
std::string rollout_object(const std::string& request, bool paused = false) {
    std::string annotations;
    if (!request.empty())
        annotations = R"(,"annotations":{"deployment.skyscanner.net/request":)" + core::quote_json(request) + "}";
    return R"({"apiVersion":"deployment.skyscanner.net/v1alpha1","kind":"ProgressiveRollout","metadata":{"name":"web","namespace":"argocd")" +
           annotations + R"(},"spec":{"paused":)" + (paused ? "true" : "false") +
           R"(,"sourceRef":{"kind":"ApplicationSet","name":"web-set"},"stages":[{"name":"all","clusters":{"selector":{}}}]},)"
           R"("status":{"phase":"Progressing","pass":1,"currentStage":"all","stages":[{"name":"all","phase":"Progressing","clusters":[{"name":"c1","phase":"Updating","hash":"h"},{"name":"c2","phase":"Pending"}]}]}})";
}

std::string review(const std::string& object, const std::string& old_object) {
    return R"({"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":"u1","operation":"UPDATE","namespace":"argocd","name":"web","userInfo":{"username":"alice","groups":["oncall","system:authenticated"]},"object":)" +
           object + R"(,"oldObject":)" + old_object + "}}";
}

core::fleet_state empty_fleet() {
    return core::build_fleet_state({}, {});
}

}  // namespace

BOOST_AUTO_TEST_SUITE(stamping)

BOOST_AUTO_TEST_CASE(the_writer_is_stamped_over_what_the_client_claims) {
    const auto forged =
        R"({"verb":"hold","id":"q1","cluster":"c2","reason":"INC-9","user":"admin","groups":["system:masters"],"at":"2020-01-01T00:00:00Z"})";
    auto answer = codec::mutate_rollout("application/json", review(rollout_object(forged), rollout_object("")), now);
    BOOST_TEST(answer.outcome == "stamped");
    auto doc = parse(answer.body);
    BOOST_TEST(doc["response"]["allowed"].GetBool());
    const auto patch = codec::base64_decode(codec::string_at(doc["response"], {"patch"})).value_or("");
    auto ops = parse(patch);
    BOOST_REQUIRE(ops.IsArray() && ops.Size() == 1);
    BOOST_TEST(codec::string_at(ops[0], {"path"}) == "/metadata/annotations/deployment.skyscanner.net~1request");
    const auto stamped = codec::decode_request(codec::string_at(ops[0], {"value"}));
    BOOST_TEST(stamped.errors.empty());
    BOOST_TEST(stamped.request.user == "alice");
    BOOST_TEST((stamped.request.groups == std::vector<std::string>{"oncall", "system:authenticated"}));
    BOOST_TEST((stamped.request.at == now));
    BOOST_TEST(stamped.request.cluster == "c2");
    BOOST_TEST(stamped.request.reason == "INC-9");
}

BOOST_AUTO_TEST_CASE(a_write_that_leaves_the_request_as_it_was_is_not_restamped) {
    const auto request = R"({"verb":"abort","id":"q1","user":"bob","groups":[],"at":"2027-01-15T07:00:00Z"})";
    auto answer =
        codec::mutate_rollout("application/json", review(rollout_object(request), rollout_object(request)), now);
    BOOST_TEST(answer.outcome == "allowed");
    BOOST_TEST(!parse(answer.body)["response"].HasMember("patch"));
}

BOOST_AUTO_TEST_CASE(a_malformed_request_is_left_for_the_validating_webhook) {
    auto answer =
        codec::mutate_rollout("application/json", review(rollout_object("{not json"), rollout_object("")), now);
    BOOST_TEST(!parse(answer.body)["response"].HasMember("patch"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(checking)

std::string stamped(const std::string& fields) {
    return R"({)" + fields + R"(,"id":"q1","user":"alice","groups":["oncall"],"at":"2027-01-15T08:00:00Z"})";
}

BOOST_AUTO_TEST_CASE(malformed_and_unstamped_requests_are_invalid_with_their_field_paths) {
    const auto fleet = empty_fleet();
    auto doc = parse(codec::review_rollout("application/json",
                                           review(rollout_object(R"({"verb":"explode","id":"q1","until":"tomorrow"})"),
                                                  rollout_object("")),
                                           fleet, now)
                         .body);
    BOOST_TEST(!doc["response"]["allowed"].GetBool());
    BOOST_TEST(doc["response"]["status"]["code"].GetInt() == 422);
    BOOST_TEST(codec::string_at(doc["response"], {"status", "message"}) ==
               "ProgressiveRollout.deployment.skyscanner.net \"web\" is invalid: "
               "[metadata.annotations[deployment.skyscanner.net/request].verb: Unsupported value: \"explode\": "
               "supported values: \"pause\", \"resume\", \"promote\", \"abort\", \"retry\", \"hold\", \"release\", "
               "metadata.annotations[deployment.skyscanner.net/request].until: Invalid value: \"tomorrow\": must be an "
               "RFC 3339 time such as \"2026-11-30T21:00:00Z\", "
               "metadata.annotations[deployment.skyscanner.net/request].user: Required value: not stamped by the "
               "mutating webhook for ProgressiveRollouts: is it registered?]");
}

BOOST_AUTO_TEST_CASE(an_illegal_move_is_refused_with_what_to_do) {
    const auto fleet = empty_fleet();
    auto doc = parse(codec::review_rollout("application/json",
                                           review(rollout_object(stamped(R"("verb":"promote")")), rollout_object("")),
                                           fleet, now)
                         .body);
    BOOST_TEST(!doc["response"]["allowed"].GetBool());
    BOOST_TEST(doc["response"]["status"]["code"].GetInt() == 400);
    BOOST_TEST(codec::string_at(doc["response"], {"status", "message"}) ==
               "ProgressiveRollout argocd/web waits for nothing promote can pass: stage \"all\" is Progressing with 1 "
               "cluster(s) updating");
    doc = parse(codec::review_rollout("application/json",
                                      review(rollout_object(stamped(R"("verb":"hold","cluster":"nope","reason":"r")")),
                                             rollout_object("")),
                                      fleet, now)
                    .body);
    BOOST_TEST(codec::string_at(doc["response"], {"status", "message"}).find("has no cluster \"nope\"") !=
               std::string::npos);
}

BOOST_AUTO_TEST_CASE(legal_requests_pass) {
    const auto fleet = empty_fleet();
    for (const auto& fields :
         {R"("verb":"abort","rollback":true)", R"("verb":"hold","cluster":"c2","reason":"r")", R"("verb":"abort")"}) {
        auto doc = parse(codec::review_rollout("application/json",
                                               review(rollout_object(stamped(fields)), rollout_object("")), fleet, now)
                             .body);
        BOOST_TEST(doc["response"]["allowed"].GetBool(), fields);
    }
}

BOOST_AUTO_TEST_CASE(pause_is_judged_against_the_rollout_before_the_write) {
    const auto fleet = empty_fleet();
    const auto pause = stamped(R"("verb":"pause")");
    auto ok = parse(
        codec::review_rollout("application/json", review(rollout_object(pause, true), rollout_object("")), fleet, now)
            .body);
    BOOST_TEST(ok["response"]["allowed"].GetBool());
    auto twice = parse(codec::review_rollout("application/json",
                                             review(rollout_object(pause, true), rollout_object("", true)), fleet, now)
                           .body);
    BOOST_TEST(codec::string_at(twice["response"], {"status", "message"}) ==
               "ProgressiveRollout argocd/web is already paused");
    auto without_spec = parse(
        codec::review_rollout("application/json", review(rollout_object(pause, false), rollout_object("")), fleet, now)
            .body);
    BOOST_TEST(codec::string_at(without_spec["response"], {"status", "message"}) ==
               "pause is written together with spec.paused: true");
}

// A rollout whose stage "prod" waits for an approval by `groups` (a JSON array).
std::string awaiting_approval(const std::string& request, const std::string& groups) {
    return R"({"apiVersion":"deployment.skyscanner.net/v1alpha1","kind":"ProgressiveRollout","metadata":{"name":"web","namespace":"argocd")" +
           (request.empty()
                ? std::string()
                : R"(,"annotations":{"deployment.skyscanner.net/request":)" + core::quote_json(request) + "}") +
           R"(},"spec":{"sourceRef":{"kind":"ApplicationSet","name":"web-set"},"stages":[{"name":"canary","clusters":{"selector":{"matchLabels":{"tier":"canary"}}}},)"
           R"({"name":"prod","clusters":{"selector":{}},"gates":[{"name":"change-board","when":"Before","approval":{"groups":)" +
           groups +
           R"(}}]}]},"status":{"phase":"Progressing","pass":1,"currentStage":"prod","stages":[{"name":"canary","phase":"Completed","clusters":[{"name":"c1","phase":"Done","hash":"h"}]},)"
           R"({"name":"prod","phase":"Pending","clusters":[{"name":"c2","phase":"Pending"}],"gates":[{"name":"change-board","phase":"Running","startedAt":"2027-01-15T07:00:00Z"}]}]}})";
}

BOOST_AUTO_TEST_CASE(a_promote_past_an_approval_is_denied_to_a_user_outside_its_groups) {
    const auto fleet = empty_fleet();
    const auto promote = stamped(R"("verb":"promote")");  // by alice, groups [oncall]
    auto denied = parse(codec::review_rollout("application/json",
                                              review(awaiting_approval(promote, R"(["release-managers"])"),
                                                     awaiting_approval("", R"(["release-managers"])")),
                                              fleet, now)
                            .body);
    BOOST_TEST(!denied["response"]["allowed"].GetBool());
    BOOST_TEST(codec::string_at(denied["response"], {"status", "message"}) ==
               "ProgressiveRollout argocd/web: gate \"change-board\" of stage \"prod\" waits for approval by a member "
               "of release-managers; alice (groups: oncall) is in none of them, so may not approve it");
    auto allowed = parse(codec::review_rollout("application/json",
                                               review(awaiting_approval(promote, R"(["release-managers","oncall"])"),
                                                      awaiting_approval("", R"(["release-managers","oncall"])")),
                                               fleet, now)
                             .body);
    BOOST_TEST(allowed["response"]["allowed"].GetBool(), codec::string_at(allowed["response"], {"status", "message"}));
}

BOOST_AUTO_TEST_SUITE_END()
