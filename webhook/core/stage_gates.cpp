// The gates a stage lists (docs/api.md#stage-gates): metric checks, webhooks and approvals,
// answering at the points of the gate model (gates.hpp) from what status recorded of their
// measurements. Measurements themselves are taken by the controller (measurement_request).
#include "core/stage_gates.hpp"

#include "core/measurements.hpp"

#include <algorithm>

namespace apr::core {

namespace {

gate_status& record_of(std::vector<gate_status>& records, const std::string& name) {
    auto it = std::find_if(records.begin(), records.end(), [&](const gate_status& g) { return g.name == name; });
    if (it != records.end()) return *it;
    return records.emplace_back(gate_status{.name = name});
}

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
    return out;
}

std::string subject(const stage_context& ctx, const gate_spec& spec, const cluster_status* c) {
    return "stage " + ctx.status.name + ": gate " + spec.name + (c ? " (cluster " + c->name + ")" : "");
}

}  // namespace

std::string promote_command(const rollout& r) {
    return "argocd-progressive-rollout promote " + r.name + (r.namespace_.empty() ? "" : " -n " + r.namespace_);
}

gate_verdict stage_gates::judge(const stage_context& ctx, const gate_spec& spec, gate_status& g,
                                const cluster_status* target) const {
    const auto& step = ctx.step;
    const auto now = step.now;
    if (!g.started_at) {
        g.started_at = now;
        g.phase = gate_phase::running;
        if (!spec.approval) g.next_at = now;
    }
    if (spec.approval) {
        if (g.phase == gate_phase::successful) return gate_verdict::open();
        g.message = "waiting for approval" +
                    (spec.approval->groups.empty() ? std::string() : " by " + join(spec.approval->groups)) + ": " +
                    promote_command(step.rollout);
        return gate_verdict::wait(spec.name, subject(ctx, spec, target) + ": " + g.message);
    }
    switch (g.phase) {
        case gate_phase::successful:
            return gate_verdict::open();
        case gate_phase::failed:
        case gate_phase::error: {
            if (spec.dry_run) return gate_verdict::open();
            auto reason = "gate " + spec.name + (target ? " (cluster " + target->name + ")" : "") + " " +
                          std::string(to_string(g.phase)) + ": " + g.message;
            return gate_verdict::fail(spec.name, reason);
        }
        case gate_phase::inconclusive:
            if (spec.dry_run || !g.decided_by.empty()) return gate_verdict::open();
            return gate_verdict::pause(
                spec.name, "paused: gate " + spec.name + (target ? " (cluster " + target->name + ")" : "") +
                               " Inconclusive: " + g.message + "; to continue: " + promote_command(step.rollout));
        case gate_phase::pending:
        case gate_phase::running:
            break;
    }
    if (!g.next_at || *g.next_at <= now) {
        request(ctx, spec, g, target);
    } else {
        step.look_again_at(*g.next_at);
    }
    const auto counted = g.taken - g.errors;
    g.message = spec.when == gate_timing::during
                    ? std::to_string(g.taken) + " measurement(s)"
                    : std::to_string(counted) + "/" + std::to_string(spec.count) + " measurements";
    return gate_verdict::wait(spec.name, subject(ctx, spec, target) + ": " + g.message, g.next_at);
}

void stage_gates::request(const stage_context& ctx, const gate_spec& spec, const gate_status& g,
                          const cluster_status* target) const {
    const auto& step = ctx.step;
    measurement_request r;
    r.stage = ctx.status.name;
    r.gate = spec.name;
    r.pass = step.pass;
    r.number = g.taken + 1;
    r.when = spec.when;
    placeholder_values values{step.rollout.name, step.rollout.namespace_, ctx.status.name, step.pass, nullptr};
    if (target) {
        r.cluster = target->name;
        r.hash = target->hash;
        if (const auto* c = step.cluster_named(target->name)) {
            values.target = c;
            r.clusters.push_back(*c);
        } else {
            r.clusters.push_back(core::cluster{target->name, {}, {}});
        }
    } else {
        for (const auto& c : ctx.status.clusters) {
            if (spec.when != gate_timing::before && c.hash.empty()) continue;  // changed nothing there
            const auto* known = step.cluster_named(c.name);
            r.clusters.push_back(known ? *known : core::cluster{c.name, {}, {}});
        }
    }
    if (spec.prometheus) {
        r.prometheus = spec.prometheus;
        r.prometheus->query = expand_placeholders(spec.prometheus->query, values);
    }
    if (spec.webhook) {
        r.webhook = spec.webhook;
        r.webhook->url = expand_placeholders(spec.webhook->url, values);
    }
    step.request(std::move(r));
}

gate_verdict stage_gates::stage_start(const stage_context& ctx) const {
    for (const auto& spec : ctx.spec.gates) {
        if (spec.when != gate_timing::before) continue;
        if (auto v = judge(ctx, spec, record_of(ctx.status.gates, spec.name), nullptr); !v.is_open()) return v;
    }
    return gate_verdict::open();
}

// During gates only ever stop a stage: while they measure, the stage goes on.
gate_verdict stage_gates::stage_running(const stage_context& ctx) const {
    if (ctx.status.phase == stage_phase::completed) return gate_verdict::open();
    for (const auto& spec : ctx.spec.gates) {
        if (spec.when != gate_timing::during || spec.scope != gate_scope::stage) continue;
        auto v = judge(ctx, spec, record_of(ctx.status.gates, spec.name), nullptr);
        if (v.answer == gate_answer::fail || v.answer == gate_answer::pause) return v;
    }
    return gate_verdict::open();
}

gate_verdict stage_gates::cluster_running(const stage_context& ctx, cluster_status& c) const {
    if (ctx.status.phase == stage_phase::completed || c.hash.empty()) return gate_verdict::open();
    for (const auto& spec : ctx.spec.gates) {
        if (spec.when != gate_timing::during || spec.scope != gate_scope::cluster) continue;
        auto v = judge(ctx, spec, record_of(c.gates, spec.name), &c);
        if (v.answer == gate_answer::fail || v.answer == gate_answer::pause) return v;
    }
    return gate_verdict::open();
}

gate_verdict stage_gates::cluster_completion(const stage_context& ctx, cluster_status& c) const {
    for (const auto& spec : ctx.spec.gates) {
        if (spec.when != gate_timing::after || spec.scope != gate_scope::cluster) continue;
        if (auto v = judge(ctx, spec, record_of(c.gates, spec.name), &c); !v.is_open()) return v;
    }
    return gate_verdict::open();
}

gate_verdict stage_gates::stage_completion(const stage_context& ctx) const {
    for (const auto& spec : ctx.spec.gates) {
        if (spec.when != gate_timing::after || spec.scope != gate_scope::stage) continue;
        if (auto v = judge(ctx, spec, record_of(ctx.status.gates, spec.name), nullptr); !v.is_open()) return v;
    }
    return gate_verdict::open();
}

}  // namespace apr::core
