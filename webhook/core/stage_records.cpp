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
// so a spec edit or a relabelled cluster keeps what was already done.
void machine::rebuild_stages() {
    auto& st = status();
    // The planner reads the observed clusters through pointers: no per-step copies.
    std::vector<const cluster*> fleet;
    fleet.reserve(fleet_.views().size());
    for (const auto& [name, view] : fleet_.views()) fleet.push_back(view.identity);
    // Name order, as the planner wants it (a hash map has none).
    std::sort(fleet.begin(), fleet.end(), [](const cluster* a, const cluster* b) { return a->name < b->name; });
    auto assignments = assign_stages(rollout_.spec, std::move(fleet));
    // The previous records, and the planned stage, hang off each cluster's view: no name
    // sets to build (this runs for every cluster on every step).
    for (std::size_t i = 0; i < assignments.stages.size(); ++i)
        for (const auto& name : assignments.stages[i].clusters) fleet_.find(name)->stage = i;
    std::unordered_map<std::string_view, const stage_status*> old_by_name;
    for (const auto& s : rollout_.status.stages) {
        old_by_name.emplace(s.name, &s);
        for (const auto& c : s.clusters)
            if (auto* view = fleet_.find(c.name); view && !view->record) view->record = &c;
    }
    for (std::size_t i = 0; i < rollout_.spec.stages.size(); ++i) {
        const auto& members = assignments.stages[i].clusters;
        stage_status s;
        s.name = rollout_.spec.stages[i].name;
        auto place = [&](cluster_view& view, std::string_view name) {
            if (view.placed) return;
            view.placed = true;
            if (view.record)
                s.clusters.push_back(*view.record);
            else
                s.clusters.push_back(cluster_status{.name = std::string(name)});
        };
        s.clusters.reserve(members.size());
        if (auto it = old_by_name.find(s.name); it != old_by_name.end()) {
            const auto& old = *it->second;
            s.phase = old.phase;
            s.started_at = old.started_at;
            s.finished_at = old.finished_at;
            s.bake_until = old.bake_until;
            s.message = old.message;
            s.gates = old.gates;
            // keep the recorded order (requeued clusters were moved to the end)
            for (const auto& c : old.clusters)
                if (auto* view = fleet_.find(c.name); view && view->stage == i) place(*view, c.name);
        }
        for (const auto& name : members) place(*fleet_.find(name), name);
        max_unavailable_.push_back(assignments.stages[i].max_unavailable);
        st.stages.push_back(std::move(s));
    }
    st.unstaged_clusters = std::move(assignments.unstaged);
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
        for (auto& c : s.clusters) c = cluster_status{.name = c.name};
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
    for (auto& s : status().stages)
        for (auto& c : s.clusters) {
            const auto* view = fleet_.find(c.name);
            std::string refused;
            if (view)
                for (const auto* a : view->apps)
                    if (!a->hold_refused.empty()) refused = std::string(hold_refused_prefix) + a->hold_refused;
            const bool reported = c.message.starts_with(hold_refused_prefix);
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
