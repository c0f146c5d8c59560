// The default log line: one event, one line, logfmt.
#include "server/server_log.hpp"

#include <boost/test/unit_test.hpp>

using namespace apr::server;

BOOST_AUTO_TEST_SUITE(server_log_format)

BOOST_AUTO_TEST_CASE(one_escaped_line_per_event) {
    std::time_t const t = 1795773600;  // 2026-11-27T10:00:00Z
    BOOST_TEST(format_log_line(log_level::info, "listening", t) ==
               "time=2026-11-27T10:00:00Z level=info component=server msg=\"listening\"\n");
    BOOST_TEST(format_log_line(log_level::warn, "a \"b\" \\ c\nd", t) ==
               "time=2026-11-27T10:00:00Z level=warn component=server "
               "msg=\"a \\\"b\\\" \\\\ c\\nd\"\n");
    BOOST_TEST(format_log_line(log_level::error, "", t).find(" level=error ") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
