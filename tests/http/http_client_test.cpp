#define BOOST_TEST_MODULE http_client
#include <boost/test/unit_test.hpp>

// The one HTTP client (webhook/http/client.hpp) against a loopback test server: URLs, what a
// request carries, statuses as values, deadlines, cancellation, refused connections, and TLS
// verified against a CA made at test time.

#include "eventually.hpp"
#include "http/client.hpp"
#include "sim/http_stub.hpp"
#include "test_support.hpp"

#include <fstream>
#include <thread>

using namespace apr;
using namespace std::chrono_literals;

namespace {

http::origin origin_of(const sim::http_stub& stub) {
    auto parsed = http::parse_url(stub.url());
    BOOST_REQUIRE(parsed.error.empty());
    return parsed.where;
}

sim::http_stub::answer ok(std::string body = "ok") {
    return {200, std::move(body), {}, "text/plain"};
}

std::string header_of(const sim::http_stub::received& r, const std::string& name) {
    for (const auto& [n, v] : r.headers)
        if (n == name) return v;
    return {};
}

// A test CA and a stub serving HTTPS with a certificate it issued (localhost, 127.0.0.1).
struct https_fixture {
    server::test::temp_dir dir;
    server::test::test_ca ca{dir.path()};
    std::string ca_pem;
    std::unique_ptr<sim::http_stub> stub;

    https_fixture() {
        const auto issued = ca.issue(2, "gate-endpoint");
        std::ofstream(dir.path() / "tls.crt") << issued.cert_pem;
        std::ofstream(dir.path() / "tls.key") << issued.key_pem;
        std::ifstream in(ca.ca_file());
        ca_pem.assign(std::istreambuf_iterator<char>(in), {});
        stub = std::make_unique<sim::http_stub>(
            [](const sim::http_stub::received&) { return ok("secure"); },
            sim::http_stub::tls_files{(dir.path() / "tls.crt").string(), (dir.path() / "tls.key").string()});
    }
};

}  // namespace

BOOST_AUTO_TEST_CASE(urls_split_into_an_origin_or_say_why_not) {
    auto u = http::parse_url("https://prometheus.example:9443/base/");
    BOOST_TEST(u.error.empty());
    BOOST_TEST(u.where.tls);
    BOOST_TEST(u.where.host == "prometheus.example");
    BOOST_TEST(u.where.port == "9443");
    BOOST_TEST(u.where.base_path == "/base");
    u = http::parse_url("http://smoke.qa.svc");
    BOOST_TEST(!u.where.tls);
    BOOST_TEST(u.where.port == "80");
    BOOST_TEST(u.where.base_path.empty());
    BOOST_TEST(http::parse_url("https://example.org").where.port == "443");
    u = http::parse_url("https://[::1]:8443/x");
    BOOST_TEST(u.where.host == "::1");
    BOOST_TEST(u.where.port == "8443");
    BOOST_TEST(http::parse_url("ftp://example.org").error == "not an http:// or https:// URL");
    BOOST_TEST(http::parse_url("https://[::1").error == "unterminated IPv6 address");
    BOOST_TEST(http::parse_url("http://:80/").error == "no host or port");
}

BOOST_AUTO_TEST_CASE(query_values_are_percent_encoded) {
    BOOST_TEST(http::query_escape("rate(x{code=~\"5..\"}[5m]) > 0.1") ==
               "rate%28x%7Bcode%3D~%225..%22%7D%5B5m%5D%29%20%3E%200.1");
    BOOST_TEST(http::query_escape("AZaz09-_.~") == "AZaz09-_.~");
}

BOOST_AUTO_TEST_CASE(a_post_carries_its_body_headers_and_the_base_path) {
    sim::http_stub stub([](const sim::http_stub::received&) { return ok("done"); });
    auto where = origin_of(stub);
    where.base_path = "/hooks";
    http::client client(where);
    http::request r;
    r.verb = http::method::post;
    r.path = "/smoke?run=1";
    r.body = R"({"gate":"smoke"})";
    r.headers = {{"Authorization", "Bearer t0ken"}};
    const auto answer = client.send(r);
    BOOST_REQUIRE(answer.has_value());
    BOOST_TEST(answer->status == 200u);
    BOOST_TEST(answer->body == "done");
    const auto got = stub.requests();
    BOOST_REQUIRE_EQUAL(got.size(), 1u);
    BOOST_TEST(got[0].method == "POST");
    BOOST_TEST(got[0].target == "/hooks/smoke?run=1");
    BOOST_TEST(got[0].body == R"({"gate":"smoke"})");
    BOOST_TEST(header_of(got[0], "content-type") == "application/json");
    BOOST_TEST(header_of(got[0], "authorization") == "Bearer t0ken");
    BOOST_TEST(header_of(got[0], "user-agent") == "argocd-progressive-rollout");
}

BOOST_AUTO_TEST_CASE(an_error_status_is_an_answer_not_a_failure) {
    sim::http_stub stub([](const sim::http_stub::received&) {
        return sim::http_stub::answer{500, "boom", {}, "text/plain"};
    });
    http::client client(origin_of(stub));
    const auto answer = client.send({});
    BOOST_REQUIRE(answer.has_value());
    BOOST_TEST(answer->status == 500u);
    BOOST_TEST(answer->body == "boom");
}

BOOST_AUTO_TEST_CASE(a_request_past_its_deadline_fails_with_timeout_in_time) {
    sim::http_stub stub([](const sim::http_stub::received&) {
        return sim::http_stub::answer{200, "late", std::chrono::milliseconds(5000), "text/plain"};
    });
    http::client client(origin_of(stub));
    http::request r;
    r.timeout = 300ms;
    const auto start = std::chrono::steady_clock::now();
    const auto answer = client.send(r);
    const auto took = std::chrono::steady_clock::now() - start;
    BOOST_REQUIRE(!answer.has_value());
    BOOST_TEST(answer.error().reason == "Timeout");
    BOOST_TEST(std::chrono::duration_cast<std::chrono::milliseconds>(took).count() < 3000);
}

BOOST_AUTO_TEST_CASE(a_stop_request_cancels_a_call_in_flight) {
    sim::http_stub stub([](const sim::http_stub::received&) {
        return sim::http_stub::answer{200, "late", std::chrono::milliseconds(5000), "text/plain"};
    });
    http::client client(origin_of(stub));
    std::stop_source stop;
    std::jthread canceller([&] {
        test::eventually([&] { return !stub.requests().empty(); }, 5000ms, 10ms);
        stop.request_stop();
    });
    const auto answer = client.send({}, stop.get_token());
    BOOST_REQUIRE(!answer.has_value());
    BOOST_TEST(answer.error().reason == "Cancelled");
}

BOOST_AUTO_TEST_CASE(a_refused_connection_is_a_transport_failure) {
    http::origin where;
    {
        sim::http_stub gone([](const sim::http_stub::received&) { return ok(); });
        where = origin_of(gone);
    }  // closed: nothing listens on its port any more
    http::client client(where);
    http::request r;
    r.timeout = 2000ms;
    const auto answer = client.send(r);
    BOOST_REQUIRE(!answer.has_value());
    BOOST_TEST(answer.error().reason == "Transport");
}

BOOST_FIXTURE_TEST_CASE(https_is_verified_against_the_given_ca, https_fixture) {
    auto where = origin_of(*stub);
    BOOST_TEST(where.tls);
    where.ca_pem = ca_pem;
    http::client trusted(where);
    const auto answer = trusted.send({});
    BOOST_REQUIRE_MESSAGE(answer.has_value(), (answer.has_value() ? std::string() : answer.error().message));
    BOOST_TEST(answer->body == "secure");

    // The system store does not know the test CA: the call fails, nothing is sent.
    http::client untrusted(origin_of(*stub));
    const auto refused = untrusted.send({});
    BOOST_REQUIRE(!refused.has_value());
    BOOST_TEST(refused.error().reason == "Transport");
    BOOST_TEST(refused.error().message.find("certificate verify failed") != std::string::npos, refused.error().message);

    // A certificate for another name is refused too.
    where.tls_server_name = "prometheus.example";
    http::client wrong_name(where);
    BOOST_TEST(!wrong_name.send({}).has_value());
    BOOST_TEST(stub->requests().size() == 1u);
}

BOOST_AUTO_TEST_CASE(an_answer_larger_than_the_limit_is_refused) {
    sim::http_stub stub([](const sim::http_stub::received&) { return ok(std::string(64 * 1024, 'x')); });
    http::options opts;
    opts.max_body_bytes = 1024;
    http::client client(origin_of(stub), opts);
    const auto answer = client.send({});
    BOOST_TEST(!answer.has_value());
}
