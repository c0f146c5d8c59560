#include "codec/kube_objects.hpp"

#include "codec/application_revisions.hpp"
#include "codec/canonical_json.hpp"
#include "codec/input_limits.hpp"
#include "codec/json_reader.hpp"
#include "codec/pending_record.hpp"
#include "codec/sync_operation.hpp"
#include "codec/time_format.hpp"
#include "core/admission.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <stdexcept>

namespace apr::codec {

namespace {

std::string annotation(const rapidjson::Value& object, std::string_view key) {
    return string_at(object, {"metadata", "annotations", key});
}

}  // namespace

std::optional<core::cluster> decode_cluster_secret(const rapidjson::Value& secret) {
    // Items of a LIST carry no kind; anything else that says what it is must be a Secret.
    if (!secret.IsObject()) return std::nullopt;
    if (const auto kind = string_at(secret, {"kind"}); !kind.empty() && kind != "Secret") return std::nullopt;
    if (string_at(secret, {"metadata", "labels", secret_type_label}) != "cluster") return std::nullopt;
    core::cluster c;
    const auto* labels = find_path(secret, {"metadata", "labels"});
    for (auto it = labels->MemberBegin(); it != labels->MemberEnd(); ++it) {
        if (!it->value.IsString()) return std::nullopt;
        c.labels.emplace(std::string(it->name.GetString(), it->name.GetStringLength()),
                         std::string(it->value.GetString(), it->value.GetStringLength()));
    }
    // Only `name` and `server` are ever decoded: `config` (the credentials) is never touched.
    // A key that is present but unreadable makes the Secret unusable, as it is for Argo CD.
    auto field = [&](std::string_view key) -> std::optional<std::string> {
        if (const auto* plain = find_path(secret, {"stringData", key})) return as_string(plain);
        const auto* encoded = find_path(secret, {"data", key});
        if (!encoded) return std::string();
        if (!encoded->IsString()) return std::nullopt;
        return base64_decode(std::string_view(encoded->GetString(), encoded->GetStringLength()));
    };
    auto server = field("server");
    auto name = field("name");
    if (!server || server->empty() || !name) return std::nullopt;
    c.server = std::move(*server);
    c.name = name->empty() ? string_at(secret, {"metadata", "name"}) : std::move(*name);
    if (c.name.empty()) return std::nullopt;
    return c;
}

std::optional<core::application_set_ref> decode_application_set(const rapidjson::Value& object) {
    if (!object.IsObject()) return std::nullopt;
    // Items of a LIST carry no kind or apiVersion; anything that says what it is must say so.
    if (const auto kind = string_at(object, {"kind"}); !kind.empty() && kind != "ApplicationSet") return std::nullopt;
    if (const auto version = string_at(object, {"apiVersion"});
        !version.empty() && !version.starts_with("argoproj.io/"))
        return std::nullopt;
    core::application_set_ref ref{string_at(object, {"metadata", "namespace"}),
                                  string_at(object, {"metadata", "name"})};
    if (ref.name.empty()) return std::nullopt;
    return ref;
}

std::array<std::optional<std::string>, 4> desired_state(const rapidjson::Value& spec) {
    std::array<std::optional<std::string>, 4> out;
    if (!spec.IsObject()) return out;
    for (std::size_t i = 0; i < core::desired_state_fields.size(); ++i) {
        const auto& f = core::desired_state_fields[i];
        auto it = spec.FindMember(rapidjson::StringRef(f.data(), f.size()));
        if (it != spec.MemberEnd() && !it->value.IsNull()) out[i] = canonical_json(it->value);
    }
    return out;
}

std::string desired_state_canonical(const rapidjson::Value& spec) {
    return desired_state_canonical(desired_state(spec));
}

std::optional<std::string> recorded_sync_policy_json(const rapidjson::Value& object) {
    const auto* value = find_path(object, {"metadata", "annotations", core::sync_policy_annotation});
    if (!value || !value->IsString()) return std::nullopt;
    rapidjson::Document policy;
    // Written by the webhook only (a protected annotation), but parsed under the same limits as any input.
    if (parse_json(policy, std::string_view(value->GetString(), value->GetStringLength())) || !policy.IsObject())
        return std::nullopt;
    return canonical_json(policy);
}

std::string desired_state_canonical(const std::array<std::optional<std::string>, 4>& fields) {
    // Fields in sorted order so the text is canonical JSON of the sub-object.
    std::vector<std::pair<std::string_view, const std::string*>> present;
    for (std::size_t i = 0; i < fields.size(); ++i)
        if (fields[i]) present.emplace_back(core::desired_state_fields[i], &*fields[i]);
    std::sort(present.begin(), present.end());
    std::string out = "{";
    for (const auto& [name, json] : present) {
        if (out.size() > 1) out += ',';
        out += '"';
        out += name;
        out += "\":";
        out += *json;
    }
    out += '}';
    return out;
}

std::optional<hold_refusal> decode_hold_refusal(const rapidjson::Value& event) {
    if (!event.IsObject() || string_at(event, {"reason"}) != hold_refused_reason ||
        string_at(event, {"involvedObject", "kind"}) != "Application")
        return std::nullopt;
    hold_refusal r;
    r.namespace_ = string_at(event, {"involvedObject", "namespace"});
    r.application = string_at(event, {"involvedObject", "name"});
    r.message = string_at(event, {"message"});
    for (std::string_view field : {"lastTimestamp", "eventTime", "firstTimestamp"})
        if (auto text = as_string(find_path(event, {field})); text && !text->empty())
            if ((r.last_seen = parse_time(*text))) break;
    if (r.application.empty()) return std::nullopt;
    return r;
}

std::vector<std::string> application_set_owners(const rapidjson::Value& object) {
    std::vector<std::string> out;
    if (const auto* owners = find_path(object, {"metadata", "ownerReferences"}); owners && owners->IsArray())
        for (const auto& o : owners->GetArray())
            if (string_at(o, {"kind"}) == "ApplicationSet")
                if (auto name = string_at(o, {"name"}); std::find(out.begin(), out.end(), name) == out.end())
                    out.push_back(std::move(name));
    return out;
}

bool compared_to_spec(const rapidjson::Value& application) {
    const auto* spec = find_path(application, {"spec"});
    const auto* compared = find_path(application, {"status", "sync", "comparedTo"});
    if (!spec || !compared || !compared->IsObject()) return false;
    auto absent = [](const rapidjson::Value* v) { return !v || v->IsNull() || (v->IsArray() && v->Empty()); };
    for (std::string_view field : {std::string_view("source"), std::string_view("sources")}) {
        const auto* a = find_path(*spec, {field});
        const auto* b = find_path(*compared, {field});
        if (absent(a) || absent(b)) {
            if (absent(a) != absent(b)) return false;
            continue;
        }
        if (!surely_same_json(*a, *b) && canonical_json(*a) != canonical_json(*b)) return false;
    }
    return true;
}

bool spec_changed_since_sync(const rapidjson::Value& application) {
    const auto* synced = find_path(application, {"status", "operationState", "syncResult"});
    const auto* spec = find_path(application, {"spec"});
    if (!synced || !synced->IsObject() || !spec) return false;
    auto canon = [](const rapidjson::Value* v) {
        return v && !v->IsNull() && !(v->IsArray() && v->Empty()) ? canonical_json(*v) : std::string();
    };
    for (std::string_view field : {std::string_view("source"), std::string_view("sources")})
        if (canon(find_path(*spec, {field})) != canon(find_path(*synced, {field}))) return true;
    return false;
}

application_record decode_application(const rapidjson::Value& app) {
    application_record r;
    r.namespace_ = string_at(app, {"metadata", "namespace"});
    r.name = string_at(app, {"metadata", "name"});
    r.application_sets = application_set_owners(app);
    if (!r.application_sets.empty()) r.application_set = r.application_sets.front();
    if (const auto* spec = find_path(app, {"spec"}); spec && spec->IsObject())
        for (std::size_t i = 0; i < core::desired_state_fields.size(); ++i) {
            const auto& f = core::desired_state_fields[i];
            auto it = spec->FindMember(rapidjson::StringRef(f.data(), f.size()));
            r.desired_present[i] = it != spec->MemberEnd() && !it->value.IsNull();
        }
    r.destination_server = string_at(app, {"spec", "destination", "server"});
    r.destination_name = string_at(app, {"spec", "destination", "name"});
    r.destination_namespace = string_at(app, {"spec", "destination", "namespace"});
    r.project = string_at(app, {"spec", "project"});
    if (r.project.empty()) r.project = "default";
    const auto* automated = find_path(app, {"spec", "syncPolicy", "automated"});
    r.automated_sync = automated && !automated->IsNull();
    r.pending_spec = annotation(app, core::pending_spec_annotation);
    r.bypass_reason = annotation(app, core::bypass_annotation);
    r.created_held = find_path(app, {"metadata", "annotations", core::created_held_annotation}) != nullptr;
    if (const auto* spec = find_path(app, {"spec"}); spec && spec->IsObject()) {
        // With trackRevisions the webhook keeps auto-sync off and records the sync policy the
        // template asked for: the state a rollback restores or a pass holds is that intended one
        // (docs/admission.md#moving-revisions), so its hash is the template's.
        auto fields = desired_state(*spec);
        if (auto recorded = recorded_sync_policy_json(app)) fields[core::sync_policy_field] = std::move(*recorded);
        r.live_desired = desired_state_canonical(fields);
    }
    r.previous_spec = annotation(app, core::previous_spec_annotation);
    r.sync_policy = annotation(app, sync_policy_annotation);

    auto& o = r.observation;
    o.name = r.name;
    o.project = r.project;
    o.destination_name = r.destination_name;
    o.destination_server = r.destination_server;
    o.destination_namespace = r.destination_namespace;
    o.automated_sync = r.automated_sync;
    o.pending_hash = annotation(app, core::pending_hash_annotation);
    o.previous_for = annotation(app, core::previous_for_annotation);
    o.sync_status = string_at(app, {"status", "sync", "status"});
    o.health_status = string_at(app, {"status", "health", "status"});
    o.compared_to_current = compared_to_spec(app);
    const auto phase = string_at(app, {"status", "operationState", "phase"});
    o.operation_phase = phase;
    o.operation_in_progress = (find_path(app, {"operation"}) && !find_path(app, {"operation"})->IsNull()) ||
                              phase == "Running" || phase == "Terminating";
    if (auto started = as_string(find_path(app, {"status", "operationState", "startedAt"})))
        o.operation_started_at = parse_time(*started);
    const auto revisions = decode_application_revisions(app);
    o.resolved_revision = core::join_revisions(revisions.resolved);
    o.running_revision = core::join_revisions(revisions.running);
    if (!r.sync_policy.empty()) {
        const auto policy = decode_sync_policy(r.sync_policy);
        o.auto_sync_recorded = policy.automated;
        o.self_heal = policy.self_heal;
    }
    o.spec_changed_since_sync = spec_changed_since_sync(app);
    return r;
}

namespace {

std::string annotation_path(std::string_view key) {
    return "/metadata/annotations/" + core::escape_pointer_token(key);
}

void write_op(rapidjson::Writer<rapidjson::StringBuffer>& w, std::string_view op, std::string_view path,
              const rapidjson::Value* value) {
    w.StartObject();
    w.Key("op");
    w.String(op.data(), static_cast<rapidjson::SizeType>(op.size()));
    w.Key("path");
    w.String(path.data(), static_cast<rapidjson::SizeType>(path.size()));
    if (value) {
        w.Key("value");
        value->Accept(w);
    }
    w.EndObject();
}

void write_hash_test_and_release(rapidjson::Writer<rapidjson::StringBuffer>& w, std::string_view hash,
                                 bool created_held) {
    const rapidjson::Value expected(rapidjson::StringRef(hash.data(), hash.size()));
    write_op(w, "test", annotation_path(core::pending_hash_annotation), &expected);
    write_op(w, "remove", annotation_path(core::pending_spec_annotation), nullptr);
    write_op(w, "remove", annotation_path(core::pending_hash_annotation), nullptr);
    if (created_held) write_op(w, "remove", annotation_path(core::created_held_annotation), nullptr);
}

// Sets each desired-state field from `state`, removing live fields it lacks.
void write_desired_state(rapidjson::Writer<rapidjson::StringBuffer>& w, const application_record& app,
                         const rapidjson::Value& state) {
    for (std::size_t i = 0; i < core::desired_state_fields.size(); ++i) {
        const auto& f = core::desired_state_fields[i];
        const std::string path = "/spec/" + std::string(f);
        auto it = state.FindMember(rapidjson::StringRef(f.data(), f.size()));
        if (it != state.MemberEnd() && !it->value.IsNull())
            write_op(w, "add", path, &it->value);
        else if (app.desired_present[i])
            write_op(w, "remove", path, nullptr);
    }
}

}  // namespace

std::optional<std::string> admit_patch(const application_record& app, std::string_view hash,
                                       const std::string* operation) {
    // Only the hold writes the record (the webhook denies anyone else), and it is applied only
    // when it is exactly what its hash names.
    auto canonical = decode_pending_record(app.pending_spec);
    if (!canonical || content_hash(*canonical) != hash) return std::nullopt;
    rapidjson::Document pending;
    // The record is text: only the hold writes it (docs/admission.md), but it is parsed under the
    // same limits as any input.
    if (parse_json(pending, *canonical) || !pending.IsObject()) return std::nullopt;
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartArray();
    write_hash_test_and_release(w, hash, app.created_held);
    write_desired_state(w, app, pending);
    if (!app.created_held) {
        const auto previous = encode_pending_record(app.live_desired);
        const rapidjson::Value spec(rapidjson::StringRef(previous.data(), previous.size()));
        const rapidjson::Value replaced_by(rapidjson::StringRef(hash.data(), hash.size()));
        write_op(w, "add", annotation_path(core::previous_spec_annotation), &spec);
        write_op(w, "add", annotation_path(core::previous_for_annotation), &replaced_by);
    }
    if (operation) {
        rapidjson::Document op;
        if (parse_json(op, *operation) || !op.IsObject()) return std::nullopt;
        write_op(w, "add", "/operation", &op);
    }
    w.EndArray();
    return std::string(buffer.GetString(), buffer.GetSize());
}

std::optional<std::string> restore_patch(const application_record& app, std::string_view hash) {
    if (hash.empty() || app.observation.previous_for != hash) return std::nullopt;
    auto canonical = decode_pending_record(app.previous_spec);
    rapidjson::Document previous;
    if (!canonical || parse_json(previous, *canonical) || !previous.IsObject()) return std::nullopt;
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartArray();
    const rapidjson::Value expected(rapidjson::StringRef(hash.data(), hash.size()));
    write_op(w, "test", annotation_path(core::previous_for_annotation), &expected);
    write_desired_state(w, app, previous);
    // The change it ran is held again, as the webhook holds one: restored, not lost. A newer
    // change already held stays what is pending.
    if (app.observation.pending_hash.empty()) {
        const auto held = encode_pending_record(app.live_desired);
        const auto held_hash = content_hash(app.live_desired);
        const rapidjson::Value spec(rapidjson::StringRef(held.data(), held.size()));
        const rapidjson::Value spec_hash(rapidjson::StringRef(held_hash.data(), held_hash.size()));
        write_op(w, "add", annotation_path(core::pending_spec_annotation), &spec);
        write_op(w, "add", annotation_path(core::pending_hash_annotation), &spec_hash);
    }
    write_op(w, "remove", annotation_path(core::previous_spec_annotation), nullptr);
    write_op(w, "remove", annotation_path(core::previous_for_annotation), nullptr);
    w.EndArray();
    return std::string(buffer.GetString(), buffer.GetSize());
}

std::string release_patch(const application_record& app) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartArray();
    write_hash_test_and_release(w, app.observation.pending_hash, app.created_held);
    w.EndArray();
    return {buffer.GetString(), buffer.GetSize()};
}

namespace {

bool is_plain_null(const std::string& s) {
    return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

void yaml_to_json(const YAML::Node& node, rapidjson::Value& out, rapidjson::Document::AllocatorType& alloc) {
    switch (node.Type()) {
        case YAML::NodeType::Null:
        case YAML::NodeType::Undefined:
            out.SetNull();
            return;
        case YAML::NodeType::Sequence:
            out.SetArray();
            for (const auto& item : node) {
                rapidjson::Value v;
                yaml_to_json(item, v, alloc);
                out.PushBack(v, alloc);
            }
            return;
        case YAML::NodeType::Map:
            out.SetObject();
            for (const auto& kv : node) {
                rapidjson::Value key(kv.first.Scalar().c_str(), alloc);
                rapidjson::Value v;
                yaml_to_json(kv.second, v, alloc);
                out.AddMember(key, v, alloc);
            }
            return;
        case YAML::NodeType::Scalar:
            break;
    }
    const std::string& s = node.Scalar();
    // Quoted scalars carry the non-specific tag "!": always strings ("true", "25%", "5").
    if (node.Tag() != "!") {
        if (is_plain_null(s)) return out.SetNull(), void();
        if (s == "true" || s == "True" || s == "TRUE") return out.SetBool(true), void();
        if (s == "false" || s == "False" || s == "FALSE") return out.SetBool(false), void();
        long long i = 0;
        auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), i);
        if (ec == std::errc{} && end == s.data() + s.size()) return out.SetInt64(i), void();
        double d = 0;
        auto [dend, dec] = std::from_chars(s.data(), s.data() + s.size(), d);
        if (dec == std::errc{} && dend == s.data() + s.size() && s.find_first_of("0123456789") != std::string::npos)
            return out.SetDouble(d), void();
    }
    out.SetString(s.c_str(), static_cast<rapidjson::SizeType>(s.size()), alloc);
}

void flatten(rapidjson::Document&& doc, std::vector<rapidjson::Document>& out) {
    if (doc.IsNull()) return;
    const auto kind = string_at(doc, {"kind"});
    const auto* items = find_path(doc, {"items"});
    if (kind.size() >= 4 && kind.ends_with("List") && items && items->IsArray()) {
        for (auto& item : doc["items"].GetArray()) {
            rapidjson::Document one;
            one.CopyFrom(item, one.GetAllocator());
            out.push_back(std::move(one));
        }
        return;
    }
    out.push_back(std::move(doc));
}

}  // namespace

std::vector<rapidjson::Document> parse_objects(std::string_view text) {
    std::vector<rapidjson::Document> out;
    auto first = text.find_first_not_of(" \t\r\n");
    if (first != std::string_view::npos && (text[first] == '{' || text[first] == '[')) {
        rapidjson::Document doc;
        if (auto error = parse_json(doc, text))
            throw std::runtime_error("invalid JSON at offset " + std::to_string(error->offset) + ": " + error->what);
        if (doc.IsArray()) {
            for (auto& item : doc.GetArray()) {
                rapidjson::Document one;
                one.CopyFrom(item, one.GetAllocator());
                flatten(std::move(one), out);
            }
        } else {
            flatten(std::move(doc), out);
        }
        return out;
    }
    // Checked for nesting and alias expansion, which bounds yaml_to_json's recursion and output.
    for (const auto& node : load_yaml_documents(text)) {
        rapidjson::Document doc;
        yaml_to_json(node, doc, doc.GetAllocator());
        flatten(std::move(doc), out);
    }
    return out;
}

}  // namespace apr::codec
