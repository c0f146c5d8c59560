// The stage machine's status records: stages rebuilt from the spec and fleet each step, passes,
// and what is reported about the source and refused holds (docs/controller.md#passes).
#include "core/planner.hpp"
#include "core/stage_machine_impl.hpp"

#include <algorithm>
#include <unordered_map>

namespace apr::core::detail {

bool machine::reported_source_missing() const {
    const auto& conditions = rollout_.status.conditions;
    return std::any_of(conditions.begin(), conditions.end(), [](const condition& c) {
        return c.type == "Ready" && c.status == "False" && c.reason == "SourceNotFound";
    });
}

// Stages follow the current spec and fleet; per-cluster records follow the cluster by name,
// so a spec edit or a relabelled cluster keeps what was already done. This runs for every cluster
// on every step: each name is looked up once, everything else goes by position.
void machine::rebuild_stages() {
    auto& st = status();
    const auto views = fleet_.views();  // in name order, as the planner wants it
    // The planner reads the observed clusters through pointers: no per-step copies.
    std::vector<const cluster*> fleet;
    fleet.reserve(views.size());
    for (const auto& view : views) fleet.push_back(view.identity);
    auto assignments = assign_stage_positions(rollout_.spec, fleet);
    // The previous records, and the planned stage, hang off each cluster's view: no name
    // sets to build.
    for (std::size_t i = 0; i < assignments.stages.size(); ++i)
        for (auto position : assignments.stages[i]) views[position].stage = i;
    const auto& old_stages = rollout_.status.stages;
    std::unordered_map<std::string_view, std::size_t> old_by_name;
    std::vector<std::vector<cluster_view*>> old_views(old_stages.size());  // parallel to old clusters
    for (std::size_t k = 0; k < old_stages.size(); ++k) {
        old_by_name.emplace(old_stages[k].name, k);
        old_views[k].reserve(old_stages[k].clusters.size());
        for (const auto& c : old_stages[k].clusters) {
            auto* view = fleet_.find(c.name);
            if (view && !view->record) view->record = &c;
            old_views[k].push_back(view);
        }
    }
    st.stages.reserve(rollout_.spec.stages.size());
    for (std::size_t i = 0; i < rollout_.spec.stages.size(); ++i) {
        const auto& members = assignments.stages[i];
        stage_status s;
        s.name = rollout_.spec.stages[i].name;
        auto place = [&](cluster_view& view) {
            if (view.placed) return;
            view.placed = true;
            if (view.record)
                s.clusters.push_back(*view.record);
            else
                s.clusters.push_back(cluster_status{.name = std::string(view.name)});
        };
        s.clusters.reserve(members.size());
        if (auto it = old_by_name.find(s.name); it != old_by_name.end()) {
            const auto& old = old_stages[it->second];
            s.phase = old.phase;
            s.started_at = old.started_at;
            s.finished_at = old.finished_at;
            s.bake_until = old.bake_until;
            s.message = old.message;
            s.gates = old.gates;
            // keep the recorded order (requeued clusters were moved to the end)
            for (auto* view : old_views[it->second])
                if (view && view->stage == i) place(*view);
        }
        for (auto position : members) place(views[position]);
        max_unavailable_.push_back(assignments.max_unavailable[i]);
        st.stages.push_back(std::move(s));
    }
    st.unstaged_clusters.reserve(assignments.unstaged.size());
    for (auto position : assignments.unstaged) st.unstaged_clusters.emplace_back(views[position].name);
}

std::optional<std::string> machine::new_pass_reason() {
    auto& st = status();
    bool any_pending = false;
    for (const auto& s : st.stages)
        for (const auto& c : s.clusters) {
            auto* view = fleet_.find(c.name);
            if (!view || !view->has_pending()) continue;
            any_pending = true;
            const bool admitted_this_pass =
                !c.hash.empty() && c.phase != cluster_phase::pending && c.phase != cluster_phase::requeued;
            if (admitted_this_pass && view->pending_hash != c.hash && !updating_for_template(c, *view))
                return "cluster " + c.name + " received a newer change";
        }
    if (!any_pending) return std::nullopt;
    if (auto newer = newer_revision_reason()) return newer;
    if (st.pass == 0) return std::string("a change is pending");
    if (st.phase == rollout_phase::completed) return std::string("a new change is pending");
    return std::nullopt;
}

void machine::start_pass(const std::string& reason) {
    auto& st = status();
    ++st.pass;
    for (auto& s : st.stages) {
        s.phase = stage_phase::pending;
        s.started_at.reset();
        s.finished_at.reset();
        s.bake_until.reset();
        s.message.clear();
        s.gates.clear();
        for (auto& c : s.clusters) {
            // A rolled-back cluster remembers the change, until it is admitted in a later pass.
            auto rolled_back_from = c.phase == cluster_phase::rolled_back ? c.hash
                                    : c.phase == cluster_phase::pending   ? c.rolled_back_from
                                                                          : std::string();
            c = cluster_status{.name = c.name, .rolled_back_from = std::move(rolled_back_from)};
        }
    }
    st.phase = rollout_phase::progressing;
    st.message.clear();
    emit(false, "PassStarted", "pass " + std::to_string(st.pass) + " started from stage 1: " + reason);
}

// A spec edit after a failure is the operator's answer to it: failed clusters get another turn.
void machine::clear_failures() {
    auto& st = status();
    for (auto& s : st.stages) {
        if (s.phase == stage_phase::failed) {
            s.phase = stage_phase::progressing;
            s.message.clear();
        }
        // Failed gates measure again from scratch.
        std::erase_if(s.gates, [](const gate_status& g) {
            return g.phase == gate_phase::failed || g.phase == gate_phase::error;
        });
        for (auto& c : s.clusters)
            if (c.phase == cluster_phase::failed) c = cluster_status{.name = c.name};
    }
    st.phase = rollout_phase::progressing;
    st.message.clear();
    emit(false, "SpecChanged", "spec changed after a failure: failed clusters will be retried");
}

// A change the webhook could not hold is not pending anywhere: the cluster's message says so
// while the refusal lasts (and an Event when it starts), then the message goes away.
void machine::report_refused_holds() {
    const bool any_refused = fleet_.any_hold_refused();
    for (auto& s : status().stages)
        for (auto& c : s.clusters) {
            const bool reported = c.message.starts_with(hold_refused_prefix);
            if (!any_refused && !reported) continue;  // the common case, without a name lookup
            const auto* view = fleet_.find(c.name);
            std::string refused;
            if (view && view->hold_refused)
                refused = std::string(hold_refused_prefix) + view->hold_refused->hold_refused;
            if (c.phase == cluster_phase::updating || c.phase == cluster_phase::failed) continue;
            if (!refused.empty() && c.message != refused) {
                if (!reported) emit(true, "HoldRefused", "stage " + s.name + ": cluster " + c.name + ": " + refused);
                c.message = refused;
            } else if (refused.empty() && reported) {
                c.message.clear();
            }
        }
}

}  // namespace apr::core::detail
