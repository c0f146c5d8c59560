#pragma once
// Small helpers every status writer and reader of the codec shares: optional members are left
// out when empty, times are RFC 3339 (time_format.hpp).

#include "codec/json_reader.hpp"
#include "codec/time_format.hpp"
#include "core/duration.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <optional>
#include <string_view>

namespace apr::codec::fields {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

inline void key(json_writer& w, std::string_view k) {
    w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
}
inline void str(json_writer& w, std::string_view k, std::string_view v) {
    key(w, k);
    w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}
inline void opt_str(json_writer& w, std::string_view k, std::string_view v) {
    if (!v.empty()) str(w, k, v);
}
inline void opt_time(json_writer& w, std::string_view k, const std::optional<core::time_point>& t) {
    if (t) str(w, k, format_time(*t));
}
inline void opt_count(json_writer& w, std::string_view k, long long n) {
    if (n == 0) return;
    key(w, k);
    w.Int64(n);
}

inline std::optional<core::time_point> read_time(object_reader& r, std::string_view key) {
    if (auto text = r.string(key)) return parse_time(*text);
    return std::nullopt;
}

inline std::optional<core::duration_field> read_duration(object_reader& r, std::string_view key) {
    if (auto text = r.string(key)) return core::duration_field::of(*text);
    return std::nullopt;
}

}  // namespace apr::codec::fields
