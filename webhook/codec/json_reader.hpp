#pragma once
// Reading Kubernetes JSON into core types without ever trusting it: every access checks the type,
// every problem becomes a field_error with its path, and unknown fields are reported, not dropped.

#include "core/field_errors.hpp"

#include <rapidjson/document.h>

#include <optional>
#include <set>
#include <string>

namespace apr::codec {

std::string_view json_type_name(const rapidjson::Value& v);

class object_reader {
public:
    // `value` must outlive the reader. A non-object value is reported once and reads as empty.
    object_reader(const rapidjson::Value& value, std::string path, core::field_errors& errors, bool strict = true);
    ~object_reader();
    object_reader(const object_reader&) = delete;
    object_reader& operator=(const object_reader&) = delete;

    const std::string& path() const { return path_; }
    core::field_errors& errors() { return errors_; }
    bool is_object() const { return object_ != nullptr; }

    // Marks `key` as known and returns the member, or nullptr when absent (or JSON null).
    const rapidjson::Value* member(std::string_view key);
    std::optional<std::string> string(std::string_view key, bool required = false);
    std::optional<long long> integer(std::string_view key, bool required = false);
    std::optional<bool> boolean(std::string_view key);
    std::string child_path(std::string_view key) const { return core::child(path_, key); }
    void type_error(std::string_view key, const rapidjson::Value& v, std::string_view expected);
    void ignore_rest() { strict_ = false; }

private:
    const rapidjson::Value* object_ = nullptr;
    std::string path_;
    core::field_errors& errors_;
    bool strict_;
    std::set<std::string, std::less<>> known_;
};

// `string` helpers for plain values (not members).
std::optional<std::string> as_string(const rapidjson::Value* v);
const rapidjson::Value* find_path(const rapidjson::Value& root, std::initializer_list<std::string_view> keys);
std::string string_at(const rapidjson::Value& root, std::initializer_list<std::string_view> keys);

}  // namespace apr::codec
