#include "codec/json_reader.hpp"

namespace apr::codec {

using core::error_kind;

std::string_view json_type_name(const rapidjson::Value& v) {
    switch (v.GetType()) {
        case rapidjson::kNullType:
            return "null";
        case rapidjson::kFalseType:
        case rapidjson::kTrueType:
            return "boolean";
        case rapidjson::kObjectType:
            return "object";
        case rapidjson::kArrayType:
            return "array";
        case rapidjson::kStringType:
            return "string";
        case rapidjson::kNumberType:
            return v.IsInt64() || v.IsUint64() ? "integer" : "number";
    }
    return "unknown";
}

object_reader::object_reader(const rapidjson::Value& value, std::string path, core::field_errors& errors, bool strict)
    : path_(std::move(path)), errors_(errors), strict_(strict) {
    if (value.IsObject())
        object_ = &value;
    else if (!value.IsNull())
        errors_.push_back(
            {error_kind::type_invalid, path_, core::quote(json_type_name(value)), "must be of type object"});
}

object_reader::~object_reader() {
    if (!strict_ || !object_) return;
    for (auto it = object_->MemberBegin(); it != object_->MemberEnd(); ++it) {
        std::string_view key(it->name.GetString(), it->name.GetStringLength());
        if (!known_.contains(key)) errors_.push_back({error_kind::unknown_field, core::child(path_, key), "", ""});
    }
}

const rapidjson::Value* object_reader::member(std::string_view key) {
    known_.emplace(key);
    if (!object_) return nullptr;
    auto it = object_->FindMember(rapidjson::Value(rapidjson::StringRef(key.data(), key.size())));
    if (it == object_->MemberEnd() || it->value.IsNull()) return nullptr;
    return &it->value;
}

void object_reader::type_error(std::string_view key, const rapidjson::Value& v, std::string_view expected) {
    errors_.push_back({error_kind::type_invalid, child_path(key), core::quote(json_type_name(v)),
                       "must be of type " + std::string(expected)});
}

std::optional<std::string> object_reader::string(std::string_view key, bool required) {
    const auto* v = member(key);
    if (!v) {
        if (required) errors_.push_back({error_kind::required, child_path(key), "", ""});
        return std::nullopt;
    }
    if (!v->IsString()) {
        type_error(key, *v, "string");
        return std::nullopt;
    }
    return std::string(v->GetString(), v->GetStringLength());
}

std::optional<long long> object_reader::integer(std::string_view key, bool required) {
    const auto* v = member(key);
    if (!v) {
        if (required) errors_.push_back({error_kind::required, child_path(key), "", ""});
        return std::nullopt;
    }
    if (!v->IsInt64()) {
        type_error(key, *v, "integer");
        return std::nullopt;
    }
    return v->GetInt64();
}

std::optional<bool> object_reader::boolean(std::string_view key) {
    const auto* v = member(key);
    if (!v) return std::nullopt;
    if (!v->IsBool()) {
        type_error(key, *v, "boolean");
        return std::nullopt;
    }
    return v->GetBool();
}

std::optional<std::string> as_string(const rapidjson::Value* v) {
    if (!v || !v->IsString()) return std::nullopt;
    return std::string(v->GetString(), v->GetStringLength());
}

const rapidjson::Value* find_path(const rapidjson::Value& root, std::initializer_list<std::string_view> keys) {
    const rapidjson::Value* at = &root;
    for (auto key : keys) {
        if (!at->IsObject()) return nullptr;
        // FindMember, but compared in line: keys are a few bytes, members of one object often
        // share a length, and a call to memcmp per candidate cost more than the comparison (the
        // hot path walks about 150 paths per review).
        const rapidjson::Value* found = nullptr;
        for (auto it = at->MemberBegin(); it != at->MemberEnd(); ++it) {
            const auto& name = it->name;
            if (name.GetStringLength() != key.size()) continue;
            const char* text = name.GetString();
            std::size_t i = 0;
            while (i < key.size() && text[i] == key[i]) ++i;
            if (i != key.size()) continue;
            found = &it->value;
            break;
        }
        if (!found) return nullptr;
        at = found;
    }
    return at;
}

std::string string_at(const rapidjson::Value& root, std::initializer_list<std::string_view> keys) {
    return as_string(find_path(root, keys)).value_or(std::string());
}

}  // namespace apr::codec
