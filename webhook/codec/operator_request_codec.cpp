#include "codec/operator_request_codec.hpp"

#include "codec/json_reader.hpp"
#include "codec/time_format.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace apr::codec {

using core::error_kind;

namespace {

std::optional<core::time_point> read_time(object_reader& r, std::string_view key) {
    auto text = r.string(key);
    if (!text) return std::nullopt;
    if (auto t = parse_time(*text)) return t;
    r.errors().push_back({error_kind::invalid, r.child_path(key), core::quote(*text),
                          "must be an RFC 3339 time such as \"2026-11-30T21:00:00Z\""});
    return std::nullopt;
}

}  // namespace

decoded_request decode_request(std::string_view text) {
    decoded_request out;
    auto& q = out.request;
    rapidjson::Document doc;
    doc.Parse(text.data(), text.size());
    if (doc.HasParseError()) {
        out.errors.push_back({error_kind::invalid, std::string(request_field_path), "",
                              std::string("must be a JSON object: ") +
                                  rapidjson::GetParseError_En(doc.GetParseError()) + " at offset " +
                                  std::to_string(doc.GetErrorOffset())});
        return out;
    }
    if (!doc.IsObject()) {
        out.errors.push_back({error_kind::type_invalid, std::string(request_field_path),
                              core::quote(json_type_name(doc)), "must be of type object"});
        return out;
    }
    object_reader r(doc, std::string(request_field_path), out.errors);
    if (auto verb = r.string("verb", true)) {
        if (auto v = core::parse_request_verb(*verb))
            q.verb = *v;
        else
            out.errors.push_back({error_kind::unsupported, r.child_path("verb"), core::quote(*verb),
                                  "supported values: " + core::supported_request_verbs()});
    }
    q.id = r.string("id").value_or("");
    q.stage = r.string("stage").value_or("");
    q.skip_bake = r.boolean("skipBake").value_or(false);
    q.rollback = r.boolean("rollback").value_or(false);
    q.cluster = r.string("cluster").value_or("");
    q.reason = r.string("reason").value_or("");
    q.until = read_time(r, "until");
    q.user = r.string("user").value_or("");
    if (const auto* groups = r.member("groups")) {
        if (!groups->IsArray()) {
            r.type_error("groups", *groups, "array");
        } else {
            for (const auto& g : groups->GetArray())
                if (g.IsString()) q.groups.emplace_back(g.GetString(), g.GetStringLength());
        }
    }
    q.at = read_time(r, "at");
    return out;
}

std::string encode_request(const core::operator_request& q) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    auto str = [&](std::string_view key, std::string_view value) {
        if (value.empty()) return;
        w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
        w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
    };
    w.StartObject();
    str("verb", core::to_string(q.verb));
    str("id", q.id);
    str("stage", q.stage);
    if (q.skip_bake) {
        w.Key("skipBake");
        w.Bool(true);
    }
    if (q.rollback) {
        w.Key("rollback");
        w.Bool(true);
    }
    str("cluster", q.cluster);
    str("reason", q.reason);
    if (q.until) str("until", format_time(*q.until));
    str("user", q.user);
    if (!q.user.empty()) {
        w.Key("groups");
        w.StartArray();
        for (const auto& g : q.groups) w.String(g.data(), static_cast<rapidjson::SizeType>(g.size()));
        w.EndArray();
    }
    if (q.at) str("at", format_time(*q.at));
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

std::optional<std::string> request_annotation_of(const rapidjson::Value& object) {
    const auto* annotations = find_path(object, {"metadata", "annotations"});
    if (!annotations || !annotations->IsObject()) return std::nullopt;
    auto it = annotations->FindMember(
        rapidjson::Value(rapidjson::StringRef(core::request_annotation.data(), core::request_annotation.size())));
    if (it == annotations->MemberEnd() || !it->value.IsString()) return std::nullopt;
    return std::string(it->value.GetString(), it->value.GetStringLength());
}

}  // namespace apr::codec
