#define BOOST_TEST_MODULE core_values
#include <boost/test/unit_test.hpp>
#include <boost/test/data/test_case.hpp>

#include "core/duration.hpp"
#include "core/int_or_percent.hpp"
#include "core/label_selector.hpp"

using namespace apr::core;
namespace data = boost::unit_test::data;

BOOST_AUTO_TEST_SUITE(rounding_rule)

struct rounding_case {
    const char* value;
    long long total;
    long long expected;
};
std::ostream& operator<<(std::ostream& os, const rounding_case& c) {
    return os << c.value << " of " << c.total << " -> " << c.expected;
}

const rounding_case rounding_cases[] = {
    {"0%", 0, 0},   {"0%", 3, 0},     {"1%", 0, 0},   {"1%", 1, 1},   {"1%", 3, 1},   {"1%", 100, 1},
    {"1%", 250, 2}, {"25%", 3, 1},    {"25%", 4, 1},  {"25%", 8, 2},  {"25%", 9, 2},  {"99%", 1, 1},
    {"99%", 3, 2},  {"99%", 100, 99}, {"100%", 0, 0}, {"100%", 1, 1}, {"100%", 3, 3}, {"50%", 1, 1},
};

BOOST_DATA_TEST_CASE(percent_rounds_down_but_never_to_zero_of_a_non_empty_set, data::make(rounding_cases), c) {
    auto v = int_or_percent::parse(c.value);
    BOOST_TEST(v.well_formed);
    BOOST_TEST(v.resolve(c.total) == c.expected);
}

BOOST_AUTO_TEST_CASE(integers_are_taken_as_written) {
    BOOST_TEST(int_or_percent::integer(0).resolve(5) == 0);
    BOOST_TEST(int_or_percent::integer(1).resolve(0) == 1);
    BOOST_TEST(int_or_percent::integer(7).resolve(3) == 7);
}

BOOST_AUTO_TEST_CASE(malformed_percentages_are_kept_for_the_error_message) {
    for (const char* bad : {"25", "%", "x%", "-5%", "+5%", "2.5%", "25 %", ""}) {
        auto v = int_or_percent::parse(bad);
        BOOST_TEST(!v.well_formed, bad);
        BOOST_TEST(v.text == bad);
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(go_durations)

BOOST_AUTO_TEST_CASE(parses_go_syntax) {
    using namespace std::chrono;
    BOOST_TEST(parse_duration("30m").value() == minutes(30));
    BOOST_TEST(parse_duration("90s").value() == seconds(90));
    BOOST_TEST(parse_duration("1h30m").value() == minutes(90));
    BOOST_TEST(parse_duration("1.5h").value() == minutes(90));
    BOOST_TEST(parse_duration("300ms").value() == milliseconds(300));
    BOOST_TEST(parse_duration("0").value() == milliseconds(0));
    BOOST_TEST(parse_duration("0s").value() == milliseconds(0));
    BOOST_TEST(parse_duration("-5s").value() == seconds(-5));
    BOOST_TEST(parse_duration("2h45m30.5s").value() == milliseconds(9930500));
}

BOOST_AUTO_TEST_CASE(rejects_what_go_rejects) {
    for (const char* bad : {"", "30", "m", "1d", "5 m", "1h-5m", ".s", "1.2.3s", "s30"})
        BOOST_TEST(!parse_duration(bad).has_value(), bad);
}

BOOST_AUTO_TEST_CASE(formats_like_go_without_trailing_zero_units) {
    using namespace std::chrono;
    BOOST_TEST(format_duration(minutes(30)) == "30m");
    BOOST_TEST(format_duration(minutes(90)) == "1h30m");
    BOOST_TEST(format_duration(seconds(0)) == "0s");
    BOOST_TEST(format_duration(milliseconds(1500)) == "1.5s");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(label_selectors)

label_requirement req(std::string key, std::string op, std::vector<std::string> values = {}) {
    return {std::move(key), parse_operator(op), op, std::move(values)};
}

BOOST_AUTO_TEST_CASE(empty_selector_matches_everything) {
    BOOST_TEST(label_selector{}.matches({}));
    BOOST_TEST(label_selector{}.matches({{"a", "b"}}));
}

BOOST_AUTO_TEST_CASE(match_labels_and_every_expression_must_hold) {
    label_selector s;
    s.match_labels = {{"area", "emea"}};
    s.match_expressions = {req("region", "In", {"eu-west-1", "eu-central-1"}), req("drained", "DoesNotExist")};
    BOOST_TEST(s.matches({{"area", "emea"}, {"region", "eu-west-1"}}));
    BOOST_TEST(!s.matches({{"area", "emea"}, {"region", "eu-north-1"}}));
    BOOST_TEST(!s.matches({{"area", "emea"}, {"region", "eu-west-1"}, {"drained", "true"}}));
    BOOST_TEST(!s.matches({{"region", "eu-west-1"}}));
}

BOOST_AUTO_TEST_CASE(not_in_matches_clusters_without_the_label) {
    label_selector s;
    s.match_expressions = {req("tier", "NotIn", {"critical"})};
    BOOST_TEST(s.matches({}));
    BOOST_TEST(s.matches({{"tier", "standard"}}));
    BOOST_TEST(!s.matches({{"tier", "critical"}}));
}

BOOST_AUTO_TEST_CASE(exists_checks_presence_only) {
    label_selector s;
    s.match_expressions = {req("canary", "Exists")};
    BOOST_TEST(s.matches({{"canary", ""}}));
    BOOST_TEST(!s.matches({{"other", "x"}}));
}

BOOST_AUTO_TEST_CASE(syntax_errors_name_their_field) {
    label_selector s;
    s.match_labels = {{"bad key!", "ok"}, {"ok", "-bad-value"}};
    s.match_expressions = {req("a", "In"), req("b", "Exists", {"x"}), req("c", "Equals", {"x"}),
                           req("example.com/name", "In", {"v"})};
    field_errors errors;
    validate_selector(s, "sel", errors);
    std::vector<std::string> fields;
    for (const auto& e : errors) fields.push_back(e.field);
    std::vector<std::string> expected = {"sel.matchLabels", "sel.matchLabels", "sel.matchExpressions[0].values",
                                         "sel.matchExpressions[1].values", "sel.matchExpressions[2].operator"};
    BOOST_TEST(fields == expected, boost::test_tools::per_element());
    BOOST_TEST(errors[4].to_string() ==
               "sel.matchExpressions[2].operator: Unsupported value: \"Equals\": supported values: \"In\", \"NotIn\", "
               "\"Exists\", \"DoesNotExist\"");
}

BOOST_AUTO_TEST_CASE(label_key_rules_follow_the_api_server) {
    BOOST_TEST(label_key_problem("region").empty());
    BOOST_TEST(label_key_problem("topology.kubernetes.io/region").empty());
    BOOST_TEST(!label_key_problem("Example.com/region").empty());  // prefix must be lowercase
    BOOST_TEST(!label_key_problem("a/b/c").empty());
    BOOST_TEST(!label_key_problem(std::string(64, 'a')).empty());
    BOOST_TEST(label_value_problem("").empty());
    BOOST_TEST(!label_value_problem("has space").empty());
}

BOOST_AUTO_TEST_SUITE_END()
