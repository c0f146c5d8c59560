// Benchmarks of the pure core (not a test: nothing here asserts a time). Prints one
// `RESULT case=... median_us=... p99_us=... cpu_median_us=...` line per case (wall time, and the
// process's CPU time, which a busy machine disturbs less); run it directly (README, Benchmarks).

#include "codec/admission_review.hpp"
#include "codec/canonical_json.hpp"
#include "core/fleet_state.hpp"
#include "core/planner.hpp"
#include "core/stage_machine.hpp"
#include "../unit/review_fixtures.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <functional>
#include <vector>

using namespace apr;
using clock_type = std::chrono::steady_clock;

namespace {

struct sample {
    double wall_us;
    double cpu_us;  // this process's CPU time: what other load on the machine changes least
};

double cpu_now_us() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

void report(const char* name, std::vector<sample> samples) {
    std::vector<double> wall, cpu;
    for (const auto& s : samples) {
        wall.push_back(s.wall_us);
        cpu.push_back(s.cpu_us);
    }
    std::sort(wall.begin(), wall.end());
    std::sort(cpu.begin(), cpu.end());
    auto at = [](const std::vector<double>& v, double q) { return v[static_cast<std::size_t>(q * (v.size() - 1))]; };
    std::printf("RESULT case=%s runs=%zu median_us=%.3f p99_us=%.3f cpu_median_us=%.3f\n", name, samples.size(),
                at(wall, 0.5), at(wall, 0.99), at(cpu, 0.5));
}

template <class F>
std::vector<sample> measure(int runs, F&& f, int batch = 1) {
    std::vector<sample> out;
    for (int i = 0; i < runs; ++i) {
        const auto cpu_start = cpu_now_us();
        const auto start = clock_type::now();
        for (int b = 0; b < batch; ++b) f();
        const auto wall = std::chrono::duration<double, std::micro>(clock_type::now() - start).count();
        out.push_back({wall / batch, (cpu_now_us() - cpu_start) / batch});
    }
    return out;
}

core::rollout_spec twenty_stages() {
    core::rollout_spec spec;
    spec.source = {"argoproj.io", "ApplicationSet", "fleet"};
    for (int s = 0; s < 20; ++s) {
        core::stage_spec st;
        st.name = "region-" + std::to_string(s);
        core::label_selector sel;
        sel.match_labels = {{"region", "r" + std::to_string(s)}};
        st.selector = sel;
        st.topology_key = "zone";
        st.max_unavailable = core::int_or_percent::percent(10);
        spec.stages.push_back(st);
    }
    return spec;
}

}  // namespace

int main(int argc, char** argv) {
    // `core_bench step` runs only the cases whose name contains "step" (for profilers).
    const std::string only = argc > 1 ? argv[1] : "";
    auto wanted = [&](const std::string& name) { return only.empty() || name.find(only) != std::string::npos; };
    std::vector<core::cluster> fleet;
    for (int i = 0; i < 5000; ++i)
        fleet.push_back({"prod-" + std::to_string(i),
                         "https://prod-" + std::to_string(i) + ".example.com",
                         {{"region", "r" + std::to_string(i % 20)}, {"zone", "z" + std::to_string(i % 3)}}});
    const auto spec = twenty_stages();
    if (wanted("plan"))
        report("plan_5000_clusters_20_stages", measure(50, [&] { (void)core::make_plan(spec, fleet); }));

    // One step in the middle of a rollout: stage 10 progressing, half its clusters updating.
    core::rollout r;
    r.namespace_ = "argocd";
    r.name = "fleet";
    r.generation = 1;
    r.spec = spec;
    core::observations obs;
    obs.clusters = fleet;
    for (const auto& c : fleet)
        obs.applications.push_back({"app-" + c.name, c.name, "abcdef0123456789", "Synced", "Healthy", true});
    auto result = core::step(r, obs, core::time_point{std::chrono::seconds(1'800'000'000)});
    for (int i = 0; i < 30; ++i) {
        r.status = result.status;
        for (auto& a : obs.applications)
            for (const auto& adm : result.admissions)
                if (adm.cluster == a.cluster) a.pending_hash.clear();
        result = core::step(r, obs, core::time_point{std::chrono::seconds(1'800'000'000 + 10 * i)});
    }
    r.status = result.status;
    const auto now = core::time_point{std::chrono::seconds(1'800'000'400)};
    if (wanted("step")) report("step_5000_clusters_20_stages", measure(50, [&] { (void)core::step(r, obs, now); }));

    // The same step with a gate of scope Cluster on every stage (During, Prometheus), its
    // measurements answered as the controller would: every updated cluster has a gate record.
    {
        auto gated = r;
        core::gate_spec gate;
        gate.name = "error-rate";
        gate.when = core::gate_timing::during;
        gate.scope = core::gate_scope::cluster;
        gate.prometheus =
            core::prometheus_check{"http://prometheus:9090", "rate{cluster=\"$(cluster.name)\"}", {{}, 0.01}};
        for (auto& st : gated.spec.stages) st.gates.push_back(gate);
        auto gated_obs = obs;
        auto t = core::time_point{std::chrono::seconds(1'800'000'000)};
        auto g = core::step(gated, gated_obs, t);
        for (int i = 0; i < 30; ++i) {
            gated.status = g.status;
            gated_obs.measurements.clear();
            for (const auto& m : g.measurements)
                gated_obs.measurements.push_back(
                    {m.stage, m.gate, m.cluster, m.pass, m.number, core::judge_samples(*m.prometheus, {0.001}, t)});
            t += std::chrono::seconds(10);
            g = core::step(gated, gated_obs, t);
        }
        gated.status = g.status;
        gated_obs.measurements.clear();
        if (wanted("step"))
            report("step_5000_clusters_20_stages_cluster_gate",
                   measure(50, [&] { (void)core::step(gated, gated_obs, t); }));
    }

    // Admission: 100 rollouts x 100 clusters = 10,000 Applications' clusters in the snapshot.
    std::vector<core::rollout> rollouts;
    std::vector<core::cluster> clusters;
    for (int k = 0; k < 100; ++k) {
        core::rollout x;
        x.namespace_ = "argocd";
        x.name = "rollout-" + std::to_string(k);
        x.spec.source = {"argoproj.io", "ApplicationSet", k == 0 ? "guestbook" : "set-" + std::to_string(k)};
        x.status.current_stage = "canary in EMEA";
        core::stage_status st{"eu-west-1", core::stage_phase::pending};
        for (int i = 0; i < 100; ++i) {
            auto name =
                k == 0 && i == 0 ? std::string("eu-west-1a-1") : "c-" + std::to_string(k) + "-" + std::to_string(i);
            st.clusters.push_back({name, core::cluster_phase::pending});
            clusters.push_back({name, "https://" + name + ".example.com", {}});
        }
        x.status.stages.push_back(st);
        rollouts.push_back(std::move(x));
    }
    const auto state = core::build_fleet_state(rollouts, clusters);
    const auto ids = test::test_identities();

    core::application_facts facts;
    facts.operation = core::operation_kind::update;
    facts.username = ids.application_set_controller;
    facts.namespace_ = "argocd";
    facts.name = "guestbook-eu-west-1a-1";
    facts.application_sets = {"guestbook"};
    facts.destination_server = facts.old_destination_server = "https://eu-west-1a-1.example.com";
    facts.old_desired = {R"({"repoURL":"https://git.example.com/x","targetRevision":"v1"})", std::nullopt, std::nullopt,
                         R"({"automated":{}})"};
    facts.new_desired = {R"({"repoURL":"https://git.example.com/x","targetRevision":"v2"})", std::nullopt, std::nullopt,
                         R"({"automated":{}})"};
    facts.new_pending = {
        R"({"source":{"repoURL":"https://git.example.com/x","targetRevision":"v2"},"syncPolicy":{"automated":{}}})",
        "0123456789abcdef"};
    facts.new_has_annotations = true;
    if (wanted("decide"))
        report("decide_hold_10000_apps_100_rollouts",
               measure(
                   2000, [&] { (void)core::decide(facts, state.admission, ids); }, 100));
    auto unchanged = facts;
    unchanged.new_desired = unchanged.old_desired;
    unchanged.username = ids.application_controller;
    if (wanted("decide"))
        report("decide_status_write_10000_apps_100_rollouts",
               measure(
                   2000, [&] { (void)core::decide(unchanged, state.admission, ids); }, 100));

    // The whole review (parse, decide, render) for a 20 KB and a 3 KB Application update.
    for (std::size_t padding : {std::size_t(18000), std::size_t(1000)}) {
        test::app_spec before, after;
        before.status_padding = after.status_padding = padding;
        after.revision = "v2";
        test::review_spec rs;
        rs.object = test::application_json(after);
        rs.old_object = test::application_json(before);
        const auto body = test::review_json(rs);
        const std::string name = "review_application_" + std::to_string(body.size() / 1024) + "KB";
        if (wanted(name))
            report(name.c_str(),
                   measure(
                       500, [&] { (void)codec::review_application("application/json", body, state, ids); }, 10));
        // The hot path: Argo CD's application controller writing status, desired state unchanged.
        rs.object = test::application_json(before);
        rs.username = ids.application_controller;
        const auto status_write = test::review_json(rs);
        const std::string status_name = "review_status_write_" + std::to_string(status_write.size() / 1024) + "KB";
        if (wanted(status_name))
            report(
                status_name.c_str(),
                measure(
                    500, [&] { (void)codec::review_application("application/json", status_write, state, ids); }, 10));
    }
    return 0;
}
