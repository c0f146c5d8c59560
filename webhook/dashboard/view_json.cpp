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
