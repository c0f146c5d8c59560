// Routing, keep-alive, readiness, TLS parameters and the server's own metrics, over real TLS.
#include "test_support.hpp"

#include <boost/test/unit_test.hpp>

#include <ctime>
#include <future>
#include <mutex>
#include <set>
#include <thread>
#include <openssl/ssl.h>

using namespace apr::server;
using namespace apr::server::test;

namespace {

handler_result echo(std::string_view content_type, std::string& body) {
    return {200, std::string(body), std::string(content_type), "allowed"};
}

struct routed_server : server_fixture {
    routed_server() {
        auto& s = create(default_options());
        s.add_admission_route("/mutate", echo);
        s.add_admission_route("/validate", [](std::string_view, std::string& body) {
            if (body == "throw") {
                throw std::runtime_error("handler bug");
            }
            return handler_result{200, "{\"validated\":true}", "application/json", "denied"};
        });
        s.set_readiness([this] { return ready.load(); });
        run_in_background();
    }
    std::atomic<bool> ready{true};
};

}  // namespace

BOOST_AUTO_TEST_SUITE(routing_and_keep_alive)

BOOST_FIXTURE_TEST_CASE(one_connection_serves_many_requests, routed_server) {
    auto c = client();
    c.connect();
    for (int i = 0; i < 5; ++i) {
        const auto body = "{\"i\":" + std::to_string(i) + "}";
        auto r = c.request("POST", "/mutate", body);
        BOOST_TEST(r.status == 200u);
        BOOST_TEST(r.body == body);
        BOOST_TEST(r.keep_alive);
    }
    BOOST_TEST(metric("argocd_progressive_rollout_http_connections_total") == 1);
    BOOST_TEST(
        metric("argocd_progressive_rollout_http_requests_total{route=\"/mutate\",outcome=\"allowed\",code=\"200\"}") ==
        5);
}

BOOST_FIXTURE_TEST_CASE(handler_sees_content_type_and_body_and_sets_both_back, routed_server) {
    auto c = client();
    c.connect();
    auto r = c.request("POST", "/mutate", "{\"kind\":\"AdmissionReview\"}", "application/json; charset=utf-8");
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(r.header("content-type") == "application/json; charset=utf-8");
    BOOST_TEST(r.body == "{\"kind\":\"AdmissionReview\"}");
}

BOOST_FIXTURE_TEST_CASE(handler_body_is_nul_terminated, server_fixture) {
    std::atomic<bool> terminated{false};
    create(default_options()).add_admission_route("/mutate", [&](std::string_view, std::string& body) {
        terminated = body.data()[body.size()] == '\0';
        return handler_result{200, "{}", "application/json", "allowed"};
    });
    run_in_background();
    auto c = client();
    c.connect();
    BOOST_TEST(c.request("POST", "/mutate", std::string(20000, 'x')).status == 200u);
    BOOST_TEST(terminated.load());
}

BOOST_FIXTURE_TEST_CASE(handler_may_rewrite_or_take_the_body, server_fixture) {
    // The body is the server's own buffer, lent to the handler (an in-situ JSON parser writes
    // into it); whatever the handler leaves there must not leak into the next request.
    create(default_options()).add_admission_route("/mutate", [](std::string_view, std::string& body) {
        std::string seen = body;
        if (seen.starts_with("{\"take\"")) {
            std::string taken = std::move(body);
        } else {
            std::fill(body.begin(), body.end(), '#');
            body += "left behind by the handler";
        }
        return handler_result{200, seen, "application/json", "allowed"};
    });
    run_in_background();
    auto c = client();
    c.connect();
    for (const std::string& body : {"{\"long\":\"" + std::string(30000, 'a') + "\"}", std::string("{}"),
                                    std::string("{\"take\":1}"), std::string("{\"b\":2}"), std::string()}) {
        auto r = c.request("POST", "/mutate", body);
        BOOST_TEST(r.status == 200u);
        BOOST_TEST(r.body == body);
    }
}

BOOST_FIXTURE_TEST_CASE(connections_are_spread_over_the_serving_threads, server_fixture) {
    std::mutex mutex;
    std::set<std::thread::id> threads;
    auto o = default_options();
    o.threads = 3;
    create(o).add_admission_route("/mutate", [&](std::string_view, std::string&) {
        std::lock_guard lock(mutex);
        threads.insert(std::this_thread::get_id());
        return handler_result{200, "{}", "application/json", "allowed"};
    });
    run_in_background();
    std::vector<tls_client> clients;
    for (int i = 0; i < 3; ++i) {
        clients.push_back(client());
        clients.back().connect();
    }
    for (auto& c : clients) {
        BOOST_TEST(c.request("POST", "/mutate", "{}").status == 200u);
        BOOST_TEST(c.request("POST", "/mutate", "{}").status == 200u);
    }
    std::lock_guard lock(mutex);
    BOOST_TEST(threads.size() == 3u);
}

BOOST_FIXTURE_TEST_CASE(blocked_handler_holds_up_only_its_own_thread, server_fixture) {
    // Connections go to the two threads in turn: the first to one, the second to the other.
    std::promise<void> release;
    auto released = release.get_future().share();
    // Released however the test ends, or the fixture would wait for the handler forever.
    struct releaser {
        std::promise<void>& p;
        bool done = false;
        void operator()() {
            if (!std::exchange(done, true)) {
                p.set_value();
            }
        }
        ~releaser() { (*this)(); }
    } release_handler{release};
    std::atomic<bool> entered{false};
    create(default_options()).add_admission_route("/mutate", [&](std::string_view, std::string&) {
        entered = true;
        released.wait();
        return handler_result{200, "{}", "application/json", "allowed"};
    });
    run_in_background();
    auto busy = client();
    busy.connect();
    auto other = client();
    other.connect();
    auto answer = std::async(std::launch::async, [&] { return busy.request("POST", "/mutate", "{}"); });
    BOOST_REQUIRE(eventually([&] { return entered.load(); }));
    BOOST_TEST(other.request("GET", "/healthz").status == 200u);
    // Nor does shutdown wait for it: the listener closes while the handler is still blocked.
    server().stop();
    BOOST_TEST(eventually([&] {
        try {
            client().connect();
            return false;
        } catch (std::runtime_error const& e) {
            return std::string_view(e.what()).find("refused") != std::string_view::npos;
        }
    }));
    release_handler();
    auto r = answer.get();
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(!r.keep_alive);
    // Rather than leave the server waiting out its bound on their close_notify.
    busy.close();
    other.close();
    BOOST_TEST(wait_run_returned(std::chrono::seconds(10)));
}

BOOST_FIXTURE_TEST_CASE(query_string_is_ignored_for_routing, routed_server) {
    auto c = client();
    c.connect();
    auto r = c.request("POST", "/mutate?timeout=10s", "{}");
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(r.body == "{}");
    BOOST_TEST(c.request("GET", "/healthz?verbose=1").status == 200u);
    BOOST_TEST(
        metric("argocd_progressive_rollout_http_requests_total{route=\"/mutate\",outcome=\"allowed\",code=\"200\"}") ==
        1);
}

BOOST_FIXTURE_TEST_CASE(unknown_path_is_404_and_wrong_method_is_405, routed_server) {
    auto c = client();
    c.connect();
    BOOST_TEST(c.request("POST", "/nope", "{}").status == 404u);
    BOOST_TEST(c.request("GET", "/mutate/extra").status == 404u);
    auto get_on_admission = c.request("GET", "/mutate");
    BOOST_TEST(get_on_admission.status == 405u);
    BOOST_TEST(get_on_admission.header("allow") == "POST");
    auto post_on_health = c.request("POST", "/healthz", "{}");
    BOOST_TEST(post_on_health.status == 405u);
    BOOST_TEST(post_on_health.header("allow") == "GET");
    BOOST_TEST(c.request("DELETE", "/metrics").status == 405u);
    // All of it on one connection: refusals do not cost the client its keep-alive connection.
    BOOST_TEST(metric("argocd_progressive_rollout_http_connections_total") == 1);
    BOOST_TEST(
        metric(
            "argocd_progressive_rollout_http_requests_total{route=\"unmatched\",outcome=\"not_found\",code=\"404\"}") ==
        2);
    BOOST_TEST(metric("argocd_progressive_rollout_http_requests_total{route=\"/"
                      "mutate\",outcome=\"method_not_allowed\",code=\"405\"}") == 1);
}

BOOST_FIXTURE_TEST_CASE(handler_exception_answers_500_and_connection_survives, routed_server) {
    auto c = client();
    c.connect();
    auto r = c.request("POST", "/validate", "throw");
    BOOST_TEST(r.status == 500u);
    BOOST_TEST(r.body.find("internal error") != std::string::npos);
    BOOST_TEST(c.request("POST", "/validate", "{}").status == 200u);
    BOOST_TEST(
        metric("argocd_progressive_rollout_http_requests_total{route=\"/validate\",outcome=\"error\",code=\"500\"}") ==
        1);
    BOOST_TEST(
        metric("argocd_progressive_rollout_http_requests_total{route=\"/validate\",outcome=\"denied\",code=\"200\"}") ==
        1);
}

BOOST_FIXTURE_TEST_CASE(readyz_follows_the_readiness_callback, routed_server) {
    auto c = client();
    c.connect();
    BOOST_TEST(c.request("GET", "/readyz").status == 200u);
    ready = false;
    auto r = c.request("GET", "/readyz");
    BOOST_TEST(r.status == 503u);
    BOOST_TEST(c.request("GET", "/healthz").status == 200u);  // alive, just not ready
    ready = true;
    BOOST_TEST(c.request("GET", "/readyz").status == 200u);
}

BOOST_FIXTURE_TEST_CASE(tls_1_3_with_alpn_http11_is_negotiated, routed_server) {
    auto c = client();
    c.connect();
    BOOST_TEST(c.tls_version() == "TLSv1.3");
    BOOST_TEST(c.negotiated_alpn() == "http/1.1");
}

BOOST_FIXTURE_TEST_CASE(h2_only_client_gets_no_alpn_and_still_speaks_http11, routed_server) {
    client_options o;
    o.alpn = "h2";
    auto c = client(o);
    c.connect();
    BOOST_TEST(c.negotiated_alpn() == "");
    BOOST_TEST(c.request("GET", "/healthz").status == 200u);
}

BOOST_FIXTURE_TEST_CASE(tls_1_1_is_refused_and_counted, routed_server) {
    client_options o;
    o.max_tls_version = TLS1_1_VERSION;
    auto c = client(o);
    BOOST_CHECK_THROW(c.connect(), std::runtime_error);
    BOOST_TEST(eventually([&] { return metric("argocd_progressive_rollout_tls_handshake_failures_total") == 1; }));
}

BOOST_FIXTURE_TEST_CASE(metrics_exposes_requests_latency_in_flight_and_certificate, routed_server) {
    metrics_.add_collector(
        [](std::string& out) { out += "# TYPE apr_rollout_phase gauge\napr_rollout_phase{rollout=\"demo\"} 2\n"; });
    auto c = client();
    c.connect();
    c.request("POST", "/mutate", "{}");
    c.request("POST", "/mutate", "{}");
    auto r = c.request("GET", "/metrics");
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(r.header("content-type") == "text/plain; version=0.0.4; charset=utf-8");
    const auto& m = r.body;
    BOOST_TEST(m.find("# TYPE argocd_progressive_rollout_http_requests_total counter\n") != std::string::npos);
    BOOST_TEST(
        m.find(
            "argocd_progressive_rollout_http_requests_total{route=\"/mutate\",outcome=\"allowed\",code=\"200\"} 2\n") !=
        std::string::npos);
    BOOST_TEST(m.find("# TYPE argocd_progressive_rollout_http_request_duration_seconds histogram\n") !=
               std::string::npos);
    BOOST_TEST(
        m.find("argocd_progressive_rollout_http_request_duration_seconds_bucket{route=\"/mutate\",le=\"+Inf\"} 2\n") !=
        std::string::npos);
    BOOST_TEST(m.find("argocd_progressive_rollout_http_request_duration_seconds_count{route=\"/mutate\"} 2\n") !=
               std::string::npos);
    // The /metrics request itself is the one in flight while the exposition is written.
    BOOST_TEST(m.find("argocd_progressive_rollout_http_requests_in_flight 1\n") != std::string::npos);
    BOOST_TEST(m.find("argocd_progressive_rollout_tls_handshake_failures_total 0\n") != std::string::npos);
    BOOST_TEST(m.find("apr_rollout_phase{rollout=\"demo\"} 2\n") != std::string::npos);
    const auto not_after = server().current_certificate().not_after;
    const auto expected_not_after = std::time(nullptr) + 30 * 24 * 3600;
    BOOST_TEST(std::abs(not_after - expected_not_after) < 600);
    BOOST_TEST(m.find("argocd_progressive_rollout_tls_certificate_not_after_seconds " + std::to_string(not_after) +
                      "\n") != std::string::npos);
    BOOST_TEST(metric("argocd_progressive_rollout_http_requests_in_flight") == 0);
}

BOOST_FIXTURE_TEST_CASE(logs_carry_no_request_bodies_or_keys, routed_server) {
    auto c = client();
    c.connect();
    c.request("POST", "/mutate", "{\"secret\":\"BODY-MARKER-7731\"}");
    c.request("POST", "/validate", "throw");
    for (const auto& line : logs()) {
        BOOST_TEST(line.find("BODY-MARKER-7731") == std::string::npos);
        BOOST_TEST(line.find("PRIVATE KEY") == std::string::npos);
        BOOST_TEST(line.find('\n') == std::string::npos);
    }
    BOOST_TEST(logs().size() >= 2u);  // startup line and the handler error at least
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(startup_errors)

BOOST_AUTO_TEST_CASE(missing_certificate_file_is_named_in_the_error) {
    server_fixture f;
    auto o = f.default_options();
    o.cert_file = f.dir.path() / "absent.crt";
    try {
        f.create(o);
        BOOST_FAIL("expected an exception");
    } catch (const std::runtime_error& e) {
        BOOST_TEST(std::string(e.what()).find("absent.crt") != std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(key_of_another_certificate_is_refused) {
    server_fixture f;
    auto other = f.ca.issue(9, "other");
    write_file_atomically(f.key_file, other.key_pem);
    try {
        f.create(f.default_options());
        BOOST_FAIL("expected an exception");
    } catch (const std::runtime_error& e) {
        BOOST_TEST(std::string(e.what()).find("does not match") != std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(bad_listen_address_is_named_in_the_error) {
    server_fixture f;
    for (std::string listen : {"nonsense", "127.0.0.1:99999", "999.1.1.1:80"}) {
        auto o = f.default_options();
        o.listen = listen;
        try {
            f.create(o);
            BOOST_FAIL("expected an exception for " + listen);
        } catch (const std::runtime_error& e) {
            BOOST_TEST(std::string(e.what()).find(listen) != std::string::npos);
        }
    }
}

BOOST_AUTO_TEST_CASE(port_in_use_is_reported) {
    server_fixture a;
    a.start(a.default_options());
    server_fixture b;
    auto o = b.default_options();
    o.listen = "127.0.0.1:" + std::to_string(a.port());
    BOOST_CHECK_THROW(b.create(o), std::runtime_error);
}

BOOST_AUTO_TEST_SUITE_END()
