// The Prometheus registry on its own: exposition format 0.0.4, exactly.
#include "server/metrics_registry.hpp"

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace apr::server;

BOOST_AUTO_TEST_SUITE(metrics_registry_exposition)

BOOST_AUTO_TEST_CASE(counters_gauges_and_histograms_print_in_text_format_0_0_4) {
    metrics_registry r;
    auto& requests = r.add_counter("demo_requests_total", "Requests.\nSecond line \\ end.", {"route", "outcome"});
    requests.with({"/mutate", "allowed"}).inc();
    requests.with({"/mutate", "allowed"}).inc(2);
    requests.with({"/b\"q\\x\ny", "held"}).inc();
    r.add_gauge("demo_temperature", "A gauge.").with({}).set(-1.5);
    auto& h = r.add_histogram("demo_seconds", "A histogram.", {"route"}, {0.1, 1, 0.5});
    h.with({"/mutate"}).observe(0.0625);
    h.with({"/mutate"}).observe(0.5);
    h.with({"/mutate"}).observe(3);
    r.add_collector([](std::string& out) { out += "# TYPE extra gauge\nextra 7\n"; });

    std::string const expected =
        "# HELP demo_requests_total Requests.\\nSecond line \\\\ end.\n"
        "# TYPE demo_requests_total counter\n"
        "demo_requests_total{route=\"/b\\\"q\\\\x\\ny\",outcome=\"held\"} 1\n"
        "demo_requests_total{route=\"/mutate\",outcome=\"allowed\"} 3\n"
        "# HELP demo_temperature A gauge.\n"
        "# TYPE demo_temperature gauge\n"
        "demo_temperature -1.5\n"
        "# HELP demo_seconds A histogram.\n"
        "# TYPE demo_seconds histogram\n"
        "demo_seconds_bucket{route=\"/mutate\",le=\"0.1\"} 1\n"
        "demo_seconds_bucket{route=\"/mutate\",le=\"0.5\"} 2\n"
        "demo_seconds_bucket{route=\"/mutate\",le=\"1\"} 2\n"
        "demo_seconds_bucket{route=\"/mutate\",le=\"+Inf\"} 3\n"
        "demo_seconds_sum{route=\"/mutate\"} 3.5625\n"
        "demo_seconds_count{route=\"/mutate\"} 3\n"
        "# TYPE extra gauge\n"
        "extra 7\n";
    BOOST_TEST(r.expose() == expected);
}

BOOST_AUTO_TEST_CASE(registering_a_name_again_returns_the_same_series) {
    metrics_registry r;
    auto& a = r.add_counter("same_total", "x", {"k"});
    auto& b = r.add_counter("same_total", "x", {"k"});
    BOOST_TEST(&a == &b);
    a.with({"v"}).inc();
    BOOST_TEST(b.with({"v"}).value() == 1);
}

BOOST_AUTO_TEST_CASE(conflicting_or_invalid_registrations_throw_at_startup) {
    metrics_registry r;
    r.add_counter("clash_total", "x", {"k"});
    BOOST_CHECK_THROW(r.add_gauge("clash_total", "x", {"k"}), std::invalid_argument);
    BOOST_CHECK_THROW(r.add_counter("clash_total", "x", {"other"}), std::invalid_argument);
    BOOST_CHECK_THROW(r.add_counter("1bad", "x"), std::invalid_argument);
    BOOST_CHECK_THROW(r.add_counter("ok_total", "x", {"le"}), std::invalid_argument);
    BOOST_CHECK_THROW(r.add_histogram("h", "x", {"bad-label"}), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(special_values_are_spelled_as_prometheus_expects) {
    metrics_registry r;
    auto& g = r.add_gauge("g", "x", {"k"});
    g.with({"inf"}).set(INFINITY);
    g.with({"nan"}).set(NAN);
    g.with({"big"}).set(1700000000);
    std::string const out = r.expose();
    BOOST_TEST(out.find("g{k=\"inf\"} +Inf\n") != std::string::npos);
    BOOST_TEST(out.find("g{k=\"nan\"} NaN\n") != std::string::npos);
    BOOST_TEST(out.find("g{k=\"big\"} 1700000000\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(concurrent_increments_are_not_lost) {
    metrics_registry r;
    auto& c = r.add_counter("concurrent_total", "x", {"k"});
    auto& h = r.add_histogram("concurrent_seconds", "x");
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 10000; ++i) {
                c.with({t % 2 ? "odd" : "even"}).inc();
                h.with({}).observe(0.001);
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    BOOST_TEST(c.with({"odd"}).value() + c.with({"even"}).value() == 40000);
    BOOST_TEST(h.with({}).read().count == 40000u);
}

BOOST_AUTO_TEST_SUITE_END()
