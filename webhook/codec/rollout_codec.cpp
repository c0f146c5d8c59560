#include "codec/rollout_codec.hpp"

#include "codec/gate_codec.hpp"
#include "codec/json_fields.hpp"
#include "codec/json_reader.hpp"
#include "codec/time_format.hpp"
#include "codec/windows_codec.hpp"

namespace apr::codec {

using core::error_kind;
using namespace fields;

namespace {

std::optional<core::label_selector> read_selector(object_reader& parent, std::string_view key) {
    const auto* v = parent.member(key);
    if (!v) return std::nullopt;
    core::label_selector selector;
    auto& errors = parent.errors();
    object_reader r(*v, parent.child_path(key), errors);
    if (!r.is_object()) return std::nullopt;
    if (const auto* labels = r.member("matchLabels")) {
        if (!labels->IsObject()) {
            r.type_error("matchLabels", *labels, "object");
        } else {
            for (auto it = labels->MemberBegin(); it != labels->MemberEnd(); ++it) {
                std::string k(it->name.GetString(), it->name.GetStringLength());
                if (!it->value.IsString()) {
                    errors.push_back({error_kind::type_invalid, core::child(r.child_path("matchLabels"), k),
                                      core::quote(json_type_name(it->value)), "must be of type string"});
                    continue;
                }
                selector.match_labels.emplace(std::move(k),
                                              std::string(it->value.GetString(), it->value.GetStringLength()));
            }
        }
    }
    if (const auto* exprs = r.member("matchExpressions")) {
        if (!exprs->IsArray()) {
            r.type_error("matchExpressions", *exprs, "array");
        } else {
            for (rapidjson::SizeType i = 0; i < exprs->Size(); ++i) {
                object_reader e((*exprs)[i], core::indexed(r.child_path("matchExpressions"), i), errors);
                core::label_requirement req;
                req.key = e.string("key", true).value_or("");
                req.op_text = e.string("operator", true).value_or("");
                req.op = core::parse_operator(req.op_text);
                if (req.op_text.empty()) req.op = core::selector_operator::in;  // reported as Required above
                if (const auto* values = e.member("values")) {
                    if (!values->IsArray()) {
                        e.type_error("values", *values, "array");
                    } else {
                        for (rapidjson::SizeType j = 0; j < values->Size(); ++j) {
                            const auto& item = (*values)[j];
                            if (!item.IsString()) {
                                errors.push_back({error_kind::type_invalid, core::indexed(e.child_path("values"), j),
                                                  core::quote(json_type_name(item)), "must be of type string"});
                                continue;
                            }
                            req.values.emplace_back(item.GetString(), item.GetStringLength());
                        }
                    }
                }
                if (!req.op_text.empty() || !req.key.empty()) selector.match_expressions.push_back(std::move(req));
            }
        }
    }
    return selector;
}

std::optional<core::int_or_percent> read_int_or_percent(object_reader& r, std::string_view key) {
    const auto* v = r.member(key);
    if (!v) return std::nullopt;
    if (v->IsInt64()) return core::int_or_percent::integer(v->GetInt64());
    if (v->IsString()) return core::int_or_percent::parse(std::string_view(v->GetString(), v->GetStringLength()));
    r.type_error(key, *v, "integer or string");
    return std::nullopt;
}

core::stage_spec read_stage(const rapidjson::Value& v, const std::string& path, core::field_errors& errors) {
    core::stage_spec stage;
    object_reader r(v, path, errors);
    stage.name = r.string("name", true).value_or("");
    std::string clusters_topology;
    if (const auto* clusters = r.member("clusters")) {
        object_reader c(*clusters, r.child_path("clusters"), errors);
        stage.selector = read_selector(c, "selector");
        clusters_topology = c.string("topologyKey").value_or("");
    }
    const auto stage_topology = r.string("topologyKey").value_or("");
    if (!stage_topology.empty() && !clusters_topology.empty() && stage_topology != clusters_topology)
        errors.push_back(
            {error_kind::invalid, r.child_path("topologyKey"), core::quote(stage_topology),
             "must equal clusters.topologyKey (" + core::quote(clusters_topology) + ") when both are set"});
    stage.topology_key = stage_topology.empty() ? clusters_topology : stage_topology;
    if (auto v2 = read_int_or_percent(r, "maxClusters")) stage.max_clusters = *v2;
    if (auto v2 = read_int_or_percent(r, "maxUnavailable")) stage.max_unavailable = *v2;
    if (const auto* requeue = r.member("requeue")) {
        object_reader q(*requeue, r.child_path("requeue"), errors);
        core::requeue_policy policy;
        policy.selector = read_selector(q, "selector");
        policy.attempts = q.integer("attempts");
        policy.interval = read_duration(q, "interval");
        if (q.is_object()) stage.requeue = std::move(policy);
    }
    if (auto d = read_duration(r, "bakeTime")) stage.bake_time = *d;
    if (auto d = read_duration(r, "progressDeadline")) stage.progress_deadline = *d;
    if (auto n = r.integer("maxFailures")) stage.max_failures = *n;
    stage.gates = read_gates(r);
    return stage;
}

}  // namespace

core::rollout_spec decode_spec(const rapidjson::Value& value, core::field_errors& errors) {
    core::rollout_spec spec;
    object_reader r(value, "spec", errors);
    if (const auto* ref = r.member("sourceRef")) {
        object_reader s(*ref, "spec.sourceRef", errors);
        spec.source.api_group = s.string("apiGroup").value_or("");
        spec.source.kind = s.string("kind").value_or("");
        spec.source.name = s.string("name").value_or("");
    } else {
        errors.push_back({error_kind::required, "spec.sourceRef", "", ""});
    }
    spec.paused = r.boolean("paused").value_or(false);
    spec.track_revisions = r.boolean("trackRevisions").value_or(false);
    if (const auto* scope = r.member("scope")) {
        object_reader sr(*scope, "spec.scope", errors);
        core::scope_spec out;
        if (const auto* paths = sr.member("paths")) {
            if (!paths->IsArray()) {
                sr.type_error("paths", *paths, "array");
            } else {
                for (rapidjson::SizeType i = 0; i < paths->Size(); ++i) {
                    const auto& item = (*paths)[i];
                    if (item.IsString())
                        out.paths.emplace_back(item.GetString(), item.GetStringLength());
                    else
                        errors.push_back({error_kind::type_invalid, core::indexed("spec.scope.paths", i),
                                          core::quote(json_type_name(item)), "must be of type string"});
                }
            }
        }
        if (sr.is_object()) spec.scope = std::move(out);
    }
    spec.windows = read_rollout_windows(r);
    if (auto text = r.string("onFailure")) {
        if (auto policy = core::parse_failure_policy(*text))
            spec.on_failure = *policy;
        else
            errors.push_back({error_kind::unsupported, "spec.onFailure", core::quote(*text),
                              "supported values: \"Halt\", \"Pause\", \"Rollback\""});
    }
    if (const auto* stages = r.member("stages")) {
        if (!stages->IsArray()) {
            r.type_error("stages", *stages, "array");
        } else {
            for (rapidjson::SizeType i = 0; i < stages->Size(); ++i)
                spec.stages.push_back(read_stage((*stages)[i], core::indexed("spec.stages", i), errors));
        }
    }
    return spec;
}

core::rollout_status decode_status(const rapidjson::Value& value) {
    // The controller wrote this; tolerate anything and keep what parses.
    core::field_errors ignored;
    core::rollout_status st;
    object_reader r(value, "status", ignored, false);
    st.observed_generation = r.integer("observedGeneration").value_or(0);
    st.phase = core::parse_rollout_phase(r.string("phase").value_or("")).value_or(core::rollout_phase::pending);
    st.current_stage = r.string("currentStage").value_or("");
    st.pass = r.integer("pass").value_or(0);
    st.message = r.string("message").value_or("");
    st.window_opens_at = read_time(r, "windowOpensAt");
    if (const auto* stages = r.member("stages"); stages && stages->IsArray()) {
        for (const auto& sv : stages->GetArray()) {
            object_reader s(sv, "", ignored, false);
            core::stage_status stage;
            stage.name = s.string("name").value_or("");
            stage.phase = core::parse_stage_phase(s.string("phase").value_or("")).value_or(core::stage_phase::pending);
            stage.started_at = read_time(s, "startedAt");
            stage.finished_at = read_time(s, "finishedAt");
            stage.bake_until = read_time(s, "bakeUntil");
            stage.message = s.string("message").value_or("");
            if (const auto* gates = s.member("gates")) stage.gates = read_gate_statuses(*gates);
            if (const auto* clusters = s.member("clusters"); clusters && clusters->IsArray()) {
                for (const auto& cv : clusters->GetArray()) {
                    object_reader c(cv, "", ignored, false);
                    core::cluster_status cs;
                    cs.name = c.string("name").value_or("");
                    cs.phase = core::parse_cluster_phase(c.string("phase").value_or(""))
                                   .value_or(core::cluster_phase::pending);
                    cs.hash = c.string("hash").value_or("");
                    cs.rolled_back_from = c.string("rolledBackFrom").value_or("");
                    if (const auto* apps = c.member("applications"); apps && apps->IsArray())
                        for (const auto& av : apps->GetArray()) {
                            object_reader a(av, "", ignored, false);
                            auto app = a.string("name");
                            auto hash = a.string("hash");
                            if (app && hash) cs.application_hashes.emplace(std::move(*app), std::move(*hash));
                        }
                    cs.attempts = c.integer("attempts").value_or(0);
                    cs.next_attempt_at = read_time(c, "nextAttemptAt");
                    cs.admitted_at = read_time(c, "admittedAt");
                    cs.finished_at = read_time(c, "finishedAt");
                    cs.message = c.string("message").value_or("");
                    if (const auto* gates = c.member("gates")) cs.gates = read_gate_statuses(*gates);
                    if (!cs.name.empty()) stage.clusters.push_back(std::move(cs));
                }
            }
            st.stages.push_back(std::move(stage));
        }
    }
    if (const auto* unstaged = r.member("unstagedClusters"); unstaged && unstaged->IsArray())
        for (const auto& u : unstaged->GetArray())
            if (u.IsString()) st.unstaged_clusters.emplace_back(u.GetString(), u.GetStringLength());
    if (const auto* conditions = r.member("conditions"); conditions && conditions->IsArray()) {
        for (const auto& cv : conditions->GetArray()) {
            object_reader c(cv, "", ignored, false);
            core::condition cond;
            cond.type = c.string("type").value_or("");
            cond.status = c.string("status").value_or("");
            cond.reason = c.string("reason").value_or("");
            cond.message = c.string("message").value_or("");
            cond.last_transition_time = read_time(c, "lastTransitionTime").value_or(core::time_point{});
            if (!cond.type.empty()) st.conditions.push_back(std::move(cond));
        }
    }
    if (const auto* holds = r.member("holds"); holds && holds->IsArray()) {
        for (const auto& hv : holds->GetArray()) {
            object_reader h(hv, "", ignored, false);
            core::cluster_hold hold;
            hold.cluster = h.string("cluster").value_or("");
            hold.reason = h.string("reason").value_or("");
            hold.until = read_time(h, "until");
            hold.by = h.string("by").value_or("");
            hold.at = read_time(h, "at").value_or(core::time_point{});
            if (!hold.cluster.empty()) st.holds.push_back(std::move(hold));
        }
    }
    if (const auto* requests = r.member("requests"); requests && requests->IsArray()) {
        for (const auto& qv : requests->GetArray()) {
            object_reader q(qv, "", ignored, false);
            core::request_record record;
            record.id = q.string("id").value_or("");
            record.verb = q.string("verb").value_or("");
            record.user = q.string("user").value_or("");
            record.at = read_time(q, "at").value_or(core::time_point{});
            record.stage = q.string("stage").value_or("");
            record.cluster = q.string("cluster").value_or("");
            record.reason = q.string("reason").value_or("");
            record.result = q.string("result").value_or("");
            record.refused = q.boolean("refused").value_or(false);
            if (!record.id.empty()) st.requests.push_back(std::move(record));
        }
    }
    return st;
}

decoded_rollout decode_rollout(const rapidjson::Value& object) {
    decoded_rollout out;
    auto& errors = out.errors;
    object_reader top(object, "", errors, false);
    if (!top.is_object()) return out;
    const auto api_version = top.string("apiVersion").value_or("");
    if (api_version != core::api_version)
        errors.push_back({error_kind::unsupported, "apiVersion", core::quote(api_version),
                          "supported values: " + core::quote(core::api_version)});
    const auto kind = top.string("kind").value_or("");
    if (kind != core::rollout_kind)
        errors.push_back(
            {error_kind::unsupported, "kind", core::quote(kind), "supported values: \"ProgressiveRollout\""});
    if (const auto* metadata = top.member("metadata")) {
        object_reader m(*metadata, "metadata", errors, false);
        out.rollout.name = m.string("name").value_or("");
        out.rollout.namespace_ = m.string("namespace").value_or("");
        out.rollout.generation = m.integer("generation").value_or(0);
        out.rollout.deleting = m.member("deletionTimestamp") != nullptr;
    }
    if (const auto* spec = top.member("spec"))
        out.rollout.spec = decode_spec(*spec, errors);
    else
        errors.push_back({error_kind::required, "spec", "", ""});
    if (const auto* status = top.member("status")) out.rollout.status = decode_status(*status);
    return out;
}

void write_status(rapidjson::Writer<rapidjson::StringBuffer>& w, const core::rollout_status& st) {
    w.StartObject();
    key(w, "observedGeneration");
    w.Int64(st.observed_generation);
    str(w, "phase", core::to_string(st.phase));
    opt_str(w, "currentStage", st.current_stage);
    const auto done = st.clusters_done(), total = st.clusters_total();
    str(w, "progress", std::to_string(done) + "/" + std::to_string(total));
    key(w, "clustersDone");
    w.Int64(done);
    key(w, "clustersTotal");
    w.Int64(total);
    key(w, "pass");
    w.Int64(st.pass);
    opt_str(w, "message", st.message);
    opt_time(w, "windowOpensAt", st.window_opens_at);
    key(w, "stages");
    w.StartArray();
    for (const auto& s : st.stages) {
        w.StartObject();
        str(w, "name", s.name);
        str(w, "phase", core::to_string(s.phase));
        opt_time(w, "startedAt", s.started_at);
        opt_time(w, "finishedAt", s.finished_at);
        opt_time(w, "bakeUntil", s.bake_until);
        opt_str(w, "message", s.message);
        if (!s.gates.empty()) {
            key(w, "gates");
            write_gate_statuses(w, s.gates);
        }
        key(w, "clusters");
        w.StartArray();
        for (const auto& c : s.clusters) {
            // Compact on purpose: 5,000 clusters must stay well under the 1.5 MB object limit.
            w.StartObject();
            str(w, "name", c.name);
            str(w, "phase", core::to_string(c.phase));
            opt_str(w, "hash", c.hash);
            opt_str(w, "rolledBackFrom", c.rolled_back_from);
            if (!c.application_hashes.empty()) {
                key(w, "applications");
                w.StartArray();
                for (const auto& [app, hash] : c.application_hashes) {
                    w.StartObject();
                    str(w, "name", app);
                    str(w, "hash", hash);
                    w.EndObject();
                }
                w.EndArray();
            }
            if (c.attempts) {
                key(w, "attempts");
                w.Int64(c.attempts);
            }
            opt_time(w, "nextAttemptAt", c.next_attempt_at);
            opt_time(w, "admittedAt", c.admitted_at);
            opt_time(w, "finishedAt", c.finished_at);
            opt_str(w, "message", c.message);
            if (!c.gates.empty()) {
                key(w, "gates");
                write_gate_statuses(w, c.gates);
            }
            w.EndObject();
        }
        w.EndArray();
        w.EndObject();
    }
    w.EndArray();
    key(w, "unstagedClusters");
    w.StartArray();
    for (const auto& u : st.unstaged_clusters) w.String(u.data(), static_cast<rapidjson::SizeType>(u.size()));
    w.EndArray();
    key(w, "conditions");
    w.StartArray();
    for (const auto& c : st.conditions) {
        w.StartObject();
        str(w, "type", c.type);
        str(w, "status", c.status);
        opt_str(w, "reason", c.reason);
        opt_str(w, "message", c.message);
        str(w, "lastTransitionTime", format_time(c.last_transition_time));
        w.EndObject();
    }
    w.EndArray();
    if (!st.holds.empty()) {
        key(w, "holds");
        w.StartArray();
        for (const auto& h : st.holds) {
            w.StartObject();
            str(w, "cluster", h.cluster);
            opt_str(w, "reason", h.reason);
            opt_time(w, "until", h.until);
            opt_str(w, "by", h.by);
            str(w, "at", format_time(h.at));
            w.EndObject();
        }
        w.EndArray();
    }
    if (!st.requests.empty()) {
        key(w, "requests");
        w.StartArray();
        for (const auto& q : st.requests) {
            w.StartObject();
            str(w, "id", q.id);
            str(w, "verb", q.verb);
            opt_str(w, "user", q.user);
            str(w, "at", format_time(q.at));
            opt_str(w, "stage", q.stage);
            opt_str(w, "cluster", q.cluster);
            opt_str(w, "reason", q.reason);
            opt_str(w, "result", q.result);
            if (q.refused) {
                key(w, "refused");
                w.Bool(true);
            }
            w.EndObject();
        }
        w.EndArray();
    }
    w.EndObject();
}

std::string encode_status(const core::rollout_status& status) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    write_status(w, status);
    return {buffer.GetString(), buffer.GetSize()};
}

std::string encode_status_object(const core::rollout& rollout, std::string_view resource_version) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    str(w, "apiVersion", core::api_version);
    str(w, "kind", core::rollout_kind);
    key(w, "metadata");
    w.StartObject();
    str(w, "name", rollout.name);
    str(w, "namespace", rollout.namespace_);
    opt_str(w, "resourceVersion", resource_version);
    w.EndObject();
    key(w, "status");
    write_status(w, rollout.status);
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

}  // namespace apr::codec
