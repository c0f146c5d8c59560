#pragma once
// JSON helpers of the admission model test, and RFC 6902 patches applied as the API server does.

#include <rapidjson/document.h>
#include <rapidjson/pointer.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "codec/json_reader.hpp"

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace apr::model {

using namespace apr;

using json = rapidjson::Document;
using value = rapidjson::Value;

// ---------------------------------------------------------------------------------------------
// JSON helpers

inline json parse(const std::string& text) {
    json d;
    d.Parse(text.c_str(), text.size());
    if (d.HasParseError()) throw std::runtime_error("model: not JSON: " + text.substr(0, 200));
    return d;
}

inline std::string dump(const value& v) {
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    v.Accept(w);
    return {b.GetString(), b.GetSize()};
}

inline json copy_of(const value& v) {
    json d;
    d.CopyFrom(v, d.GetAllocator());
    return d;
}

inline value* at(value& root, std::initializer_list<std::string_view> path) {
    value* v = &root;
    for (auto key : path) {
        if (!v->IsObject()) return nullptr;
        auto it = v->FindMember(rapidjson::StringRef(key.data(), key.size()));
        if (it == v->MemberEnd()) return nullptr;
        v = &it->value;
    }
    return v;
}

// Sets root[path...] = v, creating objects on the way.
inline void set(json& doc, std::initializer_list<std::string_view> path, const value& v) {
    value* cur = &doc;
    auto& a = doc.GetAllocator();
    std::size_t i = 0;
    for (auto key : path) {
        if (!cur->IsObject()) cur->SetObject();
        auto it = cur->FindMember(rapidjson::StringRef(key.data(), key.size()));
        if (it == cur->MemberEnd()) {
            cur->AddMember(value(key.data(), static_cast<rapidjson::SizeType>(key.size()), a),
                           value(rapidjson::kObjectType), a);
            it = cur->FindMember(rapidjson::StringRef(key.data(), key.size()));
        }
        cur = &it->value;
        if (++i == path.size()) cur->CopyFrom(v, a);
    }
}

inline void set_string(json& doc, std::initializer_list<std::string_view> path, const std::string& s) {
    value v(s.c_str(), static_cast<rapidjson::SizeType>(s.size()), doc.GetAllocator());
    set(doc, path, v);
}

inline void erase(json& doc, std::initializer_list<std::string_view> path) {
    std::vector<std::string_view> p(path);
    if (p.empty()) return;
    value* parent = &doc;
    for (std::size_t i = 0; i + 1 < p.size(); ++i) {
        if (!parent->IsObject()) return;
        auto it = parent->FindMember(rapidjson::StringRef(p[i].data(), p[i].size()));
        if (it == parent->MemberEnd()) return;
        parent = &it->value;
    }
    if (parent->IsObject()) parent->RemoveMember(rapidjson::StringRef(p.back().data(), p.back().size()));
}

inline std::string str(const value& root, std::initializer_list<std::string_view> path) {
    return codec::string_at(root, path);
}

// ---------------------------------------------------------------------------------------------
// RFC 6902 as the API server applies it: add/remove/replace/test. A remove of a missing path or a
// failed test fails the whole patch (HTTP 422) and leaves the object as it was.

inline bool apply_patch(json& doc, const std::string& patch_text, std::string& error) {
    json patch = parse(patch_text);
    if (!patch.IsArray()) return error = "patch is not an array", false;
    json work = copy_of(doc);
    auto& a = work.GetAllocator();
    for (const auto& op : patch.GetArray()) {
        const std::string kind = str(op, {"op"});
        const std::string path = str(op, {"path"});
        const value* v = codec::find_path(op, {"value"});
        rapidjson::Pointer pointer(path.c_str(), path.size());
        if (!pointer.IsValid()) return error = "invalid path " + path, false;
        const auto* tokens = pointer.GetTokens();
        const auto count = pointer.GetTokenCount();
        if (count == 0) return error = "whole-document operations are not used", false;
        rapidjson::Pointer parent_pointer(tokens, count - 1);
        value* parent = parent_pointer.Get(work);
        if (!parent) return error = kind + " " + path + ": parent missing", false;
        const auto& last = tokens[count - 1];
        const std::string name(last.name, last.length);
        value* target = nullptr;
        if (parent->IsObject()) {
            auto it = parent->FindMember(rapidjson::StringRef(last.name, last.length));
            if (it != parent->MemberEnd()) target = &it->value;
        } else if (parent->IsArray()) {
            if (last.index != rapidjson::kPointerInvalidIndex && last.index < parent->Size())
                target = &(*parent)[last.index];
        } else {
            return error = kind + " " + path + ": parent is not a container", false;
        }
        if (kind == "test") {
            if (!v || !target || !(*target == *v)) return error = "test " + path + " failed", false;
        } else if (kind == "remove") {
            if (!target) return error = "remove " + path + ": missing", false;
            if (parent->IsObject())
                parent->RemoveMember(rapidjson::StringRef(last.name, last.length));
            else
                parent->Erase(parent->Begin() + last.index);
        } else if (kind == "replace") {
            if (!target || !v) return error = "replace " + path + ": missing", false;
            target->CopyFrom(*v, a);
        } else if (kind == "add") {
            if (!v) return error = "add " + path + ": no value", false;
            value copy;
            copy.CopyFrom(*v, a);
            if (parent->IsObject()) {
                if (target)
                    *target = std::move(copy);
                else
                    parent->AddMember(value(name.c_str(), static_cast<rapidjson::SizeType>(name.size()), a), copy, a);
            } else if (name == "-") {
                parent->PushBack(copy, a);
            } else {
                if (last.index == rapidjson::kPointerInvalidIndex || last.index > parent->Size())
                    return error = "add " + path + ": index out of range", false;
                parent->PushBack(copy, a);
                for (auto i = parent->Size() - 1; i > last.index; --i) std::swap((*parent)[i], (*parent)[i - 1]);
            }
        } else {
            return error = "unsupported op " + kind, false;
        }
    }
    doc.Swap(work);
    return true;
}

}  // namespace apr::model
