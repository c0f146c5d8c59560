#include "codec/pending_record.hpp"

#include "codec/canonical_json.hpp"

#include <zlib.h>

namespace apr::codec {

namespace {

std::optional<std::string> gzip(std::string_view bytes) {
    z_stream z{};
    // 15 window bits + 16: a gzip header, so `base64 -d | gunzip` reads it too.
    if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return std::nullopt;
    std::string out(deflateBound(&z, static_cast<uLong>(bytes.size())), '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
    z.avail_in = static_cast<uInt>(bytes.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    const int rc = deflate(&z, Z_FINISH);
    out.resize(z.total_out);
    deflateEnd(&z);
    if (rc != Z_STREAM_END) return std::nullopt;
    return out;
}

std::optional<std::string> gunzip(std::string_view bytes) {
    z_stream z{};
    if (inflateInit2(&z, 15 + 16) != Z_OK) return std::nullopt;
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
    z.avail_in = static_cast<uInt>(bytes.size());
    std::string out;
    char chunk[16384];
    int rc = Z_OK;
    while (rc == Z_OK) {
        z.next_out = reinterpret_cast<Bytef*>(chunk);
        z.avail_out = sizeof chunk;
        rc = inflate(&z, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END) break;
        out.append(chunk, sizeof chunk - z.avail_out);
        if (out.size() > max_record_size) rc = Z_DATA_ERROR;
        if (rc == Z_OK && z.avail_in == 0 && z.avail_out != 0) rc = Z_DATA_ERROR;  // truncated
    }
    const bool whole = rc == Z_STREAM_END && z.avail_in == 0;
    inflateEnd(&z);
    if (!whole) return std::nullopt;
    return out;
}

}  // namespace

std::string encode_pending_record(std::string_view canonical) {
    if (canonical.size() <= plain_record_limit) return std::string(canonical);
    auto packed = gzip(canonical);
    if (!packed) return std::string(canonical);  // zlib out of memory: the size check still applies
    return std::string(compressed_marker) + base64_encode(*packed);
}

std::optional<std::string> decode_pending_record(std::string_view value) {
    if (!value.starts_with(compressed_marker)) return std::string(value);
    auto packed = base64_decode(value.substr(compressed_marker.size()));
    if (!packed) return std::nullopt;
    return gunzip(*packed);
}

}  // namespace apr::codec
