#define BOOST_TEST_MODULE admission_e2e
#include <boost/test/unit_test.hpp>

// The ways around the hold (docs/admission.md), tried through the real API server calling the
// real webhook over TLS, as the users who would try them.

#include "rollout_scenario.hpp"

#include "codec/pending_record.hpp"

#include "codec/canonical_json.hpp"
#include "core/stage_machine.hpp"

#include <boost/algorithm/string/replace.hpp>

#include <random>

using namespace apr;
using namespace apr::e2e;

namespace {

std::string seed_stages() {
    auto seed = read_source("manifests/samples/progressiverollout.yaml");
    return seed.substr(seed.find("  stages:\n") + 10);
}

std::string jsonpath(const std::string& app, const std::string& path) {
    return kubectl("ADMIN", "get " + app + " -o 'jsonpath={" + path + "}'").out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(no_way_around_the_hold)

BOOST_AUTO_TEST_CASE(decoys_forged_records_overrides_are_denied_and_argo_cds_sync_button_works) {
    rollout_scenario s("airtight");
    s.start_webhook();
    s.create_fleet(s.emea_fleet());
    s.apply_rollout(seed_stages());
    s.argo.set_template_revision("v2");
    BOOST_REQUIRE(s.play_until([&](const core::rollout& r) { return r.status.current_stage == "eu-west-1"; }, 120s));
    // eu-central-1c-1 waits in a later stage and holds v2.
    const std::string app = "applications.argoproj.io/" + s.id + "-" + s.cluster("eu-central-1c-1");
    BOOST_REQUIRE_EQUAL(jsonpath(app, ".spec.source.targetRevision"), "v1");
    BOOST_REQUIRE(!jsonpath(app, ".metadata.annotations.deployment\\.skyscanner\\.net/pending-hash").empty());
    const std::string where = "cluster \"" + s.cluster("eu-central-1c-1") + "\" is in stage \"eu-central-1\"";

    // A decoy ApplicationSet ownerReference put first, with the source change in the same write.
    const std::string decoy =
        R"({"op":"add","path":"/metadata/ownerReferences/0","value":{"apiVersion":"argoproj.io/v1alpha1","kind":"ApplicationSet","name":"decoy","uid":"00000000-0000-0000-0000-00000000dec0"}})";
    const std::string to_v3 = R"({"op":"replace","path":"/spec/source/targetRevision","value":"v3"})";
    auto decoyed = kubectl("ALICE", "patch " + app + " --type json -p '[" + decoy + "," + to_v3 + "]'");
    BOOST_TEST(decoyed.status != 0);
    BOOST_TEST(decoyed.out.find(where) != std::string::npos, decoyed.out);
    // The decoy alone (ownerReferences only) is allowed; the change after it is still denied.
    auto decoy_only = kubectl("ALICE", "patch " + app + " --type json -p '[" + decoy + "]'");
    BOOST_TEST(decoy_only.status == 0, decoy_only.out);
    auto after_decoy = kubectl("ALICE", "patch " + app + " --type json -p '[" + to_v3 + "]'");
    BOOST_TEST(after_decoy.status != 0, after_decoy.out);
    // Dropping every owner while changing the source.
    auto orphaned = kubectl(
        "ALICE", "patch " + app + " --type json -p '[{\"op\":\"remove\",\"path\":\"/metadata/ownerReferences\"}," +
                     to_v3 + "]'");
    BOOST_TEST(orphaned.status != 0, orphaned.out);

    // Queueing a change through the hold's record.
    auto forged = kubectl(
        "ALICE",
        "annotate --overwrite " + app +
            " 'deployment.skyscanner.net/pending-spec={\"source\":{\"repoURL\":\"https://evil.example.com/x.git\"}}'");
    BOOST_TEST(forged.status != 0);
    BOOST_TEST(forged.out.find("change to annotation deployment.skyscanner.net/pending-spec") != std::string::npos,
               forged.out);

    // Moving it to a cluster of an earlier stage.
    auto moved = kubectl("ALICE", "patch " + app + " --type merge -p '{\"spec\":{\"destination\":{\"server\":\"" +
                                      sim::cluster_server(s.cluster("eu-west-1a-1")) + "\"}}}'");
    BOOST_TEST(moved.status != 0);
    BOOST_TEST(moved.out.find("change to spec.destination") != std::string::npos, moved.out);

    // A rollback-style sync whose source override carries another revision.
    auto override =
        kubectl("ALICE", "patch " + app +
                             " --type merge -p "
                             "'{\"operation\":{\"sync\":{\"source\":{\"repoURL\":\"https://github.com/argoproj/"
                             "argocd-example-apps.git\",\"path\":\"guestbook\",\"targetRevision\":\"v2\"}}}}'");
    BOOST_TEST(override.status != 0);
    BOOST_TEST(override.out.find("sync operation") != std::string::npos, override.out);

    // Argo CD's Sync button: argocd-server writes the commit the spec resolved to. Here the
    // application controller records a commit as Argo CD would, then the sync names it.
    const std::string sha = "53e28ff20cc530b9ada2173fbbd64d48338583ba";
    auto resolved = kubectl(
        "APPCTRL", "patch " + app + " --type merge -p '{\"status\":{\"sync\":{\"revision\":\"" + sha + "\"}}}'");
    BOOST_REQUIRE_MESSAGE(resolved.status == 0, resolved.out);
    // Nobody else may say what it resolved to.
    auto planted = kubectl(
        "ALICE",
        "patch " + app +
            " --type merge -p '{\"status\":{\"sync\":{\"revision\":\"0000000000000000000000000000000000000000\"}}}'");
    BOOST_TEST(planted.status != 0, planted.out);
    auto sync_button = kubectl(
        "ALICE",
        "patch " + app +
            " --type merge -p '{\"operation\":{\"initiatedBy\":{\"username\":\"alice\"},\"sync\":{\"revision\":\"" +
            sha + "\"}}}'");
    BOOST_TEST(sync_button.status == 0, sync_button.out);
    BOOST_TEST(jsonpath(app, ".operation.sync.revision") == sha);
    BOOST_TEST(jsonpath(app, ".spec.source.targetRevision") == "v1");  // nothing of v2 leaked
}

BOOST_AUTO_TEST_CASE(four_hundred_kib_of_helm_values_are_held_and_admitted_intact) {
    rollout_scenario s("large-values");
    s.start_webhook();
    auto fleet = s.emea_fleet();
    fleet.resize(3);  // eu-west-1{a,b,c}-1
    s.create_fleet(fleet);
    s.apply_rollout(
        "  - name: canary\n    maxClusters: 1\n    clusters:\n      selector:\n        matchLabels:\n          e2e: " +
        s.id +
        "\n  - name: rest\n    maxUnavailable: 100%\n    clusters:\n      selector:\n        matchLabels:\n          "
        "e2e: " +
        s.id + "\n");
    BOOST_REQUIRE(s.play_until([](const core::rollout& r) { return r.status.observed_generation > 0; }, 30s));
    std::string values;
    for (int i = 0; values.size() < 400 * 1024; ++i)
        values += "service-" + std::to_string(i) + ":\n  image: registry.example.com/team/service-" +
                  std::to_string(i % 97) + ":v2\n  cpu: " + std::to_string(i % 13) + "00m\n";
    s.argo.set_template_helm_values(values);
    // Held first, the values recorded compressed. The canary may be admitted at once; the clusters
    // of the later stage wait for it to be done, which needs the application controller's pass.
    for (std::size_t i = 1; i < fleet.size(); ++i) {
        const std::string app = "applications.argoproj.io/" + s.id + "-" + fleet[i].name;
        const auto record = jsonpath(app, ".metadata.annotations.deployment\\.skyscanner\\.net/pending-spec");
        BOOST_TEST(record.starts_with(codec::compressed_marker), app << ": " << record.substr(0, 80));
        BOOST_TEST(jsonpath(app, ".spec.source.helm.values").empty(), app << " runs the values before its turn");
    }
    BOOST_REQUIRE_MESSAGE(s.play_until(
                              [](const core::rollout& r) { return phase_is(r, core::rollout_phase::completed); }, 180s),
                          "rollout did not complete:\n"
                              << s.webhook->log());
    for (const auto& c : fleet) {
        const std::string app = "applications.argoproj.io/" + s.id + "-" + c.name;
        const auto got = jsonpath(app, ".spec.source.helm.values");
        BOOST_TEST(got.size() == values.size(), app);
        BOOST_TEST((got == values), app << ": the values differ");
        BOOST_TEST(jsonpath(app, ".metadata.annotations.deployment\\.skyscanner\\.net/pending-spec").empty());
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(a_change_that_cannot_be_held)

BOOST_AUTO_TEST_CASE(is_denied_and_reported_in_an_event_and_the_clusters_status) {
    rollout_scenario s("too-large");
    s.start_webhook();
    auto fleet = s.emea_fleet();
    fleet.resize(1);
    s.create_fleet(fleet);
    s.apply_rollout("  - name: all\n    clusters:\n      selector:\n        matchLabels:\n          e2e: " + s.id +
                    "\n");
    BOOST_REQUIRE(s.play_until([](const core::rollout& r) { return r.status.observed_generation > 0; }, 30s));
    // Values that do not compress: ~300 KB of base64 of pseudo-random bytes.
    std::mt19937_64 random(42);
    std::string bytes(225 * 1024, '\0');
    for (auto& b : bytes) b = static_cast<char>(random());
    const auto values = "blob: " + codec::base64_encode(bytes) + "\n";
    try {
        s.argo.set_template_helm_values(values);
        BOOST_ERROR("the ApplicationSet controller's write was not refused");
    } catch (const std::exception& e) {
        BOOST_TEST(std::string(e.what()).find("262144") != std::string::npos, e.what());
    }
    const std::string app = "applications.argoproj.io/" + s.id + "-" + fleet[0].name;
    BOOST_TEST(jsonpath(app, ".spec.source.helm.values").empty());
    BOOST_TEST(eventually(
        [&] {
            return kubectl("ADMIN", "get events --field-selector reason=PendingSpecTooLarge,involvedObject.name=" +
                                        s.id + "-" + fleet[0].name + " -o custom-columns=MSG:.message")
                       .out.find("262144-byte limit") != std::string::npos;
        },
        20s));
    BOOST_TEST_REQUIRE(s.play_until(
                           [&](const core::rollout& r) {
                               const auto* c = s.cluster_state(r, fleet[0].name.substr(s.id.size() + 1));
                               return c && c->message.starts_with(core::hold_refused_prefix) &&
                                      c->message.find("262144") != std::string::npos;
                           },
                           60s),
                       "the cluster's status does not report the refused hold:\n"
                           << s.webhook->log());
    BOOST_TEST(s.events().find("HoldRefused") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(moving_revisions)

// docs/admission.md, "Moving revisions": with trackRevisions the Applications lose auto-sync and
// keep the policy in an annotation; a sync to a new commit waits for the cluster's turn, a sync of
// what runs does not.
BOOST_AUTO_TEST_CASE(auto_sync_is_kept_off_and_a_new_commit_is_synced_only_in_the_clusters_turn) {
    rollout_scenario s("revisions");
    s.start_webhook();
    auto fleet = s.emea_fleet();
    fleet.resize(2);  // eu-west-1a-1 (canary), eu-west-1b-1 (rest)
    s.create_fleet(fleet);
    // The canary's bake outlasts the test: the second stage is never admitted here.
    s.apply_rollout(
        "  - name: canary\n    maxClusters: 1\n    bakeTime: 1h\n    clusters:\n      selector:\n"
        "        matchLabels:\n          e2e: " +
            s.id + "\n  - name: rest\n    clusters:\n      selector:\n        matchLabels:\n          e2e: " + s.id +
            "\n",
        "  trackRevisions: true\n");
    const std::string running = "1111111111111111111111111111111111111111";
    const std::string next = "2222222222222222222222222222222222222222";
    const std::string policy = "deployment\\.skyscanner\\.net/sync-policy";
    // Argo CD resolves the branch to a new commit while the clusters run the old one; its status
    // write is the first write the webhook sees once it knows the rollout.
    for (const auto& c : fleet) {
        const std::string app = "applications.argoproj.io/" + s.id + "-" + c.name;
        BOOST_TEST_REQUIRE(eventually(
                               [&] {
                                   kubectl("APPCTRL",
                                           "patch " + app +
                                               " --type merge -p '{\"status\":{\"sync\":{\"status\":\"OutOfSync\","
                                               "\"revision\":\"" +
                                               next +
                                               "\"},\"operationState\":{\"phase\":\"Succeeded\",\"syncResult\":{"
                                               "\"revision\":\"" +
                                               running + "\"}}}}'");
                                   return jsonpath(app, ".spec.syncPolicy.automated").empty() &&
                                          !jsonpath(app, ".metadata.annotations." + policy).empty();
                               },
                               30s),
                           app << " keeps auto-sync: " << kubectl("ADMIN", "get " + app + " -o json").out);
        BOOST_TEST(jsonpath(app, ".metadata.annotations." + policy) ==
                   R"({"automated":{"prune":true,"selfHeal":true},"syncOptions":["CreateNamespace=true"]})");
    }
    // The ApplicationSet controller keeps writing its template (auto-sync included): no hold, and
    // auto-sync stays off.
    s.argo.refresh();
    const std::string rest = "applications.argoproj.io/" + s.id + "-" + fleet[1].name;
    BOOST_TEST(jsonpath(rest, ".spec.syncPolicy.automated").empty());
    BOOST_TEST(jsonpath(rest, ".metadata.annotations.deployment\\.skyscanner\\.net/pending-hash").empty());

    const auto sync = [&](const std::string& revision) {
        return kubectl("ALICE", "patch " + rest +
                                    " --type merge -p '{\"operation\":{\"initiatedBy\":{\"username\":\"alice\"},"
                                    "\"sync\":{\"revision\":\"" +
                                    revision + "\"}}}'");
    };
    // A human sync to the new commit, or to the branch it resolves to, on a cluster not admitted.
    const auto to_next = sync(next);
    BOOST_TEST(to_next.status != 0, to_next.out);
    BOOST_TEST(to_next.out.find("ProgressiveRollout " + s.env.ns() + "/" + s.id) != std::string::npos, to_next.out);
    BOOST_TEST(to_next.out.find("is in stage \"rest\"") != std::string::npos, to_next.out);
    BOOST_TEST(to_next.out.find("sync revision " + running + " to re-sync what runs") != std::string::npos,
               to_next.out);
    const auto to_branch = sync("v1");
    BOOST_TEST(to_branch.status != 0, to_branch.out);
    BOOST_TEST(jsonpath(rest, ".operation.sync.revision").empty());
    // A sync of what runs is allowed.
    const auto resync = sync(running);
    BOOST_TEST(resync.status == 0, resync.out);
    BOOST_TEST(jsonpath(rest, ".operation.sync.revision") == running);
}

BOOST_AUTO_TEST_SUITE_END()
