#include "codec/windows_codec.hpp"

#include "codec/json_reader.hpp"

#include <date/tz.h>

namespace apr::codec {

namespace {

std::vector<std::string> strings_of(const rapidjson::Value* v) {
    std::vector<std::string> out;
    if (!v || !v->IsArray()) return out;
    for (const auto& item : v->GetArray())
        if (item.IsString()) out.emplace_back(item.GetString(), item.GetStringLength());
    return out;
}

std::string string_member(const rapidjson::Value& o, const char* key) {
    auto it = o.FindMember(key);
    if (it == o.MemberEnd() || !it->value.IsString()) return {};
    return {it->value.GetString(), it->value.GetStringLength()};
}

bool bool_member(const rapidjson::Value& o, const char* key) {
    auto it = o.FindMember(key);
    return it != o.MemberEnd() && it->value.IsBool() && it->value.GetBool();
}

}  // namespace

core::zone_ref resolve_zone(std::string_view name) {
    core::zone_ref ref{std::string(name), nullptr};
    if (name.empty()) return ref;
    try {
        const auto* zone = date::locate_zone(name);
        zone->get_info(date::sys_seconds{});  // loads the zone's file now
        ref.zone = zone;
    } catch (const std::exception&) {
        // unknown: left null for validation (rollouts) or read as UTC (AppProjects, as Argo CD)
    }
    return ref;
}

std::vector<core::window_spec> read_rollout_windows(object_reader& spec) {
    std::vector<core::window_spec> out;
    const auto* windows = spec.member("windows");
    if (!windows) return out;
    if (!windows->IsArray()) {
        spec.type_error("windows", *windows, "array");
        return out;
    }
    for (rapidjson::SizeType i = 0; i < windows->Size(); ++i) {
        object_reader r((*windows)[i], core::indexed(spec.child_path("windows"), i), spec.errors());
        core::window_spec w;
        w.kind = r.string("kind").value_or("");
        w.schedule = r.string("schedule").value_or("");
        if (auto d = r.string("duration")) w.duration = core::duration_field::of(*d);
        w.time_zone = resolve_zone(r.string("timeZone").value_or(""));
        out.push_back(std::move(w));
    }
    return out;
}

std::optional<core::app_project> decode_app_project(const rapidjson::Value& project) {
    if (!project.IsObject() || string_member(project, "kind") != "AppProject") return std::nullopt;
    core::app_project out;
    out.name = string_at(project, {"metadata", "name"});
    if (out.name.empty()) return std::nullopt;
    const auto* windows = find_path(project, {"spec", "syncWindows"});
    if (!windows || !windows->IsArray()) return out;
    for (const auto& v : windows->GetArray()) {
        if (!v.IsObject()) continue;
        core::project_window w;
        w.kind = string_member(v, "kind");
        w.schedule = string_member(v, "schedule");
        w.duration = string_member(v, "duration");
        w.time_zone = resolve_zone(string_member(v, "timeZone"));
        if (auto cron = core::parse_cron(w.schedule); cron.schedule && !cron.schedule->zone.empty())
            w.schedule_zone = resolve_zone(cron.schedule->zone);
        w.applications = strings_of(v.HasMember("applications") ? &v["applications"] : nullptr);
        w.namespaces = strings_of(v.HasMember("namespaces") ? &v["namespaces"] : nullptr);
        w.clusters = strings_of(v.HasMember("clusters") ? &v["clusters"] : nullptr);
        w.manual_sync = bool_member(v, "manualSync");
        w.and_operator = bool_member(v, "andOperator");
        out.sync_windows.push_back(std::move(w));
    }
    return out;
}

}  // namespace apr::codec
