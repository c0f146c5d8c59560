#include "core/stage_machine.hpp"

#include "core/operator_request.hpp"
#include "core/revisions.hpp"
#include "core/stage_machine_impl.hpp"
#include "core/window_gates.hpp"

#include <algorithm>
#include <unordered_set>

namespace apr::core {

namespace detail {

machine::machine(const rollout& r, const observations& observed, time_point now, const step_options& options)
    : rollout_(r),
      observed_(observed),
      now_(now),
      options_(options),
      source_missing_(observed.source == source_presence::missing),
      fleet_(observed, r.spec.track_revisions),
      gates_(r),
      context_{r,          observed,   fleet_, now, result_.status.pass, result_.events, result_.measurements,
               requested_, look_again_},
      track_revisions_(r.spec.track_revisions) {
    for (const auto& app : observed.applications)
        if ((!app.pending_hash.empty() || (track_revisions_ && !change_of(app).empty())) && app.pending_since &&
            (!settles_at_ || *app.pending_since > *settles_at_))
            settles_at_ = *app.pending_since;
    if (settles_at_) *settles_at_ += std::chrono::ceil<std::chrono::seconds>(options.settle_time);
}

step_result machine::run() {
    auto& st = result_.status;
    // Everything but the stages, which rebuild_stages() copies cluster by cluster once.
    const auto& in = rollout_.status;
    st.observed_generation = in.observed_generation;
    st.phase = in.phase;
    st.current_stage = in.current_stage;
    st.pass = in.pass;
    st.message = in.message;
    st.conditions = in.conditions;
    st.requests = in.requests;
    std::optional<time_point> next_expiry;
    st.holds = live_holds(in.holds, now_, result_.events, next_expiry);
    if (next_expiry) look_again_at(*next_expiry);
    const bool spec_changed = st.observed_generation != rollout_.generation;
    st.observed_generation = rollout_.generation;

    // Once per disappearance: the previous status remembers that it was already reported.
    if (source_missing_ && !reported_source_missing()) emit(true, "SourceNotFound", source_not_found_message());

    rebuild_stages();
    if (auto reason = new_pass_reason()) {
        start_pass(*reason);
    } else if (spec_changed && st.phase == rollout_phase::failed) {
        clear_failures();
    }

    if (st.pass == 0) {
        st.phase = rollout_phase::pending;
        st.current_stage.clear();
        st.message = source_missing_ ? source_not_found_message()
                                     : "waiting for a change of ApplicationSet " + rollout_.spec.source.name;
    } else {
        admission_ = gates_.admission(context_);
        if (admission_.answer == gate_answer::wait) {
            if (admission_.until) look_again_at(*admission_.until);
            if (admission_.gate == rollout_windows_gate) st.window_opens_at = admission_.until;
        }
        record_measurements();
        apply_promotion();
        monitor_clusters();
        check_running_stages();
        advance();
    }
    if (track_revisions_) heal_drift();
    report_refused_holds();
    update_conditions();
    if (look_again_) look_again_at(*look_again_);
    return std::move(result_);
}

void machine::emit(bool warning, std::string reason, std::string message) {
    context_.emit(warning, std::move(reason), std::move(message));
}

void machine::look_again_at(time_point when) {
    auto after = std::max(duration(std::chrono::seconds(1)), std::chrono::duration_cast<duration>(when - now_));
    if (!result_.requeue_after || after < *result_.requeue_after) result_.requeue_after = after;
}

stage_context machine::stage_at(std::size_t k) {
    return stage_context{context_, k, rollout_.spec.stages[k], status().stages[k]};
}

std::string machine::source_not_found_message() const {
    return application_set_not_found(rollout_.namespace_, rollout_.spec.source.name);
}

void machine::monitor_clusters() {
    const auto& specs = rollout_.spec.stages;
    for (std::size_t k = 0; k < status().stages.size(); ++k) {
        auto& s = status().stages[k];
        for (auto& c : s.clusters) {
            const bool baking = c.phase == cluster_phase::done && s.phase == stage_phase::baking && !c.hash.empty();
            if (c.phase != cluster_phase::updating && c.phase != cluster_phase::rolled_back && !baking) continue;
            auto* view = fleet_.find(c.name);
            if (!view) continue;
            if (c.phase == cluster_phase::updating)
                monitor_updating(s, specs[k], c, *view);
            else if (c.phase == cluster_phase::rolled_back)
                restore(c, *view);
            else if (auto why = view->degraded())
                fail_cluster(s, c, *why + " during bake time");
        }
    }
}

// A rolled-back cluster gets back, on each of its Applications that still records it, the state
// the change admitted in this pass replaced (docs/controller.md, "Rollback").
void machine::restore(const cluster_status& c, const cluster_view& view) {
    admit_action a{c.name, {}, c.hash};
    for (const auto* app : view.apps) {
        auto it = c.application_hashes.find(app->name);
        const auto& hash = it == c.application_hashes.end() ? c.hash : it->second;
        if (!app->previous_for.empty() && app->previous_for == hash) a.applications.push_back(app->name);
    }
    if (!a.applications.empty()) result_.restorations.push_back(std::move(a));
}

void machine::monitor_updating(stage_status& s, const stage_spec& spec, cluster_status& c, cluster_view& view) {
    const auto admitted_at = c.admitted_at.value_or(now_);
    const bool pending = updating_for_template(c, view) ? false : view.has_pending();
    if (view.pending_hash == c.hash) {
        if (auto why = failed_revision_sync(c, view)) return fail_cluster(s, c, *why);
        // Admitted but the patch has not landed (yet): admit again after a grace period.
        if (now_ - admitted_at >= options_.readmit_after)
            result_.admissions.push_back(admit_for(c.name, view));
        else
            look_again_at(admitted_at + std::chrono::duration_cast<std::chrono::seconds>(options_.readmit_after));
    } else if (!pending) {
        if (view.up_to_date() && at_recorded_revisions(c, view)) {
            // Synced and Healthy: Done once its After gates (scope Cluster) let it.
            const auto verdict = gates_.cluster_completion(stage_at(index_of(s)), c);
            if (verdict.answer == gate_answer::fail) {
                fail_cluster(s, c, verdict.reason);
            } else if (!verdict.is_open()) {
                c.message = verdict.reason;
                act_on_cluster(verdict);
            } else {
                c.phase = cluster_phase::done;
                c.finished_at = now_;
                c.message.clear();
                emit(false, "ClusterDone", "stage " + s.name + ": cluster " + c.name + " is Synced and Healthy");
            }
            return;
        }
        if (auto why = view.failure_since(admitted_at)) {
            fail_cluster(s, c, *why);
            return;
        }
    }
    const auto deadline = spec.progress_deadline.get();
    if (now_ - admitted_at >= deadline) {
        fail_cluster(s, c, "not Synced and Healthy within progressDeadline " + format_duration(deadline));
    } else {
        look_again_at(admitted_at + std::chrono::duration_cast<std::chrono::seconds>(deadline));
    }
}

void machine::fail_cluster(stage_status& s, cluster_status& c, std::string why) {
    c.phase = cluster_phase::failed;
    c.finished_at = now_;
    c.message = why;
    emit(true, "ClusterFailed", "stage " + s.name + ": cluster " + c.name + " failed: " + why);
}

// Every started stage that has not failed, completed ones included: a cluster may still join them.
void machine::check_running_stages() {
    for (std::size_t k = 0; k < status().stages.size(); ++k) {
        const auto phase = status().stages[k].phase;
        if (phase != stage_phase::pending && phase != stage_phase::failed) check_running(k);
    }
}

// True when a gate holds the stage back (the failure budget failed it, a During gate objects).
// The clusters' own During gates go first: a cluster they fail counts against the budget.
bool machine::check_running(std::size_t k) {
    auto& s = status().stages[k];
    for (auto& c : s.clusters) {
        const bool updated = !c.hash.empty() && (c.phase == cluster_phase::updating || c.phase == cluster_phase::done);
        if (!updated) continue;
        const auto verdict = gates_.cluster_running(stage_at(k), c);
        if (verdict.answer == gate_answer::fail)
            fail_cluster(s, c, verdict.reason);
        else
            act_on_cluster(verdict);
    }
    return act_on(k, gates_.stage_running(stage_at(k)));
}

// A cluster's gate that waits or pauses: a pause stops admission everywhere, as a stage's does.
void machine::act_on_cluster(const gate_verdict& verdict) {
    if (verdict.answer == gate_answer::wait && verdict.until) look_again_at(*verdict.until);
    if (verdict.answer == gate_answer::pause && admission_.is_open()) admission_ = verdict;
}

std::size_t machine::index_of(const stage_status& s) const {
    return static_cast<std::size_t>(&s - result_.status.stages.data());
}

bool machine::admission_open() const {
    return !stopped(result_.status.phase) && admission_.is_open();
}

admit_action machine::admit_for(const std::string& cluster_name, const cluster_view& view) const {
    admit_action a{cluster_name, {}, view.pending_hash, {}};
    for (const auto* app : view.apps) {
        auto key = change_of(*app);
        if (key.empty()) continue;
        a.applications.push_back(app->name);
        if (key.starts_with(revision_key_prefix)) a.sync_revisions[app->name] = key.substr(revision_key_prefix.size());
    }
    return a;
}

// When the ApplicationSet controller has surely rewritten every Application with the change that
// started this pass: settle_time after the pass's first stage started and after the last newly held
// change. Once the clusters holding the newer change are admitted, their holds no longer show when
// it was written; the pass's start still does.
time_point machine::rewrites_settle_at() const {
    auto until = settles_at_.value_or(time_point{});
    const auto& stages = result_.status.stages;
    if (!stages.empty() && stages.front().started_at)
        until =
            std::max(until, *stages.front().started_at + std::chrono::ceil<std::chrono::seconds>(options_.settle_time));
    return until;
}

// Gives clusters of stage k their turn, up to maxUnavailable updating at once.
void machine::admit_into(std::size_t k) {
    auto& s = status().stages[k];
    const auto& spec = rollout_.spec.stages[k];
    long long updating = std::count_if(s.clusters.begin(), s.clusters.end(),
                                       [](const cluster_status& c) { return c.phase == cluster_phase::updating; });
    long long slots = max_unavailable_[k] - updating;
    std::vector<std::string> to_back;
    for (auto& c : s.clusters) {
        auto* view = fleet_.find(c.name);
        if (!view) continue;
        if (keep_out_if_held(status().holds, c, view->has_pending())) continue;
        const bool skipped = c.phase == cluster_phase::done && c.hash.empty();
        const bool waiting = c.phase == cluster_phase::pending || c.phase == cluster_phase::requeued;
        if (!(waiting || (skipped && view->has_pending()))) continue;
        if (c.phase == cluster_phase::requeued && c.next_attempt_at && *c.next_attempt_at > now_) {
            look_again_at(*c.next_attempt_at);
            continue;
        }
        if (!view->has_pending()) {
            if (settles_at_ && now_ < *settles_at_) {
                // The ApplicationSet controller may not have written this cluster's Application yet.
                c.message = "waiting for the ApplicationSet's changes to settle";
                look_again_at(*settles_at_);
                continue;
            }
            c.phase = cluster_phase::done;
            c.finished_at = now_;
            c.message = "nothing to roll out";
            continue;
        }
        if (!c.rolled_back_from.empty() && view->pending_hash == c.rolled_back_from) {
            // Its Application may not have been rewritten with the newer change yet: admitting it
            // now would roll the rolled-back change out again.
            if (const auto until = rewrites_settle_at(); now_ < until) {
                c.message = "holds the change rolled back earlier: waiting for the ApplicationSet's changes to settle";
                look_again_at(until);
                continue;
            }
        }
        if (slots <= 0 || !admission_open()) continue;
        if (auto verdict = gates_.cluster_admission(stage_at(k), c); !verdict.is_open()) {
            if (verdict.answer == gate_answer::fail) {
                fail_cluster(s, c, verdict.reason);
                continue;
            }
            // It waits without taking a slot: the next cluster may have its turn.
            c.message = verdict.reason;
            if (verdict.until) look_again_at(*verdict.until);
            continue;
        }
        if (spec.requeue && spec.requeue->selector && spec.requeue->selector->matches(*view->labels)) {
            const auto limit = spec.requeue->attempts.value_or(0);
            if (c.attempts < limit) {
                ++c.attempts;
                const auto interval = spec.requeue->interval ? spec.requeue->interval->get() : duration::zero();
                c.phase = cluster_phase::requeued;
                c.next_attempt_at = now_ + std::chrono::ceil<std::chrono::seconds>(interval);
                c.message = "matches the requeue selector";
                look_again_at(*c.next_attempt_at);
                to_back.push_back(c.name);
                emit(false, "ClusterRequeued",
                     "stage " + s.name + ": cluster " + c.name + " requeued (attempt " + std::to_string(c.attempts) +
                         "/" + std::to_string(limit) + "), next try in " + format_duration(interval));
            } else {
                fail_cluster(s, c, "still matches the requeue selector after " + std::to_string(limit) + " attempts");
            }
            continue;
        }
        c.phase = cluster_phase::updating;
        c.hash = view->pending_hash;
        c.rolled_back_from.clear();
        c.application_hashes.clear();
        if (view->apps.size() > 1)
            for (const auto* a : view->apps)
                if (auto key = change_of(*a); !key.empty()) c.application_hashes[a->name] = std::move(key);
        c.admitted_at = now_;
        c.finished_at.reset();
        c.next_attempt_at.reset();
        c.message.clear();
        --slots;
        result_.admissions.push_back(admit_for(c.name, *view));
        look_again_at(now_ + std::chrono::duration_cast<std::chrono::seconds>(spec.progress_deadline.get()));
        emit(false, "ClusterAdmitted", "stage " + s.name + ": cluster " + c.name + " admitted");
    }
    // Requeued clusters go to the end of the stage, in the order they were requeued.
    std::stable_partition(s.clusters.begin(), s.clusters.end(), [&](const cluster_status& c) {
        return std::find(to_back.begin(), to_back.end(), c.name) == to_back.end();
    });
}

namespace {

// "a, b, c and 2 more"
std::string name_list(const std::vector<std::string>& names, std::size_t limit = 3) {
    std::string out;
    for (std::size_t i = 0; i < names.size() && i < limit; ++i) out += (i ? ", " : "") + names[i];
    if (names.size() > limit) out += " and " + std::to_string(names.size() - limit) + " more";
    return out;
}

bool settled(const stage_status& s) {
    return std::all_of(s.clusters.begin(), s.clusters.end(), [](const cluster_status& c) {
        // A held cluster blocks nothing: it counts neither done nor failed.
        return c.phase == cluster_phase::done || c.phase == cluster_phase::failed || c.phase == cluster_phase::held;
    });
}

}  // namespace

std::string machine::unfinished_clusters() const {
    std::vector<std::string> updating, held;
    for (const auto& s : result_.status.stages)
        for (const auto& c : s.clusters) {
            if (c.phase == cluster_phase::updating) updating.push_back(c.name);
            if (c.phase == cluster_phase::held) held.push_back(c.name);
        }
    std::string out;
    if (!updating.empty())
        out = std::to_string(updating.size()) + (updating.size() == 1 ? " cluster is" : " clusters are") +
              " updating: " + name_list(updating);
    if (!held.empty())
        out += (out.empty() ? "" : "; ") + std::to_string(held.size()) +
               (held.size() == 1 ? " held cluster waits: " : " held clusters wait: ") + name_list(held);
    return out;
}

// Walks the stages in order, through each one's gates, up to the first that is not completed.
void machine::advance() {
    auto& st = status();
    st.current_stage.clear();
    for (std::size_t k = 0; k < st.stages.size(); ++k) {
        auto& s = st.stages[k];
        if (s.phase == stage_phase::failed) {
            st.current_stage = s.name;
            break;
        }
        if (s.phase == stage_phase::pending) {
            if (stopped(st.phase) || act_on(k, gates_.stage_start(stage_at(k)))) {
                st.current_stage = s.name;
                break;
            }
            s.phase = stage_phase::progressing;
            s.started_at = now_;
            emit(false, "StageStarted",
                 "stage " + s.name + " started with " + std::to_string(s.clusters.size()) + " cluster(s)");
        }
        admit_into(k);
        if (check_running(k)) {
            st.current_stage = s.name;
            break;
        }
        if ((s.phase == stage_phase::progressing && settled(s)) || s.phase == stage_phase::baking)
            if (!act_on(k, gates_.stage_completion(stage_at(k)))) complete_stage(s);
        if (s.phase != stage_phase::completed) {
            st.current_stage = s.name;
            break;
        }
    }
    if (stopped(st.phase)) return;
    if (st.current_stage.empty()) {
        // Every stage is done but clusters that joined late (a hold ended, a new Application)
        // are updating, or held ones wait for their turn: the pass goes on. A Completed pass with
        // a change still pending would start a new pass.
        if (auto waiting = unfinished_clusters(); !waiting.empty()) {
            st.phase = rollout_phase::progressing;
            st.message = "every stage is done but " + waiting;
            return;
        }
        if (st.phase != rollout_phase::completed)
            emit(false, "RolloutCompleted", "pass " + std::to_string(st.pass) + " completed: every stage is done");
        st.phase = rollout_phase::completed;
        st.message.clear();
    } else {
        const bool paused = admission_.answer == gate_answer::pause;
        st.phase = paused ? rollout_phase::paused : rollout_phase::progressing;
        // Always why: a gate holding admission, or the gate the current stage waits for.
        st.message = !admission_.is_open() ? admission_.reason : waiting_ ? waiting_->reason : "";
    }
}

// Carries out a gate's answer about stage k; true when it holds the stage back.
bool machine::act_on(std::size_t k, const gate_verdict& verdict) {
    switch (verdict.answer) {
        case gate_answer::open:
            return false;
        case gate_answer::wait:
            if (verdict.until) look_again_at(*verdict.until);
            if (!waiting_) waiting_ = verdict;
            return true;
        case gate_answer::pause:
            // A person decides: nothing more is admitted anywhere until they do.
            if (admission_.is_open()) admission_ = verdict;
            return true;
        case gate_answer::fail:
            if (rollout_.spec.on_failure == failure_policy::pause) {
                // onFailure: Pause: a person decides instead (docs/api.md#stage-gates).
                auto paused = verdict;
                paused.answer = gate_answer::pause;
                paused.reason = "paused (onFailure Pause): stage " + status().stages[k].name + ": " + verdict.reason;
                if (admission_.is_open()) admission_ = std::move(paused);
                return true;
            }
            if (rollout_.spec.on_failure == failure_policy::rollback)
                roll_back(k, verdict);
            else
                fail_stage(k, verdict);
            return true;
    }
    return true;
}

// onFailure: Rollback (docs/controller.md#rollback): the stage fails, and instead of the rollout
// the pass is rolled back as abort --rollback does, its restores due in this very step.
void machine::roll_back(std::size_t k, const gate_verdict& verdict) {
    auto& st = status();
    auto& s = st.stages[k];
    s.phase = stage_phase::failed;
    s.finished_at = now_;
    s.message = verdict.reason;
    const auto why = "rolled back (onFailure Rollback): stage " + s.name + " failed: " + s.message;
    std::unordered_set<std::string> earlier;  // rolled back before: monitor_clusters restores them
    for (const auto& stage : st.stages)
        for (const auto& c : stage.clusters)
            if (c.phase == cluster_phase::rolled_back) earlier.insert(c.name);
    const auto n = roll_back_pass(st, why, now_);
    emit(true, "RolledBack",
         "pass " + std::to_string(st.pass) + " " + why + ": " + std::to_string(n) +
             " cluster(s) updated in it restored to their previous desired state");
    for (const auto& stage : st.stages)
        for (const auto& c : stage.clusters)
            if (c.phase == cluster_phase::rolled_back && !earlier.contains(c.name))
                if (const auto* view = fleet_.find(c.name)) restore(c, *view);
}

void machine::fail_stage(std::size_t k, const gate_verdict& verdict) {
    auto& st = status();
    auto& s = st.stages[k];
    s.phase = stage_phase::failed;
    s.finished_at = now_;
    s.message = verdict.reason;
    st.phase = rollout_phase::failed;
    st.message = "stage " + s.name + " failed: " + s.message;
    emit(true, "RolloutFailed", st.message + "; no further cluster is admitted");
}

void machine::complete_stage(stage_status& s) {
    finish_during_gates(index_of(s));
    // A completed stage's done clusters keep what the pass needs of them (name, phase, hash):
    // status stays small at 10,000 clusters (docs/api.md#status).
    for (auto& c : s.clusters) {
        if (c.phase != cluster_phase::done) continue;
        c.admitted_at.reset();
        c.finished_at.reset();
        std::erase_if(c.gates, [](const gate_status& g) { return g.phase == gate_phase::successful; });
    }
    s.phase = stage_phase::completed;
    s.finished_at = now_;
    s.bake_until.reset();
    emit(false, "StageCompleted", "stage " + s.name + " completed");
}

}  // namespace detail

step_result step(const rollout& r, const observations& observed, time_point now, const step_options& options) {
    return detail::machine(r, observed, now, options).run();
}

}  // namespace apr::core
