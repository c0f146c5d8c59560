#define BOOST_TEST_MODULE monitoring_e2e
#include <boost/test/unit_test.hpp>

// manifests/monitoring against a real server (docs/operations.md#monitoring): during a rollout
// with a gate, through the real API server, the /metrics text `serve` exports (server and
// controller metrics) passes Prometheus' own linter, and every metric the Grafana board and the
// alert rules name is one the server exports.

#include "rollout_scenario.hpp"
#include "sim/http_stub.hpp"

#include <rapidjson/document.h>

#include <regex>
#include <set>

using namespace apr;
using namespace apr::e2e;

namespace {

// Every apr_* and argocd_progressive_rollout_* name in a text.
std::set<std::string> metric_names(const std::string& text) {
    static const std::regex name(R"(\b(?:apr|argocd_progressive_rollout)_[a-z0-9_]*[a-z0-9])");
    std::set<std::string> out;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), name); it != std::sregex_iterator(); ++it)
        out.insert(it->str());
    return out;
}

// Whether the exposition declares `name`, or `name` is a histogram's _bucket/_sum/_count.
bool exported(const std::string& exposition, const std::string& name) {
    if (exposition.find("# TYPE " + name + " ") != std::string::npos) return true;
    for (const std::string suffix : {"_bucket", "_sum", "_count"}) {
        if (name.size() > suffix.size() && name.ends_with(suffix)) {
            const auto base = name.substr(0, name.size() - suffix.size());
            if (exposition.find("# TYPE " + base + " histogram") != std::string::npos) return true;
        }
    }
    return false;
}

// Whether the exposition holds a sample of `name` (any labels) with a value other than 0.
bool has_nonzero_sample(const std::string& exposition, const std::string& name) {
    const std::regex sample("(^|\n)" + name + R"((\{[^}]*\})? ([0-9.e+]+))");
    for (auto it = std::sregex_iterator(exposition.begin(), exposition.end(), sample); it != std::sregex_iterator();
         ++it)
        if (std::stod((*it)[3].str()) != 0) return true;
    return false;
}

// The PromQL of every panel of the board (rows' panels included) and its variables' queries.
std::vector<std::string> board_queries(const std::string& json) {
    rapidjson::Document d;
    d.Parse(json.c_str());
    BOOST_REQUIRE_MESSAGE(!d.HasParseError() && d.IsObject(), "the board is not a JSON object");
    std::vector<std::string> out;
    std::function<void(const rapidjson::Value&)> panels = [&](const rapidjson::Value& list) {
        for (const auto& p : list.GetArray()) {
            if (p.HasMember("targets"))
                for (const auto& t : p["targets"].GetArray())
                    if (t.HasMember("expr")) out.emplace_back(t["expr"].GetString());
            if (p.HasMember("panels")) panels(p["panels"]);
        }
    };
    panels(d["panels"]);
    for (const auto& v : d["templating"]["list"].GetArray())
        if (v.HasMember("query") && v["query"].IsString()) out.emplace_back(v["query"].GetString());
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(monitoring_against_a_real_server)

BOOST_AUTO_TEST_CASE(the_board_and_the_alerts_name_only_exported_metrics_and_the_metrics_lint_clean) {
    sim::http_stub smoke([](const sim::http_stub::received&) { return sim::http_stub::answer{200, "ok"}; });
    rollout_scenario s("monitoring");
    s.start_webhook();
    s.create_fleet(s.emea_fleet());
    // A canary with a gate that measures every second (so gate series exist), then the rest of EMEA.
    s.apply_rollout(
        "  - name: canary\n"
        "    clusters: {selector: {matchLabels: {region: eu-west-1}}}\n"
        "    maxClusters: 1\n"
        "    bakeTime: 5s\n"
        "    gates:\n"
        "      - name: smoke\n"
        "        when: During\n"
        "        scope: Cluster\n"
        "        interval: 1s\n"
        "        webhook: {url: \"" +
        smoke.url() +
        "/smoke\"}\n"
        "  - name: emea\n"
        "    clusters: {selector: {matchLabels: {area: emea}}}\n"
        "    maxUnavailable: 2\n");
    BOOST_REQUIRE(s.play_until([](const core::rollout& r) { return r.status.observed_generation > 0; }, 30s));
    s.argo.set_template_revision("v2");
    // The canary measured by its gate: per-rollout, per-stage and per-gate series exist.
    BOOST_REQUIRE_MESSAGE(s.play_until(
                              [](const core::rollout& r) {
                                  for (const auto& st : r.status.stages)
                                      for (const auto& c : st.clusters)
                                          for (const auto& g : c.gates)
                                              if (g.successful > 0) return true;
                                  return false;
                              },
                              90s),
                          "no gate measurement:\n"
                              << s.webhook->log());
    const std::string key = "namespace=\"" + s.env.ns() + "\",name=\"" + s.id + "\"";
    std::string metrics;
    BOOST_REQUIRE(eventually(
        [&] {
            metrics = s.webhook->metrics();
            return metrics.find("argocd_progressive_rollout_gate_measurements{" + key) != std::string::npos &&
                   metrics.find("argocd_progressive_rollout_pass_start_time_seconds{" + key + "}") != std::string::npos;
        },
        30s));

    // The pass's start is the canary's startedAt, and its bound what the core computes from the
    // spec: one canary wave of 30m + 5s bake, emea's 5 clusters in 3 waves of 30m.
    const auto r = s.rollout();
    BOOST_REQUIRE(!r.status.stages.empty() && r.status.stages.front().started_at);
    BOOST_TEST(metrics.find("argocd_progressive_rollout_pass_start_time_seconds{" + key + "} " +
                            std::to_string(r.status.stages.front().started_at->time_since_epoch().count())) !=
                   std::string::npos,
               metrics);
    BOOST_TEST(metrics.find("argocd_progressive_rollout_pass_deadline_seconds{" + key + "} " +
                            std::to_string(30 * 60 + 5 + 3 * 30 * 60)) != std::string::npos,
               metrics);
    // Server metrics saw the admission traffic of the rollout, controller metrics its gate.
    BOOST_TEST(has_nonzero_sample(metrics, "argocd_progressive_rollout_http_requests_total"));
    BOOST_TEST(has_nonzero_sample(metrics, "argocd_progressive_rollout_cache_synced"));
    BOOST_TEST(has_nonzero_sample(metrics, "argocd_progressive_rollout_leader"));
    BOOST_TEST(has_nonzero_sample(metrics, "argocd_progressive_rollout_gate_measurements"));

    // One prefix for every metric the binary exports.
    for (auto at = metrics.find("# TYPE "); at != std::string::npos; at = metrics.find("# TYPE ", at + 1))
        BOOST_TEST(metrics.compare(at + 7, 27, "argocd_progressive_rollout_") == 0, metrics.substr(at, 80));

    // Prometheus' own linter (naming, units, _total on counters, HELP and TYPE): no complaint.
    const auto lint = run("promtool check metrics", metrics);
    BOOST_TEST(lint.status == 0, lint.out);
    BOOST_TEST(lint.out.empty(), lint.out);

    // Every metric the board's panels and variables and the alert rules name is exported.
    std::string board;
    for (const auto& q : board_queries(read_source("manifests/monitoring/grafana-dashboard.json"))) board += q + "\n";
    const auto board_names = metric_names(board);
    BOOST_TEST(board_names.size() >= 15u, board);
    for (const auto& name : board_names) BOOST_TEST(exported(metrics, name), "the board names " << name);
    const auto rule_names = metric_names(read_source("manifests/monitoring/prometheusrule.yaml"));
    BOOST_TEST(rule_names.size() >= 7u);
    for (const auto& name : rule_names) BOOST_TEST(exported(metrics, name), "the alert rules name " << name);
}

BOOST_AUTO_TEST_SUITE_END()
