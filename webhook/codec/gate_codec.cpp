#include "codec/gate_codec.hpp"

#include "codec/json_fields.hpp"
#include "codec/input_limits.hpp"

#include <limits>

namespace apr::codec {

using core::error_kind;
using namespace fields;

namespace {

template <typename Enum>
std::optional<Enum> read_enum(object_reader& r, std::string_view key, std::optional<Enum> (*parse)(std::string_view),
                              std::string_view supported) {
    auto text = r.string(key);
    if (!text) return std::nullopt;
    if (auto v = parse(*text)) return v;
    r.errors().push_back({error_kind::unsupported, r.child_path(key), core::quote(*text),
                          "supported values: " + std::string(supported)});
    return std::nullopt;
}

std::optional<double> read_number(object_reader& r, std::string_view key) {
    const auto* v = r.member(key);
    if (!v) return std::nullopt;
    if (v->IsNumber()) return v->GetDouble();
    r.type_error(key, *v, "number");
    return std::nullopt;
}

core::prometheus_check read_prometheus(object_reader& p) {
    core::prometheus_check check;
    check.address = p.string("address").value_or("");
    check.query = p.string("query").value_or("");
    if (const auto* range = p.member("thresholdRange")) {
        object_reader t(*range, p.child_path("thresholdRange"), p.errors());
        check.threshold.min = read_number(t, "min");
        check.threshold.max = read_number(t, "max");
    }
    if (auto e =
            read_enum(p, "emptyResult", core::parse_measurement_phase, "\"Successful\", \"Failed\", \"Inconclusive\""))
        check.empty_result = *e;
    if (check.empty_result == core::measurement_phase::error)
        p.errors().push_back({error_kind::unsupported, p.child_path("emptyResult"), "\"Error\"",
                              "supported values: \"Successful\", \"Failed\", \"Inconclusive\""});
    return check;
}

core::webhook_check read_webhook(object_reader& w) {
    core::webhook_check check;
    check.url = w.string("url").value_or("");
    if (auto d = read_duration(w, "timeout")) check.timeout = *d;
    const auto* headers = w.member("headers");
    if (!headers) return check;
    if (!headers->IsArray()) {
        w.type_error("headers", *headers, "array");
        return check;
    }
    for (rapidjson::SizeType i = 0; i < headers->Size(); ++i) {
        object_reader h((*headers)[i], core::indexed(w.child_path("headers"), i), w.errors());
        core::webhook_header header;
        header.name = h.string("name").value_or("");
        header.value = h.string("value").value_or("");
        if (const auto* from = h.member("valueFrom")) {
            object_reader f(*from, h.child_path("valueFrom"), h.errors());
            if (const auto* ref = f.member("secretKeyRef")) {
                object_reader s(*ref, f.child_path("secretKeyRef"), f.errors());
                header.secret = core::secret_key_ref{s.string("name").value_or(""), s.string("key").value_or("")};
            } else {
                f.errors().push_back({error_kind::required, f.child_path("secretKeyRef"), "", ""});
            }
        }
        check.headers.push_back(std::move(header));
    }
    return check;
}

core::gate_spec read_gate(const rapidjson::Value& v, const std::string& path, core::field_errors& errors) {
    core::gate_spec gate;
    object_reader r(v, path, errors);
    gate.name = r.string("name", true).value_or("");
    if (auto when = read_enum(r, "when", core::parse_gate_timing, "\"Before\", \"During\", \"After\""))
        gate.when = *when;
    if (auto scope = read_enum(r, "scope", core::parse_gate_scope, "\"Stage\", \"Cluster\"")) gate.scope = *scope;
    if (auto d = read_duration(r, "interval")) gate.interval = *d;
    if (auto n = r.integer("count")) gate.count = *n;
    if (auto n = r.integer("failureLimit")) gate.failure_limit = *n;
    if (auto n = r.integer("inconclusiveLimit")) gate.inconclusive_limit = *n;
    if (auto n = r.integer("consecutiveErrorLimit")) gate.consecutive_error_limit = *n;
    gate.dry_run = r.boolean("dryRun").value_or(false);
    if (const auto* p = r.member("prometheus")) {
        object_reader pr(*p, r.child_path("prometheus"), errors);
        if (pr.is_object()) gate.prometheus = read_prometheus(pr);
    }
    if (const auto* w = r.member("webhook")) {
        object_reader wr(*w, r.child_path("webhook"), errors);
        if (wr.is_object()) gate.webhook = read_webhook(wr);
    }
    if (const auto* a = r.member("approval")) {
        object_reader ar(*a, r.child_path("approval"), errors);
        core::approval_check approval;
        if (const auto* groups = ar.member("groups")) {
            if (!groups->IsArray()) {
                ar.type_error("groups", *groups, "array");
            } else {
                for (rapidjson::SizeType i = 0; i < groups->Size(); ++i) {
                    if (auto g = as_string(&(*groups)[i]))
                        approval.groups.push_back(std::move(*g));
                    else
                        errors.push_back({error_kind::type_invalid, core::indexed(ar.child_path("groups"), i),
                                          core::quote(json_type_name((*groups)[i])), "must be of type string"});
                }
            }
        }
        if (ar.is_object()) gate.approval = std::move(approval);
    }
    return gate;
}

}  // namespace

std::vector<core::gate_spec> read_gates(object_reader& stage) {
    std::vector<core::gate_spec> gates;
    const auto* v = stage.member("gates");
    if (!v) return gates;
    if (!v->IsArray()) {
        stage.type_error("gates", *v, "array");
        return gates;
    }
    for (rapidjson::SizeType i = 0; i < v->Size(); ++i)
        gates.push_back(read_gate((*v)[i], core::indexed(stage.child_path("gates"), i), stage.errors()));
    return gates;
}

// Counters that are zero are left out: a gate per cluster at 10,000 clusters must stay small.
void write_gate_statuses(json_writer& w, const std::vector<core::gate_status>& gates) {
    w.StartArray();
    for (const auto& g : gates) {
        w.StartObject();
        str(w, "name", g.name);
        str(w, "phase", core::to_string(g.phase));
        opt_count(w, "measured", g.taken);
        opt_count(w, "successful", g.successful);
        opt_count(w, "failed", g.failed);
        opt_count(w, "inconclusive", g.inconclusive);
        opt_count(w, "errors", g.errors);
        opt_count(w, "consecutiveErrors", g.consecutive_errors);
        opt_time(w, "startedAt", g.started_at);
        opt_time(w, "nextMeasurementAt", g.next_at);
        opt_time(w, "finishedAt", g.finished_at);
        if (!g.measurements.empty()) {
            key(w, "measurements");
            w.StartArray();
            for (const auto& m : g.measurements) {
                w.StartObject();
                str(w, "at", format_time(m.at));
                str(w, "phase", core::to_string(m.phase));
                opt_str(w, "value", m.value);
                opt_str(w, "message", m.message);
                w.EndObject();
            }
            w.EndArray();
        }
        opt_str(w, "message", g.message);
        opt_str(w, "decidedBy", g.decided_by);
        opt_time(w, "decidedAt", g.decided_at);
        w.EndObject();
    }
    w.EndArray();
}

std::vector<core::gate_status> read_gate_statuses(const rapidjson::Value& array) {
    std::vector<core::gate_status> gates;
    if (!array.IsArray()) return gates;
    core::field_errors ignored;
    for (const auto& v : array.GetArray()) {
        object_reader r(v, "", ignored, false);
        core::gate_status g;
        g.name = r.string("name").value_or("");
        if (g.name.empty()) continue;
        g.phase = core::parse_gate_phase(r.string("phase").value_or("")).value_or(core::gate_phase::pending);
        g.taken = r.integer("measured").value_or(0);
        g.successful = r.integer("successful").value_or(0);
        g.failed = r.integer("failed").value_or(0);
        g.inconclusive = r.integer("inconclusive").value_or(0);
        g.errors = r.integer("errors").value_or(0);
        g.consecutive_errors = r.integer("consecutiveErrors").value_or(0);
        g.started_at = read_time(r, "startedAt");
        g.next_at = read_time(r, "nextMeasurementAt");
        g.finished_at = read_time(r, "finishedAt");
        if (const auto* ms = r.member("measurements"); ms && ms->IsArray())
            for (const auto& mv : ms->GetArray()) {
                object_reader m(mv, "", ignored, false);
                core::measurement x;
                x.at = read_time(m, "at").value_or(core::time_point{});
                x.phase = core::parse_measurement_phase(m.string("phase").value_or(""))
                              .value_or(core::measurement_phase::error);
                x.value = m.string("value").value_or("");
                x.message = m.string("message").value_or("");
                g.measurements.push_back(std::move(x));
            }
        g.message = r.string("message").value_or("");
        g.decided_by = r.string("decidedBy").value_or("");
        g.decided_at = read_time(r, "decidedAt");
        gates.push_back(std::move(g));
    }
    return gates;
}

std::string webhook_payload(const std::string& namespace_, const std::string& name,
                            const core::measurement_request& request) {
    rapidjson::StringBuffer buffer;
    json_writer w(buffer);
    w.StartObject();
    key(w, "rollout");
    w.StartObject();
    str(w, "namespace", namespace_);
    str(w, "name", name);
    w.EndObject();
    str(w, "stage", request.stage);
    str(w, "gate", request.gate);
    str(w, "when", core::to_string(request.when));
    key(w, "pass");
    w.Int64(request.pass);
    str(w, "hash", request.hash);
    key(w, "clusters");
    w.StartArray();
    for (const auto& c : request.clusters) {
        w.StartObject();
        str(w, "name", c.name);
        str(w, "server", c.server);
        key(w, "labels");
        w.StartObject();
        for (const auto& [k, v] : c.labels) str(w, k, v);
        w.EndObject();
        w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

namespace {

std::optional<double> sample_value(const rapidjson::Value& pair) {
    // [ <unix time>, "<value>" ]; Prometheus writes values as strings (NaN, +Inf included).
    if (!pair.IsArray() || pair.Size() != 2 || !pair[1].IsString()) return std::nullopt;
    const std::string text = pair[1].GetString();
    try {
        std::size_t used = 0;
        const double v = std::stod(text, &used);
        if (used != text.size()) return std::nullopt;
        return v;
    } catch (const std::exception&) {
        if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
        return std::nullopt;
    }
}

}  // namespace

prometheus_samples parse_prometheus_answer(std::string_view body) {
    prometheus_samples out;
    rapidjson::Document d;
    if (parse_json(d, body) || !d.IsObject()) {
        out.error = "Prometheus answer is not a JSON object";
        return out;
    }
    const auto status = string_at(d, {"status"});
    if (status != "success") {
        out.error = "Prometheus answered status " + core::quote(status) + ": " + string_at(d, {"error"});
        return out;
    }
    const auto type = string_at(d, {"data", "resultType"});
    const auto* result = find_path(d, {"data", "result"});
    if (!result) {
        out.error = "Prometheus answer has no data.result";
        return out;
    }
    if (type == "scalar") {
        if (auto v = sample_value(*result))
            out.values.push_back(*v);
        else
            out.error = "Prometheus scalar is not a number";
        return out;
    }
    if (type != "vector" || !result->IsArray()) {
        out.error = "Prometheus result type " + core::quote(type) + " is not a vector or scalar";
        return out;
    }
    for (const auto& sample : result->GetArray()) {
        const auto* value = sample.IsObject() && sample.HasMember("value") ? &sample["value"] : nullptr;
        auto v = value ? sample_value(*value) : std::nullopt;
        if (!v) {
            out.error = "Prometheus sample without a numeric value";
            out.values.clear();
            return out;
        }
        out.values.push_back(*v);
    }
    return out;
}

}  // namespace apr::codec
