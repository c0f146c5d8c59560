// The dashboard without a server: the JSON its page reads, the request guard that keeps other
// web pages out, Event decoding and the embedded assets (docs/dashboard.md).
#define BOOST_TEST_MODULE dashboard
#include <boost/test/unit_test.hpp>

#include "dashboard/assets.hpp"
#include "dashboard/request_guard.hpp"
#include "dashboard/view_json.hpp"

#include <rapidjson/document.h>

using namespace apr;
using namespace std::chrono_literals;

namespace {

const core::time_point now{std::chrono::sys_days{std::chrono::November / 27 / 2026} + 17h};

core::rollout sample() {
    core::rollout r;
    r.namespace_ = "argocd";
    r.name = "guestbook";
    r.generation = 3;
    r.spec.source = {"argoproj.io", "ApplicationSet", "guestbook-set"};
    for (const char* name : {"canary", "eu-west-1"}) {
        core::stage_spec s;
        s.name = name;
        s.bake_time = core::duration_field::of("10m");
        r.spec.stages.push_back(s);
    }
    r.status.observed_generation = 3;
    r.status.phase = core::rollout_phase::progressing;
    r.status.pass = 2;
    r.status.current_stage = "canary";
    core::stage_status canary;
    canary.name = "canary";
    canary.phase = core::stage_phase::baking;
    canary.started_at = now - 10min;
    canary.bake_until = now + 4min;
    core::cluster_status a;
    a.name = "eu-west-1a";
    a.phase = core::cluster_phase::done;
    a.hash = "abc123";
    canary.clusters = {a};
    core::stage_status rest;
    rest.name = "eu-west-1";
    core::cluster_status b;
    b.name = "eu-west-1b";
    rest.clusters = {b};
    r.status.stages = {canary, rest};
    r.status.unstaged_clusters = {"us-east-1a"};
    return r;
}

rapidjson::Document parse(const std::string& text) {
    rapidjson::Document d;
    d.Parse(text.c_str());
    BOOST_REQUIRE(!d.HasParseError());
    return d;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(dashboard_json)

BOOST_AUTO_TEST_CASE(one_rollout_has_its_stages_in_order_with_clusters_and_why_it_waits) {
    const auto r = sample();
    dashboard::rollout_event older{"guestbook", "Normal", "StageStarted", "stage canary started", now - 10min, 1};
    const auto d = parse(dashboard::rollout_json(r, {older}, false, now));
    BOOST_TEST(d["now"].GetString() == std::string("2026-11-27T17:00:00Z"));
    BOOST_TEST(d["actions"].GetBool() == false);
    const auto& ro = d["rollout"];
    BOOST_TEST(ro["name"].GetString() == std::string("guestbook"));
    BOOST_TEST(ro["applicationSet"].GetString() == std::string("guestbook-set"));
    BOOST_TEST(ro["phase"].GetString() == std::string("Progressing"));
    BOOST_TEST(ro["pass"].GetInt64() == 2);
    BOOST_TEST(ro["hash"].GetString() == std::string("abc123"));
    BOOST_TEST(ro["done"].GetInt64() == 1);
    BOOST_TEST(ro["total"].GetInt64() == 2);
    BOOST_TEST(std::string(ro["waiting"]["reason"].GetString()).find("is baking") != std::string::npos);
    BOOST_TEST(ro["waiting"]["until"].GetString() == std::string("2026-11-27T17:04:00Z"));
    const auto& stages = ro["stages"];
    BOOST_REQUIRE_EQUAL(stages.Size(), 2u);
    BOOST_TEST(stages[0]["index"].GetInt64() == 1);
    BOOST_TEST(stages[0]["current"].GetBool());
    BOOST_TEST(!stages[1]["current"].GetBool());
    BOOST_TEST(stages[0]["bakeTime"].GetString() == std::string("10m"));
    BOOST_TEST(stages[0]["bakeUntil"].GetString() == std::string("2026-11-27T17:04:00Z"));
    BOOST_TEST(stages[0]["clusters"][0]["state"].GetString() == std::string("Done"));
    BOOST_TEST(stages[1]["clusters"][0]["state"].GetString() == std::string("Pending"));
    BOOST_TEST(stages[1]["startedAt"].IsNull());
    BOOST_TEST(ro["unstaged"][0].GetString() == std::string("us-east-1a"));
    BOOST_TEST(d["events"][0]["reason"].GetString() == std::string("StageStarted"));
}

BOOST_AUTO_TEST_CASE(a_rollout_without_a_pass_shows_the_spec_stages) {
    core::rollout r = sample();
    r.status = {};
    const auto d = parse(dashboard::rollout_json(r, {}, true, now));
    BOOST_REQUIRE_EQUAL(d["rollout"]["stages"].Size(), 2u);
    BOOST_TEST(d["rollout"]["stages"][1]["name"].GetString() == std::string("eu-west-1"));
    BOOST_TEST(d["rollout"]["stages"][1]["clusters"].Size() == 0u);
    BOOST_TEST(d["actions"].GetBool());
}

BOOST_AUTO_TEST_CASE(the_list_summarises_each_rollout) {
    const auto r = sample();
    dashboard::list_view view{"argocd", {&r}, true, false};
    const auto d = parse(dashboard::list_json(view, now));
    BOOST_TEST(d["namespace"].GetString() == std::string("argocd"));
    BOOST_TEST(d["synced"].GetBool());
    BOOST_REQUIRE_EQUAL(d["rollouts"].Size(), 1u);
    const auto& one = d["rollouts"][0];
    BOOST_TEST(one["currentStage"].GetString() == std::string("canary"));
    BOOST_TEST(one["stages"][0]["done"].GetInt64() == 1);
    BOOST_TEST(one["stages"][1]["phase"].GetString() == std::string("Pending"));
}

BOOST_AUTO_TEST_CASE(gates_with_their_last_measurement_holds_the_window_and_requests_are_shown) {
    auto r = sample();
    // canary: an After webhook gate of scope Stage that measured, and one of scope Cluster;
    // eu-west-1: an approval Before it, not started yet.
    core::gate_spec smoke;
    smoke.name = "smoke";
    smoke.webhook = core::webhook_check{"http://smoke", core::duration_field::of("30s"), {}};
    core::gate_spec errors = smoke;
    errors.name = "errors";
    errors.scope = core::gate_scope::cluster;
    errors.when = core::gate_timing::during;
    errors.webhook.reset();
    errors.prometheus = core::prometheus_check{"http://prometheus", "rate", {}, core::measurement_phase::inconclusive};
    r.spec.stages[0].gates = {smoke, errors};
    core::gate_spec board;
    board.name = "change-board";
    board.when = core::gate_timing::before;
    board.approval = core::approval_check{{"oncall"}};
    r.spec.stages[1].gates = {board};
    core::gate_status measured;
    measured.name = "smoke";
    measured.phase = core::gate_phase::running;
    measured.taken = 2;
    measured.successful = 1;
    measured.failed = 1;
    measured.next_at = now + 30s;
    measured.measurements = {{now - 2min, core::measurement_phase::successful, "200", ""},
                             {now - 1min, core::measurement_phase::failed, "500", "smoke test 3 failed"}};
    r.status.stages[0].gates = {measured};
    core::gate_status per_cluster;
    per_cluster.name = "errors";
    per_cluster.phase = core::gate_phase::successful;
    per_cluster.measurements = {{now - 3min, core::measurement_phase::successful, "0.001", ""}};
    r.status.stages[0].clusters[0].gates = {per_cluster};
    r.status.holds = {{"eu-west-1b", "db migration", now + 1h, "ops", now - 5min}};
    r.status.window_opens_at = now + 2h;
    core::request_record older{"1", "pause", "ops", now - 10min, "", "", "", "paused", false};
    core::request_record newer{"2", "promote", "alice", now - 1min, "", "", "", "nothing waits", true};
    r.status.requests = {older, newer};

    const auto d = parse(dashboard::rollout_json(r, {}, true, now));
    const auto& ro = d["rollout"];
    const auto& canary_gates = ro["stages"][0]["gates"];
    BOOST_REQUIRE_EQUAL(canary_gates.Size(), 1u);  // the Cluster gate shows on its clusters
    BOOST_TEST(canary_gates[0]["name"].GetString() == std::string("smoke"));
    BOOST_TEST(canary_gates[0]["kind"].GetString() == std::string("webhook"));
    BOOST_TEST(canary_gates[0]["when"].GetString() == std::string("After"));
    BOOST_TEST(canary_gates[0]["phase"].GetString() == std::string("Running"));
    BOOST_TEST(canary_gates[0]["failed"].GetInt64() == 1);
    BOOST_TEST(canary_gates[0]["nextAt"].GetString() == std::string("2026-11-27T17:00:30Z"));
    BOOST_TEST(canary_gates[0]["last"]["phase"].GetString() == std::string("Failed"));
    BOOST_TEST(canary_gates[0]["last"]["value"].GetString() == std::string("500"));
    BOOST_TEST(canary_gates[0]["last"]["message"].GetString() == std::string("smoke test 3 failed"));
    const auto& cluster_gate = ro["stages"][0]["clusters"][0]["gates"][0];
    BOOST_TEST(cluster_gate["name"].GetString() == std::string("errors"));
    BOOST_TEST(cluster_gate["kind"].GetString() == std::string("prometheus"));
    BOOST_TEST(cluster_gate["last"]["value"].GetString() == std::string("0.001"));
    const auto& approval = ro["stages"][1]["gates"][0];
    BOOST_TEST(approval["name"].GetString() == std::string("change-board"));
    BOOST_TEST(approval["kind"].GetString() == std::string("approval"));
    BOOST_TEST(approval["phase"].GetString() == std::string("Pending"));
    BOOST_TEST(approval["last"].IsNull());
    BOOST_TEST(ro["holds"][0]["cluster"].GetString() == std::string("eu-west-1b"));
    BOOST_TEST(ro["holds"][0]["reason"].GetString() == std::string("db migration"));
    BOOST_TEST(ro["holds"][0]["until"].GetString() == std::string("2026-11-27T18:00:00Z"));
    BOOST_TEST(ro["windowOpensAt"].GetString() == std::string("2026-11-27T19:00:00Z"));
    BOOST_REQUIRE_EQUAL(ro["requests"].Size(), 2u);
    BOOST_TEST(ro["requests"][0]["verb"].GetString() == std::string("promote"));  // newest first
    BOOST_TEST(ro["requests"][0]["refused"].GetBool());
    BOOST_TEST(ro["requests"][1]["user"].GetString() == std::string("ops"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(request_guard)

const dashboard::guard_policy local{dashboard::loopback_hosts(8080), "t0ken"};

BOOST_AUTO_TEST_CASE(reads_from_the_loopback_names_only) {
    BOOST_TEST(!dashboard::refusal(local, {"GET", "127.0.0.1:8080", "", ""}));
    BOOST_TEST(!dashboard::refusal(local, {"GET", "localhost:8080", "", ""}));
    BOOST_TEST(!dashboard::refusal(local, {"GET", "[::1]:8080", "", ""}));
    // DNS rebinding: a hostile name that resolves to 127.0.0.1.
    BOOST_TEST(dashboard::refusal(local, {"GET", "evil.example:8080", "", ""}).has_value());
    BOOST_TEST(dashboard::refusal(local, {"GET", "127.0.0.1:9090", "", ""}).has_value());
    BOOST_TEST(dashboard::refusal(local, {"GET", "", "", ""}).has_value());
}

BOOST_AUTO_TEST_CASE(writes_need_the_page_token_and_its_origin) {
    BOOST_TEST(!dashboard::refusal(local, {"POST", "127.0.0.1:8080", "http://127.0.0.1:8080", "t0ken"}));
    BOOST_TEST(!dashboard::refusal(local, {"POST", "127.0.0.1:8080", "", "t0ken"}));
    BOOST_TEST(*dashboard::refusal(local, {"POST", "127.0.0.1:8080", "", ""}) ==
               "a write needs the X-Dashboard-Token header of the dashboard's own page");
    BOOST_TEST(dashboard::refusal(local, {"POST", "127.0.0.1:8080", "", "guess"}).has_value());
    BOOST_TEST(dashboard::refusal(local, {"POST", "127.0.0.1:8080", "http://evil.example", "t0ken"}).has_value());
    // --allow-remote: any Host, the token still required.
    const dashboard::guard_policy remote{{}, "t0ken"};
    BOOST_TEST(!dashboard::refusal(remote, {"GET", "dash.example:8080", "", ""}));
    BOOST_TEST(dashboard::refusal(remote, {"POST", "dash.example:8080", "", ""}).has_value());
}

BOOST_AUTO_TEST_CASE(tokens_are_fresh_and_long) {
    const auto a = dashboard::make_token(), b = dashboard::make_token();
    BOOST_TEST(a.size() == 32u);
    BOOST_TEST(a != b);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(events_and_assets)

BOOST_AUTO_TEST_CASE(rollout_events_decode_and_others_do_not) {
    rapidjson::Document e;
    e.Parse(R"({"involvedObject":{"kind":"ProgressiveRollout","name":"guestbook"},"type":"Warning",
               "reason":"ClusterFailed","message":"eu-west-1b is Degraded","count":3,
               "lastTimestamp":"2026-11-27T16:59:00Z"})");
    const auto got = dashboard::decode_rollout_event(e);
    BOOST_REQUIRE(got.has_value());
    BOOST_TEST(got->rollout == "guestbook");
    BOOST_TEST(got->reason == "ClusterFailed");
    BOOST_TEST(got->count == 3);
    BOOST_TEST((got->last_seen == now - 1min));
    rapidjson::Document app;
    app.Parse(R"({"involvedObject":{"kind":"Application","name":"x"},"reason":"Held"})");
    BOOST_TEST(!dashboard::decode_rollout_event(app).has_value());
}

BOOST_AUTO_TEST_CASE(the_page_its_script_and_style_are_in_the_binary) {
    std::map<std::string, std::string> found;
    for (const auto& a : dashboard::assets()) found[std::string(a.name)] = std::string(a.content_type);
    BOOST_TEST(found["index.html"] == "text/html; charset=utf-8");
    BOOST_TEST(found["app.js"] == "text/javascript; charset=utf-8");
    BOOST_TEST(found["style.css"] == "text/css; charset=utf-8");
    for (const auto& a : dashboard::assets()) {
        BOOST_TEST(a.body.size() > 500u, a.name);
        if (a.name == "index.html") BOOST_TEST(a.body.find("{{TOKEN}}") != std::string_view::npos);
    }
}

BOOST_AUTO_TEST_SUITE_END()
