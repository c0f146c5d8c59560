#define BOOST_TEST_MODULE dashboard_e2e
#include <boost/test/unit_test.hpp>

// `argocd-progressive-rollout dashboard` against the real kube-apiserver during real rollouts:
// its HTTP API over plain HTTP on loopback, and the page in a real headless chromium that the
// test never reloads (docs/dashboard.md).

#include "dashboard_process.hpp"
#include "sim/http_stub.hpp"

#include <boost/algorithm/string/replace.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <rapidjson/document.h>

#include <map>

using namespace apr;
using namespace apr::e2e;
using core::rollout_phase;

namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;

struct answer {
    unsigned status = 0;
    std::string body;
    http::response<http::string_body> raw;
};

answer request(unsigned short port, http::verb verb, const std::string& target,
               const std::map<std::string, std::string>& headers = {}, const std::string& body = {}) {
    net::io_context ioc;
    net::ip::tcp::socket socket(ioc);
    socket.connect({net::ip::make_address("127.0.0.1"), port});
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, "127.0.0.1:" + std::to_string(port));
    for (const auto& [name, value] : headers) req.set(name, value);
    req.body() = body;
    req.prepare_payload();
    http::write(socket, req);
    boost::beast::flat_buffer buffer;
    answer a;
    http::read(socket, buffer, a.raw);
    a.status = a.raw.result_int();
    a.body = a.raw.body();
    return a;
}

answer get(unsigned short port, const std::string& target, const std::map<std::string, std::string>& headers = {}) {
    return request(port, http::verb::get, target, headers);
}

rapidjson::Document parse(const std::string& text) {
    rapidjson::Document d;
    d.Parse(text.c_str());
    BOOST_REQUIRE_MESSAGE(!d.HasParseError() && d.IsObject(), "not a JSON object: " << text);
    return d;
}

std::string page_token(unsigned short port) {
    const auto page = get(port, "/").body;
    const std::string marker = "name=\"apr-token\" content=\"";
    const auto at = page.find(marker);
    BOOST_REQUIRE(at != std::string::npos);
    const auto token = page.substr(at + marker.size(), 32);
    BOOST_REQUIRE_MESSAGE(token.size() == 32 && token.find_first_not_of("0123456789abcdef") == std::string::npos,
                          "no token in the page: " << page);
    return token;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(dashboard_against_the_real_api_server)

BOOST_AUTO_TEST_CASE(json_api_lists_and_details_rollouts_404s_the_rest_and_guards_writes) {
    rollout_scenario s("dash-http");
    s.start_webhook();
    s.create_fleet(s.emea_fleet());
    s.apply_rollout(seed_stages("30m"));
    dashboard_process d({"--allow-actions"});

    // The list: this rollout, its phase and stages (empty of clusters until a change is held).
    BOOST_REQUIRE_MESSAGE(eventually(
                              [&] {
                                  auto a = get(d.port(), "/api/rollouts");
                                  return a.status == 200 &&
                                         a.body.find("\"name\":\"" + s.id + "\"") != std::string::npos;
                              },
                              30s),
                          d.log());
    auto list = get(d.port(), "/api/rollouts");
    BOOST_TEST(list.raw[http::field::content_type] == "application/json");
    BOOST_TEST(list.raw[http::field::cache_control] == "no-store");
    auto doc = parse(list.body);
    BOOST_TEST(doc["namespace"].GetString() == s.env.ns());
    BOOST_TEST(doc["synced"].GetBool());
    BOOST_TEST(doc["actions"].GetBool());
    const auto& rollouts = doc["rollouts"];
    BOOST_REQUIRE(rollouts.IsArray());
    bool found = false;
    for (const auto& r : rollouts.GetArray()) {
        if (std::string(r["name"].GetString()) != s.id) continue;
        found = true;
        BOOST_TEST(r["stages"].Size() == 3u);
        BOOST_TEST(std::string(r["stages"][0]["name"].GetString()) == "canary in EMEA");
        BOOST_TEST(r["waiting"]["reason"].IsString());
    }
    BOOST_TEST(found);

    // One rollout: the stages in order and why it waits.
    auto detail = get(d.port(), "/api/rollout?name=" + s.id);
    BOOST_REQUIRE_EQUAL(detail.status, 200u);
    auto one = parse(detail.body);
    BOOST_TEST(std::string(one["rollout"]["name"].GetString()) == s.id);
    BOOST_TEST(one["rollout"]["stages"].Size() == 3u);
    BOOST_TEST(std::string(one["rollout"]["stages"][2]["name"].GetString()) == "eu-central-1");
    // Once the controller has seen the rollout: nothing is held yet, and the page says so.
    BOOST_TEST(eventually(
        [&] {
            return get(d.port(), "/api/rollout?name=" + s.id).body.find("\"reason\":\"no change is held") !=
                   std::string::npos;
        },
        30s));
    BOOST_TEST(one["events"].IsArray());

    // What is not there is 404; what is there only answers its method.
    BOOST_TEST(get(d.port(), "/api/rollout?name=no-such-rollout").status == 404u);
    BOOST_TEST(get(d.port(), "/no/such/page").status == 404u);
    BOOST_TEST(get(d.port(), "/app.js/x").status == 404u);
    BOOST_TEST(get(d.port(), "/api/rollout").status == 400u);
    const auto token = page_token(d.port());
    BOOST_TEST(request(d.port(), http::verb::post, "/api/rollouts", {{"X-Dashboard-Token", token}}).status == 405u);
    BOOST_TEST(get(d.port(), "/api/actions").status == 405u);

    // The page and its assets are in the binary and reach for nothing outside it.
    for (const std::string path : {"/", "/app.js", "/style.css"}) {
        auto a = get(d.port(), path);
        BOOST_TEST(a.status == 200u, path);
        BOOST_TEST(a.body.find("http://") == std::string::npos, path);
        BOOST_TEST(a.body.find("https://") == std::string::npos, path);
        BOOST_TEST(a.raw["Content-Security-Policy"].find("default-src 'self'") != std::string::npos, path);
        BOOST_TEST(a.raw["X-Frame-Options"] == "DENY", path);
    }

    // A page from elsewhere: a rebinding name is refused, and so is a write without the page's token.
    BOOST_TEST(get(d.port(), "/api/rollouts", {{"Host", "evil.example:" + std::to_string(d.port())}}).status == 403u);
    const std::string pause = "{\"rollout\":\"" + s.id + "\",\"verb\":\"pause\"}";
    BOOST_TEST(
        request(d.port(), http::verb::post, "/api/actions", {{"Content-Type", "application/json"}}, pause).status ==
        403u);
    BOOST_TEST(request(d.port(), http::verb::post, "/api/actions",
                       {{"X-Dashboard-Token", token}, {"Origin", "http://evil.example"}}, pause)
                   .status == 403u);
    BOOST_TEST(!spec_paused(s));
    // The page's own write works, with the user's credentials.
    auto paused = request(d.port(), http::verb::post, "/api/actions", {{"X-Dashboard-Token", token}}, pause);
    BOOST_TEST(paused.status == 200u, paused.body);
    BOOST_TEST(spec_paused(s));
    BOOST_TEST(request(d.port(), http::verb::post, "/api/actions", {{"X-Dashboard-Token", token}},
                       "{\"rollout\":\"" + s.id + "\",\"verb\":\"resume\"}")
                   .status == 200u);
    BOOST_TEST(!spec_paused(s));
}

BOOST_AUTO_TEST_CASE(read_only_by_default) {
    rollout_scenario s("dash-ro");
    dashboard_process d;
    BOOST_REQUIRE(eventually([&] { return get(d.port(), "/api/rollouts").status == 200; }, 30s));
    BOOST_TEST(parse(get(d.port(), "/api/rollouts").body)["actions"].GetBool() == false);
    // No action route at all: the write is not even there to be guarded.
    BOOST_TEST(request(d.port(), http::verb::post, "/api/actions", {{"X-Dashboard-Token", page_token(d.port())}},
                       "{\"rollout\":\"x\",\"verb\":\"pause\"}")
                   .status == 404u);
}

// Promote and Abort are the operator commands: the request annotation under the user's own
// credentials, stamped by the webhook, carried out and recorded by the controller.
BOOST_AUTO_TEST_CASE(promote_and_abort_write_operator_requests_as_the_user) {
    sim::http_stub smoke([](const sim::http_stub::received&) { return sim::http_stub::answer{200, "ok"}; });
    rollout_scenario s("dash-act");
    s.start_webhook();
    s.create_fleet(s.emea_fleet());
    s.apply_rollout(gated_stages(smoke.url() + "/smoke", "1h"));
    BOOST_REQUIRE(s.play_until([](const core::rollout& r) { return r.status.observed_generation > 0; }, 30s));
    s.argo.set_template_revision("v2");
    // The canary is done, measured by its gate, and bakes for an hour.
    BOOST_REQUIRE_MESSAGE(s.play_until(
                              [](const core::rollout& r) {
                                  if (r.status.stages.empty() || r.status.stages[0].phase != core::stage_phase::baking)
                                      return false;
                                  for (const auto& c : r.status.stages[0].clusters)
                                      for (const auto& g : c.gates)
                                          if (g.successful > 0) return true;
                                  return false;
                              },
                              90s),
                          s.webhook->log());
    const auto body = [&](const std::string& verb, const std::string& more = "") {
        return "{\"rollout\":\"" + s.id + "\",\"verb\":\"" + verb + "\"" + more + "}";
    };

    // A user who may read rollouts but not change them gets the API server's 403 on the page.
    {
        dashboard_process viewer({"--allow-actions"}, "VIEWER");
        auto refused =
            request(viewer.port(), http::verb::post, "/api/actions", {{"X-Dashboard-Token", page_token(viewer.port())}},
                    body("promote", ",\"skipBake\":true"));
        BOOST_TEST(refused.status == 403u, refused.body);
        BOOST_TEST(refused.body.find("forbidden") != std::string::npos, refused.body);
    }
    BOOST_TEST(s.rollout().status.requests.empty());

    dashboard_process d({"--allow-actions"});
    const auto token = page_token(d.port());
    const auto post = [&](const std::string& b) {
        return request(d.port(), http::verb::post, "/api/actions", {{"X-Dashboard-Token", token}}, b);
    };
    BOOST_TEST(post(body("retry")).status == 400u);
    // While the canary bakes, the JSON the page reads shows its cluster's gate and last measurement.
    std::string detail;
    BOOST_TEST(eventually(
                   [&] {
                       detail = get(d.port(), "/api/rollout?name=" + s.id).body;
                       return detail.find("\"last\":{\"at\":") != std::string::npos;
                   },
                   10s),
               detail);
    BOOST_TEST(detail.find("\"gates\":[{\"name\":\"smoke\",\"when\":\"During\",\"scope\":\"Cluster\",\"kind\":"
                           "\"webhook\"") != std::string::npos,
               detail);
    // Promote without --skip-bake: the validating webhook's refusal, word for word as the CLI says it.
    auto refused = post(body("promote"));
    BOOST_TEST(refused.status == 400u, refused.body);
    BOOST_TEST(refused.body.find("is baking and nothing else waits for promote") != std::string::npos, refused.body);
    // Skip bake: recorded with the admin's name and the dashboard as reason; the canary completes.
    auto promoted = post(body("promote", ",\"skipBake\":true"));
    BOOST_TEST(promoted.status == 200u, promoted.body);
    BOOST_TEST(promoted.body.starts_with("promote by " + env("USER_ADMIN") + ": stage canary: bake time skipped"),
               promoted.body);
    auto r = s.rollout();
    BOOST_REQUIRE(!r.status.requests.empty());
    BOOST_TEST(r.status.requests.back().verb == "promote");
    BOOST_TEST(r.status.requests.back().user == env("USER_ADMIN"));
    BOOST_TEST(r.status.requests.back().reason == "from the dashboard");
    // The page's JSON has the request too.
    BOOST_TEST(eventually(
        [&] {
            return get(d.port(), "/api/rollout?name=" + s.id)
                       .body.find("\"verb\":\"promote\",\"user\":\"" + env("USER_ADMIN") + "\"") != std::string::npos;
        },
        10s));
    BOOST_REQUIRE(s.play_until([](const core::rollout& r) { return r.status.current_stage == "eu-west-1"; }, 60s));
    // Abort: the pass stops.
    auto aborted = post(body("abort"));
    BOOST_TEST(aborted.status == 200u, aborted.body);
    BOOST_TEST(eventually([&] { return phase_is(s.rollout(), rollout_phase::aborted); }, 10s));
    // An illegal move is the webhook's refusal, said on the page.
    auto again = post(body("abort"));
    BOOST_TEST(again.status == 400u, again.body);
}

BOOST_AUTO_TEST_SUITE_END()
