#define BOOST_TEST_MODULE validation_e2e
#include <boost/test/unit_test.hpp>

#include "harness.hpp"

#include <fstream>
#include <sstream>

using namespace apr::e2e;
using namespace std::chrono_literals;

namespace {

std::string seed_example() {
    return read_source("manifests/samples/progressiverollout.yaml");
}

struct webhook_fixture {
    webhook_process webhook;
    webhook_fixture() {
        BOOST_REQUIRE_MESSAGE(eventually([&] { return webhook.ready(); }, 60s), "webhook not ready:\n"
                                                                                    << webhook.log());
        register_webhooks(webhook.port());
    }
    ~webhook_fixture() {
        // Rollouts carry the controller's finalizer: delete them while the controller runs.
        kubectl("ADMIN", "delete progressiverollouts --all --wait=true --timeout=60s");
        unregister_webhooks();
    }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(progressive_rollout_validation_through_the_api_server, webhook_fixture)

BOOST_AUTO_TEST_CASE(the_seed_example_applies_unchanged) {
    const auto seed = seed_example();
    BOOST_REQUIRE(seed.find("name: progressiverollout-sample") != std::string::npos);
    auto r = kubectl("ADMIN", "apply -f -", seed);
    BOOST_TEST(r.status == 0, r.out);
    auto got = kubectl("ADMIN", "get pr progressiverollout-sample -o jsonpath={.spec.stages[1].maxUnavailable}");
    BOOST_TEST(got.out == "25%");
}

BOOST_AUTO_TEST_CASE(invalid_rollouts_are_rejected_with_field_paths) {
    const std::string bad = R"(apiVersion: deployment.skyscanner.net/v1alpha1
kind: ProgressiveRollout
metadata:
  name: bad-rollout
spec:
  sourceRef: {apiGroup: argoproj.io, kind: Deployment, name: some-set}
  stages:
  - name: canary
    maxUnavailable: 125%
    clusters: {selector: {matchExpressions: [{key: region, operator: Near, values: [x]}]}}
    requeue: {selector: {}, attempts: -1, interval: soon}
  - name: canary
    maxUnavailable: 0
    clusters: {selector: {}}
)";
    auto r = kubectl("ADMIN", "apply -f -", bad);
    BOOST_TEST(r.status != 0);
    for (const char* expected : {
             "denied the request: ProgressiveRollout.deployment.skyscanner.net \"bad-rollout\" is invalid",
             "spec.sourceRef.kind: Unsupported value: \"Deployment\"",
             "spec.stages[0].maxUnavailable: Invalid value: \"125%\": must be an integer or a percentage between 0% "
             "and 100%",
             "spec.stages[0].clusters.selector.matchExpressions[0].operator: Unsupported value: \"Near\"",
             "spec.stages[0].requeue.attempts: Invalid value: -1",
             "spec.stages[0].requeue.interval: Invalid value: \"soon\"",
             "spec.stages[1].name: Duplicate value: \"canary\"",
             "spec.stages[1].maxUnavailable: Invalid value: 0",
         })
        BOOST_TEST(r.out.find(expected) != std::string::npos, expected << "\nin: " << r.out);
    BOOST_TEST(kubectl("ADMIN", "get pr bad-rollout").status != 0);  // nothing was stored
}

BOOST_AUTO_TEST_CASE(windows_are_kept_by_the_schema_and_checked_by_the_webhook) {
    const std::string rollout = R"(apiVersion: deployment.skyscanner.net/v1alpha1
kind: ProgressiveRollout
metadata:
  name: windowed
spec:
  sourceRef: {apiGroup: argoproj.io, kind: ApplicationSet, name: windowed-set}
  windows:
  - {kind: Deny, schedule: "0 9 * * 1-4", duration: 8h, timeZone: Europe/London}
  stages:
  - name: all
    clusters: {selector: {}}
)";
    auto r = kubectl("ADMIN", "apply -f -", rollout);
    BOOST_TEST(r.status == 0, r.out);
    auto got = kubectl("ADMIN", "get pr windowed -o jsonpath={.spec.windows[0].timeZone}");
    BOOST_TEST(got.out == "Europe/London");

    std::string bad = rollout;
    bad.replace(
        bad.find("{kind: Deny"),
        std::string_view("{kind: Deny, schedule: \"0 9 * * 1-4\", duration: 8h, timeZone: Europe/London}").size(),
        "{kind: Deny, schedule: \"0 25 * * *\", duration: 8h, timeZone: Europe/Londres}");
    r = kubectl("ADMIN", "apply -f -", bad);
    BOOST_TEST(r.status != 0);
    for (const char* expected : {
             "spec.windows[0].schedule: Invalid value: \"0 25 * * *\": cannot parse schedule: end of range (25) above "
             "maximum (23): 25",
             "spec.windows[0].timeZone: Invalid value: \"Europe/Londres\": unknown time zone",
         })
        BOOST_TEST(r.out.find(expected) != std::string::npos, expected << " in " << r.out);
}

BOOST_AUTO_TEST_CASE(a_second_rollout_for_the_same_application_set_is_rejected) {
    BOOST_REQUIRE_EQUAL(kubectl("ADMIN", "apply -f -", seed_example()).status, 0);
    const std::string second = R"(apiVersion: deployment.skyscanner.net/v1alpha1
kind: ProgressiveRollout
metadata:
  name: second-rollout
spec:
  sourceRef: {apiGroup: argoproj.io, kind: ApplicationSet, name: my-app-set}
  stages:
  - name: all
    clusters: {selector: {}}
)";
    // The webhook learns of the first rollout through its watch: allow it a moment.
    command_result r;
    BOOST_TEST(eventually(
        [&] {
            r = kubectl("ADMIN", "apply --dry-run=server -f -", second);
            return r.status != 0;
        },
        20s));
    BOOST_TEST(r.out.find("spec.sourceRef.name: Invalid value: \"my-app-set\": ApplicationSet is already rolled out by "
                          "ProgressiveRollout \"progressiverollout-sample\"") != std::string::npos,
               r.out);
    BOOST_TEST(kubectl("ADMIN", "apply -f -", second).status != 0);
}

BOOST_AUTO_TEST_CASE(warnings_reach_kubectl) {
    const std::string lonely = R"(apiVersion: deployment.skyscanner.net/v1alpha1
kind: ProgressiveRollout
metadata:
  name: lonely-rollout
spec:
  sourceRef: {apiGroup: argoproj.io, kind: ApplicationSet, name: lonely-set}
  stages:
  - name: mars
    clusters: {selector: {matchLabels: {region: mars-1}}}
)";
    auto r = kubectl("ADMIN", "apply -f -", lonely);
    BOOST_TEST(r.status == 0, r.out);
    BOOST_TEST(r.out.find("Warning: spec.stages[0].clusters.selector: stage \"mars\" matches no known cluster") !=
                   std::string::npos,
               r.out);
}

BOOST_AUTO_TEST_CASE(a_rollout_for_a_missing_application_set_says_so_until_it_exists) {
    const auto suffix = apr::kube::test::unique_suffix();
    const std::string set = "late-set-" + suffix, name = "late-rollout-" + suffix;
    const std::string rollout =
        "apiVersion: deployment.skyscanner.net/v1alpha1\nkind: ProgressiveRollout\nmetadata:\n  name: " + name +
        "\nspec:\n  sourceRef: {apiGroup: argoproj.io, kind: ApplicationSet, name: " + set +
        "}\n  stages:\n  - name: all\n    clusters: {selector: {}}\n";
    // Allowed (creating the rollout first is legitimate), with a warning.
    auto r = kubectl("ADMIN", "apply -f -", rollout);
    BOOST_TEST(r.status == 0, r.out);
    BOOST_TEST(r.out.find("Warning: spec.sourceRef.name: ApplicationSet \"" + set + "\" not found in namespace \"" +
                          env("ARGOCD_NAMESPACE") + "\"; the rollout waits until it exists") != std::string::npos,
               r.out);

    const auto ready = [&] {
        return kubectl("ADMIN",
                       "get pr " + name +
                           " -o 'jsonpath={range .status.conditions[?(@.type==\"Ready\")]}{.status}/{.reason}{end}'")
            .out;
    };
    BOOST_TEST(eventually([&] { return ready() == "False/SourceNotFound"; }, 30s), ready());
    BOOST_TEST(eventually(
        [&] {
            return !kubectl("ADMIN", "get events --field-selector involvedObject.name=" + name +
                                         ",reason=SourceNotFound -o name")
                        .out.empty();
        },
        30s));

    const std::string application_set =
        "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata:\n  name: " + set +
        "\nspec:\n  generators: []\n  template: {metadata: {name: unused}, spec: {project: default}}\n";
    BOOST_REQUIRE_EQUAL(kubectl("ADMIN", "apply -f -", application_set).status, 0);
    BOOST_TEST(eventually([&] { return ready() == "True/UpToDate"; }, 30s), ready());
    kubectl("ADMIN", "delete applicationset " + set + " --wait=false");
}

BOOST_AUTO_TEST_SUITE_END()
