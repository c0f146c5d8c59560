// The rollout's conditions (Ready, Progressing, Stalled) as the stage machine leaves them after a
// step (docs/controller.md).
#include "core/stage_machine_impl.hpp"

#include <algorithm>

namespace apr::core::detail {

void machine::set_condition(std::string type, bool is_true, std::string reason, std::string message) {
    auto& conditions = status().conditions;
    const std::string value = is_true ? "True" : "False";
    auto it = std::find_if(conditions.begin(), conditions.end(), [&](const condition& c) { return c.type == type; });
    if (it == conditions.end()) {
        conditions.push_back({std::move(type), value, std::move(reason), std::move(message), now_});
        return;
    }
    if (it->status != value) it->last_transition_time = now_;
    it->status = value;
    it->reason = std::move(reason);
    it->message = std::move(message);
}

void machine::update_conditions() {
    const auto& st = status();
    const auto progress =
        std::to_string(st.clusters_done()) + "/" + std::to_string(st.clusters_total()) + " clusters done";
    std::size_t held_unstaged = 0;
    for (const auto& name : st.unstaged_clusters)
        if (auto* v = fleet_.find(name); v && v->has_pending()) ++held_unstaged;

    switch (st.phase) {
        case rollout_phase::pending:
            set_condition("Progressing", false, "WaitingForChange", st.message);
            break;
        case rollout_phase::progressing:
            if (st.current_stage.empty())  // every stage done, late or held clusters wait
                set_condition("Progressing", true, "LateClusters", st.message);
            else
                set_condition("Progressing", true, "StageProgressing", "stage " + st.current_stage + ": " + progress);
            break;
        case rollout_phase::paused:
            set_condition("Progressing", false, "Paused", st.message);
            break;
        case rollout_phase::completed:
            set_condition("Progressing", false, "Completed", progress);
            break;
        case rollout_phase::failed:
        case rollout_phase::aborted:
        case rollout_phase::rolled_back:
            set_condition("Progressing", false, std::string(to_string(st.phase)), st.message);
            break;
    }
    // Stopped: waits for a person (retry) or a new change.
    set_condition("Stalled", stopped(st.phase), stopped(st.phase) ? std::string(to_string(st.phase)) : "AsExpected",
                  stopped(st.phase) ? st.message : "");
    if (source_missing_) {
        // Before anything else: without the ApplicationSet no other reason matters.
        set_condition("Ready", false, "SourceNotFound", source_not_found_message());
    } else if (held_unstaged > 0) {
        std::string names;
        for (const auto& n : st.unstaged_clusters) {
            if (names.size() > 200) {
                names += ", ...";
                break;
            }
            names += (names.empty() ? "" : ", ") + n;
        }
        set_condition("Ready", false, "UnstagedClusters",
                      std::to_string(held_unstaged) +
                          " cluster(s) with a pending change are selected by no stage "
                          "and stay held: " +
                          names);
    } else {
        const bool ready = st.phase == rollout_phase::completed || st.phase == rollout_phase::pending;
        set_condition("Ready", ready, ready ? "UpToDate" : std::string(to_string(st.phase)),
                      ready ? "every staged cluster runs the current change" : progress);
    }
}

}  // namespace apr::core::detail
