#include "codec/sync_operation.hpp"

#include "codec/canonical_json.hpp"
#include "codec/input_limits.hpp"
#include "codec/json_reader.hpp"
#include "core/admission.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace apr::codec {

namespace {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

void write_string(json_writer& w, std::string_view s) {
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

// Copies recorded JSON text into the writer (it was canonical JSON when recorded).
void write_raw(json_writer& w, const std::string& json) {
    w.RawValue(json.data(), json.size(), rapidjson::kObjectType);
}

}  // namespace

sync_policy_options decode_sync_policy(std::string_view record) {
    sync_policy_options out;
    rapidjson::Document doc;
    if (record.empty() || parse_json(doc, record) || !doc.IsObject()) return out;
    auto flag = [&](std::string_view key) {
        const auto* v = find_path(doc, {"automated", key});
        return v && v->IsBool() && v->GetBool();
    };
    const auto* automated = find_path(doc, {"automated"});
    if (automated && automated->IsObject()) {
        // Argo CD's `enabled: false` turns automation off while keeping its settings.
        const auto* enabled = find_path(*automated, {"enabled"});
        const bool on = !(enabled && enabled->IsBool() && !enabled->GetBool());
        out.automated = on;
        out.prune = flag("prune");
        out.self_heal = on && flag("selfHeal");
    }
    if (const auto* options = find_path(doc, {"syncOptions"}); options && options->IsArray())
        out.sync_options = canonical_json(*options);
    if (const auto* retry = find_path(doc, {"retry"}); retry && retry->IsObject()) out.retry = canonical_json(*retry);
    return out;
}

std::string sync_operation_json(const application_record& app, const std::optional<std::string>& revision,
                                std::string_view username) {
    const auto policy = decode_sync_policy(app.sync_policy);
    rapidjson::StringBuffer buffer;
    json_writer w(buffer);
    w.StartObject();
    w.Key("sync");
    w.StartObject();
    if (revision) {
        if (app.desired_present[core::sources_field]) {
            // Multi-source: one revision per source, by position (R joins them with ',').
            w.Key("revisions");
            w.StartArray();
            std::size_t start = 0;
            for (auto comma = revision->find(',');; comma = revision->find(',', start)) {
                write_string(w, std::string_view(*revision).substr(start, comma - start));
                if (comma == std::string::npos) break;
                start = comma + 1;
            }
            w.EndArray();
        } else {
            w.Key("revision");
            write_string(w, *revision);
        }
    }
    if (policy.prune) {
        w.Key("prune");
        w.Bool(true);
    }
    if (policy.sync_options) {
        w.Key("syncOptions");
        write_raw(w, *policy.sync_options);
    }
    w.EndObject();
    if (policy.retry) {
        w.Key("retry");
        write_raw(w, *policy.retry);
    }
    w.Key("initiatedBy");
    w.StartObject();
    w.Key("username");
    write_string(w, username);
    w.EndObject();
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

std::string sync_patch(const application_record& app, const std::string& revision, std::string_view username) {
    return "{\"operation\":" + sync_operation_json(app, revision, username) + "}";
}

}  // namespace apr::codec
