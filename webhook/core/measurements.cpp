#include "core/measurements.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace apr::core {

gate_phase outcome(const gate_spec& spec, const gate_status& g) {
    if (g.failed > spec.failure_limit) return gate_phase::failed;
    if (g.consecutive_errors > spec.consecutive_error_limit) return gate_phase::error;
    if (g.inconclusive > spec.inconclusive_limit) return gate_phase::inconclusive;
    if (spec.when != gate_timing::during && g.taken - g.errors >= spec.count) return gate_phase::successful;
    return g.taken > 0 || g.started_at ? gate_phase::running : gate_phase::pending;
}

void record(const gate_spec& spec, gate_status& g, measurement m) {
    ++g.taken;
    switch (m.phase) {
        case measurement_phase::successful:
            ++g.successful;
            break;
        case measurement_phase::failed:
            ++g.failed;
            break;
        case measurement_phase::inconclusive:
            ++g.inconclusive;
            break;
        case measurement_phase::error:
            ++g.errors;
            break;
    }
    g.consecutive_errors = m.phase == measurement_phase::error ? g.consecutive_errors + 1 : 0;
    g.next_at = m.at + std::chrono::ceil<std::chrono::seconds>(spec.interval.get());
    g.measurements.push_back(std::move(m));
    if (g.measurements.size() > kept_measurements)
        g.measurements.erase(g.measurements.begin(),
                             g.measurements.begin() + static_cast<long>(g.measurements.size() - kept_measurements));
    g.phase = outcome(spec, g);
}

std::string expand_placeholders(std::string_view text, const placeholder_values& v) {
    std::string out;
    out.reserve(text.size());
    std::size_t i = 0;
    while (i < text.size()) {
        const auto open = text.find("$(", i);
        if (open == std::string_view::npos) break;
        const auto close = text.find(')', open);
        if (close == std::string_view::npos) break;
        out.append(text.substr(i, open - i));
        const auto name = text.substr(open + 2, close - open - 2);
        if (name == "rollout.name") {
            out += v.rollout_name;
        } else if (name == "rollout.namespace") {
            out += v.rollout_namespace;
        } else if (name == "stage.name") {
            out += v.stage_name;
        } else if (name == "pass") {
            out += std::to_string(v.pass);
        } else if (v.target && name == "cluster.name") {
            out += v.target->name;
        } else if (v.target && name == "cluster.server") {
            out += v.target->server;
        } else if (v.target && name.starts_with("cluster.labels.")) {
            if (auto it = v.target->labels.find(std::string(name.substr(15))); it != v.target->labels.end())
                out += it->second;
        } else {
            out.append(text.substr(open, close - open + 1));  // validation reports it
        }
        i = close + 1;
    }
    out.append(text.substr(std::min(i, text.size())));
    return out;
}

std::vector<std::string> unknown_placeholders(std::string_view text, bool cluster_scope) {
    std::vector<std::string> unknown;
    for (auto open = text.find("$("); open != std::string_view::npos; open = text.find("$(", open + 2)) {
        const auto close = text.find(')', open);
        const auto name =
            text.substr(open + 2, close == std::string_view::npos ? std::string_view::npos : close - open - 2);
        const bool known =
            close != std::string_view::npos &&
            (name == "rollout.name" || name == "rollout.namespace" || name == "stage.name" || name == "pass" ||
             (cluster_scope && (name == "cluster.name" || name == "cluster.server" ||
                                (name.starts_with("cluster.labels.") && name.size() > 15))));
        if (!known) unknown.push_back("$(" + std::string(name) + (close == std::string_view::npos ? "" : ")"));
    }
    return unknown;
}

namespace {

std::string format_sample(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

std::string range_text(const threshold_range& r) {
    // Appended in place: g++ 12 -O3 warns (-Wrestrict, falsely) on "literal" + string temporaries.
    std::string out = "[";
    out.append(r.min ? format_sample(*r.min) : "-inf").append(", ");
    return out.append(r.max ? format_sample(*r.max) : "+inf").append("]");
}

}  // namespace

measurement judge_samples(const prometheus_check& check, const std::vector<double>& samples, time_point at) {
    measurement m{at, measurement_phase::successful, {}, {}};
    if (samples.empty()) {
        m.phase = check.empty_result;
        m.value = "[]";
        if (m.phase != measurement_phase::successful)
            m.message = "empty query result (emptyResult " + std::string(to_string(check.empty_result)) + ")";
        return m;
    }
    for (std::size_t i = 0; i < samples.size(); ++i) {
        if (i == 4) {
            m.value += ", ...";
            break;
        }
        m.value += (i ? ", " : "") + format_sample(samples[i]);
    }
    if (samples.size() > 1) m.value = "[" + m.value + "]";
    for (double v : samples)
        if (std::isnan(v) || !check.threshold.contains(v)) {
            m.phase = measurement_phase::failed;
            m.message = std::string("value ")
                            .append(format_sample(v))
                            .append(" outside thresholdRange ")
                            .append(range_text(check.threshold));
            break;
        }
    return m;
}

std::string measurement_request::key() const {
    return stage + "\n" + gate + "\n" + cluster + "\n" + std::to_string(pass) + "\n" + std::to_string(number);
}

}  // namespace apr::core
