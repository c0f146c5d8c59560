#define BOOST_TEST_MODULE windows
#include <boost/test/unit_test.hpp>
#include <boost/test/data/test_case.hpp>

#include "core/cron.hpp"
#include "core/project_windows.hpp"
#include "core/time_window.hpp"

#include <date/tz.h>

#include <cstdio>
#include <string>

using namespace apr::core;
using namespace std::chrono_literals;
namespace data = boost::unit_test::data;

namespace {

// "2026-03-29T01:30:00" as a wall-clock time.
date::local_seconds civil_seconds(const std::string& text) {
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
    BOOST_REQUIRE_MESSAGE(std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &s) == 6,
                          "bad time in test: " << text);
    return date::local_days{date::year{y} / mo / d} + std::chrono::hours{h} + std::chrono::minutes{mi} +
           std::chrono::seconds{s};
}

// "2012-03-11T00:00:00-0500" or "2026-03-29T01:30:00Z" as an instant.
time_point at(const std::string& text) {
    auto local = civil_seconds(text.substr(0, 19));
    std::chrono::minutes offset{0};
    if (text.size() == 24) {
        const int sign = text[19] == '-' ? -1 : 1;
        offset = sign * (std::chrono::hours{std::stoi(text.substr(20, 2))} +
                         std::chrono::minutes{std::stoi(text.substr(22, 2))});
    }
    return time_point{local.time_since_epoch() - offset};
}

std::string text(std::optional<time_point> t) {
    return t ? date::format("%FT%TZ", *t) : "none";
}

civil_minutes civil(const std::string& text) {
    return std::chrono::floor<std::chrono::minutes>(civil_seconds(text));
}

cron_schedule cron(std::string_view spec) {
    auto parsed = parse_cron(spec);
    BOOST_REQUIRE_MESSAGE(parsed.schedule, "schedule " << spec << ": " << parsed.error);
    return *parsed.schedule;
}

const date::time_zone* zone(std::string_view name) {
    return date::locate_zone(name);
}

window_schedule window(window_kind kind, std::string_view spec, duration length, const char* zone_name = nullptr) {
    window_schedule w;
    w.kind = kind;
    w.schedule = cron(spec);
    w.length = length;
    w.zone = zone_name ? zone(zone_name) : nullptr;
    return w;
}

// A Monday, at noon UTC.
const time_point noon = date::sys_days{date::year{2026} / 11 / 30} + std::chrono::hours{12};

}  // namespace

BOOST_AUTO_TEST_SUITE(cron_grammar)

struct parse_case {
    const char* spec;
    const char* error;  // substring of robfig's reason; nullptr when the spec is valid
};
std::ostream& operator<<(std::ostream& os, const parse_case& c) {
    return os << '"' << c.spec << '"';
}

const parse_case parse_cases[] = {
    {"0 9 * * 1-4", nullptr},
    {"*/15 * * * *", nullptr},
    {"0 0 1,15 * *", nullptr},
    {"30 2 * jan-mar mon-fri", nullptr},
    {"0 0 * DEC SUN", nullptr},
    {"5/10 ? ? * *", nullptr},
    {"0 0 ,1 * *", nullptr},  // Go's FieldsFunc drops empty list items
    {"  0   9 * *  1  ", nullptr},
    {"CRON_TZ=Europe/London 0 9 * * *", nullptr},
    {"", "empty spec string"},
    {"0 9 * *", "expected exactly 5 fields, found 4"},
    {"0 0 9 * * *", "expected exactly 5 fields, found 6"},
    {"@daily", "parser does not accept descriptors: @daily"},
    {"60 * * * *", "end of range (60) above maximum (59): 60"},
    {"* 24 * * *", "end of range (24) above maximum (23): 24"},
    {"* * 0 * *", "beginning of range (0) below minimum (1): 0"},
    {"* * * 13 *", "end of range (13) above maximum (12): 13"},
    {"* * * * 7", "end of range (7) above maximum (6): 7"},  // robfig: Sunday is 0 only
    {"5-3 * * * *", "beginning of range (5) beyond end of range (3): 5-3"},
    {"*/0 * * * *", "step of range should be a positive number: */0"},
    {"1-2-3 * * * *", "too many hyphens: 1-2-3"},
    {"*/2/3 * * * *", "too many slashes: */2/3"},
    {"x * * * *", "failed to parse int from x"},
    {"* * * * moon", "failed to parse int from moon"},
    {"1- * * * *", "failed to parse int from "},
};

BOOST_DATA_TEST_CASE(parses_as_robfig_cron_does, data::make(parse_cases), c) {
    auto parsed = parse_cron(c.spec);
    if (!c.error) {
        BOOST_TEST(parsed.schedule.has_value(), parsed.error);
    } else {
        BOOST_TEST(!parsed.schedule.has_value());
        BOOST_TEST(parsed.error.find(c.error) != std::string::npos, parsed.error);
    }
}

BOOST_AUTO_TEST_CASE(time_zone_prefix_is_kept_apart) {
    BOOST_TEST(cron("CRON_TZ=Europe/London 0 9 * * *").zone == "Europe/London");
    BOOST_TEST(cron("TZ=America/New_York 0 9 * * *").zone == "America/New_York");
    BOOST_TEST(cron("0 9 * * *").zone.empty());
}

struct match_case {
    const char* spec;
    const char* from;
    const char* expected;  // "none" when nothing matches within the limit
};
std::ostream& operator<<(std::ostream& os, const match_case& c) {
    return os << c.spec << " from " << c.from;
}

const match_case match_cases[] = {
    // 2026-11-30 is a Monday.
    {"0 9 * * 1-4", "2026-11-30T08:59:00", "2026-11-30T09:00:00"},
    {"0 9 * * 1-4", "2026-11-30T09:00:00", "2026-11-30T09:00:00"},
    {"0 9 * * 1-4", "2026-11-30T09:01:00", "2026-12-01T09:00:00"},
    {"0 9 * * 1-4", "2026-12-03T10:00:00", "2026-12-07T09:00:00"},
    {"*/15 * * * *", "2026-11-30T10:16:00", "2026-11-30T10:30:00"},
    {"5/20 * * * *", "2026-11-30T10:26:00", "2026-11-30T10:45:00"},
    {"0 22 * * *", "2026-12-31T23:00:00", "2027-01-01T22:00:00"},
    // Day of month and day of week are ORed when neither is "*": the 15th or any Friday.
    {"0 0 15 * fri", "2026-12-01T00:01:00", "2026-12-04T00:00:00"},
    {"0 0 15 * fri", "2026-12-12T00:00:00", "2026-12-15T00:00:00"},
    // ... and ANDed when one is "*" (or "?"), also with a step of 1.
    {"0 0 * * fri", "2026-12-12T00:00:00", "2026-12-18T00:00:00"},
    {"0 0 */1 * fri", "2026-12-12T00:00:00", "2026-12-18T00:00:00"},
    // "*/2" is no longer a star: ORed with Friday.
    {"0 0 */2 * fri", "2026-12-12T00:01:00", "2026-12-13T00:00:00"},
    {"0 0 29 feb *", "2026-03-01T00:00:00", "2028-02-29T00:00:00"},
    {"0 0 30 feb *", "2026-03-01T00:00:00", "none"},
    {"0 12 * jun,dec sat", "2026-06-28T00:00:00", "2026-12-05T12:00:00"},
};

BOOST_DATA_TEST_CASE(next_wall_clock_match, data::make(match_cases), c) {
    auto from = civil(c.from);
    auto m = next_match(cron(c.spec), from,
                        date::year_month_day{std::chrono::floor<date::days>(from)}.year() + date::years{5});
    std::string got = m ? date::format("%FT%T", *m) : "none";
    BOOST_TEST(got == c.expected);
}

BOOST_AUTO_TEST_CASE(schedules_that_can_never_match_are_recognised) {
    BOOST_TEST(never_matches(cron("0 0 30 2 *")));
    BOOST_TEST(never_matches(cron("0 0 31 apr,jun,sep,nov *")));
    BOOST_TEST(never_matches(cron("0 , * * *")));
    BOOST_TEST(!never_matches(cron("0 0 29 2 *")));
    BOOST_TEST(!never_matches(cron("0 0 30 2 mon")));  // ORed: every Monday of February
    BOOST_TEST(!never_matches(cron("0 9 * * 1-4")));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(daylight_saving)

struct opening_case {
    const char* zone;
    const char* spec;
    const char* after;
    const char* expected;
};
std::ostream& operator<<(std::ostream& os, const opening_case& c) {
    return os << c.spec << " in " << c.zone << " after " << c.after;
}

// The America/New_York and America/Sao_Paulo rows are robfig/cron's own daylight-saving cases
// (spec_test.go, seconds field dropped): the instants it returns are the ones this must return.
const opening_case opening_cases[] = {
    // Spring forward, 2012-03-11 02:00 EST -> 03:00 EDT: 02:30 does not exist that day.
    {"America/New_York", "30 2 11 mar *", "2012-03-11T00:00:00-0500", "2013-03-11T06:30:00Z"},
    {"America/New_York", "0 * * * *", "2012-03-11T00:00:00-0500", "2012-03-11T06:00:00Z"},
    {"America/New_York", "0 * * * *", "2012-03-11T01:00:00-0500", "2012-03-11T07:00:00Z"},
    {"America/New_York", "0 * * * *", "2012-03-11T03:00:00-0400", "2012-03-11T08:00:00Z"},
    {"America/New_York", "0 1 * * *", "2012-03-11T01:00:00-0500", "2012-03-12T05:00:00Z"},
    {"America/New_York", "0 2 * * *", "2012-03-11T00:00:00-0500", "2012-03-12T06:00:00Z"},
    // Fall back, 2012-11-04 02:00 EDT -> 01:00 EST: 01:xx happens twice, and matches twice.
    {"America/New_York", "30 2 4 nov *", "2012-11-04T00:00:00-0400", "2012-11-04T07:30:00Z"},
    {"America/New_York", "30 1 4 nov *", "2012-11-04T01:45:00-0400", "2012-11-04T06:30:00Z"},
    {"America/New_York", "0 * * * *", "2012-11-04T00:00:00-0400", "2012-11-04T05:00:00Z"},
    {"America/New_York", "0 * * * *", "2012-11-04T01:00:00-0400", "2012-11-04T06:00:00Z"},
    {"America/New_York", "0 * * * *", "2012-11-04T01:00:00-0500", "2012-11-04T07:00:00Z"},
    {"America/New_York", "0 1 * * *", "2012-11-04T00:00:00-0400", "2012-11-04T05:00:00Z"},
    {"America/New_York", "0 1 * * *", "2012-11-04T01:00:00-0400", "2012-11-04T06:00:00Z"},
    {"America/New_York", "0 1 * * *", "2012-11-04T01:00:00-0500", "2012-11-05T06:00:00Z"},
    {"America/New_York", "0 2 * * *", "2012-11-04T00:00:00-0400", "2012-11-04T07:00:00Z"},
    {"America/New_York", "0 2 * * *", "2012-11-04T02:00:00-0500", "2012-11-05T07:00:00Z"},
    {"America/New_York", "0 3 3 * *", "2012-11-04T00:00:00-0400", "2012-12-03T08:00:00Z"},
    // Midnight does not exist when Sao Paulo springs forward.
    {"America/Sao_Paulo", "0 9 10 * *", "2018-10-17T05:00:00-0400", "2018-11-10T11:00:00Z"},
    {"America/Sao_Paulo", "0 9 22 * *", "2018-02-14T05:00:00-0500", "2018-02-22T12:00:00Z"},
    // Europe/London, 2026-03-29 01:00 GMT -> 02:00 BST and 2026-10-25 02:00 BST -> 01:00 GMT.
    {"Europe/London", "0 9 * * *", "2026-03-28T12:00:00Z", "2026-03-29T08:00:00Z"},
    {"Europe/London", "0 9 * * *", "2026-10-24T12:00:00Z", "2026-10-25T09:00:00Z"},
    {"Europe/London", "30 1 * * *", "2026-03-28T02:00:00Z", "2026-03-30T00:30:00Z"},
    {"Europe/London", "30 1 * * *", "2026-10-24T02:00:00Z", "2026-10-25T00:30:00Z"},
    {"Europe/London", "30 1 * * *", "2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z"},
    {"Europe/London", "30 1 * * *", "2026-10-25T01:30:00Z", "2026-10-26T01:30:00Z"},
    {"UTC", "0 9 * * 1-4", "2026-11-30T09:00:00Z", "2026-12-01T09:00:00Z"},
};

BOOST_DATA_TEST_CASE(openings_are_the_instants_robfig_returns, data::make(opening_cases), c) {
    auto w = window(window_kind::deny, c.spec, 1h, c.zone);
    BOOST_TEST(text(next_opening(w, at(c.after))) == c.expected);
}

BOOST_AUTO_TEST_CASE(a_window_spanning_the_spring_change_lasts_its_duration_in_elapsed_time) {
    // Sunday 00:00 GMT for 4h: 2026-03-29 loses an hour at 01:00, so it closes at 05:00 BST.
    auto w = window(window_kind::deny, "0 0 * * sun", 4h, "Europe/London");
    BOOST_TEST(!is_open(w, at("2026-03-28T23:59:59Z")));
    BOOST_TEST(is_open(w, at("2026-03-29T00:00:00Z")));
    BOOST_TEST(is_open(w, at("2026-03-29T03:59:59Z")));  // 04:59 BST: still open
    BOOST_TEST(!is_open(w, at("2026-03-29T04:00:00Z")));
    BOOST_TEST(text(next_event(w, at("2026-03-29T01:00:00Z"))) == "2026-03-29T04:00:00Z");
}

BOOST_AUTO_TEST_CASE(a_window_at_a_repeated_hour_opens_twice_and_stays_open_between) {
    // 01:00 for 1h on 2026-10-25 opens at 01:00 BST and again at 01:00 GMT: two hours closed to
    // deployments, as Argo CD's own robfig schedule would do with the zone applied.
    std::vector<window_schedule> deny{window(window_kind::deny, "0 1 * * *", 1h, "Europe/London")};
    auto v = evaluate_windows(deny, false, at("2026-10-25T00:30:00Z"));
    BOOST_TEST(!v.allowed);
    BOOST_TEST(text(v.changes_at) == "2026-10-25T02:00:00Z");
    BOOST_TEST(is_open(deny[0], at("2026-10-25T01:30:00Z")));
}

BOOST_AUTO_TEST_CASE(a_window_at_a_skipped_hour_does_not_open_that_day) {
    std::vector<window_schedule> allow{window(window_kind::allow, "30 2 * * *", 1h, "America/New_York")};
    auto v = evaluate_windows(allow, false, at("2026-03-08T05:00:00Z"));  // 00:00 EST, change day
    BOOST_TEST(!v.allowed);
    BOOST_TEST(text(v.changes_at) == "2026-03-09T06:30:00Z");  // 02:30 EDT the next day
}

BOOST_AUTO_TEST_CASE(a_business_hours_window_follows_the_wall_clock_across_the_change) {
    // Allowed 09:00-17:00 New York time: 14:00Z before the spring change, 13:00Z after it.
    std::vector<window_schedule> allow{window(window_kind::allow, "0 9 * * *", 8h, "America/New_York")};
    auto before = evaluate_windows(allow, false, at("2026-03-06T23:00:00Z"));
    BOOST_TEST(!before.allowed);
    BOOST_TEST(text(before.changes_at) == "2026-03-07T14:00:00Z");
    auto after = evaluate_windows(allow, false, at("2026-03-08T20:00:00Z"));
    BOOST_TEST(after.allowed);
    BOOST_TEST(text(after.changes_at) == "2026-03-08T21:00:00Z");
    BOOST_TEST(text(next_opening(allow[0], at("2026-03-08T21:00:00Z"))) == "2026-03-09T13:00:00Z");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(can_sync_rule)

// At the test's instant (a Monday at noon UTC) "open" windows are open and "closed" ones are not.

window_schedule open(window_kind kind, bool manual_sync = false) {
    auto w = window(kind, "0 11 * * *", 2h);
    w.manual_sync = manual_sync;
    return w;
}
window_schedule closed(window_kind kind, bool manual_sync = false) {
    auto w = window(kind, "0 20 * * *", 2h);
    w.manual_sync = manual_sync;
    return w;
}

struct rule_case {
    const char* name;
    std::vector<window_schedule> windows;
    bool automated;  // CanSync(false)
    bool manual;     // CanSync(true)
};
std::ostream& operator<<(std::ostream& os, const rule_case& c) {
    return os << c.name;
}

// Argo CD's TestSyncWindows_CanSync cases, as rules.
const std::vector<rule_case> rule_cases{
    {"no windows", {}, true, true},
    {"open allow", {open(window_kind::allow)}, true, true},
    {"closed allow", {closed(window_kind::allow)}, false, false},
    {"closed allow with manualSync", {closed(window_kind::allow, true)}, false, true},
    {"open deny", {open(window_kind::deny)}, false, false},
    {"open deny with manualSync", {open(window_kind::deny, true)}, false, true},
    {"closed deny", {closed(window_kind::deny)}, true, true},
    {"open deny beats open allow", {open(window_kind::deny), open(window_kind::allow)}, false, false},
    {"open allow beats closed allow", {open(window_kind::allow), closed(window_kind::allow)}, true, true},
    {"manual needs every open deny's manualSync",
     {open(window_kind::deny, true), open(window_kind::deny, false)},
     false,
     false},
    {"every open deny with manualSync", {open(window_kind::deny, true), open(window_kind::deny, true)}, false, true},
    {"closed deny's manualSync does not count",
     {open(window_kind::deny, true), closed(window_kind::deny, false)},
     false,
     true},
    {"manual needs every closed allow's manualSync",
     {closed(window_kind::allow, true), closed(window_kind::allow, false)},
     false,
     false},
    {"closed deny and closed allow", {closed(window_kind::deny), closed(window_kind::allow)}, false, false},
    {"a window of another kind is ignored", {open(window_kind::other)}, true, true},
};

BOOST_DATA_TEST_CASE(argo_cd_can_sync, data::make(rule_cases), c) {
    BOOST_TEST(can_sync(c.windows, false, noon) == c.automated);
    BOOST_TEST(can_sync(c.windows, true, noon) == c.manual);
}

BOOST_AUTO_TEST_CASE(open_means_from_the_opening_instant_until_just_before_its_end) {
    auto w = window(window_kind::deny, "0 11 * * *", 90min);
    BOOST_TEST(!is_open(w, at("2026-11-30T10:59:59Z")));
    BOOST_TEST(is_open(w, at("2026-11-30T11:00:00Z")));
    BOOST_TEST(is_open(w, at("2026-11-30T12:29:59Z")));
    BOOST_TEST(!is_open(w, at("2026-11-30T12:30:00Z")));
    BOOST_TEST(!is_open(window(window_kind::deny, "0 11 * * *", 0s), at("2026-11-30T11:00:00Z")));
}

BOOST_AUTO_TEST_CASE(a_window_longer_than_its_period_is_open_throughout) {
    auto w = window(window_kind::deny, "0 * * * *", 90min);
    BOOST_TEST(is_open(w, at("2026-11-30T11:59:59Z")));
    std::vector<window_schedule> deny{w};
    BOOST_TEST(!evaluate_windows(deny, false, noon).changes_at.has_value());  // never closes
}

BOOST_AUTO_TEST_CASE(the_verdict_says_when_it_changes) {
    std::vector<window_schedule> deny{window(window_kind::deny, "0 9 * * 1-5", 8h)};
    auto v = evaluate_windows(deny, false, noon);
    BOOST_TEST(!v.allowed);
    BOOST_TEST(text(v.changes_at) == "2026-11-30T17:00:00Z");

    // Friday evening: allowed until Monday 09:00.
    v = evaluate_windows(deny, false, at("2026-12-04T18:00:00Z"));
    BOOST_TEST(v.allowed);
    BOOST_TEST(text(v.changes_at) == "2026-12-07T09:00:00Z");

    // Two allow windows: closed now, the earlier opening wins.
    std::vector<window_schedule> allow{window(window_kind::allow, "0 22 * * *", 2h),
                                       window(window_kind::allow, "0 18 * * 1", 1h)};
    v = evaluate_windows(allow, false, noon);
    BOOST_TEST(!v.allowed);
    BOOST_TEST(text(v.changes_at) == "2026-11-30T18:00:00Z");

    // A deny window inside an allow window: open again when the deny window closes.
    std::vector<window_schedule> both{window(window_kind::allow, "0 8 * * *", 12h),
                                      window(window_kind::deny, "30 11 * * *", 1h)};
    v = evaluate_windows(both, false, noon);
    BOOST_TEST(!v.allowed);
    BOOST_TEST(text(v.changes_at) == "2026-11-30T12:30:00Z");
}

BOOST_AUTO_TEST_CASE(rollout_windows_name_what_blocks) {
    window_spec deny{"Deny", "0 9 * * 1-5", duration_field::of("8h"), {"Europe/London", zone("Europe/London")}};
    auto state = windows_at(std::vector{deny}, noon);
    BOOST_TEST(!state.admitting);
    BOOST_TEST(state.reason == "deny window \"0 9 * * 1-5\" for 8h in Europe/London is open");
    BOOST_TEST(text(state.changes_at) == "2026-11-30T17:00:00Z");

    window_spec allow{"Allow", "0 22 * * *", duration_field::of("2h"), {}};
    state = windows_at(std::vector{allow}, noon);
    BOOST_TEST(!state.admitting);
    BOOST_TEST(state.reason == "no allow window is open");
    BOOST_TEST(text(state.changes_at) == "2026-11-30T22:00:00Z");

    BOOST_TEST(windows_at({}, noon).admitting);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(argo_cd_projects)

struct glob_case {
    const char* pattern;
    const char* value;
    bool matches;
};
std::ostream& operator<<(std::ostream& os, const glob_case& c) {
    return os << c.pattern << " ~ " << c.value;
}

const glob_case glob_cases[] = {
    {"*", "", true},
    {"*", "guestbook-eu-west-1a", true},
    {"guestbook-*", "guestbook-eu-west-1a", true},
    {"guestbook-*", "other-eu-west-1a", false},
    {"*-eu-*", "guestbook-eu-west-1a", true},
    {"https://*.example.com", "https://eu-1.example.com", true},
    {"https://*.example.com", "https://eu-1.example.org", false},
    {"guestbook-?", "guestbook-1", true},
    {"guestbook-?", "guestbook-12", false},
    {"c[0-9]", "c7", true},
    {"c[!0-9]", "c7", false},
    {"c[!0-9]", "cx", true},
    {"c[abc]", "cb", true},
    {"{prod,staging}-*", "staging-1", true},
    {"{prod,staging}-*", "dev-1", false},
    {"a{b,c{d,e}}f", "acef", true},
    {"a\\*", "a*", true},
    {"a\\*", "ab", false},
    {"exact", "exact", true},
    {"exact", "exactly", false},
    {"c[0-9", "c7", false},  // does not compile: matches nothing
    {"{a,b", "a", false},
};

BOOST_DATA_TEST_CASE(globs_match_as_argo_cd_does, data::make(glob_cases), c) {
    BOOST_TEST(glob_match(c.pattern, c.value) == c.matches);
}

const application_target app{"guestbook-eu-1", "eu-1", "https://eu-1.example.com", "guestbook"};

project_window selecting(std::vector<std::string> apps, std::vector<std::string> clusters,
                         std::vector<std::string> namespaces, bool and_operator) {
    project_window w;
    w.kind = "deny";
    w.schedule = "* * * * *";
    w.duration = "1h";
    w.applications = std::move(apps);
    w.clusters = std::move(clusters);
    w.namespaces = std::move(namespaces);
    w.and_operator = and_operator;
    return w;
}

BOOST_AUTO_TEST_CASE(windows_select_by_application_cluster_or_namespace) {
    BOOST_TEST(window_matches(selecting({"guestbook-*"}, {}, {}, false), app));
    BOOST_TEST(window_matches(selecting({}, {"eu-*"}, {}, false), app));
    BOOST_TEST(window_matches(selecting({}, {"https://eu-1.*"}, {}, false), app));  // server URL
    BOOST_TEST(window_matches(selecting({}, {}, {"guest*"}, false), app));
    BOOST_TEST(window_matches(selecting({"other"}, {"us-*"}, {"guestbook"}, false), app));  // any one
    BOOST_TEST(!window_matches(selecting({"other"}, {"us-*"}, {"kube-system"}, false), app));
    BOOST_TEST(!window_matches(selecting({}, {}, {}, false), app));  // selects nothing
}

BOOST_AUTO_TEST_CASE(and_operator_needs_every_list_that_is_set) {
    BOOST_TEST(window_matches(selecting({"guestbook-*"}, {"eu-1"}, {}, true), app));
    BOOST_TEST(!window_matches(selecting({"guestbook-*"}, {"us-1"}, {}, true), app));
    BOOST_TEST(window_matches(selecting({"guestbook-*"}, {"eu-1"}, {"guestbook"}, true), app));
    BOOST_TEST(!window_matches(selecting({"guestbook-*"}, {"eu-1"}, {"other"}, true), app));
    BOOST_TEST(window_matches(selecting({}, {}, {"guestbook"}, true), app));
    BOOST_TEST(!window_matches(selecting({}, {}, {}, true), app));
}

app_project project_with(std::vector<project_window> windows) {
    return {"payments", std::move(windows)};
}

project_window deny_for(std::string schedule, std::string length, std::vector<std::string> apps) {
    auto w = selecting(std::move(apps), {}, {}, false);
    w.schedule = std::move(schedule);
    w.duration = std::move(length);
    return w;
}

BOOST_AUTO_TEST_CASE(only_windows_matching_the_application_count) {
    auto project = project_with({deny_for("0 11 * * *", "2h", {"other-*"})});
    BOOST_TEST(project_can_sync(project, app, false, noon).allowed);
    project.sync_windows.push_back(deny_for("0 11 * * *", "2h", {"guestbook-*"}));
    auto sync = project_can_sync(project, app, false, noon);
    BOOST_TEST(!sync.allowed);
    BOOST_TEST(sync.reason == "AppProject \"payments\" deny window \"0 11 * * *\" for 2h is open");
    BOOST_TEST(text(sync.changes_at) == "2026-11-30T13:00:00Z");
}

BOOST_AUTO_TEST_CASE(manual_sync_is_the_callers_question) {
    auto w = deny_for("0 11 * * *", "2h", {"*"});
    w.manual_sync = true;
    auto project = project_with({w});
    BOOST_TEST(!project_can_sync(project, app, false, noon).allowed);
    BOOST_TEST(project_can_sync(project, app, true, noon).allowed);
}

BOOST_AUTO_TEST_CASE(an_invalid_matching_window_blocks_as_in_argo_cd) {
    auto project = project_with({deny_for("0 11 * *", "2h", {"*"})});
    auto sync = project_can_sync(project, app, false, noon);
    BOOST_TEST(!sync.allowed);
    BOOST_TEST(sync.reason.find("cannot parse schedule: expected exactly 5 fields") != std::string::npos, sync.reason);
    project = project_with({deny_for("0 11 * * *", "2 hours", {"*"})});
    BOOST_TEST(!project_can_sync(project, app, false, noon).allowed);
    // ... but not when it matches another Application only.
    project = project_with({deny_for("0 11 * *", "2h", {"other"})});
    BOOST_TEST(project_can_sync(project, app, false, noon).allowed);
}

BOOST_AUTO_TEST_CASE(a_schedule_that_never_fires_is_an_open_window_in_argo_cd) {
    auto project = project_with({deny_for("0 0 30 2 *", "1h", {"*"})});
    BOOST_TEST(!project_can_sync(project, app, false, noon).allowed);
}

BOOST_AUTO_TEST_CASE(argo_cd_applies_the_zones_offset_of_now_to_the_whole_schedule) {
    // A deny window at 00:00 London time for 3h, seen at 01:30Z on the spring change day
    // (02:30 BST): it opened at 00:00 GMT. Argo CD shifts by today's +1h and sees it closing at
    // 03:00 "shifted", 02:00Z; the rollout's own windows follow the zone's rules: 03:00Z.
    const auto now = at("2026-03-29T01:30:00Z");
    auto w = deny_for("0 0 * * *", "3h", {"*"});
    w.time_zone = {"Europe/London", zone("Europe/London")};
    auto sync = project_can_sync(project_with({w}), app, false, now);
    BOOST_TEST(!sync.allowed);
    BOOST_TEST(text(sync.changes_at) == "2026-03-29T02:00:00Z");

    window_spec own{"Deny", "0 0 * * *", duration_field::of("3h"), {"Europe/London", zone("Europe/London")}};
    BOOST_TEST(text(windows_at(std::vector{own}, now).changes_at) == "2026-03-29T03:00:00Z");
}

BOOST_AUTO_TEST_CASE(an_unknown_time_zone_is_utc_and_a_cron_tz_prefix_is_honoured) {
    auto w = deny_for("0 11 * * *", "2h", {"*"});
    w.time_zone = {"Mars/Olympus_Mons", nullptr};
    BOOST_TEST(!project_can_sync(project_with({w}), app, false, noon).allowed);

    // 11:00 in New York is 16:00Z: closed at noon UTC.
    w = deny_for("CRON_TZ=America/New_York 0 11 * * *", "2h", {"*"});
    w.schedule_zone = {"America/New_York", zone("America/New_York")};
    auto sync = project_can_sync(project_with({w}), app, false, noon);
    BOOST_TEST(sync.allowed);
    BOOST_TEST(text(sync.changes_at) == "2026-11-30T16:00:00Z");

    w.schedule_zone = {"America/Nowhere", nullptr};
    w.schedule = "CRON_TZ=America/Nowhere 0 11 * * *";
    BOOST_TEST(!project_can_sync(project_with({w}), app, false, noon).allowed);
}

BOOST_AUTO_TEST_SUITE_END()
