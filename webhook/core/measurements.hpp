#pragma once
// Measurements of stage gates as pure functions (docs/api.md#stage-gates): counting them with
// Argo Rollouts' outcome rules, placeholders, judging Prometheus samples, and the requests the
// controller carries out and the results it hands back as observations.

#include "core/gate_spec.hpp"
#include "core/rollout.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace apr::core {

// The gate's outcome from its counts (first rule that applies): Failed when failed >
// failureLimit; Error when errors in a row > consecutiveErrorLimit; Inconclusive when
// inconclusive > inconclusiveLimit; Successful once `count` measurements other than Error were
// taken (Before/After); else Running. A During gate runs until its stage completes.
gate_phase outcome(const gate_spec& spec, const gate_status& status);

// Counts measurement number status.taken + 1 and updates the outcome; keeps the last few.
void record(const gate_spec& spec, gate_status& status, measurement m);

// What a measurement's placeholders stand for.
struct placeholder_values {
    std::string rollout_name;
    std::string rollout_namespace;
    std::string stage_name;
    long long pass = 0;
    const cluster* target = nullptr;  // Cluster scope: the cluster measured
};

// Replaces $(rollout.name), $(rollout.namespace), $(stage.name), $(pass), $(cluster.name),
// $(cluster.server) and $(cluster.labels.KEY) (empty when the label is absent).
std::string expand_placeholders(std::string_view text, const placeholder_values& values);

// The placeholders in `text` that are not known (for validation); `cluster_scope` allows the
// $(cluster.*) ones.
std::vector<std::string> unknown_placeholders(std::string_view text, bool cluster_scope);

// A Prometheus answer judged against the gate: every sample within thresholdRange is
// Successful; an empty result is emptyResult. `samples` nullopt: the answer was unusable.
measurement judge_samples(const prometheus_check& check, const std::vector<double>& samples, time_point at);

// A measurement the controller is asked to take, fully resolved (placeholders expanded).
struct measurement_request {
    std::string stage;
    std::string gate;
    std::string cluster;  // Cluster scope; empty for Stage scope
    long long pass = 0;
    long long number = 0;  // status.taken + 1 when asked
    gate_timing when = gate_timing::after;
    std::optional<prometheus_check> prometheus;
    std::optional<webhook_check> webhook;
    std::string hash;                     // the pending hash rolled out (Cluster scope), for webhooks
    std::vector<core::cluster> clusters;  // the clusters it is about (the webhook payload)

    // Identifies a measurement across steps and restarts.
    std::string key() const;
};

// A measurement taken, handed back as an observation.
struct measurement_result {
    std::string stage;
    std::string gate;
    std::string cluster;
    long long pass = 0;
    long long number = 0;
    measurement taken;
};

}  // namespace apr::core
