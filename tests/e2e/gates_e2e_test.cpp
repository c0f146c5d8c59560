#define BOOST_TEST_MODULE gates_e2e
#include <boost/test/unit_test.hpp>

#include "prometheus_process.hpp"
#include "rollout_scenario.hpp"
#include "sim/http_stub.hpp"

#include <map>
#include <mutex>

using namespace apr;
using namespace apr::e2e;
using core::cluster_phase;
using core::rollout_phase;

namespace {

// The fleet's exporter: apr_test_error_rate{cluster} for each cluster the test sets.
class fleet_exporter {
public:
    void set(const std::string& cluster, double rate) {
        std::lock_guard lock(mutex_);
        rates_[cluster] = rate;
    }
    std::string target() const { return "127.0.0.1:" + std::to_string(stub_.port()); }

private:
    sim::http_stub::answer metrics() {
        std::lock_guard lock(mutex_);
        std::string text = "# TYPE apr_test_error_rate gauge\n";
        for (const auto& [cluster, rate] : rates_)
            text += "apr_test_error_rate{cluster=\"" + cluster + "\"} " + std::to_string(rate) + "\n";
        return {200, text};
    }
    std::mutex mutex_;
    std::map<std::string, double> rates_;
    sim::http_stub stub_{[this](const sim::http_stub::received&) { return metrics(); }};
};

// One Prometheus and exporter for every scenario of this file: starting them is the slow part.
struct monitoring {
    fleet_exporter exporter;
    prometheus_process prometheus{exporter.target()};
    static monitoring& get() {
        static monitoring m;
        return m;
    }
};

const core::stage_status* stage_named(const core::rollout& r, const std::string& name) {
    for (const auto& s : r.status.stages)
        if (s.name == name) return &s;
    return nullptr;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(gates_through_the_real_api_server)

// Scenario 1: the canary's error rate is above thresholdRange: the canary fails, no cluster of a
// later stage is admitted, status and a Warning Event say which gate and value, the metric counts.
BOOST_AUTO_TEST_CASE(a_prometheus_gate_fails_the_canary_and_stops_the_rollout) {
    auto& m = monitoring::get();
    rollout_scenario s("gate-prom");
    const auto canary = s.cluster("eu-west-1a-1");
    for (const auto& c : s.emea_fleet()) m.exporter.set(c.name, 0.01);
    m.exporter.set(canary, 0.5);
    // Scraped before the change, so the first measurement already sees it.
    BOOST_REQUIRE(eventually(
        [&] { return !m.prometheus.query("apr_test_error_rate{cluster=\"" + canary + "\"}").empty(); }, 30s));
    s.start_webhook();
    s.create_fleet(s.emea_fleet());
    s.apply_rollout(
        "  - name: canary\n"
        "    clusters: {selector: {matchLabels: {region: eu-west-1}}}\n"
        "    maxClusters: 1\n"
        "    gates:\n"
        "      - name: error-rate\n"
        "        when: During\n"
        "        scope: Cluster\n"
        "        interval: 2s\n"
        "        prometheus:\n"
        "          address: " +
        m.prometheus.url() +
        "\n"
        "          query: apr_test_error_rate{cluster=\"$(cluster.name)\"}\n"
        "          thresholdRange: {max: 0.05}\n"
        "  - name: emea\n"
        "    clusters: {selector: {matchLabels: {area: emea}}}\n"
        "    maxUnavailable: 2\n");
    BOOST_REQUIRE(s.play_until([](const core::rollout& r) { return r.status.observed_generation > 0; }, 30s));
    s.argo.set_template_revision("v2");
    BOOST_REQUIRE_MESSAGE(s.play_until([](const core::rollout& r) { return phase_is(r, rollout_phase::failed); }, 120s),
                          "rollout did not fail:\n"
                              << s.webhook->log());
    const auto r = s.rollout();
    const auto* stage = stage_named(r, "canary");
    BOOST_REQUIRE(stage);
    BOOST_TEST(stage->phase == core::stage_phase::failed);
    const auto* c = s.cluster_state(r, "eu-west-1a-1");
    BOOST_REQUIRE(c);
    BOOST_TEST(c->phase == cluster_phase::failed);
    BOOST_TEST(c->message.find("gate error-rate") != std::string::npos, c->message);
    BOOST_TEST(c->message.find("0.5") != std::string::npos, c->message);
    BOOST_REQUIRE_EQUAL(c->gates.size(), 1u);
    BOOST_TEST((c->gates[0].phase == core::gate_phase::failed));
    BOOST_TEST(c->gates[0].measurements.back().value == "0.5");
    // Nothing of the later stage moved: only the canary has v2.
    BOOST_TEST(s.updated("v2") == std::vector<std::string>{"eu-west-1a-1"}, boost::test_tools::per_element());
    const auto events = s.events();
    BOOST_TEST(events.find("GateFailed") != std::string::npos, events);
    BOOST_TEST(events.find("value 0.5 outside thresholdRange") != std::string::npos, events);
    const auto metrics = s.webhook->metrics();
    BOOST_TEST(metrics.find("argocd_progressive_rollout_gate_measurements{namespace=\"" + s.env.ns() + "\",name=\"" +
                            s.id + "\",stage=\"canary\",gate=\"error-rate\",phase=\"Failed\"} 1") != std::string::npos,
               metrics);
}

BOOST_AUTO_TEST_SUITE_END()
