#define BOOST_TEST_MODULE codec
#include <boost/test/unit_test.hpp>

#include "codec/canonical_json.hpp"
#include "codec/json_skip.hpp"
#include "codec/kube_objects.hpp"
#include "codec/rollout_codec.hpp"
#include "codec/time_format.hpp"
#include "codec/windows_codec.hpp"
#include "core/validation.hpp"
#include "test_fleet.hpp"

#include <fstream>
#include <functional>
#include <random>
#include <sstream>

using namespace apr;
using namespace apr::test;

namespace {

std::string data_file(const std::string& name) {
    std::ifstream in(std::string(APR_TEST_DATA) + "/" + name);
    BOOST_REQUIRE_MESSAGE(in, "cannot open " << name);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

codec::decoded_rollout decode_yaml(const std::string& yaml) {
    auto docs = codec::parse_objects(yaml);
    BOOST_REQUIRE_EQUAL(docs.size(), 1u);
    return codec::decode_rollout(docs.front());
}

const std::string header = R"(apiVersion: deployment.skyscanner.net/v1alpha1
kind: ProgressiveRollout
metadata:
  name: r
  namespace: argocd
spec:
  sourceRef: {apiGroup: argoproj.io, kind: ApplicationSet, name: s}
)";

}  // namespace

BOOST_AUTO_TEST_SUITE(rollout_decoding)

BOOST_AUTO_TEST_CASE(seed_example_decodes_unchanged_to_the_seed_spec) {
    auto decoded = decode_yaml(data_file("seed-rollout.yaml"));
    BOOST_TEST(messages(decoded.errors).empty());
    BOOST_TEST(decoded.rollout.name == "progressiverollout-sample");
    BOOST_TEST(decoded.rollout.namespace_ == "argocd");
    BOOST_TEST((decoded.rollout.spec == seed_spec()));
    BOOST_TEST(core::validate(decoded.rollout.spec, {}).ok());
}

BOOST_AUTO_TEST_CASE(topology_key_is_accepted_under_clusters_too) {
    auto decoded = decode_yaml(header + R"(  stages:
  - name: canary
    clusters:
      selector: {matchLabels: {area: emea}}
      topologyKey: region
)");
    BOOST_TEST(decoded.errors.empty());
    BOOST_TEST(decoded.rollout.spec.stages[0].topology_key == "region");
}

BOOST_AUTO_TEST_CASE(defaults_apply_when_fields_are_omitted) {
    auto decoded = decode_yaml(header + R"(  stages:
  - name: all
    clusters: {selector: {}}
)");
    const auto& s = decoded.rollout.spec.stages[0];
    BOOST_TEST((s.max_clusters == core::int_or_percent::percent(100)));
    BOOST_TEST((s.max_unavailable == core::int_or_percent::integer(1)));
    BOOST_TEST(s.progress_deadline.text == "30m");
    BOOST_TEST(s.bake_time.text == "0s");
    BOOST_TEST(!s.requeue.has_value());
    BOOST_TEST(!decoded.rollout.spec.paused);
}

BOOST_AUTO_TEST_CASE(windows_decode_with_their_zones_resolved) {
    auto decoded = decode_yaml(header + R"(  windows:
  - {kind: Deny, schedule: "0 9 * * 1-4", duration: 8h, timeZone: Europe/London}
  - {kind: Allow, schedule: "0 22 * * *", duration: 2h}
  - {kind: Deny, schedule: "0 9 * * *", duration: 1h, timeZone: Mars/Olympus_Mons, zone: x}
  - 5
  stages:
  - name: all
    clusters: {selector: {}}
)");
    const auto& w = decoded.rollout.spec.windows;
    BOOST_REQUIRE(w.size() == 4u);
    BOOST_TEST(w[0].kind == "Deny");
    BOOST_TEST(w[0].schedule == "0 9 * * 1-4");
    BOOST_TEST(w[0].duration.text == "8h");
    BOOST_TEST(w[0].time_zone.name == "Europe/London");
    BOOST_TEST((w[0].time_zone.zone != nullptr));
    BOOST_TEST(w[1].time_zone.name.empty());
    BOOST_TEST((w[2].time_zone.zone == nullptr));  // unknown: validation names it
    std::vector<std::string> expected = {"unknown field \"spec.windows[2].zone\"",
                                         "spec.windows[3]: Invalid value: \"integer\": must be of type object"};
    BOOST_TEST(messages(decoded.errors) == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(app_projects_keep_their_sync_windows_only) {
    rapidjson::Document d;
    d.Parse(R"({"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
        "metadata": {"name": "payments", "namespace": "argocd"},
        "spec": {"sourceRepos": ["*"], "syncWindows": [
          {"kind": "deny", "schedule": "0 22 * * *", "duration": "1h", "applications": ["pay-*"],
           "namespaces": ["payments"], "clusters": ["eu-*"], "manualSync": true, "timeZone": "Europe/Paris",
           "andOperator": true, "syncOverrun": true, "description": "nightly"},
          {"kind": "allow", "schedule": "CRON_TZ=America/New_York 0 9 * * *", "duration": "8h", "timeZone": "Nowhere"},
          "not a window"]}})");
    auto project = codec::decode_app_project(d);
    BOOST_REQUIRE(project.has_value());
    BOOST_TEST(project->name == "payments");
    BOOST_REQUIRE(project->sync_windows.size() == 2u);
    const auto& deny = project->sync_windows[0];
    BOOST_TEST(deny.kind == "deny");
    BOOST_TEST((deny.applications == std::vector<std::string>{"pay-*"}));
    BOOST_TEST((deny.namespaces == std::vector<std::string>{"payments"}));
    BOOST_TEST((deny.clusters == std::vector<std::string>{"eu-*"}));
    BOOST_TEST(deny.manual_sync);
    BOOST_TEST(deny.and_operator);
    BOOST_TEST((deny.time_zone.zone != nullptr));
    const auto& allow = project->sync_windows[1];
    BOOST_TEST((allow.time_zone.zone == nullptr));  // Argo CD reads an unknown zone as UTC
    BOOST_TEST(allow.schedule_zone.name == "America/New_York");
    BOOST_TEST((allow.schedule_zone.zone != nullptr));

    d.Parse(R"({"kind": "Application", "metadata": {"name": "payments"}})");
    BOOST_TEST(!codec::decode_app_project(d).has_value());
}

BOOST_AUTO_TEST_CASE(applications_carry_what_project_windows_match_on) {
    rapidjson::Document d;
    d.Parse(R"({"kind": "Application", "metadata": {"name": "pay-eu-1", "namespace": "argocd"},
        "spec": {"project": "payments", "destination": {"name": "eu-1", "namespace": "payments"},
                 "syncPolicy": {"automated": {}}}})");
    auto app = codec::decode_application(d);
    BOOST_TEST(app.project == "payments");
    BOOST_TEST(app.destination_name == "eu-1");
    BOOST_TEST(app.destination_namespace == "payments");
    BOOST_TEST(app.automated_sync);
    d.Parse(R"({"kind": "Application", "metadata": {"name": "pay-eu-1"},
        "spec": {"destination": {"server": "https://eu-1"}, "syncPolicy": {"automated": null}}})");
    app = codec::decode_application(d);
    BOOST_TEST(app.project == "default");  // as Argo CD reads an empty project
    BOOST_TEST(!app.automated_sync);
}

BOOST_AUTO_TEST_CASE(unknown_fields_are_reported_with_their_path) {
    auto decoded = decode_yaml(header + R"(  stage: oops
  stages:
  - name: all
    maxUnavaliable: 2
    clusters: {selector: {matchLabel: {a: b}}}
)");
    auto m = messages(decoded.errors);
    std::vector<std::string> expected = {"unknown field \"spec.stages[0].clusters.selector.matchLabel\"",
                                         "unknown field \"spec.stages[0].maxUnavaliable\"",
                                         "unknown field \"spec.stage\""};
    BOOST_TEST(m == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(scope_paths_decode_with_their_types_checked) {
    const std::string stages = "  stages:\n  - name: all\n    clusters: {selector: {}}\n";
    auto decoded = decode_yaml(header + "  scope:\n    paths: [source.targetRevision, 'sources[*].chart']\n" + stages);
    BOOST_TEST(decoded.errors.empty());
    BOOST_REQUIRE(decoded.rollout.spec.scope.has_value());
    BOOST_TEST(
        (decoded.rollout.spec.scope->paths == std::vector<std::string>{"source.targetRevision", "sources[*].chart"}),
        boost::test_tools::per_element());
    BOOST_TEST(!decode_yaml(header + stages).rollout.spec.scope.has_value());
    auto wrong = decode_yaml(header + "  scope:\n    paths: [1, x]\n    path: y\n" + stages);
    std::vector<std::string> expected = {"spec.scope.paths[0]: Invalid value: \"integer\": must be of type string",
                                         "unknown field \"spec.scope.path\""};
    BOOST_TEST(messages(wrong.errors) == expected, boost::test_tools::per_element());
    BOOST_TEST(messages(decode_yaml(header + "  scope: {paths: x}\n" + stages).errors) ==
                   std::vector<std::string>{"spec.scope.paths: Invalid value: \"string\": must be of type array"},
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(wrong_types_are_reported_not_crashed_on) {
    auto decoded = decode_yaml(header + R"(  paused: "yes"
  stages:
  - name: 5
    maxUnavailable: true
    maxClusters: [1]
    maxFailures: "2"
    clusters: {selector: {matchLabels: {a: 1}, matchExpressions: {key: a}}}
    requeue: {selector: {}, attempts: 1.5, interval: 30}
)");
    auto m = messages(decoded.errors);
    std::vector<std::string> expected = {
        "spec.paused: Invalid value: \"string\": must be of type boolean",
        "spec.stages[0].name: Invalid value: \"integer\": must be of type string",
        "spec.stages[0].clusters.selector.matchLabels.a: Invalid value: \"integer\": must be of type string",
        "spec.stages[0].clusters.selector.matchExpressions: Invalid value: \"object\": must be of type array",
        "spec.stages[0].maxClusters: Invalid value: \"array\": must be of type integer or string",
        "spec.stages[0].maxUnavailable: Invalid value: \"boolean\": must be of type integer or string",
        "spec.stages[0].requeue.attempts: Invalid value: \"number\": must be of type integer",
        "spec.stages[0].requeue.interval: Invalid value: \"integer\": must be of type string",
        "spec.stages[0].maxFailures: Invalid value: \"string\": must be of type integer",
    };
    BOOST_TEST(m == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(yaml_quoting_decides_strings_and_numbers) {
    auto docs = codec::parse_objects("a: \"true\"\nb: true\nc: '25'\nd: 25\ne: 25%\nf: ~\ng: 1.5\n");
    const auto& d = docs.at(0);
    BOOST_TEST(d["a"].IsString());
    BOOST_TEST(d["b"].IsBool());
    BOOST_TEST(d["c"].IsString());
    BOOST_TEST(d["d"].IsInt64());
    BOOST_TEST(d["e"].IsString());
    BOOST_TEST(d["f"].IsNull());
    BOOST_TEST(d["g"].IsDouble());
}

BOOST_AUTO_TEST_CASE(multi_document_yaml_json_and_lists) {
    BOOST_TEST(codec::parse_objects("a: 1\n---\nb: 2\n---\n").size() == 2u);
    BOOST_TEST(codec::parse_objects(R"({"kind":"List","items":[{"a":1},{"b":2},{"c":3}]})").size() == 3u);
    BOOST_TEST(codec::parse_objects(R"([{"a":1},{"b":2}])").size() == 2u);
    BOOST_CHECK_THROW(codec::parse_objects("{\"a\": "), std::runtime_error);
    BOOST_CHECK_THROW(codec::parse_objects("a: [1, 2\n"), std::runtime_error);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cluster_secrets)

BOOST_AUTO_TEST_CASE(only_name_server_and_labels_are_read) {
    auto docs = codec::parse_objects(data_file("fleet-secrets.yaml"));
    std::vector<core::cluster> clusters;
    for (const auto& d : docs)
        if (auto c = codec::decode_cluster_secret(d)) clusters.push_back(*c);
    BOOST_REQUIRE_EQUAL(clusters.size(), 9u);  // argocd-secret is not a cluster
    BOOST_TEST(clusters[0].name == "eu-west-1a-1");
    BOOST_TEST(clusters[0].server == "https://eu-west-1a-1.example.com");
    BOOST_TEST(clusters[0].labels.at("region") == "eu-west-1");
    BOOST_TEST(clusters[2].labels.at("drained") == "true");
}

BOOST_AUTO_TEST_CASE(string_data_wins_and_the_secret_name_is_the_fallback) {
    auto docs = codec::parse_objects(R"(kind: Secret
metadata:
  name: cluster-x
  labels: {argocd.argoproj.io/secret-type: cluster}
stringData: {server: "https://x.example.com"}
data: {server: aHR0cHM6Ly95LmV4YW1wbGUuY29t}
)");
    auto c = codec::decode_cluster_secret(docs.at(0));
    BOOST_REQUIRE(c.has_value());
    BOOST_TEST(c->server == "https://x.example.com");
    BOOST_TEST(c->name == "cluster-x");
}

BOOST_AUTO_TEST_CASE(base64_round_trip_and_bad_input) {
    for (std::string s : {"", "a", "ab", "abc", "abcd", "https://kubernetes.default.svc"})
        BOOST_TEST(codec::base64_decode(codec::base64_encode(s)).value() == s);
    BOOST_TEST(!codec::base64_decode("abc").has_value());
    BOOST_TEST(!codec::base64_decode("@@@@").has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(application_sets)

BOOST_AUTO_TEST_CASE(only_namespace_and_name_are_kept) {
    auto docs = codec::parse_objects(R"(apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: my-app-set, namespace: argocd, uid: 6d6a8c3e-1111-2222-3333-444455556666}
spec:
  generators: [{clusters: {}}]
  template: {metadata: {name: "my-app-{{name}}"}, spec: {project: default}}
status: {resources: [{name: my-app-a, health: {status: Healthy}}]}
---
{"metadata": {"name": "from-a-list", "namespace": "argocd"}}
---
{"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "an-app", "namespace": "argocd"}}
---
{"apiVersion": "example.com/v1", "kind": "ApplicationSet", "metadata": {"name": "someone-elses", "namespace": "argocd"}}
---
{"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet", "metadata": {"namespace": "argocd"}}
---
["not", "an", "object"]
)");
    BOOST_REQUIRE_EQUAL(docs.size(), 6u);
    auto set = codec::decode_application_set(docs[0]);
    BOOST_REQUIRE(set.has_value());
    BOOST_TEST((*set == core::application_set_ref{"argocd", "my-app-set"}));
    auto listed = codec::decode_application_set(docs[1]);  // items of a LIST carry no kind
    BOOST_REQUIRE(listed.has_value());
    BOOST_TEST(listed->name == "from-a-list");
    for (std::size_t i = 2; i < docs.size(); ++i) BOOST_TEST(!codec::decode_application_set(docs[i]).has_value(), i);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(status_persistence)

core::rollout_status round_trip(const core::rollout_status& status) {
    auto json = codec::encode_status(status);
    rapidjson::Document doc;
    doc.Parse(json.c_str());
    BOOST_REQUIRE(!doc.HasParseError());
    return codec::decode_status(doc);
}

BOOST_AUTO_TEST_CASE(times_are_rfc3339_utc) {
    auto t = codec::parse_time("2026-11-27T16:05:03Z");
    BOOST_REQUIRE(t.has_value());
    BOOST_TEST(codec::format_time(*t) == "2026-11-27T16:05:03Z");
    BOOST_TEST(codec::format_time(*codec::parse_time("2026-11-27T17:05:03.123+01:00")) == "2026-11-27T16:05:03Z");
    BOOST_TEST(!codec::parse_time("yesterday").has_value());
}

// The one RFC 3339 parser, for every layer: what it accepts (as microseconds since the epoch).
BOOST_AUTO_TEST_CASE(time_parser_accepts) {
    struct row {
        const char* text;
        long long micros;
    };
    const long long base = 1'764'237'600'000'000;  // 2025-11-27T10:00:00Z
    const row rows[] = {
        {"2025-11-27T10:00:00Z", base},                     // metav1.Time
        {"2025-11-27T10:00:00.123456Z", base + 123456},     // metav1.MicroTime
        {"2025-11-27T10:00:00z", base},                     // lower-case zone
        {"2025-11-27T10:00:00.5Z", base + 500000},          // short fraction
        {"2025-11-27T10:00:00.123456789Z", base + 123456},  // nanoseconds, kept to the micro
        {"2025-11-27T10:00:00+00:00", base},                // explicit UTC offset
        {"2025-11-27T12:00:00+02:00", base},                // positive offset
        {"2025-11-27T05:30:00-04:30", base},                // negative offset
        {"2025-11-27T11:00:00.250+01:00", base + 250000},   // fraction and offset
        {"2024-02-29T00:00:00Z", 1'709'164'800'000'000},    // leap day
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT(r.text) {
            auto t = codec::parse_micro_time(r.text);
            BOOST_REQUIRE(t.has_value());
            BOOST_TEST(t->time_since_epoch().count() == r.micros);
        }
    }
    auto t = codec::parse_micro_time("2025-11-27T10:00:00.123456Z");
    BOOST_TEST(codec::format_micro_time(*t) == "2025-11-27T10:00:00.123456Z");
    BOOST_TEST(codec::format_time(*t) == "2025-11-27T10:00:00Z");
    BOOST_TEST(codec::parse_time("2025-11-27T10:00:00.999Z")->time_since_epoch().count() == base / 1'000'000);
}

BOOST_AUTO_TEST_CASE(time_parser_rejects) {
    const char* rows[] = {
        "",
        "yesterday",
        "2025-11-27",                 // date only
        "2025-11-27T10:00:00",        // no zone
        "2025-11-27 10:00:00Z",       // space for T
        "2025-11-27T10:00Z",          // no seconds
        "2025-11-27T10:00:00.Z",      // fraction without digits
        "2025-11-27T10:00:00+0200",   // offset without colon
        "2025-11-27T10:00:00+02",     // offset without minutes
        "2025-11-27T10:00:00+24:00",  // offset hour out of range
        "2025-11-27T10:00:00ZZ",      // trailing text
        "2025-11-27T10:00:00Z ",      // trailing space
        " 2025-11-27T10:00:00Z",      // leading space
        "2025-13-01T10:00:00Z",       // month 13
        "2025-02-29T10:00:00Z",       // not a leap year
        "2025-11-27T24:00:00Z",       // hour 24
        "2025-11-27T10:60:00Z",       // minute 60
        "2025-11-27T10:00:61Z",       // second 61
        "25-11-27T10:00:00Z",         // two-digit year
        "2025-1-27T10:00:00Z",        // one-digit month
        "+025-11-27T10:00:00Z",       // sign in a field
    };
    for (const char* text : rows) {
        BOOST_TEST_CONTEXT(text) {
            BOOST_TEST(!codec::parse_micro_time(text).has_value());
            BOOST_TEST(!codec::parse_time(text).has_value());
        }
    }
}

// What a cluster rolled back in an earlier pass remembers survives a restart.
BOOST_AUTO_TEST_CASE(the_change_a_cluster_was_rolled_back_from_is_kept) {
    core::rollout_status status;
    status.pass = 2;
    status.stages.push_back({.name = "rest", .clusters = {{.name = "r2", .rolled_back_from = "0123456789abcdef"}}});
    BOOST_TEST(codec::encode_status(status).find(R"("rolledBackFrom":"0123456789abcdef")") != std::string::npos);
    BOOST_TEST((round_trip(status) == status));
}

// A controller restarted at any step resumes from the status it wrote: running with a status
// serialised and read back at every step gives exactly the straight run.
BOOST_AUTO_TEST_CASE(restart_at_every_step_gives_the_same_rollout) {
    auto fleet = emea_fleet();
    fleet[1].labels["drained"] = "true";
    auto spec = seed_spec();
    spec.stages[0].bake_time = core::duration_field::of("10m");
    fleet_sim straight(spec, fleet), restarted(spec, fleet);
    straight.apps.at("eu-central-1c-1").settle_in = 0;
    for (auto* sim : {&straight, &restarted}) sim->change_template("v2");
    for (int round = 0; round < 400; ++round) {
        if (round == 40)
            for (auto* sim : {&straight, &restarted}) sim->clusters[1].labels.erase("drained");
        straight.step();
        restarted.step();
        restarted.rollout.status = round_trip(restarted.rollout.status);
        BOOST_TEST((straight.rollout.status == restarted.rollout.status), "round " << round);
        for (auto* sim : {&straight, &restarted}) {
            sim->argo();
            sim->advance(std::chrono::minutes(1));
        }
    }
    BOOST_TEST(straight.rollout.status.phase == core::rollout_phase::completed);
    BOOST_TEST(straight.admitted_order == restarted.admitted_order, boost::test_tools::per_element());
    // Admitted exactly once each.
    auto order = restarted.admitted_order;
    std::sort(order.begin(), order.end());
    BOOST_TEST((std::adjacent_find(order.begin(), order.end()) == order.end()));
    BOOST_TEST(order.size() == 8u);
}

BOOST_AUTO_TEST_CASE(status_of_5000_clusters_stays_well_under_the_object_limit) {
    std::vector<core::cluster> fleet;
    for (int i = 0; i < 5000; ++i)
        fleet.push_back(make_cluster("prod-cluster-" + std::to_string(i), {{"region", "r" + std::to_string(i % 20)}}));
    core::rollout_spec spec;
    spec.source = {"argoproj.io", "ApplicationSet", "set"};
    for (int s = 0; s < 20; ++s)
        spec.stages.push_back(stage("region-" + std::to_string(s), match({{"region", "r" + std::to_string(s)}}),
                                    core::int_or_percent::percent(10)));
    fleet_sim sim(spec, fleet);
    sim.change_template("0123456789abcdef");
    sim.run(2000, std::chrono::seconds(10));
    BOOST_TEST(sim.rollout.status.phase == core::rollout_phase::completed);
    const auto size = codec::encode_status(sim.rollout.status).size();
    BOOST_TEST_MESSAGE("status of 5000 done clusters: " << size << " bytes");
    BOOST_TEST(size < 1'000'000u);
}

// Every cluster passes a gate of scope Cluster: what status keeps of 10,000 of them after the pass.
BOOST_AUTO_TEST_CASE(status_of_10000_clusters_with_a_per_cluster_gate_stays_under_1_mib) {
    std::vector<core::cluster> fleet;
    for (int i = 0; i < 10000; ++i)
        fleet.push_back(make_cluster("prod-cluster-" + std::to_string(i), {{"region", "r" + std::to_string(i % 20)}}));
    core::rollout_spec spec;
    spec.source = {"argoproj.io", "ApplicationSet", "set"};
    core::gate_spec gate;
    gate.name = "error-rate";
    gate.scope = core::gate_scope::cluster;
    gate.interval = core::duration_field::of("10s");
    gate.prometheus = core::prometheus_check{"http://prometheus:9090", "rate{cluster=\"$(cluster.name)\"}", {{}, 0.01}};
    for (int s = 0; s < 20; ++s) {
        spec.stages.push_back(stage("region-" + std::to_string(s), match({{"region", "r" + std::to_string(s)}}),
                                    core::int_or_percent::percent(100)));
        spec.stages.back().gates.push_back(gate);
    }
    fleet_sim sim(spec, fleet);
    sim.measure = [&](const core::measurement_request& r) {
        return core::judge_samples(*r.prometheus, {0.001}, sim.now);
    };
    sim.change_template("0123456789abcdef");
    sim.run(2000, std::chrono::seconds(10));
    BOOST_TEST(sim.rollout.status.phase == core::rollout_phase::completed);
    const auto size = codec::encode_status(sim.rollout.status).size();
    BOOST_TEST_MESSAGE("status of 10000 done clusters, each past a gate: " << size << " bytes");
    BOOST_TEST(size < 1024u * 1024u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(skipping_unread_values)

// A random JSON value whose strings are full of what trips a bracket matcher: brackets, escaped
// quotes, runs of backslashes, multi-byte UTF-8; long enough to cross many 64-byte blocks.
std::string random_value(std::mt19937& rng, int depth) {
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
    auto random_string = [&] {
        static const std::vector<std::string> pieces = {"a",    "name",           "{",   "}",       "[", "]", "\\\"",
                                                        "\\\\", "\\\\\\\"",       "\\n", "\\u00e9", "é", ":", ",",
                                                        " ",    "guestbook-ui-12"};
        std::string s = "\"";
        for (int i = pick(12); i > 0; --i) s += pieces[static_cast<std::size_t>(pick(static_cast<int>(pieces.size())))];
        return s + "\"";
    };
    const int kind = depth > 5 ? pick(3) : pick(5);
    if (kind == 0) return random_string();
    if (kind == 1) return std::to_string(pick(100000));
    if (kind == 2) return pick(2) ? "true" : "null";
    std::string out = kind == 3 ? "{" : "[";
    for (int i = pick(6); i > 0; --i) {
        if (out.size() > 1) out += pick(2) ? "," : " ,\n";
        if (kind == 3) out += random_string() + ":";
        out += random_value(rng, depth + 1);
    }
    return out + (kind == 3 ? "}" : "]");
}

BOOST_AUTO_TEST_CASE(the_end_of_every_container_is_found_exactly) {
    std::mt19937 rng(20261127);
    int checked = 0;
    for (int i = 0; i < 3000; ++i) {
        std::string value;
        while (value.empty() || (value[0] != '{' && value[0] != '[')) value = random_value(rng, 0);
        // Something after the value that would confuse a scanner that ran past it.
        const std::string text = value + "]}\"{[" + std::string(static_cast<std::size_t>(rng() % 70), 'x');
        const char* begin = text.data();
        const char* end = begin + text.size();
        const char* fast = codec::skip_container(begin, end);
        const char* scalar = codec::skip_container_scalar(begin, end);
        BOOST_REQUIRE_MESSAGE(fast == begin + value.size(), "fast skip ended at " << (fast ? fast - begin : -1)
                                                                                  << " of " << value.size() << " in "
                                                                                  << value);
        BOOST_REQUIRE(scalar == fast);
        ++checked;
    }
    BOOST_TEST(checked == 3000);
}

BOOST_AUTO_TEST_CASE(an_unfinished_container_or_string_is_reported) {
    std::mt19937 rng(7);
    for (int i = 0; i < 300; ++i) {
        std::string value;
        while (value.size() < 2 || value[0] != '{') value = random_value(rng, 0);
        // Every proper prefix of a container lacks its closing bracket.
        for (std::size_t cut = 1; cut < value.size(); cut += 1 + cut / 8) {
            const char* begin = value.data();
            BOOST_REQUIRE_MESSAGE(codec::skip_container(begin, begin + cut) == nullptr, value.substr(0, cut));
            BOOST_REQUIRE(codec::skip_container_scalar(begin, begin + cut) == nullptr);
        }
    }
}

BOOST_AUTO_TEST_CASE(escapes_across_block_boundaries) {
    // A backslash as the last byte of one 64-byte block escapes the first byte of the next.
    for (std::size_t pad = 0; pad < 130; ++pad) {
        const std::string value = "{\"k\":\"" + std::string(pad, 'a') + "\\\"}]\\\\\",\"x\":[\"]\"]}";
        const std::string text = value + "}}}";
        const char* begin = text.data();
        BOOST_REQUIRE_MESSAGE(codec::skip_container(begin, begin + text.size()) == begin + value.size(), "pad " << pad);
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(canonical_comparison)

rapidjson::Document json(std::string_view text) {
    rapidjson::Document d;
    d.Parse(text.data(), text.size());
    BOOST_REQUIRE(!d.HasParseError());
    return d;
}

BOOST_AUTO_TEST_CASE(surely_same_is_never_wrong_about_canonical_equality) {
    // Pairs whose canonical texts differ (or might: the short cut may then only say false).
    const std::vector<std::pair<std::string, std::string>> different = {
        {R"({"a":1})", R"({"a":1.0})"},  // written "1" and "1.0"
        {R"({"a":0.0})", R"({"a":-0.0})"},
        {R"({"a":1})", R"({"a":2})"},
        {R"({"a":-1})", R"({"a":18446744073709551615})"},
        {R"({"a":"x"})", R"({"a":"x "})"},
        {R"({"a":[1,2]})", R"({"a":[2,1]})"},
        {R"({"a":{}})", R"({"a":[]})"},
        {R"({"a":null})", R"({})"},
        {R"({"a":1,"a":2})", R"({"a":1,"b":2})"},
        {R"({"a":true})", R"({"a":false})"},
    };
    for (const auto& [x, y] : different) {
        const auto a = json(x), b = json(y);
        BOOST_TEST_INFO(x << " vs " << y);
        BOOST_TEST(!codec::surely_same_json(a, b));
        BOOST_TEST(!codec::surely_same_json(b, a));
    }
    // The same document is surely the same; the same members in another order are left to the
    // canonical texts (which agree).
    const auto helm = json(R"({"repoURL":"https://x","helm":{"valuesObject":{"image":{"tag":"v2"},"n":3,"f":1.5}}})");
    BOOST_TEST(codec::surely_same_json(
        helm, json(R"({"repoURL":"https://x","helm":{"valuesObject":{"image":{"tag":"v2"},"n":3,"f":1.5}}})")));
    const auto reordered =
        json(R"({"helm":{"valuesObject":{"f":1.5,"n":3,"image":{"tag":"v2"}}},"repoURL":"https://x"})");
    BOOST_TEST(!codec::surely_same_json(helm, reordered));
    BOOST_TEST(codec::canonical_json(helm) == codec::canonical_json(reordered));

    // Random documents and small mutations of them: whenever the short cut says "same", the
    // canonical texts are equal.
    std::mt19937 random(7);
    auto pick = [&](int n) { return static_cast<int>(random() % static_cast<unsigned>(n)); };
    const std::vector<std::string> scalars = {"0",     "1",    "1.0",  "-0.0", "2", "\"a\"",
                                              "\"b\"", "true", "null", "[]",   "{}"};
    std::function<std::string(int)> document = [&](int depth) -> std::string {
        if (depth == 0 || pick(3) == 0)
            return scalars[static_cast<std::size_t>(pick(static_cast<int>(scalars.size())))];
        std::string out = pick(2) ? "[" : "{";
        const bool object = out == "{";
        for (int i = 0, n = pick(3); i < n; ++i) {
            if (i) out += ',';
            if (object) out += std::string("\"") + static_cast<char>('a' + pick(3)) + "\":";
            out += document(depth - 1);
        }
        return out + (object ? "}" : "]");
    };
    int same = 0;
    for (int round = 0; round < 3000; ++round) {
        const auto x = document(3);
        const auto y = pick(2) ? x : document(3);
        const auto a = json(x), b = json(y);
        if (codec::surely_same_json(a, b)) {
            ++same;
            BOOST_TEST_INFO(x << " vs " << y);
            BOOST_TEST(codec::canonical_json(a) == codec::canonical_json(b));
        }
    }
    BOOST_TEST(same > 1000);  // the short cut is taken, not only refused
}

BOOST_AUTO_TEST_SUITE_END()
