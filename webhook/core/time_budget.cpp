#include "core/time_budget.hpp"

#include <algorithm>

namespace apr::core {

namespace {

long long planned_clusters(const rollout_status& status, const std::string& stage) {
    for (const auto& s : status.stages)
        if (s.name == stage) return static_cast<long long>(s.clusters.size());
    return 0;
}

duration gate_allowance(const gate_spec& g, long long waves) {
    if (g.when == gate_timing::during || (!g.prometheus && !g.webhook)) return duration::zero();
    const duration each = g.interval.get() + (g.webhook ? g.webhook->timeout.get() : duration::zero());
    const long long times = g.when == gate_timing::after && g.scope == gate_scope::cluster ? waves : 1;
    return times * std::max(1LL, g.count) * each;
}

}  // namespace

duration pass_time_budget(const rollout& r) {
    duration total = duration::zero();
    for (const auto& spec : r.spec.stages) {
        const long long clusters = planned_clusters(r.status, spec.name);
        const long long width = std::max(1LL, spec.max_unavailable.resolve(std::max(clusters, 1LL)));
        const long long waves = std::max(1LL, (clusters + width - 1) / width);
        total += waves * spec.progress_deadline.get() + spec.bake_time.get();
        if (spec.requeue && spec.requeue->attempts && spec.requeue->interval)
            total += *spec.requeue->attempts * spec.requeue->interval->get();
        for (const auto& g : spec.gates) total += gate_allowance(g, waves);
    }
    return total;
}

std::optional<time_point> pass_started_at(const rollout_status& status) {
    std::optional<time_point> first;
    for (const auto& s : status.stages)
        if (s.started_at && (!first || *s.started_at < *first)) first = s.started_at;
    return first;
}

}  // namespace apr::core
