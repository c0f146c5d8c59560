#define BOOST_TEST_MODULE gate_outcome
#include <boost/test/unit_test.hpp>

#include "core/measurements.hpp"

#include <cmath>

using namespace apr::core;

namespace {

const time_point t0 = time_point{std::chrono::sys_days{std::chrono::year{2026} / 11 / 30}};

gate_spec spec_with(gate_timing when, long long count, long long failure_limit = 0, long long inconclusive_limit = 0,
                    long long consecutive_error_limit = 4) {
    gate_spec g;
    g.name = "error-rate";
    g.when = when;
    g.count = count;
    g.failure_limit = failure_limit;
    g.inconclusive_limit = inconclusive_limit;
    g.consecutive_error_limit = consecutive_error_limit;
    return g;
}

gate_status after(const gate_spec& spec, std::initializer_list<measurement_phase> phases) {
    gate_status g{.name = spec.name};
    g.started_at = t0;
    auto at = t0;
    for (auto p : phases) {
        record(spec, g, measurement{at, p, "", ""});
        at += std::chrono::minutes(1);
    }
    return g;
}

using enum measurement_phase;

}  // namespace

BOOST_AUTO_TEST_CASE(successful_after_count_measurements) {
    const auto spec = spec_with(gate_timing::after, 3);
    BOOST_TEST((after(spec, {successful, successful}).phase == gate_phase::running));
    BOOST_TEST((after(spec, {successful, successful, successful}).phase == gate_phase::successful));
}

BOOST_AUTO_TEST_CASE(failed_when_failures_exceed_failure_limit) {
    const auto spec = spec_with(gate_timing::after, 5, 1);
    BOOST_TEST((after(spec, {failed}).phase == gate_phase::running));  // 1 <= failureLimit 1
    BOOST_TEST((after(spec, {failed, successful, failed}).phase == gate_phase::failed));
}

BOOST_AUTO_TEST_CASE(failure_wins_over_a_reached_count) {
    const auto spec = spec_with(gate_timing::after, 1);
    BOOST_TEST((after(spec, {failed}).phase == gate_phase::failed));
}

BOOST_AUTO_TEST_CASE(error_only_after_more_errors_in_a_row_than_the_limit) {
    const auto spec = spec_with(gate_timing::during, 1, 0, 0, 2);
    BOOST_TEST((after(spec, {error, error}).phase == gate_phase::running));
    BOOST_TEST((after(spec, {error, error, successful, error, error}).phase == gate_phase::running));  // reset
    BOOST_TEST((after(spec, {error, error, error}).phase == gate_phase::error));
}

BOOST_AUTO_TEST_CASE(errors_do_not_count_towards_count) {
    const auto spec = spec_with(gate_timing::after, 2);
    auto g = after(spec, {successful, error});
    BOOST_TEST((g.phase == gate_phase::running));
    BOOST_TEST(g.taken == 2);
    BOOST_TEST(g.errors == 1);
    BOOST_TEST((after(spec, {successful, error, successful}).phase == gate_phase::successful));
}

BOOST_AUTO_TEST_CASE(inconclusive_beyond_its_limit) {
    const auto spec = spec_with(gate_timing::after, 3, 0, 1);
    BOOST_TEST((after(spec, {inconclusive}).phase == gate_phase::running));
    BOOST_TEST((after(spec, {inconclusive, inconclusive}).phase == gate_phase::inconclusive));
}

BOOST_AUTO_TEST_CASE(rule_order_failed_then_error_then_inconclusive) {
    const auto spec = spec_with(gate_timing::during, 1, 0, 0, 0);
    BOOST_TEST((after(spec, {inconclusive, error}).phase == gate_phase::error));
    BOOST_TEST((after(spec, {inconclusive, error, failed}).phase == gate_phase::failed));
}

BOOST_AUTO_TEST_CASE(a_during_gate_runs_until_its_stage_ends) {
    const auto spec = spec_with(gate_timing::during, 1);
    BOOST_TEST((after(spec, {successful, successful, successful}).phase == gate_phase::running));
}

BOOST_AUTO_TEST_CASE(status_keeps_the_last_measurements_and_the_next_time) {
    auto spec = spec_with(gate_timing::during, 1);
    spec.interval = duration_field::of("30s");
    auto g = after(spec, {successful, failed, successful, successful, inconclusive});
    BOOST_TEST(g.measurements.size() == kept_measurements);
    BOOST_TEST((g.measurements.back().phase == inconclusive));
    BOOST_TEST((g.next_at == t0 + std::chrono::minutes(4) + std::chrono::seconds(30)));
    BOOST_TEST(g.taken == 5);
    BOOST_TEST(g.failed == 1);
}

BOOST_AUTO_TEST_CASE(samples_are_judged_against_the_threshold_range) {
    prometheus_check check;
    check.threshold.max = 0.05;
    BOOST_TEST((judge_samples(check, {0.01, 0.02}, t0).phase == successful));
    const auto m = judge_samples(check, {0.01, 0.2}, t0);
    BOOST_TEST((m.phase == failed));
    BOOST_TEST(m.value == "[0.01, 0.2]");
    BOOST_TEST(m.message == "value 0.2 outside thresholdRange [-inf, 0.05]");
    check.threshold.min = 0.0;
    BOOST_TEST((judge_samples(check, {-1}, t0).phase == failed));
    BOOST_TEST((judge_samples(check, {0.05}, t0).phase == successful));  // inclusive
    BOOST_TEST((judge_samples(check, {std::nan("")}, t0).phase == failed));
}

BOOST_AUTO_TEST_CASE(an_empty_result_is_empty_result) {
    prometheus_check check;
    check.threshold.max = 1;
    BOOST_TEST((judge_samples(check, {}, t0).phase == inconclusive));  // the default
    check.empty_result = successful;
    BOOST_TEST((judge_samples(check, {}, t0).phase == successful));
    check.empty_result = failed;
    const auto m = judge_samples(check, {}, t0);
    BOOST_TEST((m.phase == failed));
    BOOST_TEST(m.message == "empty query result (emptyResult Failed)");
}

BOOST_AUTO_TEST_CASE(placeholders_expand_for_the_rollout_stage_and_cluster) {
    const cluster c{"eu-west-1a", "https://10.0.0.1", {{"region", "eu-west-1"}}};
    placeholder_values v{"guestbook", "argocd", "canary", 3, &c};
    BOOST_TEST(expand_placeholders("rate{cluster=\"$(cluster.name)\",region=\"$(cluster.labels.region)\"}", v) ==
               "rate{cluster=\"eu-west-1a\",region=\"eu-west-1\"}");
    BOOST_TEST(expand_placeholders("$(rollout.namespace)/$(rollout.name) $(stage.name) $(pass) $(cluster.server)", v) ==
               "argocd/guestbook canary 3 https://10.0.0.1");
    BOOST_TEST(expand_placeholders("$(cluster.labels.zone)|", v) == "|");  // absent label: empty
    BOOST_TEST(expand_placeholders("no placeholder $(", v) == "no placeholder $(");
}

BOOST_AUTO_TEST_CASE(unknown_placeholders_are_found_for_validation) {
    BOOST_TEST(unknown_placeholders("$(rollout.name) $(cluster.name)", true).empty());
    BOOST_TEST(unknown_placeholders("$(cluster.name)", false) == std::vector<std::string>{"$(cluster.name)"});
    BOOST_TEST(unknown_placeholders("$(cluster.labels.)", true) == std::vector<std::string>{"$(cluster.labels.)"});
    BOOST_TEST(unknown_placeholders("$(clustr.name) $(pass", true) ==
               (std::vector<std::string>{"$(clustr.name)", "$(pass"}));
}
