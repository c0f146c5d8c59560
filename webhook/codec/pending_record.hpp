#pragma once
// How the hold stores a held desired state in the annotation deployment.skyscanner.net/pending-spec:
// canonical JSON as it is, or, when that is large, gzip + base64 behind a marker, so Helm values of
// several hundred KiB still fit Kubernetes' 256 KiB cap on all annotations (docs/admission.md).

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace apr::codec {

// The marker of the compressed form; canonical JSON never starts with it.
inline constexpr std::string_view compressed_marker = "gzip+base64:";
// Canonical JSON up to this size is stored as it is, readable with kubectl.
inline constexpr std::size_t plain_record_limit = 32 * 1024;
// A record never expands beyond this: larger is refused as corrupt (a decompression bomb).
inline constexpr std::size_t max_record_size = 16 * 1024 * 1024;

// The annotation value for `canonical`: itself when small, else the marked compressed form.
std::string encode_pending_record(std::string_view canonical);

// The canonical JSON back from an annotation value; nullopt when the marked form is corrupt.
std::optional<std::string> decode_pending_record(std::string_view value);

}  // namespace apr::codec
