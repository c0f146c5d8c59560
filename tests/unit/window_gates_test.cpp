#define BOOST_TEST_MODULE window_gates
#include <boost/test/unit_test.hpp>

#include "core/window_gates.hpp"
#include "test_fleet.hpp"

#include <date/tz.h>

using namespace apr::core;
using namespace apr::test;
using names = std::vector<std::string>;

namespace {

// The simulation starts on Friday 2026-11-27 at 00:00 UTC.
time_point at_hour(int hour) {
    return time_point{std::chrono::sys_days{std::chrono::year{2026} / 11 / 27}} + std::chrono::hours{hour};
}

window_spec window(std::string kind, std::string schedule, std::string length, std::string zone = {}) {
    window_spec w{std::move(kind), std::move(schedule), duration_field::of(length), {zone, nullptr}};
    if (!zone.empty()) w.time_zone.zone = date::locate_zone(zone);
    return w;
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// One stage, one cluster at a time: the order of admissions shows who was let in when.
rollout_spec one_stage(std::vector<window_spec> windows) {
    rollout_spec spec;
    spec.source = {"argoproj.io", "ApplicationSet", "set"};
    spec.stages = {stage("all", match({{"region", "r"}}), int_or_percent::integer(1))};
    spec.windows = std::move(windows);
    return spec;
}

std::vector<cluster> fleet_of(int n) {
    std::vector<cluster> fleet;
    for (int i = 1; i <= n; ++i) fleet.push_back(make_cluster("c" + std::to_string(i), {{"region", "r"}}));
    return fleet;
}

// Steps every 10 s until `until` (exclusive).
void run_until(fleet_sim& sim, time_point until) {
    while (sim.now < until) {
        sim.step();
        sim.argo();
        sim.advance(10s);
    }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(rollout_windows)

BOOST_AUTO_TEST_CASE(an_open_deny_window_admits_nothing_and_says_when_admission_resumes) {
    fleet_sim sim(one_stage({window("Deny", "0 0 * * *", "2h")}), fleet_of(3));
    sim.change_template("v2");
    auto result = sim.step();
    BOOST_TEST(result.admissions.empty());
    const auto& st = sim.rollout.status;
    BOOST_TEST(st.phase == rollout_phase::progressing);
    BOOST_TEST((st.window_opens_at == at_hour(2)));
    BOOST_TEST(st.message ==
                   "no new cluster is admitted: deny window \"0 0 * * *\" for 2h is open; the next window opens at "
                   "2026-11-27T02:00:00Z",
               st.message);
    // The controller looks again when the window closes, not later.
    BOOST_REQUIRE(result.requeue_after.has_value());
    BOOST_TEST((*result.requeue_after <= std::chrono::hours{2}));

    run_until(sim, at_hour(2));
    BOOST_TEST(sim.admitted_order.empty());
    sim.run();
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::completed);
    BOOST_TEST(sim.admitted_order == (names{"c1", "c2", "c3"}), boost::test_tools::per_element());
    BOOST_TEST(!sim.rollout.status.window_opens_at.has_value());
}

BOOST_AUTO_TEST_CASE(with_allow_windows_nothing_is_admitted_outside_them) {
    fleet_sim sim(one_stage({window("Allow", "0 9 * * 1-5", "1h", "Europe/London")}), fleet_of(2));
    sim.change_template("v2");
    sim.step();
    BOOST_TEST(sim.admitted_order.empty());
    BOOST_TEST((sim.rollout.status.window_opens_at == at_hour(9)));  // London is on UTC in November
    BOOST_TEST(contains(sim.rollout.status.message, "no allow window is open"));
    run_until(sim, at_hour(9));
    BOOST_TEST(sim.admitted_order.empty());
    sim.run();
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::completed);
}

BOOST_AUTO_TEST_CASE(clusters_in_flight_finish_when_a_deny_window_opens) {
    auto spec = one_stage({window("Deny", "0 1 * * *", "1h")});
    spec.stages[0].progress_deadline = duration_field::of("2h");
    fleet_sim sim(spec, fleet_of(3));
    sim.settle_steps = 200;  // each cluster takes about half an hour to sync
    sim.change_template("v2");
    run_until(sim, at_hour(1) - std::chrono::minutes(2));
    const names before = sim.admitted_order;
    BOOST_REQUIRE(!before.empty());
    BOOST_REQUIRE(sim.cluster_status(before.back())->phase == cluster_phase::updating);
    run_until(sim, at_hour(2));
    BOOST_TEST(sim.admitted_order == before, boost::test_tools::per_element());   // nothing new
    BOOST_TEST(sim.cluster_status(before.back())->phase == cluster_phase::done);  // it finished
    sim.run(1000);
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::completed);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(project_windows)

app_project payments_denied_from_midnight(std::string applications) {
    project_window deny;
    deny.kind = "deny";
    deny.schedule = "0 0 * * *";
    deny.duration = "3h";
    deny.applications = {std::move(applications)};
    return {"payments", {deny}};
}

BOOST_AUTO_TEST_CASE(a_cluster_argo_cd_would_not_sync_waits_without_a_slot) {
    fleet_sim sim(one_stage({}), fleet_of(3));
    sim.apps.at("c1").project = "payments";
    sim.apps.at("c2").project = "payments";
    (*sim.projects)["payments"] = payments_denied_from_midnight("app-c1");
    sim.change_template("v2");
    run_until(sim, at_hour(1));
    // c1 waits; with maxUnavailable 1 the others still go one after the other.
    BOOST_TEST(sim.admitted_order == (names{"c2", "c3"}), boost::test_tools::per_element());
    const auto* c1 = sim.cluster_status("c1");
    BOOST_TEST(c1->phase == cluster_phase::pending);
    BOOST_TEST(contains(c1->message,
                        "Argo CD would not sync Application app-c1 now: AppProject \"payments\" deny "
                        "window \"0 0 * * *\" for 3h is open (until 2026-11-27T03:00:00Z)"),
               c1->message);
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::progressing);
    BOOST_TEST(!sim.rollout.status.window_opens_at.has_value());  // not the rollout's own windows

    run_until(sim, at_hour(3));
    BOOST_TEST(sim.admitted_order.size() == 2u);
    sim.run();
    BOOST_TEST(sim.admitted_order == (names{"c2", "c3", "c1"}), boost::test_tools::per_element());
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::completed);
}

BOOST_AUTO_TEST_CASE(manual_sync_does_not_open_a_deny_window_to_automated_sync) {
    fleet_sim sim(one_stage({}), fleet_of(1));
    sim.apps.at("c1").project = "payments";
    auto project = payments_denied_from_midnight("*");
    project.sync_windows[0].manual_sync = true;
    (*sim.projects)["payments"] = project;
    sim.change_template("v2");
    // The simulated Applications sync automatically: Argo CD asks CanSync(false), which says no.
    sim.step();
    BOOST_TEST(sim.admitted_order.empty());
}

BOOST_AUTO_TEST_CASE(no_cluster_is_admitted_before_the_projects_are_listed) {
    fleet_sim sim(one_stage({}), fleet_of(2));
    sim.projects.reset();
    sim.change_template("v2");
    sim.step();
    BOOST_TEST(sim.admitted_order.empty());
    BOOST_TEST(sim.cluster_status("c1")->message == "waiting for the Argo CD AppProjects to be listed");
    sim.projects.emplace();
    sim.run();
    BOOST_TEST(sim.rollout.status.phase == rollout_phase::completed);
}

BOOST_AUTO_TEST_SUITE_END()
