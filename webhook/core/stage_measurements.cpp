// The stage machine's bookkeeping of gate measurements: results the controller observed are
// counted into status exactly once, a promote passes the gates a person must decide, and a
// completed stage ends its During gates (docs/api.md#stage-gates).
#include "core/promotion.hpp"
#include "core/stage_machine_impl.hpp"

#include <algorithm>

namespace apr::core::detail {

namespace {

gate_status* find_record(std::vector<gate_status>& records, std::string_view name) {
    auto it = std::find_if(records.begin(), records.end(), [&](const gate_status& g) { return g.name == name; });
    return it == records.end() ? nullptr : &*it;
}

const gate_spec* find_spec(const stage_spec& stage, std::string_view name) {
    auto it = std::find_if(stage.gates.begin(), stage.gates.end(), [&](const gate_spec& g) { return g.name == name; });
    return it == stage.gates.end() ? nullptr : &*it;
}

bool final_phase(gate_phase p) {
    return p != gate_phase::pending && p != gate_phase::running;
}

std::string summary(const gate_spec& spec, const gate_status& g) {
    std::string s = std::to_string(g.taken) + " measurement(s): " + std::to_string(g.successful) + " successful, " +
                    std::to_string(g.failed) + " failed (failureLimit " + std::to_string(spec.failure_limit) + "), " +
                    std::to_string(g.inconclusive) + " inconclusive, " + std::to_string(g.errors) + " error(s)";
    if (!g.measurements.empty()) {
        const auto& last = g.measurements.back();
        s += "; last: " + std::string(to_string(last.phase));
        if (!last.value.empty()) s += " " + last.value;
        if (!last.message.empty()) s += " (" + last.message + ")";
    }
    return s;
}

}  // namespace

// A result counts when it is the next measurement of its gate in this pass: a result handed in
// twice (a status write that conflicted, a restart) is recognised by its number and ignored.
void machine::record_measurements() {
    auto& st = status();
    for (const auto& r : observed_.measurements) {
        if (r.pass != st.pass) continue;
        auto s =
            std::find_if(st.stages.begin(), st.stages.end(), [&](const stage_status& x) { return x.name == r.stage; });
        if (s == st.stages.end()) continue;
        const auto k = static_cast<std::size_t>(s - st.stages.begin());
        const auto* spec = find_spec(rollout_.spec.stages[k], r.gate);
        if (!spec) continue;
        gate_status* g = nullptr;
        if (r.cluster.empty()) {
            g = find_record(s->gates, r.gate);
        } else {
            auto c = std::find_if(s->clusters.begin(), s->clusters.end(),
                                  [&](const cluster_status& x) { return x.name == r.cluster; });
            if (c != s->clusters.end()) g = find_record(c->gates, r.gate);
        }
        if (!g || r.number != g->taken + 1 || final_phase(g->phase)) continue;
        record(*spec, *g, r.taken);
        if (!final_phase(g->phase)) continue;
        g->finished_at = now_;
        g->next_at.reset();
        g->message = summary(*spec, *g);
        const bool passed = g->phase == gate_phase::successful;
        std::string text = "stage " + s->name + ": gate " + spec->name +
                           (r.cluster.empty() ? "" : " (cluster " + r.cluster + ")") + " " +
                           std::string(to_string(g->phase)) + ": " + g->message;
        if (spec->dry_run && !passed) text += " (dryRun: does not block)";
        emit(!passed, "Gate" + std::string(to_string(g->phase)), text);
    }
}

// `promote` passes the gates of its stage that wait for a person (promotion.hpp). Who and when
// stay in status.
void machine::apply_promotion() {
    const auto& p = observed_.promotion;
    if (!p) return;
    auto& st = status();
    const auto& target = p->stage.empty() ? st.current_stage : p->stage;
    for (std::size_t k = 0; k < st.stages.size(); ++k)
        if (st.stages[k].name == target)
            pass_waiting_gates(rollout_.spec.stages[k], st.stages[k], *p, now_, result_.events);
}

// A completed stage's During gates end Successful: they measured for as long as it ran.
void machine::finish_during_gates(std::size_t k) {
    auto& s = status().stages[k];
    auto finish = [&](gate_status& g) {
        if (final_phase(g.phase)) return;
        const auto* spec = find_spec(rollout_.spec.stages[k], g.name);
        if (!spec || spec->when != gate_timing::during) return;
        g.phase = gate_phase::successful;
        g.finished_at = now_;
        g.next_at.reset();
        g.message = summary(*spec, g);
    };
    for (auto& g : s.gates) finish(g);
    for (auto& c : s.clusters)
        for (auto& g : c.gates) finish(g);
}

}  // namespace apr::core::detail
