// Moving revisions in the stage machine (docs/controller.md, "Moving revisions"): with
// spec.trackRevisions a new commit R that Argo CD resolved is a change "rev:R", pinned per pass,
// rolled out stage by stage with a sync operation per cluster; drift is healed at the running
// revision when the recorded policy asked for selfHeal.
#define BOOST_TEST_MODULE revision_passes
#include <boost/test/unit_test.hpp>

#include "test_fleet.hpp"

#include <algorithm>

using namespace apr::core;
using namespace apr::test;
using names = std::vector<std::string>;

namespace {

// Argo CD for branch-tracking Applications with auto-sync off: one Application per cluster, a
// branch resolved per Application (each refreshes on its own), syncs only when asked.
class branch_sim {
public:
    struct app {
        std::string resolved = "c1";  // status.sync.revision
        std::string running = "c1";   // the last sync's revision
        std::string sync = "Synced";
        std::string health = "Healthy";
        bool operation = false;   // a sync operation is running
        std::string syncing;      // ... to this revision
        std::string pending;      // a held template change (pending hash)
        std::string live = "t1";  // the template state it runs
        std::optional<time_point> started;
        std::string phase = "Succeeded";
        bool self_heal = false;
        bool spec_changed = false;  // the spec changed since its last sync (outside the scope)
        bool fail = false;          // its next sync fails
    };

    rollout r;
    std::vector<cluster> clusters;
    std::map<std::string, app> apps;
    time_point now = time_point{std::chrono::sys_days{std::chrono::year{2026} / 12 / 1}};
    std::vector<std::pair<std::string, std::string>> syncs;  // (cluster, revision) in the order asked
    std::vector<std::pair<std::string, std::string>> heals;
    std::vector<std::string> template_admissions;
    std::vector<rollout_event> events;

    explicit branch_sim(rollout_spec spec, bool track = true) : clusters(emea_fleet()) {
        r.namespace_ = "argocd";
        r.name = "rollout";
        r.generation = 1;
        r.spec = std::move(spec);
        r.spec.track_revisions = track;
        for (const auto& c : clusters) apps[c.name];
    }

    // The branch moved to `commit` and every Application's refresh saw it.
    void push(const std::string& commit) {
        for (auto& [name, a] : apps) refresh(name, commit);
    }
    void refresh(const std::string& cluster, const std::string& commit) {
        auto& a = apps.at(cluster);
        a.resolved = commit;
        if (!a.operation) a.sync = a.running == commit && a.live == "t1" ? "Synced" : "OutOfSync";
    }

    observations observe() const {
        observations o;
        o.clusters = clusters;
        for (const auto& [name, a] : apps) {
            application_observation ob;
            ob.name = "app-" + name;
            ob.cluster = name;
            ob.destination_name = name;
            ob.pending_hash = a.pending;
            if (!a.pending.empty()) ob.pending_since = now - 1h;
            ob.sync_status = a.sync;
            ob.health_status = a.health;
            ob.compared_to_current = true;
            ob.operation_in_progress = a.operation;
            ob.operation_phase = a.operation ? "Running" : a.phase;
            ob.operation_started_at = a.started;
            ob.resolved_revision = a.resolved;
            ob.running_revision = a.running;
            ob.self_heal = a.self_heal;
            ob.auto_sync_recorded = true;
            ob.spec_changed_since_sync = a.spec_changed;
            o.applications.push_back(ob);
        }
        return o;
    }

    step_result step() {
        auto result = apr::core::step(r, observe(), now);
        r.status = result.status;
        auto start = [&](const admit_action& action, auto& log) {
            for (const auto& [application, revision] : action.sync_revisions) {
                auto& a = apps.at(action.cluster);
                a.operation = true;
                a.syncing = revision;
                a.started = now;
                log.emplace_back(action.cluster, revision);
            }
        };
        for (const auto& action : result.admissions) {
            start(action, syncs);
            if (action.sync_revisions.empty()) {
                // A template change: the admission applies it and starts a sync of the spec.
                auto& a = apps.at(action.cluster);
                a.live = a.pending;
                a.pending.clear();
                a.operation = true;
                a.syncing.clear();
                a.started = now;
                template_admissions.push_back(action.cluster);
            }
        }
        for (const auto& action : result.heals) start(action, heals);
        events.insert(events.end(), result.events.begin(), result.events.end());
        return result;
    }

    // Argo CD runs the operations started so far.
    void argo() {
        for (auto& [name, a] : apps) {
            if (!a.operation) continue;
            a.operation = false;
            if (a.fail) {
                a.phase = "Failed";
                a.sync = "OutOfSync";
                continue;
            }
            a.phase = "Succeeded";
            a.spec_changed = false;
            a.running = a.syncing.empty() ? a.resolved : a.syncing;
            a.sync = a.running == a.resolved ? "Synced" : "OutOfSync";
        }
    }

    void run(int rounds = 60) {
        for (int i = 0; i < rounds; ++i) {
            step();
            argo();
            now += 10s;
            if (r.status.phase == rollout_phase::completed && i > 0) break;
        }
    }

    const cluster_status* state(const std::string& name) const {
        for (const auto& s : r.status.stages)
            for (const auto& c : s.clusters)
                if (c.name == name) return &c;
        return nullptr;
    }

    names synced_to(const std::string& revision) const {
        names out;
        for (const auto& [cluster, rev] : syncs)
            if (rev == revision) out.push_back(cluster);
        return out;
    }

    std::size_t count(std::string_view reason) const {
        return static_cast<std::size_t>(
            std::count_if(events.begin(), events.end(), [&](const rollout_event& e) { return e.reason == reason; }));
    }
};

std::size_t position(const names& order, const std::string& name) {
    return static_cast<std::size_t>(std::find(order.begin(), order.end(), name) - order.begin());
}

const names seed_order = {"eu-central-1a-1", "eu-north-1a-1", "eu-west-1a-1",    "eu-west-1a-2",
                          "eu-west-1b-1",    "eu-west-1c-1",  "eu-central-1b-1", "eu-central-1c-1"};

}  // namespace

BOOST_AUTO_TEST_SUITE(revision_passes)

BOOST_AUTO_TEST_CASE(a_new_commit_is_synced_stage_by_stage_at_the_pinned_revision) {
    branch_sim sim(seed_spec());
    sim.step();
    BOOST_TEST(sim.r.status.phase == rollout_phase::pending);  // everything runs what it resolved

    sim.push("c2");
    const auto first = sim.step();
    BOOST_TEST(sim.r.status.pass == 1);
    // The canary (two regions at once) gets sync operations for exactly c2, nobody else.
    BOOST_REQUIRE_EQUAL(first.admissions.size(), 2u);
    for (const auto& a : first.admissions) {
        BOOST_TEST(a.hash == "rev:c2");
        BOOST_TEST(a.sync_revisions.at("app-" + a.cluster) == "c2");
    }
    BOOST_TEST(sim.state("eu-central-1a-1")->hash == "rev:c2");
    BOOST_TEST((sim.state("eu-central-1a-1")->phase == cluster_phase::updating));
    sim.argo();
    sim.now += 10s;
    sim.run();
    BOOST_TEST(sim.r.status.phase == rollout_phase::completed);
    BOOST_TEST(sim.r.status.pass == 1);
    BOOST_TEST(sim.synced_to("c2") == seed_order, boost::test_tools::per_element());
    // Unstaged: never synced, still running c1.
    BOOST_TEST(sim.apps.at("us-east-1a-1").running == "c1");
    for (const auto& name : seed_order) BOOST_TEST(sim.apps.at(name).running == "c2");
}

BOOST_AUTO_TEST_CASE(done_means_synced_at_the_pinned_revision_healthy_and_idle) {
    branch_sim sim(seed_spec());
    sim.push("c2");
    sim.step();
    BOOST_TEST((sim.state("eu-central-1a-1")->phase == cluster_phase::updating));
    // The operation is still running: not done, and not a new change either.
    sim.now += 10s;
    sim.step();
    BOOST_TEST((sim.state("eu-central-1a-1")->phase == cluster_phase::updating));
    BOOST_TEST(sim.r.status.pass == 1);
    // Synced at c2 but still Progressing: not done.
    sim.argo();
    sim.apps.at("eu-central-1a-1").health = "Progressing";
    sim.step();
    BOOST_TEST((sim.state("eu-central-1a-1")->phase == cluster_phase::updating));
    BOOST_TEST((sim.state("eu-north-1a-1")->phase == cluster_phase::done));
    sim.apps.at("eu-central-1a-1").health = "Healthy";
    sim.step();
    BOOST_TEST((sim.state("eu-central-1a-1")->phase == cluster_phase::done));
}

BOOST_AUTO_TEST_CASE(a_failed_sync_of_the_commit_fails_the_cluster) {
    branch_sim sim(seed_spec());
    sim.apps.at("eu-north-1a-1").fail = true;
    sim.push("c2");
    sim.step();
    sim.now += 1s;
    sim.argo();
    sim.step();
    const auto* c = sim.state("eu-north-1a-1");
    BOOST_TEST((c->phase == cluster_phase::failed));
    BOOST_TEST(c->message.find("sync operation Failed") != std::string::npos, c->message);
    BOOST_TEST(sim.r.status.phase == rollout_phase::failed);
}

BOOST_AUTO_TEST_CASE(a_newer_commit_on_a_cluster_done_in_the_pass_starts_a_new_pass_from_stage_one) {
    branch_sim sim(seed_spec());
    sim.push("c2");
    // The canary stage and the first eu-west-1 cluster take c2.
    for (int i = 0; i < 4; ++i) {
        sim.step();
        sim.argo();
        sim.now += 10s;
    }
    BOOST_REQUIRE((sim.state("eu-central-1a-1")->phase == cluster_phase::done));
    BOOST_REQUIRE(position(sim.synced_to("c2"), "eu-central-1c-1") == sim.synced_to("c2").size());

    sim.push("c3");
    sim.step();
    BOOST_TEST(sim.r.status.pass == 2);
    BOOST_TEST(sim.count("PassStarted") == 2u);
    sim.argo();
    sim.now += 10s;
    sim.run();
    BOOST_TEST(sim.r.status.phase == rollout_phase::completed);
    BOOST_TEST(sim.synced_to("c3") == seed_order, boost::test_tools::per_element());
    // The clusters c2 never reached in pass 1 are never synced to c2 afterwards.
    BOOST_TEST(position(sim.synced_to("c2"), "eu-central-1c-1") == sim.synced_to("c2").size());
}

// Argo CD refreshes each Application on its own: a later stage may see the next commit before the
// canary. The pass for c2 never syncs it to c3; a new pass starts, and the canary goes first.
BOOST_AUTO_TEST_CASE(a_waiting_cluster_that_resolved_another_commit_is_never_synced_to_it_in_the_pass) {
    branch_sim sim(seed_spec());
    sim.push("c2");
    sim.step();
    sim.argo();
    sim.now += 10s;
    sim.refresh("eu-central-1c-1", "c3");  // the last stage's cluster sees c3 first
    sim.step();
    BOOST_TEST(sim.r.status.pass == 2);
    BOOST_TEST(std::any_of(sim.events.begin(), sim.events.end(), [](const rollout_event& e) {
        return e.reason == "PassStarted" && e.message.find("newer revision c3") != std::string::npos;
    }));
    // The rest of the fleet sees c3 too; it rolls from the canary.
    sim.push("c3");
    sim.argo();
    sim.run();
    BOOST_TEST(sim.r.status.phase == rollout_phase::completed);
    const auto order = sim.synced_to("c3");
    BOOST_TEST(order == seed_order, boost::test_tools::per_element());
    BOOST_TEST(position(sim.synced_to("c2"), "eu-central-1c-1") == sim.synced_to("c2").size());
}

BOOST_AUTO_TEST_CASE(without_track_revisions_a_new_commit_is_not_a_change) {
    branch_sim sim(seed_spec(), false);
    sim.push("c2");
    sim.run(3);
    BOOST_TEST(sim.r.status.pass == 0);
    BOOST_TEST(sim.syncs.empty());
}

BOOST_AUTO_TEST_CASE(drift_with_self_heal_is_synced_at_the_running_revision_once_per_backoff) {
    branch_sim sim(seed_spec());
    auto& a = sim.apps.at("eu-west-1b-1");
    a.self_heal = true;
    a.sync = "OutOfSync";  // drift: OutOfSync at c1, the revision it runs
    a.started = sim.now - 1h;
    const auto result = sim.step();
    BOOST_TEST(sim.r.status.pass == 0);  // drift is no change to roll out
    BOOST_REQUIRE_EQUAL(result.heals.size(), 1u);
    BOOST_TEST(result.heals[0].cluster == "eu-west-1b-1");
    BOOST_TEST(result.heals[0].sync_revisions.at("app-eu-west-1b-1") == "c1");
    BOOST_TEST(sim.count("SelfHeal") == 1u);
    // While the sync runs, nothing more.
    BOOST_TEST(sim.step().heals.empty());
    // The sync ran but the drift is back at once: healed again only after the backoff.
    sim.argo();
    a.sync = "OutOfSync";
    sim.now += 2s;
    const auto soon = sim.step();
    BOOST_TEST(soon.heals.empty());
    BOOST_REQUIRE(soon.requeue_after.has_value());
    BOOST_TEST((*soon.requeue_after <= std::chrono::seconds(3)));
    sim.now += 3s;
    BOOST_TEST(sim.step().heals.size() == 1u);
    // Without selfHeal recorded, drift stays.
    auto& other = sim.apps.at("eu-west-1c-1");
    other.sync = "OutOfSync";
    for (const auto& h : sim.step().heals) BOOST_TEST(h.cluster != "eu-west-1c-1");
}

// A template change outside spec.scope passed without a hold: auto-sync would sync it, so the
// controller does, at the revision each cluster runs, everywhere at once and without a pass.
BOOST_AUTO_TEST_CASE(a_change_outside_the_scope_is_synced_at_once_at_the_running_revision) {
    branch_sim sim(seed_spec());
    for (auto& [name, a] : sim.apps) {
        a.sync = "OutOfSync";
        a.spec_changed = true;
        a.started = sim.now - 1h;
    }
    const auto result = sim.step();
    BOOST_TEST(sim.r.status.pass == 0);
    BOOST_TEST(result.heals.size() == sim.apps.size());  // unstaged clusters too
    for (const auto& h : result.heals) BOOST_TEST(h.sync_revisions.begin()->second == "c1");
    BOOST_TEST(sim.count("AutoSync") == sim.apps.size());
}

BOOST_AUTO_TEST_CASE(a_failed_sync_is_not_healed_again) {
    branch_sim sim(seed_spec());
    auto& a = sim.apps.at("eu-west-1b-1");
    a.self_heal = true;
    a.sync = "OutOfSync";
    a.phase = "Failed";
    a.started = sim.now - 1h;
    BOOST_TEST(sim.step().heals.empty());
}

// A template change admitted on a rollout that tracks revisions leaves the Application OutOfSync
// at the new spec's commit until the sync the admission started has run: that is the change being
// rolled out, not a newer one.
BOOST_AUTO_TEST_CASE(a_template_change_admitted_with_its_sync_is_not_taken_for_a_new_commit) {
    branch_sim sim(seed_spec());
    for (auto& [name, a] : sim.apps) a.pending = "t2";
    sim.step();
    BOOST_REQUIRE_EQUAL(sim.template_admissions.size(), 2u);
    // Argo CD compared the new spec (another targetRevision): OutOfSync at c9 while the sync is
    // still to run.
    for (const auto& name : sim.template_admissions) {
        auto& a = sim.apps.at(name);
        a.operation = false;
        a.resolved = "c9";
        a.sync = "OutOfSync";
        a.started = sim.now - 1h;  // its last sync is older than the admission
    }
    sim.now += 10s;
    sim.step();
    BOOST_TEST(sim.r.status.pass == 1);
    for (const auto& name : sim.template_admissions) BOOST_TEST((sim.state(name)->phase == cluster_phase::updating));
    BOOST_TEST(sim.syncs.empty());
}

BOOST_AUTO_TEST_SUITE_END()
