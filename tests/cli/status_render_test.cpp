// `argocd-progressive-rollout status`: what an operator reads for a rollout in each state,
// rendered from core values with a fixed clock (no server).
#define BOOST_TEST_MODULE status_render
#include <boost/test/unit_test.hpp>

#include "cli/status_command.hpp"

#include "codec/time_format.hpp"

using namespace apr;
using namespace std::chrono_literals;

namespace {

const core::time_point now = *codec::parse_time("2026-11-27T17:00:00Z");

core::cluster_status cluster(std::string name, core::cluster_phase phase) {
    core::cluster_status c;
    c.name = std::move(name);
    c.phase = phase;
    return c;
}

// The seed's three stages, requeue attempts 5, in the middle of its first pass.
core::rollout progressing() {
    core::rollout r;
    r.namespace_ = "argocd";
    r.name = "progressiverollout-sample";
    r.generation = 1;
    r.spec.source = {"argoproj.io/v1alpha1", "ApplicationSet", "my-app-set"};
    for (const char* name : {"canary in EMEA", "eu-west-1", "eu-central-1"}) {
        core::stage_spec s;
        s.name = name;
        s.requeue = core::requeue_policy{std::nullopt, 5, core::duration_field::of("20s")};
        r.spec.stages.push_back(s);
    }
    auto& st = r.status;
    st.observed_generation = 1;
    st.phase = core::rollout_phase::progressing;
    st.pass = 1;
    st.current_stage = "eu-west-1";

    core::stage_status canary{"canary in EMEA", core::stage_phase::completed, now - 3min, now - 80s, {}, {}, {}};
    canary.clusters = {cluster("eu-central-1a-1", core::cluster_phase::done),
                       cluster("eu-west-1a-1", core::cluster_phase::done)};
    core::stage_status west{"eu-west-1", core::stage_phase::progressing, now - 80s, {}, {}, {}, {}};
    auto updating = cluster("eu-west-1b-1", core::cluster_phase::updating);
    updating.admitted_at = now - 12s;
    auto requeued = cluster("eu-west-1c-1", core::cluster_phase::requeued);
    requeued.attempts = 1;
    requeued.next_attempt_at = now + 18s;
    west.clusters = {updating, requeued};
    core::stage_status central{"eu-central-1", core::stage_phase::pending, {}, {}, {}, {}, {}};
    central.clusters = {cluster("eu-central-1b-1", core::cluster_phase::pending),
                        cluster("eu-central-1c-1", core::cluster_phase::pending)};
    st.stages = {canary, west, central};
    st.unstaged_clusters = {"ap-southeast-1a-1", "us-east-1a-1"};
    st.conditions = {{"Ready", "False", "Progressing", "stage eu-west-1: 0/2 done", now - 2min},
                     {"Stalled", "False", "", "", now - 3min}};
    return r;
}

bool contains(const std::string& text, std::string_view part) {
    const bool found = text.find(part) != std::string::npos;
    if (!found) BOOST_TEST_MESSAGE("missing \"" << part << "\" in:\n" << text);
    return found;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(status_view)

BOOST_AUTO_TEST_CASE(progressing_rollout_shows_header_stage_age_and_progress) {
    const auto text = cli::render_status(progressing(), now);
    BOOST_TEST(contains(text, "ProgressiveRollout argocd/progressiverollout-sample (ApplicationSet my-app-set)"));
    BOOST_TEST(contains(text, "Phase:     Progressing, pass 1\n"));
    BOOST_TEST(contains(text, "Stage:     eu-west-1 (2/3), for 1m20s\n"));
    BOOST_TEST(contains(text, "Progress:  2/6 clusters done\n"));
}

BOOST_AUTO_TEST_CASE(each_stage_has_a_bar_and_its_clusters_by_state) {
    const auto text = cli::render_status(progressing(), now);
    BOOST_TEST(contains(text, "1 canary in EMEA         [####################] 2/2  Completed (took 1m40s)\n"));
    BOOST_TEST(contains(text, "Done       eu-central-1a-1, eu-west-1a-1\n"));
    BOOST_TEST(
        contains(text, "2 eu-west-1              [>>>>>>>>>>..........] 0/2  Progressing (started 1m20s ago)\n"));
    BOOST_TEST(contains(text, "Updating   eu-west-1b-1 (admitted 12s ago)\n"));
    BOOST_TEST(contains(text, "3 eu-central-1           [....................] 0/2  Pending\n"));
    BOOST_TEST(contains(text, "Pending    eu-central-1b-1, eu-central-1c-1\n"));
}

// trackRevisions: the commit the pass rolls out, who runs it and who is syncing to it.
BOOST_AUTO_TEST_CASE(a_revision_pass_shows_the_commit_and_the_clusters_that_run_it) {
    auto r = progressing();
    r.spec.track_revisions = true;
    for (auto& s : r.status.stages)
        for (auto& c : s.clusters)
            if (c.phase == core::cluster_phase::done || c.phase == core::cluster_phase::updating)
                c.hash = "rev:4f2a9c1";
    const auto text = cli::render_status(r, now);
    BOOST_TEST(contains(text,
                        "Revision:  4f2a9c1: runs on 2 cluster(s) (eu-central-1a-1, eu-west-1a-1); syncing "
                        "eu-west-1b-1\n"));
    BOOST_TEST(!contains(cli::render_status(progressing(), now), "Revision:"));
}

BOOST_AUTO_TEST_CASE(requeued_cluster_shows_attempt_of_limit_and_next_try) {
    const auto text = cli::render_status(progressing(), now);
    BOOST_TEST(contains(text, "Requeued   eu-west-1c-1 (attempt 1/5, next try in 18s at 2026-11-27T17:00:18Z)\n"));
    auto overdue = progressing();
    overdue.status.stages[1].clusters[1].next_attempt_at = now - 1s;
    BOOST_TEST(contains(cli::render_status(overdue, now), "(attempt 1/5, next try due at 2026-11-27T16:59:59Z)"));
}

BOOST_AUTO_TEST_CASE(unstaged_clusters_and_conditions_are_listed) {
    const auto text = cli::render_status(progressing(), now);
    BOOST_TEST(
        contains(text, "Unstaged:  ap-southeast-1a-1, us-east-1a-1 (no stage selects them: held, never updated)\n"));
    BOOST_TEST(contains(text, "Ready        False  Progressing: stage eu-west-1: 0/2 done (2m ago)\n"));
    BOOST_TEST(contains(text, "Stalled      False (3m ago)\n"));
}

BOOST_AUTO_TEST_CASE(failed_cluster_shows_its_message) {
    auto r = progressing();
    r.status.phase = core::rollout_phase::failed;
    r.status.message = "stage eu-west-1: 1 failed cluster(s), maxFailures 0";
    r.status.stages[1].phase = core::stage_phase::failed;
    r.status.stages[1].clusters[0].phase = core::cluster_phase::failed;
    r.status.stages[1].clusters[0].message = "health Degraded: simulated";
    const auto text = cli::render_status(r, now);
    BOOST_TEST(contains(text, "Phase:     Failed, pass 1\n"));
    BOOST_TEST(contains(text, "Message:   stage eu-west-1: 1 failed cluster(s), maxFailures 0\n"));
    BOOST_TEST(contains(text, "Failed     eu-west-1b-1: health Degraded: simulated\n"));
}

BOOST_AUTO_TEST_CASE(baking_stage_shows_bake_time_left) {
    auto r = progressing();
    auto& west = r.status.stages[1];
    west.phase = core::stage_phase::baking;
    west.bake_until = now + 90s;
    for (auto& c : west.clusters) c.phase = core::cluster_phase::done;
    const auto text = cli::render_status(r, now);
    BOOST_TEST(contains(text, "[####################] 2/2  Baking, 1m30s bake time left (started 1m20s ago)\n"));
    BOOST_TEST(contains(text, "Progress:  4/6 clusters done\n"));
}

BOOST_AUTO_TEST_CASE(a_closed_window_says_when_the_next_one_opens) {
    auto r = progressing();
    r.status.window_opens_at = now + 2h + 30min;
    const auto text = cli::render_status(r, now);
    BOOST_TEST(contains(text, "Window:    closed; the next window opens at 2026-11-27T19:30:00Z (in 2h30m)\n"), text);
    BOOST_TEST(!contains(cli::render_status(progressing(), now), "Window:"));
}

BOOST_AUTO_TEST_CASE(rollout_without_status_lists_its_stages_as_not_started) {
    auto r = progressing();
    r.status = {};
    const auto text = cli::render_status(r, now);
    BOOST_TEST(contains(text, "Phase:     Pending\n"));
    BOOST_TEST(contains(text, "1 canary in EMEA  (not started)\n"));
    BOOST_TEST(contains(text, "3 eu-central-1  (not started)\n"));
    BOOST_TEST(!contains(text, "Stage:"));
}

BOOST_AUTO_TEST_CASE(paused_and_stale_status_are_called_out) {
    auto r = progressing();
    r.spec.paused = true;
    r.generation = 2;
    const auto text = cli::render_status(r, now);
    BOOST_TEST(contains(text, "(spec.paused: no new cluster is admitted)"));
    BOOST_TEST(contains(text, "(status is for generation 1 of 2)"));
}

BOOST_AUTO_TEST_CASE(long_cluster_lists_are_cut_with_a_count) {
    auto r = progressing();
    auto& canary = r.status.stages[0];
    canary.clusters.clear();
    for (int i = 0; i < 12; ++i)
        canary.clusters.push_back(cluster(std::string("c").append(std::to_string(i)), core::cluster_phase::done));
    BOOST_TEST(contains(cli::render_status(r, now), "Done       c0, c1, c2, c3, c4, c5, c6, c7, ... (+4 more)\n"));
}

BOOST_AUTO_TEST_SUITE_END()
