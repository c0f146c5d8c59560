#pragma once
// The machine behind step() (stage_machine.hpp), shared by the files that implement it:
// stage_machine.cpp (a step, admission, monitoring), stage_records.cpp (status records and
// passes) and stage_conditions.cpp (conditions). Not part of the core's interface.

#include "core/gates.hpp"
#include "core/observed_fleet.hpp"
#include "core/stage_machine.hpp"

#include <string>
#include <unordered_set>
#include <vector>

namespace apr::core::detail {

class machine {
public:
    machine(const rollout& r, const observations& observed, time_point now, const step_options& options);
    step_result run();

private:
    rollout_status& status() { return result_.status; }
    void emit(bool warning, std::string reason, std::string message);
    void look_again_at(time_point when);
    stage_context stage_at(std::size_t k);
    std::string source_not_found_message() const;

    // stage_records.cpp
    bool reported_source_missing() const;
    void rebuild_stages();
    std::optional<std::string> new_pass_reason();
    void start_pass(const std::string& reason);
    void clear_failures();
    void report_refused_holds();

    // stage_revisions.cpp (docs/controller.md, "Moving revisions")
    std::string change_of(const application_observation& app) const;
    // Whether every Application recorded with a "rev:R" key in `c` runs R as Argo CD resolved it.
    bool at_recorded_revisions(const cluster_status& c, const cluster_view& view) const;
    // A cluster updated for a template change with no template change left: a new commit it shows
    // is the admitted spec's own, synced by the admission, not a newer change.
    bool updating_for_template(const cluster_status& c, const cluster_view& view) const;
    // A sync of the new commit `c` was admitted for, started since, that ended Failed or Error
    // (the commit is then still to deploy: without this it would look like a sync not yet written).
    std::optional<std::string> failed_revision_sync(const cluster_status& c, const cluster_view& view) const;
    std::optional<std::string> newer_revision_reason();
    void heal_drift();

    // stage_measurements.cpp
    void record_measurements();
    void apply_promotion();
    void finish_during_gates(std::size_t k);

    // stage_machine.cpp
    void monitor_clusters();
    void monitor_updating(stage_status& s, const stage_spec& spec, cluster_status& c, cluster_view& view);
    void restore(const cluster_status& c, const cluster_view& view);
    void fail_cluster(stage_status& s, cluster_status& c, std::string why);
    void check_running_stages();
    bool check_running(std::size_t k);
    void act_on_cluster(const gate_verdict& verdict);
    std::size_t index_of(const stage_status& s) const;
    bool admission_open() const;
    admit_action admit_for(const std::string& cluster_name, const cluster_view& view) const;
    void admit_into(std::size_t k);
    void advance();
    // "1 cluster is updating: a; 2 held clusters wait: b, c" for clusters not finished in
    // completed stages; empty when there are none.
    std::string unfinished_clusters() const;
    bool act_on(std::size_t k, const gate_verdict& verdict);
    void fail_stage(std::size_t k, const gate_verdict& verdict);
    void roll_back(std::size_t k, const gate_verdict& verdict);
    void complete_stage(stage_status& s);

    // stage_conditions.cpp
    void set_condition(std::string type, bool is_true, std::string reason, std::string message);
    void update_conditions();

    const rollout& rollout_;
    const observations& observed_;
    time_point now_;
    const step_options& options_;
    const bool source_missing_;
    // Until when a cluster with nothing pending is not yet skipped (step_options::settle_time).
    std::optional<time_point> settles_at_;
    time_point rewrites_settle_at() const;  // stage_machine.cpp
    step_result result_;
    observed_fleet fleet_;
    gate_set gates_;
    std::unordered_set<std::string> requested_;
    std::optional<time_point> look_again_;  // what the gates asked for
    std::optional<gate_verdict> waiting_;   // the first gate the rollout waits for in this step
    step_context context_;
    // The rollout-wide admission answer of this step (spec.paused, windows), or a pause a stage's
    // gate asked for: no new cluster is admitted unless it is open.
    gate_verdict admission_;
    std::vector<long long> max_unavailable_;
    const bool track_revisions_;
};

}  // namespace apr::core::detail
