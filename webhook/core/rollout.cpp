#include "core/rollout.hpp"

#include "core/field_errors.hpp"

#include <array>
#include <ostream>
#include <utility>

namespace apr::core {

namespace {

template <class Enum, std::size_t N>
std::optional<Enum> lookup(const std::array<std::pair<Enum, std::string_view>, N>& table, std::string_view text) {
    for (const auto& [value, name] : table)
        if (name == text) return value;
    return std::nullopt;
}

template <class Enum, std::size_t N>
std::string_view name_of(const std::array<std::pair<Enum, std::string_view>, N>& table, Enum value) {
    for (const auto& [v, name] : table)
        if (v == value) return name;
    return "Unknown";
}

constexpr std::array<std::pair<rollout_phase, std::string_view>, 7> rollout_phases{{
    {rollout_phase::pending, "Pending"},
    {rollout_phase::progressing, "Progressing"},
    {rollout_phase::paused, "Paused"},
    {rollout_phase::completed, "Completed"},
    {rollout_phase::failed, "Failed"},
    {rollout_phase::aborted, "Aborted"},
    {rollout_phase::rolled_back, "RolledBack"},
}};
constexpr std::array<std::pair<stage_phase, std::string_view>, 5> stage_phases{{
    {stage_phase::pending, "Pending"},
    {stage_phase::progressing, "Progressing"},
    {stage_phase::baking, "Baking"},
    {stage_phase::completed, "Completed"},
    {stage_phase::failed, "Failed"},
}};
constexpr std::array<std::pair<cluster_phase, std::string_view>, 7> cluster_phases{{
    {cluster_phase::pending, "Pending"},
    {cluster_phase::requeued, "Requeued"},
    {cluster_phase::updating, "Updating"},
    {cluster_phase::done, "Done"},
    {cluster_phase::failed, "Failed"},
    {cluster_phase::held, "Held"},
    {cluster_phase::rolled_back, "RolledBack"},
}};

constexpr std::array<std::pair<failure_policy, std::string_view>, 3> failure_policies{{
    {failure_policy::halt, "Halt"},
    {failure_policy::pause, "Pause"},
    {failure_policy::rollback, "Rollback"},
}};
constexpr std::array<std::pair<gate_timing, std::string_view>, 3> gate_timings{{
    {gate_timing::before, "Before"},
    {gate_timing::during, "During"},
    {gate_timing::after, "After"},
}};
constexpr std::array<std::pair<gate_scope, std::string_view>, 2> gate_scopes{{
    {gate_scope::stage, "Stage"},
    {gate_scope::cluster, "Cluster"},
}};
constexpr std::array<std::pair<measurement_phase, std::string_view>, 4> measurement_phases{{
    {measurement_phase::successful, "Successful"},
    {measurement_phase::failed, "Failed"},
    {measurement_phase::inconclusive, "Inconclusive"},
    {measurement_phase::error, "Error"},
}};
constexpr std::array<std::pair<gate_phase, std::string_view>, 6> gate_phases{{
    {gate_phase::pending, "Pending"},
    {gate_phase::running, "Running"},
    {gate_phase::successful, "Successful"},
    {gate_phase::failed, "Failed"},
    {gate_phase::inconclusive, "Inconclusive"},
    {gate_phase::error, "Error"},
}};

}  // namespace

bool stopped(rollout_phase p) {
    return p == rollout_phase::failed || p == rollout_phase::aborted || p == rollout_phase::rolled_back;
}

std::string_view to_string(failure_policy v) {
    return name_of(failure_policies, v);
}
std::optional<failure_policy> parse_failure_policy(std::string_view s) {
    return lookup(failure_policies, s);
}
std::string_view to_string(gate_timing v) {
    return name_of(gate_timings, v);
}
std::optional<gate_timing> parse_gate_timing(std::string_view s) {
    return lookup(gate_timings, s);
}
std::string_view to_string(gate_scope v) {
    return name_of(gate_scopes, v);
}
std::optional<gate_scope> parse_gate_scope(std::string_view s) {
    return lookup(gate_scopes, s);
}
std::string_view to_string(measurement_phase v) {
    return name_of(measurement_phases, v);
}
std::optional<measurement_phase> parse_measurement_phase(std::string_view s) {
    return lookup(measurement_phases, s);
}
std::string_view to_string(gate_phase v) {
    return name_of(gate_phases, v);
}
std::optional<gate_phase> parse_gate_phase(std::string_view s) {
    return lookup(gate_phases, s);
}

std::string_view to_string(rollout_phase p) {
    return name_of(rollout_phases, p);
}
std::string_view to_string(stage_phase p) {
    return name_of(stage_phases, p);
}
std::string_view to_string(cluster_phase p) {
    return name_of(cluster_phases, p);
}
std::ostream& operator<<(std::ostream& os, rollout_phase p) {
    return os << to_string(p);
}
std::ostream& operator<<(std::ostream& os, stage_phase p) {
    return os << to_string(p);
}
std::ostream& operator<<(std::ostream& os, cluster_phase p) {
    return os << to_string(p);
}
std::optional<rollout_phase> parse_rollout_phase(std::string_view t) {
    return lookup(rollout_phases, t);
}
std::optional<stage_phase> parse_stage_phase(std::string_view t) {
    return lookup(stage_phases, t);
}
std::optional<cluster_phase> parse_cluster_phase(std::string_view t) {
    return lookup(cluster_phases, t);
}

long long rollout_status::clusters_done() const {
    long long n = 0;
    for (const auto& s : stages)
        for (const auto& c : s.clusters) n += c.phase == cluster_phase::done;
    return n;
}

long long rollout_status::clusters_total() const {
    long long n = 0;
    for (const auto& s : stages) n += static_cast<long long>(s.clusters.size());
    return n;
}

bool references_application_set(const source_ref& ref) {
    bool group_ok =
        ref.api_group.empty() || ref.api_group == "argoproj.io" || ref.api_group.starts_with("argoproj.io/");
    return group_ok && ref.kind == "ApplicationSet";
}

std::string application_set_not_found(const std::string& namespace_, const std::string& name) {
    return "ApplicationSet " + quote(name) + " not found in namespace " + quote(namespace_) +
           "; the rollout waits until it exists";
}

}  // namespace apr::core
