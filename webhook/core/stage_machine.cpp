#include "core/stage_machine.hpp"

#include "core/field_errors.hpp"
#include "core/operator_request.hpp"
#include "core/planner.hpp"

#include <algorithm>
#include <cstdio>
#include <deque>
#include <map>
#include <unordered_map>
#include <unordered_set>

namespace apr::core {

std::string combine_hashes(const std::vector<std::pair<std::string, std::string>>& app_hashes) {
    if (app_hashes.empty()) return {};
    if (app_hashes.size() == 1) return app_hashes.front().second;
    auto sorted = app_hashes;
    std::sort(sorted.begin(), sorted.end());
    // FNV-1a: stable across builds and platforms, which std::hash is not.
    std::uint64_t h = 1469598103934665603ull;
    auto mix = [&](std::string_view s) {
        for (unsigned char c : s) {
            h ^= c;
            h *= 1099511628211ull;
        }
        h ^= 0xff;
        h *= 1099511628211ull;
    };
    for (const auto& [app, hash] : sorted) {
        mix(app);
        mix(hash);
    }
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return buf;
}

namespace {

const label_map no_labels;

// One cluster as the rollout sees it: its labels and the managed Applications on it.
struct cluster_view {
    const cluster* identity = nullptr;  // the observed Secret's cluster, or a label-less stand-in
    // Bookkeeping of rebuild_stages(): the stage the planner gives it, its record in the previous
    // status, and whether the new status has it yet.
    std::size_t stage = static_cast<std::size_t>(-1);
    const cluster_status* record = nullptr;
    bool placed = false;
    const label_map* labels = &no_labels;
    std::vector<const application_observation*> apps;
    std::string pending_hash;

    bool has_pending() const { return !pending_hash.empty(); }

    // Done (docs/controller.md): nothing held, Synced, Healthy, compared against the current spec, idle.
    bool up_to_date() const {
        return std::all_of(apps.begin(), apps.end(), [](const application_observation* a) {
            return a->pending_hash.empty() && a->sync_status == "Synced" && a->health_status == "Healthy" &&
                   a->compared_to_current && !a->operation_in_progress;
        });
    }

    std::optional<std::string> failure_since(time_point admitted_at) const {
        for (const auto* a : apps) {
            // Health reported against an older spec says nothing about the change being rolled out.
            if (a->health_status == "Degraded" && a->compared_to_current && a->pending_hash.empty())
                return "Application " + a->name + " is Degraded";
            if ((a->operation_phase == "Failed" || a->operation_phase == "Error") && a->operation_started_at &&
                *a->operation_started_at >= admitted_at)
                return "Application " + a->name + ": sync operation " + a->operation_phase;
        }
        return std::nullopt;
    }

    std::optional<std::string> degraded() const {
        for (const auto* a : apps)
            if (a->health_status == "Degraded") return "Application " + a->name + " became Degraded";
        return std::nullopt;
    }
};

std::string seconds_text(duration d) {
    return format_duration(d);
}

class machine {
public:
    machine(const rollout& r, const observations& observed, time_point now, const step_options& options)
        : rollout_(r), now_(now), options_(options), source_missing_(observed.source == source_presence::missing) {
        std::unordered_map<std::string_view, const cluster*> known;
        known.reserve(observed.clusters.size());
        for (const auto& c : observed.clusters) known.emplace(c.name, &c);
        for (const auto& app : observed.applications) {
            auto& view = fleet_[std::string_view(app.cluster)];
            view.apps.push_back(&app);
            if (view.identity) continue;
            if (auto it = known.find(app.cluster); it != known.end()) {
                view.identity = it->second;
            } else {
                // An Application whose cluster has no Secret (in-cluster, or not registered yet).
                view.identity = &unregistered_.emplace_back(cluster{app.cluster, {}, {}});
            }
            view.labels = &view.identity->labels;
        }
        for (auto& [name, view] : fleet_) {
            std::vector<std::pair<std::string, std::string>> hashes;
            for (const auto* a : view.apps)
                if (!a->pending_hash.empty()) hashes.emplace_back(a->name, a->pending_hash);
            view.pending_hash = combine_hashes(hashes);
        }
    }

    step_result run() {
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
            monitor_clusters();
            enforce_failure_budgets();
            advance();
        }
        report_refused_holds();
        update_conditions();
        return std::move(result_);
    }

private:
    rollout_status& status() { return result_.status; }

    std::string source_not_found_message() const {
        return application_set_not_found(rollout_.namespace_, rollout_.spec.source.name);
    }

    bool reported_source_missing() const {
        const auto& conditions = rollout_.status.conditions;
        return std::any_of(conditions.begin(), conditions.end(), [](const condition& c) {
            return c.type == "Ready" && c.status == "False" && c.reason == "SourceNotFound";
        });
    }

    void emit(bool warning, std::string reason, std::string message) {
        result_.events.push_back({warning, std::move(reason), std::move(message)});
    }

    void look_again_at(time_point when) {
        auto after = std::max(duration(std::chrono::seconds(1)), std::chrono::duration_cast<duration>(when - now_));
        if (!result_.requeue_after || after < *result_.requeue_after) result_.requeue_after = after;
    }

    cluster_view* view_of(std::string_view name) {
        auto it = fleet_.find(name);
        return it == fleet_.end() ? nullptr : &it->second;
    }

    // Stages follow the current spec and fleet; per-cluster records follow the cluster by name,
    // so a spec edit or a relabelled cluster keeps what was already done.
    void rebuild_stages() {
        auto& st = status();
        // The planner reads the observed clusters through pointers: no per-step copies.
        std::vector<const cluster*> fleet;
        fleet.reserve(fleet_.size());
        for (const auto& [name, view] : fleet_) fleet.push_back(view.identity);
        // Name order, as the planner wants it (a hash map has none).
        std::sort(fleet.begin(), fleet.end(), [](const cluster* a, const cluster* b) { return a->name < b->name; });
        auto assignments = assign_stages(rollout_.spec, std::move(fleet));
        // The previous records, and the planned stage, hang off each cluster's view: no name
        // sets to build (this runs for every cluster on every step).
        for (std::size_t i = 0; i < assignments.stages.size(); ++i)
            for (const auto& name : assignments.stages[i].clusters) view_of(name)->stage = i;
        std::unordered_map<std::string_view, const stage_status*> old_by_name;
        for (const auto& s : rollout_.status.stages) {
            old_by_name.emplace(s.name, &s);
            for (const auto& c : s.clusters)
                if (auto* view = view_of(c.name); view && !view->record) view->record = &c;
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
                // keep the recorded order (requeued clusters were moved to the end)
                for (const auto& c : old.clusters)
                    if (auto* view = view_of(c.name); view && view->stage == i) place(*view, c.name);
            }
            for (const auto& name : members) place(*view_of(name), name);
            max_unavailable_.push_back(assignments.stages[i].max_unavailable);
            st.stages.push_back(std::move(s));
        }
        st.unstaged_clusters = std::move(assignments.unstaged);
    }

    std::optional<std::string> new_pass_reason() {
        auto& st = status();
        bool any_pending = false;
        for (const auto& s : st.stages)
            for (const auto& c : s.clusters) {
                auto* view = view_of(c.name);
                if (!view || !view->has_pending()) continue;
                any_pending = true;
                const bool admitted_this_pass =
                    !c.hash.empty() && c.phase != cluster_phase::pending && c.phase != cluster_phase::requeued;
                if (admitted_this_pass && view->pending_hash != c.hash)
                    return "cluster " + c.name + " received a newer change";
            }
        if (!any_pending) return std::nullopt;
        if (st.pass == 0) return std::string("a change is pending");
        if (st.phase == rollout_phase::completed) return std::string("a new change is pending");
        return std::nullopt;
    }

    void start_pass(const std::string& reason) {
        auto& st = status();
        ++st.pass;
        for (auto& s : st.stages) {
            s.phase = stage_phase::pending;
            s.started_at.reset();
            s.finished_at.reset();
            s.bake_until.reset();
            s.message.clear();
            for (auto& c : s.clusters) c = cluster_status{.name = c.name};
        }
        st.phase = rollout_phase::progressing;
        st.message.clear();
        emit(false, "PassStarted", "pass " + std::to_string(st.pass) + " started from stage 1: " + reason);
    }

    // A spec edit after a failure is the operator's answer to it: failed clusters get another turn.
    void clear_failures() {
        auto& st = status();
        for (auto& s : st.stages) {
            if (s.phase == stage_phase::failed) {
                s.phase = stage_phase::progressing;
                s.message.clear();
            }
            for (auto& c : s.clusters)
                if (c.phase == cluster_phase::failed) c = cluster_status{.name = c.name};
        }
        st.phase = rollout_phase::progressing;
        st.message.clear();
        emit(false, "SpecChanged", "spec changed after a failure: failed clusters will be retried");
    }

    // A change the webhook could not hold is not pending anywhere: the cluster's message says so
    // while the refusal lasts (and an Event when it starts), then the message goes away.
    void report_refused_holds() {
        for (auto& s : status().stages)
            for (auto& c : s.clusters) {
                const auto* view = view_of(c.name);
                std::string refused;
                if (view)
                    for (const auto* a : view->apps)
                        if (!a->hold_refused.empty()) refused = std::string(hold_refused_prefix) + a->hold_refused;
                const bool reported = c.message.starts_with(hold_refused_prefix);
                if (c.phase == cluster_phase::updating || c.phase == cluster_phase::failed) continue;
                if (!refused.empty() && c.message != refused) {
                    if (!reported)
                        emit(true, "HoldRefused", "stage " + s.name + ": cluster " + c.name + ": " + refused);
                    c.message = refused;
                } else if (refused.empty() && reported) {
                    c.message.clear();
                }
            }
    }

    void monitor_clusters() {
        const auto& specs = rollout_.spec.stages;
        for (std::size_t k = 0; k < status().stages.size(); ++k) {
            auto& s = status().stages[k];
            for (auto& c : s.clusters) {
                auto* view = view_of(c.name);
                if (!view) continue;
                if (c.phase == cluster_phase::updating)
                    monitor_updating(s, specs[k], c, *view);
                else if (c.phase == cluster_phase::rolled_back)
                    restore(c, *view);
                else if (c.phase == cluster_phase::done && s.phase == stage_phase::baking && !c.hash.empty())
                    if (auto why = view->degraded()) fail_cluster(s, c, *why + " during bake time");
            }
        }
    }

    void monitor_updating(stage_status& s, const stage_spec& spec, cluster_status& c, cluster_view& view) {
        const auto admitted_at = c.admitted_at.value_or(now_);
        if (view.pending_hash == c.hash) {
            // Admitted but the patch has not landed (yet): admit again after a grace period.
            if (now_ - admitted_at >= options_.readmit_after)
                result_.admissions.push_back(admit_for(c.name, view));
            else
                look_again_at(admitted_at + std::chrono::duration_cast<std::chrono::seconds>(options_.readmit_after));
        } else if (!view.has_pending()) {
            if (view.up_to_date()) {
                c.phase = cluster_phase::done;
                c.finished_at = now_;
                c.message.clear();
                emit(false, "ClusterDone", "stage " + s.name + ": cluster " + c.name + " is Synced and Healthy");
                return;
            }
            if (auto why = view.failure_since(admitted_at)) {
                fail_cluster(s, c, *why);
                return;
            }
        }
        const auto deadline = spec.progress_deadline.get();
        if (now_ - admitted_at >= deadline) {
            fail_cluster(s, c, "not Synced and Healthy within progressDeadline " + seconds_text(deadline));
        } else {
            look_again_at(admitted_at + std::chrono::duration_cast<std::chrono::seconds>(deadline));
        }
    }

    // A rolled-back cluster gets back, on each of its Applications that still records it, the
    // state the change admitted in this pass replaced (docs/controller.md, "Rollback").
    void restore(const cluster_status& c, const cluster_view& view) {
        admit_action a{c.name, {}, c.hash};
        for (const auto* app : view.apps) {
            auto it = c.application_hashes.find(app->name);
            const auto& hash = it == c.application_hashes.end() ? c.hash : it->second;
            if (!app->previous_for.empty() && app->previous_for == hash) a.applications.push_back(app->name);
        }
        if (!a.applications.empty()) result_.restorations.push_back(std::move(a));
    }

    void fail_cluster(stage_status& s, cluster_status& c, std::string why) {
        c.phase = cluster_phase::failed;
        c.finished_at = now_;
        c.message = why;
        emit(true, "ClusterFailed", "stage " + s.name + ": cluster " + c.name + " failed: " + why);
    }

    void enforce_failure_budgets() {
        for (std::size_t k = 0; k < status().stages.size(); ++k) {
            const auto phase = status().stages[k].phase;
            if (phase != stage_phase::pending && phase != stage_phase::failed) enforce_failure_budget(k);
        }
    }

    // More failed clusters than maxFailures fails the stage and the rollout; true when it did.
    bool enforce_failure_budget(std::size_t k) {
        auto& st = status();
        auto& s = st.stages[k];
        long long failed = std::count_if(s.clusters.begin(), s.clusters.end(),
                                         [](const cluster_status& c) { return c.phase == cluster_phase::failed; });
        const auto budget = rollout_.spec.stages[k].max_failures;
        if (failed <= budget) return false;
        s.phase = stage_phase::failed;
        s.finished_at = now_;
        s.message = std::to_string(failed) + " failed cluster(s), maxFailures is " + std::to_string(budget);
        st.phase = rollout_phase::failed;
        st.message = "stage " + s.name + " failed: " + s.message;
        emit(true, "RolloutFailed", st.message + "; no further cluster is admitted");
        return true;
    }

    admit_action admit_for(const std::string& cluster_name, const cluster_view& view) {
        admit_action a{cluster_name, {}, view.pending_hash};
        for (const auto* app : view.apps)
            if (!app->pending_hash.empty()) a.applications.push_back(app->name);
        return a;
    }

    // Gives clusters of stage k their turn, up to maxUnavailable updating at once.
    void admit_into(std::size_t k) {
        auto& s = status().stages[k];
        const auto& spec = rollout_.spec.stages[k];
        long long updating = std::count_if(s.clusters.begin(), s.clusters.end(),
                                           [](const cluster_status& c) { return c.phase == cluster_phase::updating; });
        long long slots = max_unavailable_[k] - updating;
        std::vector<std::string> to_back;
        for (auto& c : s.clusters) {
            auto* view = view_of(c.name);
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
                c.phase = cluster_phase::done;
                c.finished_at = now_;
                c.message = "nothing to roll out";
                continue;
            }
            if (slots <= 0 || stopped(status().phase) || rollout_.spec.paused) continue;
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
                         "stage " + s.name + ": cluster " + c.name + " requeued (attempt " +
                             std::to_string(c.attempts) + "/" + std::to_string(limit) + "), next try in " +
                             seconds_text(interval));
                } else {
                    fail_cluster(s, c,
                                 "still matches the requeue selector after " + std::to_string(limit) + " attempts");
                }
                continue;
            }
            c.phase = cluster_phase::updating;
            c.hash = view->pending_hash;
            c.application_hashes.clear();
            if (view->apps.size() > 1)
                for (const auto* a : view->apps)
                    if (!a->pending_hash.empty()) c.application_hashes[a->name] = a->pending_hash;
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

    static bool settled(const stage_status& s) {
        return std::all_of(s.clusters.begin(), s.clusters.end(), [](const cluster_status& c) {
            // A held cluster blocks nothing: it counts neither done nor failed.
            return c.phase == cluster_phase::done || c.phase == cluster_phase::failed || c.phase == cluster_phase::held;
        });
    }

    void advance() {
        auto& st = status();
        st.current_stage.clear();
        for (std::size_t k = 0; k < st.stages.size(); ++k) {
            auto& s = st.stages[k];
            const auto& spec = rollout_.spec.stages[k];
            if (s.phase == stage_phase::failed) {
                st.current_stage = s.name;
                break;
            }
            if (s.phase == stage_phase::pending) {
                if (stopped(st.phase)) {
                    st.current_stage = s.name;
                    break;
                }
                s.phase = stage_phase::progressing;
                s.started_at = now_;
                emit(false, "StageStarted",
                     "stage " + s.name + " started with " + std::to_string(s.clusters.size()) + " cluster(s)");
            }
            admit_into(k);
            if (enforce_failure_budget(k)) {
                st.current_stage = s.name;
                break;
            }
            if (s.phase == stage_phase::progressing && settled(s)) {
                const bool changed_something = std::any_of(s.clusters.begin(), s.clusters.end(),
                                                           [](const cluster_status& c) { return !c.hash.empty(); });
                const auto bake = spec.bake_time.get();
                if (bake > duration::zero() && changed_something) {
                    s.phase = stage_phase::baking;
                    s.bake_until = now_ + std::chrono::ceil<std::chrono::seconds>(bake);
                    emit(false, "StageBaking", "stage " + s.name + " done; baking for " + seconds_text(bake));
                } else {
                    complete_stage(s);
                }
            }
            if (s.phase == stage_phase::baking) {
                if (s.bake_until && *s.bake_until <= now_)
                    complete_stage(s);
                else if (s.bake_until)
                    look_again_at(*s.bake_until);
            }
            if (s.phase != stage_phase::completed) {
                st.current_stage = s.name;
                break;
            }
        }
        if (stopped(st.phase)) return;
        if (st.current_stage.empty()) {
            if (st.phase != rollout_phase::completed)
                emit(false, "RolloutCompleted", "pass " + std::to_string(st.pass) + " completed: every stage is done");
            st.phase = rollout_phase::completed;
            st.message.clear();
        } else {
            st.phase = rollout_spec_paused() ? rollout_phase::paused : rollout_phase::progressing;
            st.message = rollout_spec_paused() ? "paused: no new cluster is admitted" : "";
        }
    }

    bool rollout_spec_paused() const { return rollout_.spec.paused; }

    void complete_stage(stage_status& s) {
        s.phase = stage_phase::completed;
        s.finished_at = now_;
        s.bake_until.reset();
        emit(false, "StageCompleted", "stage " + s.name + " completed");
    }

    void set_condition(std::string type, bool is_true, std::string reason, std::string message) {
        auto& conditions = status().conditions;
        const std::string value = is_true ? "True" : "False";
        auto it =
            std::find_if(conditions.begin(), conditions.end(), [&](const condition& c) { return c.type == type; });
        if (it == conditions.end()) {
            conditions.push_back({std::move(type), value, std::move(reason), std::move(message), now_});
            return;
        }
        if (it->status != value) it->last_transition_time = now_;
        it->status = value;
        it->reason = std::move(reason);
        it->message = std::move(message);
    }

    void update_conditions() {
        const auto& st = status();
        const auto progress =
            std::to_string(st.clusters_done()) + "/" + std::to_string(st.clusters_total()) + " clusters done";
        std::size_t held_unstaged = 0;
        for (const auto& name : st.unstaged_clusters)
            if (auto* v = view_of(name); v && v->has_pending()) ++held_unstaged;

        switch (st.phase) {
            case rollout_phase::pending:
                set_condition("Progressing", false, "WaitingForChange", st.message);
                break;
            case rollout_phase::progressing:
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

    const rollout& rollout_;
    time_point now_;
    const step_options& options_;
    const bool source_missing_;
    step_result result_;
    // By cluster name (views into the observations, which outlive the machine): looked up for
    // every cluster in every phase of a step, so hashed rather than ordered.
    std::unordered_map<std::string_view, cluster_view> fleet_;
    std::deque<cluster> unregistered_;
    std::vector<long long> max_unavailable_;
};

}  // namespace

step_result step(const rollout& r, const observations& observed, time_point now, const step_options& options) {
    return machine(r, observed, now, options).run();
}

}  // namespace apr::core
