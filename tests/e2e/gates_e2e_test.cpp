#define BOOST_TEST_MODULE gates_e2e
#include <boost/test/unit_test.hpp>

#include "prometheus_process.hpp"
#include "rollout_scenario.hpp"
#include "sim/http_stub.hpp"

#include <atomic>
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

const core::gate_status* gate_named(const core::rollout& r, const std::string& stage, const std::string& gate) {
    const auto* s = stage_named(r, stage);
    if (!s) return nullptr;
    for (const auto& g : s->gates)
        if (g.name == gate) return &g;
    return nullptr;
}

// The three eu-west-1 clusters: a canary, then the other two.
std::vector<sim::fleet_cluster> west_fleet(const rollout_scenario& s) {
    auto fleet = s.emea_fleet();
    fleet.resize(3);
    return fleet;
}

// A canary stage with `gates_yaml` (its gates list, indented by six spaces) and `bake`, then the
// rest with `rest_gates_yaml`.
std::string canary_then_rest(const std::string& gates_yaml, const std::string& rest_gates_yaml = "",
                             const std::string& bake = "0s") {
    return "  - name: canary\n"
           "    clusters: {selector: {matchLabels: {region: eu-west-1}}}\n"
           "    maxClusters: 1\n"
           "    bakeTime: " +
           bake + "\n" + (gates_yaml.empty() ? std::string() : "    gates:\n" + gates_yaml) +
           "  - name: rest\n"
           "    clusters: {selector: {matchLabels: {region: eu-west-1}}}\n"
           "    maxUnavailable: 2\n" +
           (rest_gates_yaml.empty() ? std::string() : "    gates:\n" + rest_gates_yaml);
}

// An HTTPS endpoint for webhook gates, with the test control plane's CA: the server trusts it
// through --gate-ca-file.
std::unique_ptr<sim::http_stub> https_stub(sim::http_stub::handler h) {
    return std::make_unique<sim::http_stub>(std::move(h),
                                            sim::http_stub::tls_files{env("WEBHOOK_CERT"), env("WEBHOOK_KEY")});
}

std::vector<std::string> gate_ca_flags() {
    return {"--gate-ca-file", env("WEBHOOK_CA")};
}

// Creates the fleet and the rollout, waits for its first status, then changes the template.
void start_change(rollout_scenario& s, const std::string& stages_yaml, const std::string& more_spec = "") {
    s.create_fleet(west_fleet(s));
    s.apply_rollout(stages_yaml, more_spec);
    BOOST_REQUIRE(s.play_until([](const core::rollout& r) { return r.status.observed_generation > 0; }, 30s));
    s.argo.set_template_revision("v2");
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

// Scenario 2: an empty query result with emptyResult Inconclusive pauses the rollout; promote (by
// anyone who may update the rollout) continues it, and status records who.
BOOST_AUTO_TEST_CASE(an_inconclusive_gate_pauses_until_promote) {
    auto& m = monitoring::get();
    rollout_scenario s("gate-inconclusive");
    s.start_webhook();
    start_change(s, canary_then_rest("      - name: error-rate\n"
                                     "        interval: 1s\n"
                                     "        prometheus:\n"
                                     "          address: " +
                                     m.prometheus.url() +
                                     "\n"
                                     "          query: apr_test_error_rate{cluster=\"" +
                                     s.cluster("never-scraped") +
                                     "\"}\n"
                                     "          thresholdRange: {max: 0.05}\n"
                                     "          emptyResult: Inconclusive\n"));
    BOOST_REQUIRE_MESSAGE(s.play_until([](const core::rollout& r) { return phase_is(r, rollout_phase::paused); }, 90s),
                          "rollout did not pause:\n"
                              << s.webhook->log());
    auto r = s.rollout();
    BOOST_TEST(contains(r.status.message, "gate error-rate Inconclusive"), r.status.message);
    BOOST_TEST(contains(r.status.message, "argocd-progressive-rollout promote " + s.id), r.status.message);
    BOOST_TEST(s.updated("v2") == std::vector<std::string>{"eu-west-1a-1"}, boost::test_tools::per_element());

    const auto promoted = cli("ALICE", "promote " + s.id);
    BOOST_TEST_REQUIRE(promoted.status == 0, promoted.out);
    BOOST_TEST(contains(promoted.out, "gate error-rate passed (Inconclusive)"), promoted.out);
    BOOST_REQUIRE(s.play_until([](const core::rollout& r) { return phase_is(r, rollout_phase::completed); }, 90s));
    r = s.rollout();
    const auto* g = gate_named(r, "canary", "error-rate");
    BOOST_REQUIRE(g);
    BOOST_TEST((g->phase == core::gate_phase::inconclusive));
    BOOST_TEST(g->decided_by == "alice");
    BOOST_TEST(g->decided_at.has_value());
    BOOST_TEST(s.updated("v2").size() == 3u);
    BOOST_TEST(contains(s.events(), "promoted past Inconclusive by alice"));
}

// Scenario 3a: an After smoke webhook (HTTPS, trusted through --gate-ca-file) answers 500: the
// stage fails with the body in the message, and the webhook got the payload.
BOOST_AUTO_TEST_CASE(a_smoke_webhook_answering_500_fails_the_stage_with_its_body) {
    auto smoke = https_stub([](const sim::http_stub::received&) {
        return sim::http_stub::answer{500, "checkout: 3 of 10 requests failed", {}, "text/plain"};
    });
    rollout_scenario s("gate-smoke");
    s.start_webhook("replica-a", gate_ca_flags());
    start_change(s, canary_then_rest("      - name: smoke\n"
                                     "        webhook:\n"
                                     "          url: " +
                                     smoke->url() +
                                     "/run/$(stage.name)\n"
                                     "          timeout: 5s\n"));
    BOOST_REQUIRE_MESSAGE(s.play_until([](const core::rollout& r) { return phase_is(r, rollout_phase::failed); }, 90s),
                          "rollout did not fail:\n"
                              << s.webhook->log());
    const auto r = s.rollout();
    BOOST_TEST(contains(r.status.message, "gate smoke Failed"), r.status.message);
    BOOST_TEST(contains(r.status.message, "checkout: 3 of 10 requests failed"), r.status.message);
    BOOST_TEST(stage_named(r, "rest")->phase == core::stage_phase::pending);
    BOOST_TEST(s.updated("v2") == std::vector<std::string>{"eu-west-1a-1"}, boost::test_tools::per_element());
    const auto calls = smoke->requests();
    BOOST_REQUIRE_EQUAL(calls.size(), 1u);
    BOOST_TEST(calls[0].method == "POST");
    BOOST_TEST(calls[0].target == "/run/canary");
    BOOST_TEST(contains(calls[0].body, "\"gate\":\"smoke\""), calls[0].body);
    BOOST_TEST(contains(calls[0].body, s.cluster("eu-west-1a-1")), calls[0].body);
}

// Scenario 3b: a During webhook that times out every time ends in Error once the errors in a row
// exceed consecutiveErrorLimit, and that fails the stage.
BOOST_AUTO_TEST_CASE(a_during_webhook_that_times_out_ends_in_error) {
    auto slow = https_stub([](const sim::http_stub::received&) {
        return sim::http_stub::answer{200, "ok", std::chrono::milliseconds(4000), "text/plain"};
    });
    rollout_scenario s("gate-timeout");
    s.start_webhook("replica-a", gate_ca_flags());
    start_change(s, canary_then_rest("      - name: load\n"
                                     "        when: During\n"
                                     "        interval: 1s\n"
                                     "        consecutiveErrorLimit: 1\n"
                                     "        webhook:\n"
                                     "          url: " +
                                         slow->url() +
                                         "/load\n"
                                         "          timeout: 1s\n",
                                     "", "60s"));  // the bake keeps the stage, and its During gate, running
    BOOST_REQUIRE_MESSAGE(s.play_until([](const core::rollout& r) { return phase_is(r, rollout_phase::failed); }, 90s),
                          "rollout did not fail:\n"
                              << s.webhook->log());
    const auto r = s.rollout();
    const auto* g = gate_named(r, "canary", "load");
    BOOST_REQUIRE(g);
    BOOST_TEST((g->phase == core::gate_phase::error));
    BOOST_TEST(g->errors == 2);  // consecutiveErrorLimit 1: the second error in a row decides
    BOOST_TEST(g->consecutive_errors == 2);
    BOOST_REQUIRE(!g->measurements.empty());
    BOOST_TEST((g->measurements.back().phase == core::measurement_phase::error));
    BOOST_TEST(contains(r.status.message, "gate load Error"), r.status.message);
    BOOST_TEST(slow->requests().size() == 2u);
}

// Scenario 4: an approval gate. promote by a user outside approval.groups is denied by the
// validating webhook with a clear message; by a member it passes, and status records who and when.
BOOST_AUTO_TEST_CASE(an_approval_gate_opens_only_for_a_member_of_its_groups) {
    rollout_scenario s("gate-approval");
    s.start_webhook();
    start_change(s, canary_then_rest("",
                                     "      - name: change-board\n"
                                     "        when: Before\n"
                                     "        approval: {groups: [rollout-admins]}\n"));
    BOOST_REQUIRE(s.play_until(
        [](const core::rollout& r) { return contains(r.status.message, "waiting for approval by rollout-admins"); },
        90s));
    const auto denied = cli("ALICE", "promote " + s.id);
    BOOST_TEST(denied.status == 1);
    BOOST_TEST(contains(denied.out,
                        "gate \"change-board\" of stage \"rest\" waits for approval by a member of "
                        "rollout-admins; alice (groups: developers"),
               denied.out);
    BOOST_TEST(contains(denied.out, "is in none of them, so may not approve it"), denied.out);
    BOOST_TEST(s.rollout().status.requests.empty());  // the write never happened

    const auto approved = cli("OPS", "promote " + s.id + " --reason 'CAB-12'");
    BOOST_TEST_REQUIRE(approved.status == 0, approved.out);
    BOOST_TEST(contains(approved.out, "promote by ops: stage rest: gate change-board approved"), approved.out);
    BOOST_REQUIRE(s.play_until([](const core::rollout& r) { return phase_is(r, rollout_phase::completed); }, 90s));
    const auto r = s.rollout();
    const auto* g = gate_named(r, "rest", "change-board");
    BOOST_REQUIRE(g);
    BOOST_TEST((g->phase == core::gate_phase::successful));
    BOOST_TEST(g->decided_by == "ops");
    BOOST_TEST(g->decided_at.has_value());
    BOOST_TEST(s.updated("v2").size() == 3u);
    BOOST_TEST(contains(s.events(), "gate change-board approved by ops"));
}

// Scenario 5: a dryRun gate fails and nothing blocks; status, the Event and the metrics report it.
BOOST_AUTO_TEST_CASE(a_dry_run_gate_fails_and_blocks_nothing) {
    auto& m = monitoring::get();
    rollout_scenario s("gate-dryrun");
    const auto canary = s.cluster("eu-west-1a-1");
    m.exporter.set(canary, 0.5);
    BOOST_REQUIRE(eventually(
        [&] { return !m.prometheus.query("apr_test_error_rate{cluster=\"" + canary + "\"}").empty(); }, 30s));
    s.start_webhook();
    start_change(s, canary_then_rest("      - name: shadow\n"
                                     "        dryRun: true\n"
                                     "        prometheus:\n"
                                     "          address: " +
                                     m.prometheus.url() +
                                     "\n"
                                     "          query: apr_test_error_rate{cluster=\"" +
                                     canary +
                                     "\"}\n"
                                     "          thresholdRange: {max: 0.05}\n"));
    BOOST_REQUIRE_MESSAGE(s.play_until([](const core::rollout& r) { return phase_is(r, rollout_phase::completed); },
                                       90s),
                          "rollout did not complete:\n"
                              << s.webhook->log());
    const auto r = s.rollout();
    const auto* g = gate_named(r, "canary", "shadow");
    BOOST_REQUIRE(g);
    BOOST_TEST((g->phase == core::gate_phase::failed));
    BOOST_TEST(g->measurements.back().value == "0.5");
    BOOST_TEST(s.updated("v2").size() == 3u);
    BOOST_TEST(contains(s.events(), "(dryRun: does not block)"));
    const auto metrics = s.webhook->metrics();
    BOOST_TEST(contains(metrics, "argocd_progressive_rollout_gates{namespace=\"" + s.env.ns() + "\",name=\"" + s.id +
                                     "\",stage=\"canary\",gate=\"shadow\",phase=\"Failed\"} 1"),
               metrics);
}

// Scenario 6: kill -9 while a gate measures, then a new server: it resumes from status. The
// measurement in flight at the kill is taken again, none is counted twice, none is lost.
BOOST_AUTO_TEST_CASE(a_restart_mid_measurement_resumes_from_status) {
    std::atomic<int> calls{0};
    auto smoke = https_stub([&](const sim::http_stub::received&) {
        // The third call hangs past the kill: the server dies with it in flight.
        const bool third = ++calls == 3;
        return sim::http_stub::answer{200, "ok", std::chrono::milliseconds(third ? 30000 : 0), "text/plain"};
    });
    rollout_scenario s("gate-restart");
    s.start_webhook("replica-a", gate_ca_flags());
    start_change(s, canary_then_rest("      - name: smoke\n"
                                     "        count: 4\n"
                                     "        interval: 1s\n"
                                     "        webhook:\n"
                                     "          url: " +
                                     smoke->url() +
                                     "/smoke\n"
                                     "          timeout: 60s\n"));
    BOOST_REQUIRE(s.play_until([&](const core::rollout&) { return calls.load() >= 3; }, 90s));
    s.webhook->kill_hard();
    const auto at_kill = s.rollout();
    const auto* before = gate_named(at_kill, "canary", "smoke");
    BOOST_REQUIRE(before);
    BOOST_TEST(before->taken == 2);  // the third was in flight
    s.start_webhook("replica-a", gate_ca_flags());
    BOOST_REQUIRE_MESSAGE(
        s.play_until([](const core::rollout& r) { return phase_is(r, rollout_phase::completed); }, 90s),
        "rollout did not complete after the restart:\n"
            << s.webhook->log());
    const auto r = s.rollout();
    const auto* g = gate_named(r, "canary", "smoke");
    BOOST_REQUIRE(g);
    BOOST_TEST((g->phase == core::gate_phase::successful));
    BOOST_TEST(g->taken == 4);
    BOOST_TEST(g->successful == 4);
    // Two before the kill, the one in flight asked again, then the fourth: five calls, four counted.
    BOOST_TEST(calls.load() == 5);
    BOOST_TEST(s.updated("v2").size() == 3u);
}

BOOST_AUTO_TEST_SUITE_END()
