#pragma once
// Test helpers: spec builders and a small simulated fleet that plays Argo CD for the pure state
// machine (admitted Applications sync and turn Healthy, or Degraded when told to).

#include "core/field_errors.hpp"
#include "core/stage_machine.hpp"

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace apr::test {

using namespace std::chrono_literals;

// Each error as `validate` prints it ("spec.x: Invalid value: ..."), in order.
inline std::vector<std::string> messages(const core::field_errors& errors) {
    std::vector<std::string> out;
    for (const auto& e : errors) out.push_back(e.to_string());
    return out;
}

inline core::label_selector match(std::initializer_list<std::pair<const std::string, std::string>> labels) {
    core::label_selector s;
    for (const auto& [k, v] : labels) s.match_labels.emplace(k, v);
    return s;
}

inline core::stage_spec stage(std::string name, core::label_selector selector, core::int_or_percent max_unavailable,
                              core::int_or_percent max_clusters = core::int_or_percent::percent(100)) {
    core::stage_spec s;
    s.name = std::move(name);
    s.selector = std::move(selector);
    s.max_unavailable = max_unavailable;
    s.max_clusters = max_clusters;
    return s;
}

inline core::requeue_policy requeue_when(core::label_selector selector, long long attempts, std::string interval) {
    return {std::move(selector), attempts, core::duration_field::of(interval)};
}

inline core::cluster make_cluster(std::string name, core::label_map labels) {
    return {name, "https://" + name + ".example.com", std::move(labels)};
}

// The seed README's example spec, built in code.
inline core::rollout_spec seed_spec() {
    core::rollout_spec spec;
    spec.source = {"argoproj.io/v1alpha1", "ApplicationSet", "my-app-set"};
    auto drained = requeue_when(match({{"drained", "true"}}), 5, "30m");
    auto canary = stage("canary in EMEA", match({{"area", "emea"}}), core::int_or_percent::integer(2),
                        core::int_or_percent::integer(2));
    canary.topology_key = "region";
    canary.requeue = drained;
    auto west = stage("eu-west-1", match({{"region", "eu-west-1"}}), core::int_or_percent::percent(25));
    west.requeue = drained;
    auto central = stage("eu-central-1", match({{"region", "eu-central-1"}}), core::int_or_percent::percent(25));
    central.requeue = drained;
    spec.stages = {canary, west, central};
    return spec;
}

// A simulated Argo CD: one Application per cluster.
class fleet_sim {
public:
    struct app {
        std::string cluster;
        std::string live;     // hash of the live desired state
        std::string pending;  // held change
        std::string sync = "Synced";
        std::string health = "Healthy";
        bool compared = true;
        int settle_in = 0;         // steps until Argo CD has synced an admitted change
        bool degrade = false;      // the new version goes Degraded
        std::string hold_refused;  // the webhook's recent refusal to hold a template change
        std::string previous;      // the live state an admission replaced (previous-spec) ...
        std::string previous_for;  // ... and the change that replaced it (previous-for)
        std::string project = "default";
        std::optional<core::time_point> pending_since;  // when the webhook held `pending`
    };

    core::rollout rollout;
    std::vector<core::cluster> clusters;
    std::map<std::string, app> apps;  // by cluster name
    core::time_point now = core::time_point{std::chrono::sys_days{std::chrono::year{2026} / 11 / 27}};
    std::vector<std::string> admitted_order;
    std::vector<std::string> restored_order;  // rollbacks carried out
    std::vector<core::rollout_event> events;
    int settle_steps = 1;
    core::source_presence source = core::source_presence::unknown;  // of the ApplicationSet
    // The controller's part for gates: answers each measurement a step asks for; the answers
    // reach the next step (`measured`), as the controller's results do.
    std::function<core::measurement(const core::measurement_request&)> measure;
    std::vector<core::measurement_result> measured, last_measured;
    std::optional<core::promote_request> promotion;
    // Argo CD AppProjects by name; nullopt: not listed yet.
    std::optional<std::map<std::string, core::app_project>> projects{std::in_place};

    fleet_sim(core::rollout_spec spec, std::vector<core::cluster> fleet) : clusters(std::move(fleet)) {
        rollout.namespace_ = "argocd";
        rollout.name = "rollout";
        rollout.generation = 1;
        rollout.spec = std::move(spec);
        for (const auto& c : clusters) apps[c.name] = app{c.name, "v1"};
    }

    void change_template(const std::string& hash) {
        for (auto& [name, a] : apps) change_application(name, hash);
    }

    // The ApplicationSet controller writing one cluster's Application (it writes them one by one).
    void change_application(const std::string& cluster, const std::string& hash) {
        auto& a = apps.at(cluster);
        if (a.live == hash || a.pending == hash) return;
        a.pending = hash;
        a.pending_since = now;
    }

    core::observations observe() const {
        core::observations o;
        o.clusters = clusters;
        o.source = source;
        for (const auto& [name, a] : apps) {
            core::application_observation ob;
            ob.name = "app-" + name;
            ob.cluster = name;
            ob.pending_hash = a.pending;
            if (!a.pending.empty()) ob.pending_since = a.pending_since;
            ob.sync_status = a.sync;
            ob.health_status = a.health;
            ob.compared_to_current = a.compared;
            ob.hold_refused = a.hold_refused;
            ob.previous_for = a.previous_for;
            ob.project = a.project;
            ob.destination_name = name;
            ob.automated_sync = true;
            o.applications.push_back(ob);
        }
        o.measurements = measured;
        o.promotion = promotion;
        o.app_projects = projects;
        return o;
    }

    core::step_result step() {
        auto result = core::step(rollout, observe(), now);
        rollout.status = result.status;
        last_measured = std::move(measured);
        measured.clear();
        if (measure)
            for (const auto& r : result.measurements)
                measured.push_back({r.stage, r.gate, r.cluster, r.pass, r.number, measure(r)});
        for (const auto& admit : result.admissions) {
            auto& a = apps.at(admit.cluster);
            if (a.pending != admit.hash) continue;  // the controller's patch is conditional on the hash
            a.previous = a.live;
            a.previous_for = a.pending;
            a.live = a.pending;
            a.pending.clear();
            a.sync = "OutOfSync";
            a.compared = false;
            a.settle_in = settle_steps;
            admitted_order.push_back(admit.cluster);
        }
        for (const auto& restore : result.restorations) {
            auto& a = apps.at(restore.cluster);
            if (a.previous_for.empty()) continue;  // the restore patch tests previous-for
            if (a.pending.empty()) a.pending = a.live;
            a.live = a.previous;
            a.previous.clear();
            a.previous_for.clear();
            a.sync = "OutOfSync";
            a.compared = false;
            a.settle_in = settle_steps;
            restored_order.push_back(restore.cluster);
        }
        events.insert(events.end(), result.events.begin(), result.events.end());
        return result;
    }

    // Argo CD's application controller catching up.
    void argo() {
        for (auto& [name, a] : apps) {
            if (a.compared) continue;
            if (a.settle_in-- > 0) continue;
            a.sync = "Synced";
            a.compared = true;
            a.health = a.degrade ? "Degraded" : "Healthy";
        }
    }

    void advance(std::chrono::seconds d) { now += d; }

    // Steps until nothing changes any more or `limit` rounds, moving the clock by `tick` each round.
    int run(int limit = 200, std::chrono::seconds tick = 10s) {
        int rounds = 0;
        for (; rounds < limit; ++rounds) {
            auto before = rollout.status;
            auto r = step();
            argo();
            advance(tick);
            if (r.admissions.empty() && before == rollout.status &&
                (rollout.status.phase == core::rollout_phase::completed ||
                 rollout.status.phase == core::rollout_phase::failed))
                break;
        }
        return rounds;
    }

    const core::cluster_status* cluster_status(const std::string& name) const {
        for (const auto& s : rollout.status.stages)
            for (const auto& c : s.clusters)
                if (c.name == name) return &c;
        return nullptr;
    }

    bool has_event(std::string_view reason) const {
        for (const auto& e : events)
            if (e.reason == reason) return true;
        return false;
    }
};

// The EMEA fleet of the seed scenario: 3 regions, a drained cluster, one cluster outside EMEA.
inline std::vector<core::cluster> emea_fleet() {
    auto c = [](std::string name, std::string area, std::string region, core::label_map extra = {}) {
        core::label_map labels{{"area", area}, {"region", region}};
        labels.insert(extra.begin(), extra.end());
        return make_cluster(std::move(name), std::move(labels));
    };
    return {
        c("eu-west-1a-1", "emea", "eu-west-1"),       c("eu-west-1a-2", "emea", "eu-west-1"),
        c("eu-west-1b-1", "emea", "eu-west-1"),       c("eu-west-1c-1", "emea", "eu-west-1"),
        c("eu-central-1a-1", "emea", "eu-central-1"), c("eu-central-1b-1", "emea", "eu-central-1"),
        c("eu-central-1c-1", "emea", "eu-central-1"), c("eu-north-1a-1", "emea", "eu-north-1"),
        c("us-east-1a-1", "amer", "us-east-1"),
    };
}

}  // namespace apr::test
