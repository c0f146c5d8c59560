// Graceful shutdown: readiness fails at once, idle connections close, in-flight requests get
// their answers, run() returns within a bounded time.
#include "server/shutdown_signals.hpp"
#include "test_support.hpp"

#include <boost/test/unit_test.hpp>

#include <csignal>
#include <unistd.h>

using namespace apr::server;
using namespace apr::server::test;

BOOST_AUTO_TEST_SUITE(graceful_shutdown)

BOOST_AUTO_TEST_CASE(stop_waits_for_the_in_flight_request_then_run_returns) {
    server_fixture f;
    std::promise<void> release;
    auto released = release.get_future().share();
    std::atomic<bool> entered{false};
    f.create(f.default_options()).add_admission_route("/mutate", [&](std::string_view, std::string& body) {
        entered = true;
        released.wait();
        return handler_result{200, std::string(body), "application/json", "allowed"};
    });
    f.run_in_background();

    auto idle = f.client();
    idle.connect();
    BOOST_TEST(idle.request("GET", "/healthz").status == 200u);

    auto busy = f.client();
    busy.connect();
    auto answer =
        std::async(std::launch::async, [&] { return busy.request("POST", "/mutate", "{\"in\":\"flight\"}"); });
    BOOST_REQUIRE(eventually([&] { return entered.load(); }));

    f.server().stop();
    // The idle keep-alive connection is closed by the server, cleanly.
    BOOST_TEST(idle.wait_closed());
    // The listener is closed: new connections are refused.
    BOOST_TEST(eventually([&] {
        try {
            f.client().connect();
            return false;
        } catch (std::runtime_error const&) {
            return true;
        }
    }));
    BOOST_TEST(!f.run_returned());  // the request is still being handled

    release.set_value();
    auto r = answer.get();
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(r.body == "{\"in\":\"flight\"}");
    BOOST_TEST(!r.keep_alive);  // Connection: close, since the server is going away
    BOOST_TEST(f.wait_run_returned(std::chrono::seconds(10)));
}

BOOST_AUTO_TEST_CASE(readyz_fails_at_once_while_the_server_still_serves) {
    server_fixture f;
    auto o = f.default_options();
    o.shutdown_delay = std::chrono::seconds(2);
    f.start(o);
    BOOST_TEST(f.get("/readyz").status == 200u);
    const auto stopped_at = std::chrono::steady_clock::now();
    f.server().stop();
    auto r = f.get("/readyz");  // a new connection: still accepted during the delay
    BOOST_TEST(r.status == 503u);
    BOOST_TEST(r.body == "shutting down\n");
    BOOST_TEST(f.get("/healthz").status == 200u);
    BOOST_TEST(f.wait_run_returned(std::chrono::seconds(10)));
    BOOST_TEST((std::chrono::steady_clock::now() - stopped_at >= std::chrono::milliseconds(1900)));
}

BOOST_AUTO_TEST_CASE(grace_period_bounds_the_wait_for_a_stuck_client) {
    server_fixture f;
    auto o = f.default_options();
    o.read_timeout = std::chrono::seconds(60);  // the client alone would hold on for a minute
    o.shutdown_grace = std::chrono::seconds(1);
    f.start(o);
    auto stuck = f.client();
    stuck.connect();
    stuck.send_raw("POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\n{");
    BOOST_REQUIRE(eventually([&] { return f.metric("argocd_progressive_rollout_http_connections_open") == 1; }));
    const auto stopped_at = std::chrono::steady_clock::now();
    f.server().stop();
    BOOST_TEST(f.wait_run_returned(std::chrono::seconds(10)));
    BOOST_TEST((std::chrono::steady_clock::now() - stopped_at < std::chrono::seconds(5)));
    BOOST_TEST(stuck.wait_closed());
}

BOOST_AUTO_TEST_CASE(stop_before_run_makes_run_return_at_once) {
    server_fixture f;
    f.create(f.default_options());
    f.server().stop();
    f.run_in_background();
    BOOST_TEST(f.wait_run_returned(std::chrono::seconds(5)));
}

BOOST_AUTO_TEST_CASE(stop_is_idempotent_and_thread_safe) {
    server_fixture f;
    f.start(f.default_options());
    std::vector<std::thread> stoppers;
    for (int i = 0; i < 4; ++i) {
        stoppers.emplace_back([&] { f.server().stop(); });
    }
    for (auto& t : stoppers) {
        t.join();
    }
    BOOST_TEST(f.wait_run_returned(std::chrono::seconds(5)));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(shutdown_signal_handling)

BOOST_AUTO_TEST_CASE(sigterm_stops_a_running_server) {
    server_fixture f;
    f.start(f.default_options());
    BOOST_TEST(f.get("/healthz").status == 200u);
    std::promise<int> seen;
    auto seen_signal = seen.get_future();
    {
        shutdown_signals signals([&](int signo) {
            seen.set_value(signo);
            f.server().stop();
        });
        ::kill(::getpid(), SIGTERM);
        BOOST_REQUIRE((seen_signal.wait_for(std::chrono::seconds(10)) == std::future_status::ready));
        BOOST_TEST(seen_signal.get() == SIGTERM);
        BOOST_TEST(f.wait_run_returned(std::chrono::seconds(10)));
    }
}

BOOST_AUTO_TEST_SUITE_END()
