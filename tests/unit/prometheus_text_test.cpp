#define BOOST_TEST_MODULE prometheus_text
#include <boost/test/unit_test.hpp>

#include "prometheus/text_format.hpp"

#include <limits>

using namespace apr::prometheus;

BOOST_AUTO_TEST_CASE(label_values_escape_backslash_quote_and_newline) {
    std::string out;
    append_escaped_label_value(out, "a\\b\"c\nd");
    BOOST_TEST(out == R"(a\\b\"c\nd)");
}

BOOST_AUTO_TEST_CASE(a_sample_escapes_each_label_value) {
    std::string out;
    append_sample(out, "m", {{"namespace", "ns"}, {"name", "x\"y\\z\nw"}}, 3);
    BOOST_TEST(out == "m{namespace=\"ns\",name=\"x\\\"y\\\\z\\nw\"} 3\n");
}

BOOST_AUTO_TEST_CASE(a_sample_without_labels_has_no_braces) {
    std::string out;
    append_sample(out, "m", {}, 0.25);
    BOOST_TEST(out == "m 0.25\n");
}

BOOST_AUTO_TEST_CASE(help_escapes_backslash_and_newline_but_not_quotes) {
    std::string out;
    append_header(out, "m", "a \"b\"\\c\nd", "gauge");
    BOOST_TEST(out == "# HELP m a \"b\"\\\\c\\nd\n# TYPE m gauge\n");
}

BOOST_AUTO_TEST_CASE(special_values_are_spelled_as_prometheus_wants) {
    std::string out;
    append_sample_value(out, std::numeric_limits<double>::infinity());
    out += ' ';
    append_sample_value(out, -std::numeric_limits<double>::infinity());
    out += ' ';
    append_sample_value(out, std::numeric_limits<double>::quiet_NaN());
    out += ' ';
    append_sample_value(out, 42);
    BOOST_TEST(out == "+Inf -Inf NaN 42");
}
