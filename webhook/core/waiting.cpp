#include "core/waiting.hpp"

#include <algorithm>
#include <vector>

namespace apr::core {

namespace {

std::string in(time_point now, time_point t) {
    if (t <= now) return "now";
    return "in " + format_duration(t - now);
}

std::string names(const std::vector<std::string>& list, std::size_t limit = 3) {
    std::string out;
    for (std::size_t i = 0; i < list.size() && i < limit; ++i) out += (i ? ", " : "") + list[i];
    if (list.size() > limit) out += " and " + std::to_string(list.size() - limit) + " more";
    return out;
}

const stage_spec* spec_of(const rollout& r, const std::string& stage) {
    for (const auto& s : r.spec.stages)
        if (s.name == stage) return &s;
    return nullptr;
}

waiting_reason in_stage(const rollout& r, const stage_status& stage, time_point now) {
    const std::string quoted = "stage \"" + stage.name + "\"";
    // A bake that has ended while an After gate (an approval, measurements) holds the stage: the
    // stage machine's message says what it waits for now.
    const bool bake_over = stage.bake_until && *stage.bake_until <= now && !r.status.message.empty();
    if (stage.phase == stage_phase::baking && !bake_over) {
        std::string text = quoted + " is baking: every cluster must stay healthy";
        if (stage.bake_until) text += " until the bake time ends " + in(now, *stage.bake_until);
        return {text, stage.bake_until};
    }
    std::vector<std::string> updating, requeued, pending, held;
    std::optional<time_point> next_try;
    const requeue_policy* requeue = nullptr;
    if (const auto* spec = spec_of(r, stage.name); spec && spec->requeue) requeue = &*spec->requeue;
    for (const auto& c : stage.clusters) {
        switch (c.phase) {
            case cluster_phase::updating:
                updating.push_back(c.name);
                break;
            case cluster_phase::requeued:
                requeued.push_back(c.name);
                if (c.next_attempt_at && (!next_try || *c.next_attempt_at < *next_try)) next_try = c.next_attempt_at;
                break;
            case cluster_phase::pending:
                pending.push_back(c.name);
                break;
            case cluster_phase::held:
                held.push_back(c.name);
                break;
            default:
                break;
        }
    }
    std::string text;
    if (!updating.empty()) {
        text = "waiting for " + std::to_string(updating.size()) + (updating.size() == 1 ? " cluster" : " clusters") +
               " of " + quoted + " to be Synced and Healthy on the new change: " + names(updating);
    }
    if (!requeued.empty()) {
        std::string part = names(requeued) + (requeued.size() == 1 ? " is" : " are") +
                           " requeued (still matching the requeue selector)";
        if (requeue && requeue->attempts && requeued.size() == 1) {
            for (const auto& c : stage.clusters)
                if (c.name == requeued.front())
                    part += ", attempt " + std::to_string(c.attempts) + " of " + std::to_string(*requeue->attempts);
        }
        if (next_try) part += ", next try " + in(now, *next_try);
        text += (text.empty() ? "" : "; ") + part;
    }
    // What the stage machine says holds the stage back (a gate measuring or awaiting approval, a
    // window): status.message, written on every step. The next measurement ends that wait by itself.
    std::optional<time_point> gate_due;
    for (const auto& g : stage.gates)
        if (g.phase == gate_phase::running && g.next_at && (!gate_due || *g.next_at < *gate_due)) gate_due = g.next_at;
    if (text.empty() && !r.status.message.empty()) {
        text = r.status.message;
        if (!held.empty()) text += "; held: " + names(held);
        return {text, gate_due};
    }
    if (!held.empty()) {
        text += (text.empty() ? "" : "; ") + names(held) + (held.size() == 1 ? " is" : " are") +
                " held by an operator (release lets " + (held.size() == 1 ? "it" : "them") + " take a turn)";
        if (updating.empty() && requeued.empty() && pending.empty()) return {text, std::nullopt};
    }
    if (text.empty() && !pending.empty()) {
        // Nothing in flight and nothing requeued, yet clusters wait: the controller admits on its
        // next pass over the rollout; this is seen only for an instant.
        text = std::to_string(pending.size()) + (pending.size() == 1 ? " cluster" : " clusters") + " of " + quoted +
               " about to be admitted";
    }
    // A requeue that ends the wait by itself only when nothing else is in flight.
    return {text, updating.empty() ? next_try : std::nullopt};
}

}  // namespace

waiting_reason why_waiting(const rollout& r, time_point now) {
    const auto& st = r.status;
    if (r.deleting) return {"being deleted: its held Applications are being released", std::nullopt};
    if (st.phase == rollout_phase::failed) {
        return {"failed" + (st.message.empty() ? std::string() : ": " + st.message) +
                    "; nothing more is admitted until the template changes again",
                std::nullopt};
    }
    if (st.phase == rollout_phase::aborted || st.phase == rollout_phase::rolled_back) {
        return {std::string(st.phase == rollout_phase::aborted ? "aborted" : "rolled back") +
                    (st.message.empty() ? std::string() : ": " + st.message) +
                    "; nothing more is admitted until retry or a new change",
                std::nullopt};
    }
    if (r.spec.paused) return {"paused (spec.paused): no new cluster is admitted until it is resumed", std::nullopt};
    if (st.phase == rollout_phase::paused) {
        // A gate paused it (Inconclusive, onFailure: Pause): status.message says which, and how on.
        if (st.message.empty()) return {"paused: no new cluster is admitted until it is promoted", std::nullopt};
        return {st.message.starts_with("paused") ? st.message : "paused: " + st.message, std::nullopt};
    }
    if (r.generation != 0 && st.observed_generation != r.generation) {
        return {"the controller has not acted on generation " + std::to_string(r.generation) + " yet", std::nullopt};
    }
    if (st.phase == rollout_phase::completed) return {};
    if (st.current_stage.empty()) {
        // Every stage is done but clusters that joined late or are held (the controller says which).
        if (st.phase == rollout_phase::progressing && !st.message.empty()) return {st.message, std::nullopt};
        return {"no change is held: waiting for the ApplicationSet's template to change", std::nullopt};
    }
    if (st.window_opens_at) {  // the stage machine's message names the window
        return {st.message.empty() ? "outside the rollout's windows: the next cluster is admitted when one opens " +
                                         in(now, *st.window_opens_at)
                                   : st.message,
                st.window_opens_at};
    }
    for (const auto& stage : st.stages)
        if (stage.name == st.current_stage) return in_stage(r, stage, now);
    return {};
}

}  // namespace apr::core
