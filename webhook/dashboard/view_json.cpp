#include "dashboard/view_json.hpp"

#include "codec/time_format.hpp"
#include "core/waiting.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <map>

namespace apr::dashboard {

namespace {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

void key(json_writer& w, std::string_view k) {
    w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
}

void str(json_writer& w, std::string_view k, std::string_view v) {
    key(w, k);
    w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}

void num(json_writer& w, std::string_view k, long long v) {
    key(w, k);
    w.Int64(v);
}

void flag(json_writer& w, std::string_view k, bool v) {
    key(w, k);
    w.Bool(v);
}

void time_or_null(json_writer& w, std::string_view k, const std::optional<core::time_point>& t) {
    key(w, k);
    if (t) {
        const auto text = codec::format_time(*t);
        w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
    } else {
        w.Null();
    }
}

void waiting(json_writer& w, const core::rollout& r, core::time_point now) {
    const auto why = core::why_waiting(r, now);
    key(w, "waiting");
    w.StartObject();
    str(w, "reason", why.reason);
    time_or_null(w, "until", why.until);
    w.EndObject();
}

const core::stage_spec* spec_of(const core::rollout& r, const std::string& stage) {
    for (const auto& s : r.spec.stages)
        if (s.name == stage) return &s;
    return nullptr;
}

struct tally {
    long long done = 0, total = 0;
};

tally count(const core::stage_status& s) {
    tally t;
    for (const auto& c : s.clusters) {
        ++t.total;
        if (c.phase == core::cluster_phase::done) ++t.done;
    }
    return t;
}

// The change this pass rolls out, as the clusters admitted in it record it: the hash most of them
// carry (several during the instant a newer change starts a new pass).
std::string pass_hash(const core::rollout_status& st) {
    std::map<std::string, int> seen;
    for (const auto& s : st.stages)
        for (const auto& c : s.clusters)
            if (!c.hash.empty()) ++seen[c.hash];
    std::string best;
    int most = 0;
    for (const auto& [hash, n] : seen)
        if (n > most) best = hash, most = n;
    return best;
}

void stage_summary(json_writer& w, const core::rollout& r) {
    key(w, "stages");
    w.StartArray();
    if (r.status.stages.empty()) {
        for (const auto& s : r.spec.stages) {
            w.StartObject();
            str(w, "name", s.name);
            str(w, "phase", core::to_string(core::stage_phase::pending));
            num(w, "done", 0);
            num(w, "total", 0);
            w.EndObject();
        }
    }
    for (const auto& s : r.status.stages) {
        const auto t = count(s);
        w.StartObject();
        str(w, "name", s.name);
        str(w, "phase", core::to_string(s.phase));
        num(w, "done", t.done);
        num(w, "total", t.total);
        w.EndObject();
    }
    w.EndArray();
}

void header(json_writer& w, const core::rollout& r, core::time_point now) {
    str(w, "name", r.name);
    str(w, "namespace", r.namespace_);
    str(w, "applicationSet", r.spec.source.name);
    str(w, "phase", core::to_string(r.status.phase));
    num(w, "pass", r.status.pass);
    flag(w, "paused", r.spec.paused);
    str(w, "currentStage", r.status.current_stage);
    num(w, "done", r.status.clusters_done());
    num(w, "total", r.status.clusters_total());
    str(w, "message", r.status.message);
    str(w, "hash", pass_hash(r.status));
    waiting(w, r, now);
}

const core::gate_spec* gate_spec_of(const core::stage_spec* spec, const std::string& gate) {
    if (spec)
        for (const auto& g : spec->gates)
            if (g.name == gate) return &g;
    return nullptr;
}

std::string_view gate_kind(const core::gate_spec& g) {
    if (g.approval) return "approval";
    if (g.webhook) return "webhook";
    if (g.prometheus) return "prometheus";
    return "";
}

// A gate of this pass: its spec's shape, where it stands, and its last measurement.
void gate(json_writer& w, const core::gate_status& g, const core::gate_spec* spec) {
    w.StartObject();
    str(w, "name", g.name);
    if (spec) {
        str(w, "when", core::to_string(spec->when));
        str(w, "scope", core::to_string(spec->scope));
        str(w, "kind", gate_kind(*spec));
        flag(w, "dryRun", spec->dry_run);
    }
    str(w, "phase", core::to_string(g.phase));
    num(w, "taken", g.taken);
    num(w, "successful", g.successful);
    num(w, "failed", g.failed);
    num(w, "inconclusive", g.inconclusive);
    num(w, "errors", g.errors);
    time_or_null(w, "nextAt", g.next_at);
    str(w, "message", g.message);
    str(w, "decidedBy", g.decided_by);
    key(w, "last");
    if (g.measurements.empty()) {
        w.Null();
    } else {
        const auto& m = g.measurements.back();
        w.StartObject();
        time_or_null(w, "at", m.at);
        str(w, "phase", core::to_string(m.phase));
        str(w, "value", m.value);
        str(w, "message", m.message);
        w.EndObject();
    }
    w.EndObject();
}

// The stage's gates of scope Stage: those the pass started, then those of the spec not started yet.
void stage_gates(json_writer& w, const core::stage_status* s, const core::stage_spec* spec) {
    key(w, "gates");
    w.StartArray();
    if (spec) {
        for (const auto& g : spec->gates) {
            if (g.scope == core::gate_scope::cluster) continue;
            const core::gate_status* st = nullptr;
            if (s)
                for (const auto& x : s->gates)
                    if (x.name == g.name) st = &x;
            core::gate_status pending;
            pending.name = g.name;
            gate(w, st ? *st : pending, &g);
        }
    }
    w.EndArray();
}

void cluster(json_writer& w, const core::cluster_status& c, const core::stage_spec* spec) {
    w.StartObject();
    str(w, "name", c.name);
    str(w, "state", core::to_string(c.phase));
    str(w, "hash", c.hash);
    num(w, "attempts", c.attempts);
    if (spec && spec->requeue && spec->requeue->attempts) num(w, "maxAttempts", *spec->requeue->attempts);
    time_or_null(w, "nextAttemptAt", c.next_attempt_at);
    time_or_null(w, "admittedAt", c.admitted_at);
    time_or_null(w, "finishedAt", c.finished_at);
    str(w, "message", c.message);
    key(w, "gates");
    w.StartArray();
    for (const auto& g : c.gates) gate(w, g, gate_spec_of(spec, g.name));
    w.EndArray();
    w.EndObject();
}

void stage_detail(json_writer& w, const core::rollout& r, std::size_t index, const core::stage_status* s,
                  const core::stage_spec* spec) {
    const std::string& name = s ? s->name : spec->name;
    w.StartObject();
    num(w, "index", static_cast<long long>(index + 1));
    str(w, "name", name);
    str(w, "phase", core::to_string(s ? s->phase : core::stage_phase::pending));
    flag(w, "current", !r.status.current_stage.empty() && name == r.status.current_stage);
    if (spec) {
        str(w, "maxUnavailable", spec->max_unavailable.to_string());
        str(w, "bakeTime", spec->bake_time.text);
        str(w, "progressDeadline", spec->progress_deadline.text);
        num(w, "maxFailures", spec->max_failures);
    }
    time_or_null(w, "startedAt", s ? s->started_at : std::nullopt);
    time_or_null(w, "finishedAt", s ? s->finished_at : std::nullopt);
    time_or_null(w, "bakeUntil", s ? s->bake_until : std::nullopt);
    str(w, "message", s ? std::string_view(s->message) : std::string_view());
    stage_gates(w, s, spec);
    key(w, "clusters");
    w.StartArray();
    if (s)
        for (const auto& c : s->clusters) cluster(w, c, spec);
    w.EndArray();
    w.EndObject();
}

}  // namespace

std::string list_json(const list_view& view, core::time_point now) {
    rapidjson::StringBuffer buffer;
    json_writer w(buffer);
    w.StartObject();
    str(w, "namespace", view.namespace_);
    str(w, "now", codec::format_time(now));
    flag(w, "synced", view.synced);
    flag(w, "actions", view.actions);
    key(w, "rollouts");
    w.StartArray();
    for (const auto* r : view.rollouts) {
        w.StartObject();
        header(w, *r, now);
        stage_summary(w, *r);
        w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

std::string rollout_json(const core::rollout& r, const std::vector<rollout_event>& events, bool actions,
                         core::time_point now) {
    rapidjson::StringBuffer buffer;
    json_writer w(buffer);
    w.StartObject();
    str(w, "now", codec::format_time(now));
    flag(w, "actions", actions);
    key(w, "rollout");
    w.StartObject();
    header(w, r, now);
    num(w, "generation", r.generation);
    num(w, "observedGeneration", r.status.observed_generation);
    key(w, "stages");
    w.StartArray();
    if (r.status.stages.empty()) {
        // Nothing planned yet: the stages the spec names, without clusters.
        for (std::size_t i = 0; i < r.spec.stages.size(); ++i) stage_detail(w, r, i, nullptr, &r.spec.stages[i]);
    }
    for (std::size_t i = 0; i < r.status.stages.size(); ++i)
        stage_detail(w, r, i, &r.status.stages[i], spec_of(r, r.status.stages[i].name));
    w.EndArray();
    key(w, "unstaged");
    w.StartArray();
    for (const auto& name : r.status.unstaged_clusters)
        w.String(name.data(), static_cast<rapidjson::SizeType>(name.size()));
    w.EndArray();
    time_or_null(w, "windowOpensAt", r.status.window_opens_at);
    key(w, "holds");
    w.StartArray();
    for (const auto& h : r.status.holds) {
        w.StartObject();
        str(w, "cluster", h.cluster);
        str(w, "reason", h.reason);
        time_or_null(w, "until", h.until);
        str(w, "by", h.by);
        time_or_null(w, "at", h.at);
        w.EndObject();
    }
    w.EndArray();
    key(w, "requests");  // newest first
    w.StartArray();
    for (auto it = r.status.requests.rbegin(); it != r.status.requests.rend(); ++it) {
        w.StartObject();
        str(w, "verb", it->verb);
        str(w, "user", it->user);
        time_or_null(w, "at", it->at);
        str(w, "stage", it->stage);
        str(w, "cluster", it->cluster);
        str(w, "reason", it->reason);
        str(w, "result", it->result);
        flag(w, "refused", it->refused);
        w.EndObject();
    }
    w.EndArray();
    key(w, "conditions");
    w.StartArray();
    for (const auto& c : r.status.conditions) {
        w.StartObject();
        str(w, "type", c.type);
        str(w, "status", c.status);
        str(w, "reason", c.reason);
        str(w, "message", c.message);
        time_or_null(
            w, "lastTransitionTime",
            c.last_transition_time == core::time_point{} ? std::nullopt : std::optional(c.last_transition_time));
        w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    key(w, "events");
    w.StartArray();
    for (const auto& e : events) {
        w.StartObject();
        str(w, "type", e.type);
        str(w, "reason", e.reason);
        str(w, "message", e.message);
        time_or_null(w, "time", e.last_seen);
        num(w, "count", e.count);
        w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

}  // namespace apr::dashboard
