// Routing on its own: a request's method, target and body in, response parts out. No sockets;
// what reaches the wire is covered by routing_test.cpp against a real server.
#include "server/router.hpp"

#include <boost/test/unit_test.hpp>

#include <stdexcept>
#include <string>
#include <vector>

using namespace apr::server;

namespace {

struct routes {
    metrics_registry metrics;
    std::vector<std::string> logged;
    router r{metrics, [this](log_level, std::string_view m) { logged.emplace_back(m); }};
    std::string body;

    response_parts call(std::string_view method, std::string_view target, bool stopping = false) {
        return r.answer({method, target, "application/json", body}, stopping);
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(router_answers)

BOOST_FIXTURE_TEST_CASE(admission_route_gets_the_body_and_its_result_is_the_answer, routes) {
    r.add_admission_route("/mutate", [](std::string_view content_type, std::string& b) {
        BOOST_TEST(content_type == "application/json");
        return handler_result{200, "seen:" + b, "application/json", "held"};
    });
    body = "{\"a\":1}";
    const auto res = call("POST", "/mutate?timeout=10s");
    BOOST_TEST(res.status == 200u);
    BOOST_TEST(res.body == "seen:{\"a\":1}");
    BOOST_TEST(res.content_type == "application/json");
    BOOST_TEST(res.route == "/mutate");
    BOOST_TEST(res.outcome == "held");
    BOOST_TEST(res.allow.empty());
}

BOOST_FIXTURE_TEST_CASE(handler_may_take_the_body_in_place, routes) {
    r.add_admission_route("/mutate", [](std::string_view, std::string& b) {
        std::string taken = std::move(b);
        return handler_result{200, taken, "application/json", ""};
    });
    body = "payload";
    const auto res = call("POST", "/mutate");
    BOOST_TEST(res.body == "payload");
    BOOST_TEST(res.outcome == "ok");  // empty outcome is counted as ok
}

BOOST_FIXTURE_TEST_CASE(admission_route_wants_post, routes) {
    bool called = false;
    r.add_admission_route("/mutate", [&](std::string_view, std::string&) {
        called = true;
        return handler_result{};
    });
    for (std::string_view method : {"GET", "PUT", "post", "DELETE"}) {
        const auto res = call(method, "/mutate");
        BOOST_TEST(res.status == 405u);
        BOOST_TEST(res.allow == "POST");
        BOOST_TEST(res.outcome == "method_not_allowed");
        BOOST_TEST(res.route == "/mutate");
    }
    BOOST_TEST(!called);
}

BOOST_FIXTURE_TEST_CASE(a_throwing_handler_is_a_500_and_logged_without_the_body, routes) {
    r.add_admission_route("/validate",
                          [](std::string_view, std::string&) -> handler_result { throw std::runtime_error("boom"); });
    r.add_admission_route("/odd", [](std::string_view, std::string&) -> handler_result { throw 7; });
    body = "BODY-MARKER";
    const auto res = call("POST", "/validate");
    BOOST_TEST(res.status == 500u);
    BOOST_TEST(res.outcome == "error");
    BOOST_TEST(res.content_type == std::string(text_plain));
    BOOST_TEST(call("POST", "/odd").status == 500u);
    BOOST_REQUIRE(logged.size() == 2u);
    BOOST_TEST(logged[0] == "handler for /validate threw: boom");
    BOOST_TEST(logged[1] == "handler for /odd threw a non-exception");
    for (const auto& line : logged) {
        BOOST_TEST(line.find("BODY-MARKER") == std::string::npos);
    }
}

BOOST_FIXTURE_TEST_CASE(builtin_endpoints_answer_get_only, routes) {
    auto healthz = call("GET", "/healthz");
    BOOST_TEST(healthz.status == 200u);
    BOOST_TEST(healthz.body == "ok\n");
    BOOST_TEST(healthz.route == "/healthz");
    auto post = call("POST", "/healthz");
    BOOST_TEST(post.status == 405u);
    BOOST_TEST(post.allow == "GET");
    BOOST_TEST(post.route == "/healthz");

    metrics.add_gauge("demo_value", "A value.").with({}).set(3);
    const auto m = call("GET", "/metrics?x=1");
    BOOST_TEST(m.status == 200u);
    BOOST_TEST(m.content_type == std::string(metrics_registry::content_type));
    BOOST_TEST(m.body.find("demo_value 3\n") != std::string::npos);
    BOOST_TEST(m.route == "/metrics");
}

BOOST_FIXTURE_TEST_CASE(readyz_follows_readiness_and_stopping, routes) {
    BOOST_TEST(call("GET", "/readyz").status == 200u);  // ready by default
    bool ready = false;
    r.set_readiness([&] { return ready; });
    auto not_ready = call("GET", "/readyz");
    BOOST_TEST(not_ready.status == 503u);
    BOOST_TEST(not_ready.outcome == "not_ready");
    ready = true;
    BOOST_TEST(call("GET", "/readyz").status == 200u);
    auto stopping = call("GET", "/readyz", true);
    BOOST_TEST(stopping.status == 503u);
    BOOST_TEST(stopping.body == "shutting down\n");
    r.set_readiness([]() -> bool { throw std::runtime_error("cache gone"); });
    BOOST_TEST(call("GET", "/readyz").status == 503u);
    BOOST_TEST(logged.back() == "readiness check threw: cache gone");
}

BOOST_FIXTURE_TEST_CASE(unknown_paths_are_404_and_labelled_unmatched, routes) {
    r.add_admission_route("/mutate", [](std::string_view, std::string&) { return handler_result{}; });
    for (std::string_view target : {"/", "/mutate/", "/Mutate", "/healthz/x", "/nope?x=/mutate"}) {
        const auto res = call("POST", target);
        BOOST_TEST(res.status == 404u);
        BOOST_TEST(res.outcome == "not_found");
        BOOST_TEST(res.route == "unmatched");
    }
}

BOOST_FIXTURE_TEST_CASE(route_labels_outlive_the_request, routes) {
    r.add_admission_route("/mutate", [](std::string_view, std::string&) { return handler_result{}; });
    std::string path = "/mutate";
    std::string_view const label = r.route_label(path);
    path = "/xxxxxx";  // the label must not be a view of the caller's text
    BOOST_TEST(label == "/mutate");
    BOOST_TEST(r.route_label("/metrics") == "/metrics");
    BOOST_TEST(r.route_label("/other") == "unmatched");
    BOOST_TEST(path_of("/a?b?c") == "/a");
    BOOST_TEST(path_of("/a") == "/a");
}

BOOST_AUTO_TEST_SUITE_END()
