#include "core/operator_request.hpp"

#include "core/promotion.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace apr::core {

namespace {

constexpr std::array<std::pair<request_verb, std::string_view>, 7> verbs{{
    {request_verb::pause, "pause"},
    {request_verb::resume, "resume"},
    {request_verb::promote, "promote"},
    {request_verb::abort, "abort"},
    {request_verb::retry, "retry"},
    {request_verb::hold, "hold"},
    {request_verb::release, "release"},
}};

std::string rollout_name(const rollout& r) {
    return "ProgressiveRollout " + (r.namespace_.empty() ? "" : r.namespace_ + "/") + r.name;
}

const stage_status* stage_named(const rollout_status& st, std::string_view name) {
    for (const auto& s : st.stages)
        if (s.name == name) return &s;
    return nullptr;
}

cluster_status* cluster_named(rollout_status& st, std::string_view name) {
    for (auto& s : st.stages)
        for (auto& c : s.clusters)
            if (c.name == name) return &c;
    return nullptr;
}

bool knows_cluster(const rollout_status& st, std::string_view name) {
    if (std::find(st.unstaged_clusters.begin(), st.unstaged_clusters.end(), name) != st.unstaged_clusters.end())
        return true;
    for (const auto& s : st.stages)
        for (const auto& c : s.clusters)
            if (c.name == name) return true;
    return false;
}

const cluster_hold* hold_of(const rollout_status& st, std::string_view cluster) {
    for (const auto& h : st.holds)
        if (h.cluster == cluster) return &h;
    return nullptr;
}

// A cluster that this pass changed: its Applications run (or ran) the pass's change.
bool updated_in_pass(const cluster_status& c) {
    return !c.hash.empty() &&
           (c.phase == cluster_phase::updating || c.phase == cluster_phase::done || c.phase == cluster_phase::failed);
}

std::string phase_text(rollout_phase p) {
    return std::string(to_string(p));
}

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
    return out;
}

const stage_spec* spec_named(const rollout& r, std::string_view name) {
    for (const auto& s : r.spec.stages)
        if (s.name == name) return &s;
    return nullptr;
}

// The gates of the stage that wait for a person and that this promoter may pass.
std::vector<waiting_gate> passable_gates(const rollout& r, const stage_status& s, const operator_request& q) {
    const auto* spec = spec_named(r, s.name);
    if (!spec) return {};
    auto waiting = gates_waiting_for_promote(*spec, s);
    std::erase_if(waiting, [&](const waiting_gate& g) { return !may_pass(g, q.groups); });
    return waiting;
}

std::optional<std::string> refuse_promote(const rollout& r, const operator_request& q) {
    const auto& st = r.status;
    const auto who = rollout_name(r);
    if (st.pass == 0 || st.phase == rollout_phase::pending)
        return who + " has no pass under way: nothing waits for promote";
    if (st.phase == rollout_phase::completed)
        return who + " completed pass " + std::to_string(st.pass) + ": nothing waits for promote";
    if (stopped(st.phase))
        return who + " is " + phase_text(st.phase) +
               ": promote passes a bake or a gate of a running pass; retry runs the pass again";
    std::string stage = q.stage.empty() ? st.current_stage : q.stage;
    const auto* spec = spec_named(r, stage);
    if (!q.stage.empty() && !spec) return who + " has no stage " + quote(q.stage);
    const auto* s = stage_named(st, stage);
    if (!s) return who + ": stage " + quote(stage) + " has not started";
    if (!q.stage.empty() && q.stage != st.current_stage)
        return who + ": stage " + quote(q.stage) + " is not the current stage (" + quote(st.current_stage) +
               "), so nothing of it waits for promote";
    if (!passable_gates(r, *s, q).empty()) return std::nullopt;
    if (spec)
        for (const auto& g : gates_waiting_for_promote(*spec, *s))
            if (g.approval)
                return who + ": gate " + quote(g.gate) + " of stage " + quote(stage) +
                       " waits for approval by a member of " + join(g.groups) + "; " +
                       (q.user.empty() ? std::string("the requester") : q.user) +
                       " (groups: " + (q.groups.empty() ? std::string("none") : join(q.groups)) +
                       ") is in none of them, so may not approve it";
    if (s->phase == stage_phase::baking) {
        if (q.skip_bake) return std::nullopt;
        return who + ": stage " + quote(stage) +
               " is baking and nothing else waits for promote; promote --skip-bake ends the bake now";
    }
    if (r.spec.paused) return who + " is paused (spec.paused), which promote does not end: resume it instead";
    if (st.phase == rollout_phase::paused) return who + " is paused by something promote cannot pass: " + st.message;
    std::size_t updating = 0;
    for (const auto& c : s->clusters) updating += c.phase == cluster_phase::updating;
    return who + " waits for nothing promote can pass: stage " + quote(stage) + " is " +
           std::string(to_string(s->phase)) +
           (updating ? " with " + std::to_string(updating) + " cluster(s) updating" : std::string());
}

std::optional<std::string> refuse_abort(const rollout& r, const operator_request& q) {
    const auto& st = r.status;
    const auto who = rollout_name(r);
    if (st.pass == 0 || st.phase == rollout_phase::pending) return who + " has no pass under way: nothing to abort";
    if (st.phase == rollout_phase::rolled_back)
        return who + " is already RolledBack: retry runs the pass again, a new template change starts a new one";
    if (st.phase == rollout_phase::aborted && !q.rollback)
        return who + " is already Aborted: abort --rollback restores what the pass changed, retry runs it again";
    if (st.phase == rollout_phase::completed && !q.rollback)
        return who + " completed pass " + std::to_string(st.pass) +
               ": nothing to abort (abort --rollback restores what the pass changed)";
    if (q.rollback) {
        bool any = false;
        for (const auto& s : st.stages)
            for (const auto& c : s.clusters) any = any || updated_in_pass(c);
        if (!any) return who + ": no cluster was updated in pass " + std::to_string(st.pass) + ": nothing to roll back";
    }
    return std::nullopt;
}

std::optional<std::string> refuse_retry(const rollout& r) {
    const auto& st = r.status;
    if (stopped(st.phase)) return std::nullopt;
    return rollout_name(r) + " is " + phase_text(st.phase) +
           ": retry runs again a pass that is Failed, Aborted or RolledBack";
}

std::optional<std::string> refuse_hold(const rollout& r, const operator_request& q, time_point now) {
    if (!knows_cluster(r.status, q.cluster))
        return rollout_name(r) + " has no cluster " + quote(q.cluster) +
               " (status lists the clusters hosting its ApplicationSet's Applications)";
    if (q.until && *q.until <= now) return "the hold's until is in the past: nothing to hold";
    return std::nullopt;
}

std::optional<std::string> refuse_release(const rollout& r, const operator_request& q) {
    if (!hold_of(r.status, q.cluster)) return rollout_name(r) + ": cluster " + quote(q.cluster) + " is not held";
    return std::nullopt;
}

std::string by(const operator_request& q) {
    return " by " + (q.user.empty() ? std::string("an unknown user") : q.user) +
           (q.reason.empty() ? std::string() : ": " + q.reason);
}

void retry_pass(rollout_status& st, time_point now) {
    for (auto& s : st.stages) {
        if (s.phase == stage_phase::failed) {
            s.phase = stage_phase::progressing;
            s.finished_at.reset();
            s.message.clear();
        }
        for (auto& c : s.clusters) {
            if (c.phase == cluster_phase::failed && !c.hash.empty()) {
                // Admitted and failed: watched again with a fresh deadline.
                c.phase = cluster_phase::updating;
                c.admitted_at = now;
                c.finished_at.reset();
                c.message.clear();
            } else if (c.phase == cluster_phase::failed || c.phase == cluster_phase::rolled_back) {
                // Never admitted (requeue attempts used up), or restored: its turn comes again.
                c = cluster_status{.name = c.name};
            }
        }
    }
    st.phase = rollout_phase::progressing;
    st.message.clear();
}

}  // namespace

std::string_view to_string(request_verb v) {
    for (const auto& [verb, name] : verbs)
        if (verb == v) return name;
    return "unknown";
}

std::optional<request_verb> parse_request_verb(std::string_view text) {
    for (const auto& [verb, name] : verbs)
        if (name == text) return verb;
    return std::nullopt;
}

std::string supported_request_verbs() {
    std::string out;
    for (const auto& [verb, name] : verbs) out += (out.empty() ? "" : ", ") + quote(name);
    return out;
}

field_errors check_request_fields(const operator_request& q, std::string_view path, bool require_stamp) {
    field_errors errors;
    if (q.id.empty()) errors.push_back({error_kind::required, child(path, "id"), "", ""});
    const bool needs_cluster = q.verb == request_verb::hold || q.verb == request_verb::release;
    if (needs_cluster && q.cluster.empty())
        errors.push_back({error_kind::required, child(path, "cluster"), "", "hold and release name a cluster"});
    if (!needs_cluster && !q.cluster.empty())
        errors.push_back({error_kind::forbidden, child(path, "cluster"), "", "only hold and release name a cluster"});
    if (q.verb == request_verb::hold && q.reason.empty())
        errors.push_back({error_kind::required, child(path, "reason"), "", "a hold says why"});
    if (q.verb != request_verb::hold && q.until)
        errors.push_back({error_kind::forbidden, child(path, "until"), "", "only a hold has an expiry"});
    if (q.verb != request_verb::promote && (q.skip_bake || !q.stage.empty()))
        errors.push_back({error_kind::forbidden, child(path, q.skip_bake ? "skipBake" : "stage"), "",
                          "only promote takes a stage or skipBake"});
    if (q.verb != request_verb::abort && q.rollback)
        errors.push_back({error_kind::forbidden, child(path, "rollback"), "", "only abort rolls back"});
    if (require_stamp && (q.user.empty() || !q.at))
        errors.push_back({error_kind::required, child(path, "user"), "",
                          "not stamped by the mutating webhook for ProgressiveRollouts: is it registered?"});
    return errors;
}

std::optional<std::string> refuse_request(const rollout& r, const operator_request& q, time_point now) {
    switch (q.verb) {
        case request_verb::pause:
            if (r.spec.paused) return rollout_name(r) + " is already paused";
            return std::nullopt;
        case request_verb::resume:
            if (!r.spec.paused) return rollout_name(r) + " is not paused";
            return std::nullopt;
        case request_verb::promote:
            return refuse_promote(r, q);
        case request_verb::abort:
            return refuse_abort(r, q);
        case request_verb::retry:
            return refuse_retry(r);
        case request_verb::hold:
            return refuse_hold(r, q, now);
        case request_verb::release:
            return refuse_release(r, q);
    }
    return std::nullopt;
}

std::vector<cluster_hold> live_holds(const std::vector<cluster_hold>& holds, time_point now,
                                     std::vector<rollout_event>& events, std::optional<time_point>& next) {
    std::vector<cluster_hold> out;
    for (const auto& h : holds) {
        if (h.until && *h.until <= now) {
            events.push_back({false, "HoldExpired", "hold on cluster " + h.cluster + " expired (" + h.reason + ")"});
            continue;
        }
        if (h.until && (!next || *h.until < *next)) next = h.until;
        out.push_back(h);
    }
    return out;
}

bool keep_out_if_held(const std::vector<cluster_hold>& holds, cluster_status& c, bool has_pending) {
    const auto it =
        std::find_if(holds.begin(), holds.end(), [&](const cluster_hold& h) { return h.cluster == c.name; });
    // A hold ended, or nothing left to roll out there: the cluster takes its turn (or is done).
    if (it == holds.end() || !has_pending) {
        if (c.phase == cluster_phase::held) c = cluster_status{.name = c.name, .rolled_back_from = c.rolled_back_from};
        return false;
    }
    if (c.phase == cluster_phase::held) return true;
    const bool turn = c.phase == cluster_phase::pending || c.phase == cluster_phase::requeued ||
                      (c.phase == cluster_phase::done && c.hash.empty());
    if (!turn) return false;
    c.phase = cluster_phase::held;
    c.message = "held by " + it->by + ": " + it->reason;
    return true;
}

bool request_recorded(const rollout_status& status, std::string_view id) {
    return std::any_of(status.requests.begin(), status.requests.end(),
                       [&](const request_record& r) { return r.id == id; });
}

std::size_t roll_back_pass(rollout_status& st, const std::string& message, time_point now) {
    std::size_t n = 0;
    for (auto& s : st.stages)
        for (auto& c : s.clusters)
            if (updated_in_pass(c)) {
                c.phase = cluster_phase::rolled_back;
                c.finished_at = now;
                c.message = message;
                ++n;
            }
    st.phase = rollout_phase::rolled_back;
    st.message = message;
    return n;
}

request_outcome apply_request(const rollout& r, const operator_request& q, time_point now) {
    request_outcome out{r.status, {}};
    auto& st = out.status;
    if (request_recorded(st, q.id)) return out;
    request_record record{
        q.id, std::string(to_string(q.verb)), q.user, q.at.value_or(now), q.stage, q.cluster, q.reason, "", false};
    auto emit = [&](bool warning, std::string reason, std::string message) {
        out.events.push_back({warning, std::move(reason), std::move(message)});
    };
    // pause and resume took effect with the write that asked (spec.paused): only recorded here.
    const bool recorded_only = q.verb == request_verb::pause || q.verb == request_verb::resume;
    if (auto refusal = recorded_only ? std::nullopt : refuse_request(r, q, now)) {
        record.refused = true;
        record.result = *refusal;
        emit(true, "RequestRefused", std::string(to_string(q.verb)) + by(q) + " refused: " + *refusal);
    } else {
        switch (q.verb) {
            case request_verb::pause:
                record.result = "no new cluster is admitted";
                emit(false, "Paused", "paused" + by(q));
                break;
            case request_verb::resume:
                record.result = "clusters are admitted again";
                emit(false, "Resumed", "resumed" + by(q));
                break;
            case request_verb::promote: {
                auto& stage = *std::find_if(st.stages.begin(), st.stages.end(), [&](const stage_status& s) {
                    return s.name == (q.stage.empty() ? st.current_stage : q.stage);
                });
                std::vector<std::string> passed;
                if (stage.phase == stage_phase::baking && q.skip_bake) {
                    stage.bake_until = now;  // the next step completes the stage
                    passed.push_back("bake time skipped");
                }
                if (auto gates = passable_gates(r, stage, q); !gates.empty()) {
                    for (const auto& g : gates)
                        passed.push_back("gate " + g.gate + (g.cluster.empty() ? "" : " (cluster " + g.cluster + ")") +
                                         (g.approval ? " approved" : " passed (Inconclusive)"));
                    out.promotion = promote_request{q.user, stage.name, q.at.value_or(now), q.groups};
                }
                record.result = "stage " + stage.name + ": " + join(passed);
                emit(false, "Promoted", "stage " + stage.name + " promoted" + by(q) + " (" + join(passed) + ")");
                break;
            }
            case request_verb::abort:
                if (q.rollback) {
                    const auto n = roll_back_pass(st, "rolled back" + by(q), now);
                    record.result = std::to_string(n) + " cluster(s) updated in pass " + std::to_string(st.pass) +
                                    " restored to their previous desired state";
                    emit(true, "RolledBack",
                         "pass " + std::to_string(st.pass) + " rolled back" + by(q) + ": " + record.result);
                } else {
                    st.phase = rollout_phase::aborted;
                    st.message = "aborted" + by(q) + ": no further cluster is admitted";
                    record.result = "no further cluster is admitted";
                    emit(true, "Aborted", "pass " + std::to_string(st.pass) + " aborted" + by(q));
                }
                break;
            case request_verb::retry:
                retry_pass(st, now);
                record.result = "pass " + std::to_string(st.pass) + " runs again";
                emit(false, "Retried", "pass " + std::to_string(st.pass) + " retried" + by(q));
                break;
            case request_verb::hold: {
                cluster_hold h{q.cluster, q.reason, q.until, q.user, q.at.value_or(now)};
                auto it = std::find_if(st.holds.begin(), st.holds.end(),
                                       [&](const cluster_hold& x) { return x.cluster == q.cluster; });
                if (it != st.holds.end())
                    *it = h;
                else
                    st.holds.push_back(h);
                if (auto* c = cluster_named(st, q.cluster);
                    c && (c->phase == cluster_phase::pending || c->phase == cluster_phase::requeued)) {
                    c->phase = cluster_phase::held;
                    c->message = "held" + by(q);
                }
                record.result = "cluster " + q.cluster + " held";
                emit(false, "ClusterHeld", "cluster " + q.cluster + " held" + by(q));
                break;
            }
            case request_verb::release: {
                std::erase_if(st.holds, [&](const cluster_hold& h) { return h.cluster == q.cluster; });
                if (auto* c = cluster_named(st, q.cluster); c && c->phase == cluster_phase::held)
                    *c = cluster_status{.name = c->name, .rolled_back_from = c->rolled_back_from};
                record.result = "cluster " + q.cluster + " released";
                emit(false, "ClusterReleased", "cluster " + q.cluster + " released" + by(q));
                break;
            }
        }
    }
    st.requests.push_back(std::move(record));
    if (st.requests.size() > max_request_records)
        st.requests.erase(st.requests.begin(),
                          st.requests.begin() + static_cast<long>(st.requests.size() - max_request_records));
    return out;
}

}  // namespace apr::core
