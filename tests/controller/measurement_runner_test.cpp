// The controller's measurement runner (docs/controller.md#gate-measurements) against loopback
// stand-ins for Prometheus and gate webhooks, a fake Secret reader and a fixed clock: what each
// answer becomes, that a measurement asked in every step runs once, and that secrets stay out of
// messages.

#include "controller/measurement_runner.hpp"

#include "eventually.hpp"
#include "sim/http_stub.hpp"
#include "test_support.hpp"

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <fstream>

namespace apr::controller {
namespace {

using namespace std::chrono_literals;
using core::measurement_phase;

const core::time_point fixed_now{std::chrono::sys_days{std::chrono::year{2027} / 1 / 15} + std::chrono::hours(9)};

core::rollout a_rollout() {
    core::rollout r;
    r.namespace_ = "argocd";
    r.name = "web";
    return r;
}

core::measurement_request prometheus_request(const std::string& address, std::string query, long long number = 1) {
    core::measurement_request r;
    r.stage = "canary";
    r.gate = "error-rate";
    r.pass = 1;
    r.number = number;
    core::prometheus_check p;
    p.address = address;
    p.query = std::move(query);
    p.threshold.max = 0.05;
    r.prometheus = p;
    return r;
}

core::measurement_request webhook_request(const std::string& url, std::chrono::seconds timeout = 5s) {
    core::measurement_request r;
    r.stage = "canary";
    r.gate = "smoke";
    r.pass = 1;
    r.number = 1;
    core::webhook_check w;
    w.url = url;
    w.timeout = core::duration_field{std::to_string(timeout.count()) + "s", timeout};
    r.webhook = w;
    r.clusters = {core::cluster{"eu-west-1a-1", "https://10.0.0.1", {{"region", "eu-west-1"}}}};
    return r;
}

std::string vector_answer(const std::string& value) {
    return R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{"cluster":"a"},"value":[1768467600,")" +
           value + R"("]}]}})";
}

sim::http_stub::answer json(unsigned status, std::string body) {
    return {status, std::move(body), {}, "application/json"};
}

std::string header_of(const sim::http_stub::received& r, const std::string& name) {
    for (const auto& [n, v] : r.headers)
        if (n == name) return v;
    return {};
}

struct runner_fixture {
    std::atomic<int> wakeups{0};
    std::vector<std::string> secrets_read;  // namespace/name/key
    measurement_options options() {
        measurement_options o;
        o.workers = 2;
        o.clock = [] { return fixed_now; };
        o.on_result = [this] { ++wakeups; };
        o.prometheus_timeout = 2000ms;
        return o;
    }
    secret_reader secrets = [this](const std::string& ns, const std::string& name, const std::string& key,
                                   std::string& error) -> std::optional<std::string> {
        secrets_read.push_back(ns + "/" + name + "/" + key);
        if (name == "smoke-token" && key == "token") return std::string("s3cret-value");
        error = "not found";
        return std::nullopt;
    };

    // Starts one request and waits for its result (results of earlier numbers stay until status
    // holds them).
    core::measurement measure(measurement_runner& runner, const core::measurement_request& r) {
        const auto rollout = a_rollout();
        runner.start(rollout, r);
        std::optional<core::measurement_result> got;
        BOOST_REQUIRE(test::eventually(
            [&] {
                for (const auto& x : runner.results(rollout))
                    if (x.number == r.number) got = x;
                return got.has_value();
            },
            10000ms));
        BOOST_TEST(got->gate == r.gate);
        BOOST_TEST(got->stage == r.stage);
        return got->taken;
    }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(measurement_runner_answers, runner_fixture)

BOOST_AUTO_TEST_CASE(a_prometheus_sample_is_judged_against_the_threshold) {
    sim::http_stub prometheus([](const sim::http_stub::received& r) {
        return json(200, vector_answer(r.target.find("canary") != std::string::npos ? "0.2" : "0.01"));
    });
    measurement_runner runner(secrets, options());
    auto m = measure(runner, prometheus_request(prometheus.url(), "rate{stage=\"canary\"} > 0"));
    BOOST_TEST((m.phase == measurement_phase::failed));
    BOOST_TEST(m.value == "0.2");
    BOOST_TEST((m.at == fixed_now));
    BOOST_TEST(prometheus.requests().at(0).target == "/api/v1/query?query=rate%7Bstage%3D%22canary%22%7D%20%3E%200");
    BOOST_TEST(wakeups.load() >= 1);
}

BOOST_AUTO_TEST_CASE(an_empty_prometheus_result_is_empty_result) {
    sim::http_stub prometheus([](const sim::http_stub::received&) {
        return json(200, R"({"status":"success","data":{"resultType":"vector","result":[]}})");
    });
    measurement_runner runner(secrets, options());
    auto m = measure(runner, prometheus_request(prometheus.url(), "absent"));
    BOOST_TEST((m.phase == measurement_phase::inconclusive));  // emptyResult's default
}

BOOST_AUTO_TEST_CASE(an_unusable_prometheus_answer_is_an_error_that_says_why) {
    sim::http_stub prometheus([](const sim::http_stub::received& r) {
        if (r.target.find("broken") != std::string::npos) return json(200, R"({"status":"success","data":{}})");
        return json(503, "overloaded");
    });
    measurement_runner runner(secrets, options());
    auto m = measure(runner, prometheus_request(prometheus.url(), "busy"));
    BOOST_TEST((m.phase == measurement_phase::error));
    BOOST_TEST(m.message == "Prometheus answered 503: overloaded");
    m = measure(runner, prometheus_request(prometheus.url(), "broken", 2));
    BOOST_TEST((m.phase == measurement_phase::error));
    BOOST_TEST(m.message == "Prometheus answer has no data.result");
}

BOOST_AUTO_TEST_CASE(a_webhook_2xx_passes_and_gets_the_payload) {
    sim::http_stub hook([](const sim::http_stub::received&) { return json(204, ""); });
    measurement_runner runner(secrets, options());
    auto m = measure(runner, webhook_request(hook.url() + "/run"));
    BOOST_TEST((m.phase == measurement_phase::successful));
    BOOST_TEST(m.value == "204");
    const auto got = hook.requests();
    BOOST_REQUIRE_EQUAL(got.size(), 1u);
    BOOST_TEST(got[0].method == "POST");
    BOOST_TEST(got[0].target == "/run");
    BOOST_TEST(got[0].body.find(R"("rollout":{"namespace":"argocd","name":"web"})") != std::string::npos, got[0].body);
    BOOST_TEST(got[0].body.find(R"("gate":"smoke")") != std::string::npos, got[0].body);
    BOOST_TEST(got[0].body.find(R"("name":"eu-west-1a-1")") != std::string::npos, got[0].body);
}

BOOST_AUTO_TEST_CASE(a_webhook_error_status_fails_with_the_body_cut) {
    const std::string body = "smoke failed: " + std::string(400, 'e');
    sim::http_stub hook([&](const sim::http_stub::received&) {
        return sim::http_stub::answer{500, body, {}, "text/plain"};
    });
    measurement_runner runner(secrets, options());
    auto m = measure(runner, webhook_request(hook.url()));
    BOOST_TEST((m.phase == measurement_phase::failed));
    BOOST_TEST(m.value == "500");
    BOOST_TEST(m.message == "webhook answered 500: " + body.substr(0, 256) + "...");
}

BOOST_AUTO_TEST_CASE(a_webhook_past_its_timeout_is_an_error) {
    sim::http_stub hook([](const sim::http_stub::received&) {
        return sim::http_stub::answer{200, "late", std::chrono::milliseconds(4000), "text/plain"};
    });
    measurement_runner runner(secrets, options());
    const auto start = std::chrono::steady_clock::now();
    auto m = measure(runner, webhook_request(hook.url(), 1s));
    BOOST_TEST((m.phase == measurement_phase::error));
    BOOST_TEST(m.message.find("webhook: ") == 0u, m.message);
    BOOST_TEST((std::chrono::steady_clock::now() - start < 3500ms));
}

BOOST_AUTO_TEST_CASE(a_refused_connection_is_an_error) {
    std::string url;
    {
        sim::http_stub gone([](const sim::http_stub::received&) { return json(200, "{}"); });
        url = gone.url();
    }  // closed: nothing listens there any more
    measurement_runner runner(secrets, options());
    auto m = measure(runner, webhook_request(url));
    BOOST_TEST((m.phase == measurement_phase::error));
    BOOST_TEST(m.message.find("webhook: ") == 0u, m.message);
    m = measure(runner, prometheus_request(url, "up", 2));
    BOOST_TEST((m.phase == measurement_phase::error));
    BOOST_TEST(m.message.find("Prometheus: ") == 0u, m.message);
}

BOOST_AUTO_TEST_CASE(a_header_from_a_secret_is_sent_and_never_in_a_message) {
    sim::http_stub hook([](const sim::http_stub::received&) {
        return sim::http_stub::answer{401, "bad token", {}, "text/plain"};
    });
    measurement_runner runner(secrets, options());
    auto r = webhook_request(hook.url());
    r.webhook->headers = {{"Authorization", "", core::secret_key_ref{"smoke-token", "token"}},
                          {"X-Team", "payments", {}}};
    auto m = measure(runner, r);
    BOOST_TEST((m.phase == measurement_phase::failed));
    BOOST_TEST(m.message.find("s3cret-value") == std::string::npos);
    BOOST_REQUIRE_EQUAL(hook.requests().size(), 1u);
    BOOST_TEST(header_of(hook.requests()[0], "authorization") == "s3cret-value");
    BOOST_TEST(header_of(hook.requests()[0], "x-team") == "payments");
    BOOST_TEST(secrets_read == std::vector<std::string>{"argocd/smoke-token/token"}, boost::test_tools::per_element());

    // A Secret that cannot be read: an Error naming the header and the Secret, and no call.
    r.number = 2;
    r.webhook->headers = {{"Authorization", "", core::secret_key_ref{"missing", "token"}}};
    m = measure(runner, r);
    BOOST_TEST((m.phase == measurement_phase::error));
    BOOST_TEST(m.message == "header Authorization: Secret missing key token: not found");
    BOOST_TEST(hook.requests().size() == 1u);
}

BOOST_AUTO_TEST_CASE(https_gate_urls_are_trusted_through_the_gate_ca_only) {
    server::test::temp_dir dir;
    server::test::test_ca ca(dir.path());
    const auto issued = ca.issue(3, "smoke");
    std::ofstream(dir.path() / "tls.crt") << issued.cert_pem;
    std::ofstream(dir.path() / "tls.key") << issued.key_pem;
    sim::http_stub hook(
        [](const sim::http_stub::received&) { return json(200, "{}"); },
        sim::http_stub::tls_files{(dir.path() / "tls.crt").string(), (dir.path() / "tls.key").string()});
    BOOST_TEST(hook.url().starts_with("https://"));
    {
        measurement_runner untrusting(secrets, options());
        auto m = measure(untrusting, webhook_request(hook.url()));
        BOOST_TEST((m.phase == measurement_phase::error));
        BOOST_TEST(m.message.find("certificate verify failed") != std::string::npos, m.message);
    }
    auto o = options();
    std::ifstream in(ca.ca_file());
    o.ca_pem.assign(std::istreambuf_iterator<char>(in), {});
    measurement_runner trusting(secrets, o);
    auto m = measure(trusting, webhook_request(hook.url()));
    BOOST_TEST((m.phase == measurement_phase::successful));
}

BOOST_AUTO_TEST_CASE(a_measurement_asked_in_every_step_runs_once_until_status_holds_it) {
    std::atomic<int> calls{0};
    sim::http_stub prometheus([&](const sim::http_stub::received&) {
        ++calls;
        return json(200, vector_answer("0.01"));
    });
    measurement_runner runner(secrets, options());
    const auto rollout = a_rollout();
    const auto r = prometheus_request(prometheus.url(), "q");
    for (int step = 0; step < 5; ++step) runner.start(rollout, r);
    BOOST_REQUIRE(test::eventually([&] { return !runner.results(rollout).empty(); }));
    for (int step = 0; step < 3; ++step) runner.start(rollout, r);  // still asked: status does not hold it yet
    BOOST_TEST(calls.load() == 1);
    BOOST_TEST(runner.results(rollout).size() == 1u);  // handed to every step meanwhile

    // A status write that did not record it (a conflict): kept.
    core::rollout_status status;
    status.pass = 1;
    status.stages.push_back(core::stage_status{.name = "canary"});
    status.stages[0].gates.push_back(core::gate_status{.name = "error-rate"});
    runner.recorded(rollout, status);
    BOOST_TEST(runner.results(rollout).size() == 1u);
    // Status counts it: forgotten, and the next number is a new measurement.
    status.stages[0].gates[0].taken = 1;
    runner.recorded(rollout, status);
    BOOST_TEST(runner.results(rollout).empty());
    auto next = r;
    next.number = 2;
    runner.start(rollout, next);
    BOOST_REQUIRE(test::eventually([&] { return !runner.results(rollout).empty(); }));
    BOOST_TEST(calls.load() == 2);
}

BOOST_AUTO_TEST_CASE(a_result_whose_gate_left_status_is_dropped) {
    sim::http_stub prometheus([](const sim::http_stub::received&) { return json(200, vector_answer("0.01")); });
    measurement_runner runner(secrets, options());
    const auto rollout = a_rollout();
    runner.start(rollout, prometheus_request(prometheus.url(), "q"));
    BOOST_REQUIRE(test::eventually([&] { return !runner.results(rollout).empty(); }));
    core::rollout_status newer_pass;
    newer_pass.pass = 2;  // a new pass started: the old pass's measurement means nothing now
    runner.recorded(rollout, newer_pass);
    BOOST_TEST(runner.results(rollout).empty());
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace apr::controller
