// The admission codec behind the real TLS server, fed what took the server down or made it answer
// invalid JSON: a body of 120,000 nested brackets, and bytes that are not UTF-8. Each gets a 400
// and the server goes on serving, on the same connection and on new ones.
#include "test_support.hpp"

#include "../unit/review_fixtures.hpp"
#include "codec/admission_review.hpp"
#include "codec/json_reader.hpp"

#include <boost/test/unit_test.hpp>

#include <rapidjson/document.h>

using namespace apr::server;
using namespace apr::server::test;

namespace {

handler_result to_http(apr::codec::review_answer&& a) {
    return handler_result{a.http_status, std::move(a.body), "application/json", a.outcome};
}

struct admission_server : server_fixture {
    apr::core::fleet_state state = apr::test::guestbook_fleet();
    apr::core::admission_identities ids = apr::test::test_identities();

    admission_server() {
        auto& s = create(default_options());
        s.add_admission_route("/mutate/applications", [this](std::string_view ct, std::string& body) {
            return to_http(apr::codec::review_application(ct, std::move(body), state, ids));
        });
        s.add_admission_route("/validate/progressiverollouts", [this](std::string_view ct, std::string& body) {
            return to_http(apr::codec::review_rollout(ct, std::move(body), state));
        });
        run_in_background();
    }

    static std::string held_review() {
        apr::test::app_spec before, after;
        after.revision = "v2";
        apr::test::review_spec r;
        r.object = apr::test::application_json(after);
        r.old_object = apr::test::application_json(before);
        return apr::test::review_json(r);
    }

    // The answer is UTF-8 JSON and its status message, if any.
    static std::string message(const http_reply& r) {
        rapidjson::Document d;
        d.Parse<rapidjson::kParseValidateEncodingFlag>(r.body.data(), r.body.size());
        BOOST_TEST_REQUIRE(!d.HasParseError(), "not UTF-8 JSON: " << r.body.substr(0, 200));
        const auto* m = apr::codec::find_path(d, {"response", "status", "message"});
        return m && m->IsString() ? m->GetString() : "";
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(admission_limits)

BOOST_FIXTURE_TEST_CASE(a_body_of_120000_nested_brackets_gets_400_and_the_server_keeps_serving, admission_server) {
    auto c = client();
    c.connect();
    // The reported body, and one of 3,000,000 levels (6 MB, under the body limit) that overflows
    // any thread stack without the bound, whatever the parser's frame size.
    for (std::size_t depth : {120000, 3000000}) {
        std::string const deep = "{\"request\":" + std::string(depth, '[') + std::string(depth, ']') + "}";
        for (const char* route : {"/validate/progressiverollouts", "/mutate/applications"}) {
            auto r = c.request("POST", route, deep);
            BOOST_TEST(r.status == 400u);
            BOOST_TEST(message(r) == "request body is not valid JSON: nesting deeper than 256 levels at offset 266");
            BOOST_TEST(r.keep_alive);
        }
    }
    auto held = c.request("POST", "/mutate/applications", held_review());
    BOOST_TEST(held.status == 200u);
    BOOST_TEST(held.body.find("\"patchType\":\"JSONPatch\"") != std::string::npos);
    auto fresh = client();
    fresh.connect();
    BOOST_TEST(fresh.request("POST", "/mutate/applications", held_review()).status == 200u);
    BOOST_TEST(metric("argocd_progressive_rollout_http_requests_total{route=\"/mutate/"
                      "applications\",outcome=\"error\",code=\"400\"}") == 2);
}

BOOST_FIXTURE_TEST_CASE(a_review_that_is_not_utf8_gets_400_with_a_valid_answer, admission_server) {
    std::string body = held_review();
    body.replace(body.find("guestbook-eu-west-1a-1"), 9, "guest\xFF\xFE\xC3k");
    auto c = client();
    c.connect();
    for (const char* route : {"/validate/progressiverollouts", "/mutate/applications"}) {
        auto r = c.request("POST", route, body);
        BOOST_TEST(r.status == 400u);
        BOOST_TEST(message(r).starts_with("request body is not valid JSON: invalid UTF-8 at offset "));
    }
    BOOST_TEST(c.request("POST", "/mutate/applications", held_review()).status == 200u);
}

BOOST_AUTO_TEST_SUITE_END()
