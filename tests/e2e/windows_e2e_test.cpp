#define BOOST_TEST_MODULE windows_e2e
#include <boost/test/unit_test.hpp>

#include "rollout_scenario.hpp"

#include "codec/time_format.hpp"

using namespace apr;
using namespace apr::e2e;
using core::cluster_phase;
using core::rollout_phase;

namespace {

std::vector<sim::fleet_cluster> small_fleet(const rollout_scenario& s) {
    std::vector<sim::fleet_cluster> fleet;
    for (const char* name : {"c1", "c2", "c3"}) fleet.push_back({s.cluster(name), {{"e2e", s.id}}});
    return fleet;
}

// One stage over the scenario's clusters, then `more` (e.g. the spec's windows).
std::string one_stage(const rollout_scenario& s, int max_unavailable, const std::string& more = {}) {
    return "  - name: all\n    maxUnavailable: " + std::to_string(max_unavailable) +
           "\n    clusters: {selector: {matchLabels: {e2e: " + s.id + "}}}\n" + more;
}

bool updated(const rollout_scenario& s, const std::string& name) {
    auto order = s.updated("v2");
    return std::find(order.begin(), order.end(), name) != order.end();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(windows_through_the_real_api_server)

// Scenario 5: a rollout-level deny window open now admits nothing, status names the next
// opening, and admission resumes when it closes.
BOOST_AUTO_TEST_CASE(a_deny_window_open_now_holds_every_cluster_until_it_closes) {
    rollout_scenario s("denywin");
    s.start_webhook();
    s.create_fleet(small_fleet(s));
    // A daily deny window that opened at the start of this minute and closes 40 s from now.
    using namespace std::chrono;
    const auto now = floor<seconds>(system_clock::now());
    const auto opened = floor<minutes>(now);
    const auto closes = now + 40s;
    const auto since_midnight = opened - floor<days>(opened);
    const auto schedule = std::to_string(duration_cast<minutes>(since_midnight).count() % 60) + " " +
                          std::to_string(duration_cast<hours>(since_midnight).count()) + " * * *";
    s.apply_rollout(one_stage(s, 3,
                              "  windows:\n  - {kind: Deny, schedule: \"" + schedule +
                                  "\", duration: " + std::to_string((closes - opened).count()) + "s}\n"));
    s.argo.set_template_revision("v2");

    BOOST_REQUIRE(s.play_until([](const core::rollout& r) { return r.status.window_opens_at.has_value(); }, 30s));
    auto r = s.rollout();
    BOOST_TEST(codec::format_time(*r.status.window_opens_at) == codec::format_time(closes));
    BOOST_TEST(contains(r.status.message, "deny window \"" + schedule + "\""), r.status.message);
    BOOST_TEST(contains(r.status.message, "the next window opens at " + codec::format_time(closes)), r.status.message);
    BOOST_TEST(r.status.phase == rollout_phase::progressing);

    // Nothing is admitted while it is open (Argo CD keeps playing until just before it closes)...
    bool admitted_inside = false;
    eventually(
        [&] {
            s.argo_round();
            if (!s.updated("v2").empty() && system_clock::now() < closes) admitted_inside = true;
            return system_clock::now() >= closes - 2s;
        },
        60s, 300ms);
    BOOST_TEST(!admitted_inside);
    // ...and everything once it has closed.
    BOOST_REQUIRE(s.play_until([](const core::rollout& r) { return phase_is(r, rollout_phase::completed); }, 60s));
    r = s.rollout();
    BOOST_TEST(!r.status.window_opens_at.has_value());
    BOOST_TEST(s.updated("v2").size() == 3u);
}

// Scenario 6: an AppProject deny window matching one cluster's Application: that cluster waits
// without holding a slot, the others proceed.
BOOST_AUTO_TEST_CASE(an_app_project_deny_window_holds_one_cluster_without_a_slot) {
    rollout_scenario s("projwin");
    const auto project = [&](const std::string& windows) {
        return "apiVersion: argoproj.io/v1alpha1\nkind: AppProject\nmetadata:\n  name: default\nspec:\n"
               "  sourceRepos: ['*']\n  destinations: [{server: '*', namespace: '*'}]\n  syncWindows: " +
               windows + "\n";
    };
    // The simulated Applications belong to project "default"; the window matches c2's only.
    auto applied = kubectl("ADMIN", "apply -f -",
                           project("[{kind: deny, schedule: '* * * * *', duration: 1h, applications: ['*-" +
                                   s.cluster("c2") + "'], timeZone: Europe/London}]"));
    BOOST_REQUIRE_MESSAGE(applied.status == 0, applied.out);
    s.start_webhook();
    s.create_fleet(small_fleet(s));
    s.apply_rollout(one_stage(s, 1));  // one slot: a waiting c2 holding it would stop c3
    s.argo.set_template_revision("v2");

    BOOST_REQUIRE(s.play_until(
        [&](const core::rollout& r) {
            const auto* c2 = s.cluster_state(r, "c2");
            return updated(s, "c1") && updated(s, "c3") && c2 && contains(c2->message, "AppProject \"default\"");
        },
        90s));
    auto r = s.rollout();
    const auto* c2 = s.cluster_state(r, "c2");
    BOOST_TEST(c2->phase == cluster_phase::pending);
    BOOST_TEST(contains(c2->message, "Argo CD would not sync Application"), c2->message);
    BOOST_TEST(!updated(s, "c2"));

    // The window is lifted: c2 has its turn and the rollout completes.
    applied = kubectl("ADMIN", "apply -f -", project("[]"));
    BOOST_REQUIRE_MESSAGE(applied.status == 0, applied.out);
    BOOST_REQUIRE(s.play_until([](const core::rollout& r) { return phase_is(r, rollout_phase::completed); }, 60s));
    BOOST_TEST(updated(s, "c2"));
    kubectl("ADMIN", "delete appproject default --ignore-not-found");
}

BOOST_AUTO_TEST_SUITE_END()
