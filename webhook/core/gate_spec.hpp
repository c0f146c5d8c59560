#pragma once
// Stage gates of the API (docs/api.md#stage-gates): what a stage lists under `gates`, and what
// status keeps of each gate's measurements. Plain values; decoding lives in codec/.

#include "core/duration.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace apr::core {

enum class gate_timing { before, during, after };  // `when`
enum class gate_scope { stage, cluster };
enum class measurement_phase { successful, failed, inconclusive, error };
// A gate's outcome in the current pass. Pending: not started; Running: measuring.
enum class gate_phase { pending, running, successful, failed, inconclusive, error };

std::string_view to_string(gate_timing);
std::string_view to_string(gate_scope);
std::string_view to_string(measurement_phase);
std::string_view to_string(gate_phase);
std::optional<gate_timing> parse_gate_timing(std::string_view);
std::optional<gate_scope> parse_gate_scope(std::string_view);
std::optional<measurement_phase> parse_measurement_phase(std::string_view);
std::optional<gate_phase> parse_gate_phase(std::string_view);

struct threshold_range {
    std::optional<double> min;
    std::optional<double> max;
    bool contains(double v) const { return (!min || v >= *min) && (!max || v <= *max); }
    friend bool operator==(const threshold_range&, const threshold_range&) = default;
};

struct prometheus_check {
    std::string address;  // http(s)://host:port, queried at /api/v1/query
    std::string query;    // may hold placeholders
    threshold_range threshold;
    measurement_phase empty_result = measurement_phase::inconclusive;
    friend bool operator==(const prometheus_check&, const prometheus_check&) = default;
};

struct secret_key_ref {
    std::string name;  // a Secret in the rollout's namespace
    std::string key;
    friend bool operator==(const secret_key_ref&, const secret_key_ref&) = default;
};

struct webhook_header {
    std::string name;
    std::string value;                     // literal, or
    std::optional<secret_key_ref> secret;  // valueFrom.secretKeyRef, read when the call is made
    friend bool operator==(const webhook_header&, const webhook_header&) = default;
};

struct webhook_check {
    std::string url;  // may hold placeholders
    duration_field timeout{"30s", std::chrono::seconds(30)};
    std::vector<webhook_header> headers;
    friend bool operator==(const webhook_check&, const webhook_check&) = default;
};

struct approval_check {
    std::vector<std::string> groups;  // empty: anyone allowed to update the rollout
    friend bool operator==(const approval_check&, const approval_check&) = default;
};

struct gate_spec {
    std::string name;
    gate_timing when = gate_timing::after;
    gate_scope scope = gate_scope::stage;
    duration_field interval{"1m", std::chrono::minutes(1)};
    long long count = 1;  // Before/After: measurements to take; During: until the stage completes
    long long failure_limit = 0;
    long long inconclusive_limit = 0;
    long long consecutive_error_limit = 4;
    bool dry_run = false;
    std::optional<prometheus_check> prometheus;
    std::optional<webhook_check> webhook;
    std::optional<approval_check> approval;
    friend bool operator==(const gate_spec&, const gate_spec&) = default;
};

// One measurement as status keeps it.
struct measurement {
    time_point at{};
    measurement_phase phase = measurement_phase::successful;
    std::string value;    // the sample(s) or the HTTP status
    std::string message;  // why, for anything but Successful (cut)
    friend bool operator==(const measurement&, const measurement&) = default;
};

// How many measurements status keeps per gate: enough to see a trend, small at 10,000 clusters.
inline constexpr std::size_t kept_measurements = 3;

// A gate's state in the current pass: for a Stage gate on the stage's status, for a Cluster
// gate on the cluster's.
struct gate_status {
    std::string name;
    gate_phase phase = gate_phase::pending;
    long long taken = 0;  // measurements counted so far (the next one is number taken + 1)
    long long successful = 0;
    long long failed = 0;
    long long inconclusive = 0;
    long long errors = 0;
    long long consecutive_errors = 0;
    std::optional<time_point> started_at;
    std::optional<time_point> next_at;  // when the next measurement is due
    std::optional<time_point> finished_at;
    std::vector<measurement> measurements;  // the last kept_measurements, oldest first
    std::string message;
    std::string decided_by;  // who promoted past it (approval, Inconclusive)
    std::optional<time_point> decided_at;
    friend bool operator==(const gate_status&, const gate_status&) = default;
};

}  // namespace apr::core
