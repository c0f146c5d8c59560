#pragma once
// JSON editing and listing helpers shared by the simulator's files (fleet_simulator.cpp: the
// ApplicationSet controller and setup; application_controller.cpp: Argo CD's application controller).

#include "codec/json_reader.hpp"
#include "kube/client.hpp"

#include <rapidjson/document.h>

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace apr::sim::detail {

using rapidjson::Value;
using allocator = rapidjson::Document::AllocatorType;

// The simulator is test code: an API answer it did not expect ends the scenario loudly.
template <class T>
T must(kube::api_result<T> result, std::string_view what) {
    if (!result) throw std::runtime_error(std::string(what) + ": " + result.error().describe());
    return std::move(*result);
}

inline Value text(std::string_view s, allocator& a) {
    return Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
}

// Sets (or replaces) object[key]; `value` is moved from.
inline void set_member(Value& object, std::string_view key, Value&& value, allocator& a) {
    if (!object.IsObject()) object.SetObject();
    auto it = object.FindMember(Value(key.data(), static_cast<rapidjson::SizeType>(key.size())));
    if (it != object.MemberEnd())
        it->value = std::move(value);
    else
        object.AddMember(text(key, a), value, a);
}

inline Value& object_member(Value& object, std::string_view key, allocator& a) {
    if (!object.IsObject()) object.SetObject();
    auto it = object.FindMember(Value(key.data(), static_cast<rapidjson::SizeType>(key.size())));
    if (it == object.MemberEnd()) {
        object.AddMember(text(key, a), Value(rapidjson::kObjectType), a);
        it = object.FindMember(Value(key.data(), static_cast<rapidjson::SizeType>(key.size())));
    }
    if (!it->value.IsObject()) it->value.SetObject();
    return it->value;
}

inline Value copy_of(const Value* v, allocator& a) {
    Value out;
    if (v) out.CopyFrom(*v, a);
    return out;
}

inline bool same(const Value* a, const Value* b) {
    if (!a || !b) return !a && !b;
    return *a == *b;
}

inline bool owned_by(const Value& app, std::string_view appset) {
    const Value* refs = codec::find_path(app, {"metadata", "ownerReferences"});
    if (!refs || !refs->IsArray()) return false;
    for (const auto& r : refs->GetArray()) {
        if (codec::string_at(r, {"kind"}) == "ApplicationSet" && codec::string_at(r, {"name"}) == appset) return true;
    }
    return false;
}

inline bool auto_sync_on(const Value& app) {
    const Value* automated = codec::find_path(app, {"spec", "syncPolicy", "automated"});
    if (!automated || !automated->IsObject()) return false;
    const Value* enabled = codec::find_path(*automated, {"enabled"});
    return !(enabled && enabled->IsBool() && !enabled->GetBool());
}

inline std::vector<rapidjson::Document> list_all(kube::client& c, const std::string& path, std::string_view what) {
    std::vector<rapidjson::Document> items;
    must(c.list(path, 500,
                [&](const Value& item) {
                    rapidjson::Document d;
                    // LIST pages are parsed in situ and CopyFrom keeps such strings by reference: re-parse.
                    d.Parse(kube::to_json(item).c_str());
                    items.push_back(std::move(d));
                }),
         what);
    return items;
}

}  // namespace apr::sim::detail
