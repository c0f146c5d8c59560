#define BOOST_TEST_MODULE ha_e2e
#include <boost/test/unit_test.hpp>

#include "rollout_scenario.hpp"

#include <boost/algorithm/string/join.hpp>

using namespace apr;
using namespace apr::e2e;
using core::rollout_phase;
using names = std::vector<std::string>;

namespace {

const std::string stages = R"(  - name: canary in EMEA
    maxUnavailable: 2
    maxClusters: 2
    clusters:
      selector:
        matchLabels:
          area: emea
    topologyKey: region
  - name: eu-west-1
    maxUnavailable: 25%
    clusters:
      selector:
        matchLabels:
          region: eu-west-1
  - name: eu-central-1
    maxUnavailable: 25%
    clusters:
      selector:
        matchLabels:
          region: eu-central-1
)";

const names expected_tail = {"eu-west-1b-1", "eu-west-1c-1", "eu-central-1b-1", "eu-central-1c-1"};

void check_order_once_each(const rollout_scenario& s) {
    const auto order = s.updated("v2");
    BOOST_TEST_MESSAGE("update order: " << boost::algorithm::join(order, ", "));
    BOOST_REQUIRE_EQUAL(order.size(), 6u);  // each staged cluster exactly once
    BOOST_TEST((std::set<std::string>(order.begin(), order.begin() + 2) ==
                std::set<std::string>{"eu-central-1a-1", "eu-west-1a-1"}));
    BOOST_TEST((names(order.begin() + 2, order.end()) == expected_tail), boost::test_tools::per_element());
}

bool leads(const webhook_process& w) {
    return w.metrics().find("\nargocd_progressive_rollout_leader 1\n") != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(restarts_and_replicas)

BOOST_AUTO_TEST_CASE(killed_and_restarted_at_several_points_the_rollout_resumes_from_status) {
    rollout_scenario s("restart");
    s.start_webhook("restart-0");
    s.create_fleet(s.emea_fleet());
    s.apply_rollout(stages);
    s.argo.set_template_revision("v2");

    // Crash points: a canary cluster admitted, the second stage running, the last stage running.
    const std::vector<std::function<bool(const core::rollout&)>> crash_when = {
        [](const core::rollout& r) {
            if (r.status.stages.empty()) return false;
            for (const auto& c : r.status.stages.front().clusters)
                if (c.phase == core::cluster_phase::updating) return true;
            return false;
        },
        [](const core::rollout& r) { return r.status.current_stage == "eu-west-1"; },
        [](const core::rollout& r) { return r.status.current_stage == "eu-central-1"; },
    };
    int generation = 0;
    for (const auto& when : crash_when) {
        BOOST_REQUIRE_MESSAGE(s.play_until(when, 120s), "crash point " << generation << " not reached:\n"
                                                                       << s.webhook->log());
        s.webhook->kill_hard();  // no clean shutdown: the Lease is not released
        s.start_webhook("restart-" + std::to_string(++generation));
    }
    BOOST_REQUIRE_MESSAGE(
        s.play_until([](const core::rollout& r) { return phase_is(r, rollout_phase::completed); }, 180s),
        "not completed after restarts:\n"
            << s.webhook->log());
    check_order_once_each(s);
    BOOST_TEST(s.rollout().status.pass == 1);  // resumed, never restarted from scratch
}

BOOST_AUTO_TEST_CASE(two_replicas_answer_admission_one_leads_and_a_killed_leader_hands_over) {
    rollout_scenario s("replicas");
    s.start_webhook("replica-a");
    auto& a = *s.webhook;
    BOOST_REQUIRE(eventually([&] { return leads(a); }, 30s));
    webhook_process b({"replica-b"});
    BOOST_REQUIRE(eventually([&] { return b.ready(); }, 60s));
    s.create_fleet(s.emea_fleet());
    s.apply_rollout(stages);

    // Both replicas answer admission from their own caches.
    for (const auto* w : {&a, &b}) {
        auto r = run("curl -s --cacert " + env("WEBHOOK_CA") +
                     " -H 'Content-Type: application/json' https://127.0.0.1:" + std::to_string(w->port()) +
                     "/mutate/applications -d "
                     "'{\"kind\":\"AdmissionReview\",\"apiVersion\":\"admission.k8s.io/"
                     "v1\",\"request\":{\"uid\":\"ha-1\",\"operation\":\"UPDATE\",\"userInfo\":{\"username\":\"alice\"}"
                     ",\"object\":{},\"oldObject\":{}}}'");
        BOOST_TEST(r.out.find("\"uid\":\"ha-1\",\"allowed\":true") != std::string::npos, r.out);
    }

    s.argo.set_template_revision("v2");
    BOOST_REQUIRE(s.play_until([](const core::rollout& r) { return r.status.current_stage == "eu-west-1"; }, 120s));
    // Only the leader advances.
    BOOST_TEST(!leads(b));
    BOOST_TEST(b.metrics().find("\nargocd_progressive_rollout_leader 0\n") != std::string::npos);
    BOOST_TEST(!b.log_contains("controller: leading"), "a:\n" << a.log() << "\nb:\n" << b.log());
    BOOST_TEST(a.log_contains("admitted cluster"));

    a.kill_hard();
    register_webhooks(b.port());
    BOOST_REQUIRE_MESSAGE(eventually([&] { return leads(b); }, 30s), "b did not take over:\n" << b.log());
    BOOST_REQUIRE(s.play_until([](const core::rollout& r) { return phase_is(r, rollout_phase::completed); }, 180s));
    BOOST_TEST(b.log_contains("admitted cluster"));
    check_order_once_each(s);

    // A clean shutdown releases the Lease: a new replica leads without waiting for it to expire.
    webhook_process c({"replica-c", {"--lease-duration", "60", "--renew-deadline", "40", "--retry-period", "1"}});
    BOOST_REQUIRE(eventually([&] { return c.ready(); }, 60s));
    BOOST_TEST(b.terminate() == 0);
    BOOST_TEST(eventually([&] { return leads(c); }, 20s));  // far below the 60 s lease c would otherwise wait out
}

BOOST_AUTO_TEST_SUITE_END()
