#pragma once
// The limits every JSON and YAML input is held to before anything recursive touches it, and the
// one way each kind of input is parsed under them. AdmissionReviews come from anyone who can reach
// the Service, API responses and files from further away; all go through here.
//
// Nesting: RapidJSON's reader, yaml-cpp's parser and our own walks (canonical JSON, Writer::Accept,
// CopyFrom, YAML to JSON) recurse once per level. RapidJSON takes 60 to 100 bytes of stack a level,
// depending on the build, so an 8 MiB thread stack overflows past 80,000 to 130,000 levels: a
// 240 KB body of brackets was enough to crash the server. yaml-cpp refuses more than 498 levels by itself. One bound below both, far
// above any real Kubernetes object (a few dozen levels, Helm values included), is checked as the
// input is read, before any recursion past it can happen.
//
// Encoding: Kubernetes serialises JSON as UTF-8 and replaces what is not; text we read is checked,
// so that what we echo (a name in a denial, a warning) cannot make our own answer invalid.

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

#include <cstddef>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// RapidJSON 1.1.0's SIMD string scans let control bytes 0x1A-0x1F through (the reader accepts them
// raw in strings, the writer does not escape them) and read up to 15 bytes past the input's end.
// See codec/CMakeLists.txt.
#if (defined(RAPIDJSON_SSE2) || defined(RAPIDJSON_SSE42) || defined(RAPIDJSON_NEON)) && \
    RAPIDJSON_MAJOR_VERSION == 1 && RAPIDJSON_MINOR_VERSION <= 1
#error "RapidJSON 1.1's SIMD paths mis-scan control bytes and over-read their input: leave them off"
#endif

namespace YAML {
class Node;
}

namespace apr::codec {

// Deepest nesting of arrays and objects (YAML: sequences and maps) any input may have.
inline constexpr unsigned max_nesting_depth = 256;

// "nesting deeper than 256 levels": the words every such error uses.
std::string nesting_too_deep();

// Offset of the first byte that is not part of well-formed UTF-8 (RFC 3629: no overlong forms,
// no surrogates, nothing past U+10FFFF), or nullopt when all of `text` is.
std::optional<std::size_t> find_invalid_utf8(std::string_view text);

// What one pass over a request body finds (find_invalid_utf8 and a NUL search in one): the
// offset of the first NUL byte, of the first byte that is not well-formed UTF-8, and whether a
// `\u` escape occurs anywhere (only one can decode to ill-formed UTF-8, see limits_handler).
struct body_scan {
    std::optional<std::size_t> nul;
    std::optional<std::size_t> invalid_utf8;
    bool unicode_escapes = false;
};
body_scan scan_body(std::string_view text);

// `text` with every byte of an ill-formed sequence replaced by U+FFFD, as Go's encoder does.
std::string to_valid_utf8(std::string_view text);

// A SAX handler between RapidJSON's reader and `Output` (a Document, or a filter in front of one).
// Passes every event through, but stops the parse when arrays and objects nest deeper than
// max_nesting_depth, before the reader recurses into the next level. Also stops at a string that
// decodes to ill-formed UTF-8, which only a \u escape of an unpaired UTF-16 surrogate can produce
// from well-formed input (RapidJSON encodes such a code point as is, Go's decoder replaces it).
template <class Output>
class limits_handler {
public:
    enum class stop { none, too_deep, bad_escape };

    // `unicode_escapes` false: the input, already checked to be well-formed UTF-8, has no `\u`
    // escape (body_scan), so no string can decode to a surrogate and none is searched for one.
    explicit limits_handler(Output& out, bool unicode_escapes = true) : out_(out), escapes_(unicode_escapes) {}

    stop stopped() const { return stopped_; }

    bool Null() { return out_.Null(); }
    bool Bool(bool b) { return out_.Bool(b); }
    bool Int(int i) { return out_.Int(i); }
    bool Uint(unsigned u) { return out_.Uint(u); }
    bool Int64(int64_t i) { return out_.Int64(i); }
    bool Uint64(uint64_t u) { return out_.Uint64(u); }
    bool Double(double d) { return out_.Double(d); }
    bool RawNumber(const char* s, rapidjson::SizeType n, bool copy) { return out_.RawNumber(s, n, copy); }
    bool String(const char* s, rapidjson::SizeType n, bool copy) { return checked(s, n) && out_.String(s, n, copy); }
    bool Key(const char* s, rapidjson::SizeType n, bool copy) { return checked(s, n) && out_.Key(s, n, copy); }
    bool StartObject() { return deeper() && out_.StartObject(); }
    bool EndObject(rapidjson::SizeType members) { return --depth_, out_.EndObject(members); }
    bool StartArray() { return deeper() && out_.StartArray(); }
    bool EndArray(rapidjson::SizeType elements) { return --depth_, out_.EndArray(elements); }

private:
    bool deeper() {
        if (++depth_ <= max_nesting_depth) return true;
        stopped_ = stop::too_deep;
        return false;
    }
    // Surrogates encode as ED A0..BF xx; a cheap look for ED first, as strings rarely have one.
    bool checked(const char* s, rapidjson::SizeType n) {
        if (!escapes_) return true;
        for (const char* p = s; (p = static_cast<const char*>(std::memchr(p, '\xED', s + n - p)));) {
            if (++p < s + n && static_cast<unsigned char>(*p) >= 0xA0) {
                stopped_ = stop::bad_escape;
                return false;
            }
        }
        return true;
    }

    Output& out_;
    bool escapes_ = true;
    unsigned depth_ = 0;
    stop stopped_ = stop::none;
};

// Why a JSON text was refused, and where: `what` reads like RapidJSON's own messages.
struct json_error {
    std::string what;
    std::size_t offset = 0;
    std::string to_string() const { return what + " at offset " + std::to_string(offset); }
};

// The error for a reader that failed while `limits` was in front of its handler.
template <class Output>
json_error describe(const rapidjson::Reader& reader, const limits_handler<Output>& limits) {
    using stop = typename limits_handler<Output>::stop;
    switch (limits.stopped()) {
        case stop::too_deep:  // the reader has just taken the bracket that went too deep
            return {nesting_too_deep(), reader.GetErrorOffset() - 1};
        case stop::bad_escape:  // the reader stands just past the string
            return {rapidjson::GetParseError_En(rapidjson::kParseErrorStringUnicodeSurrogateInvalid),
                    reader.GetErrorOffset()};
        case stop::none:
            break;
    }
    return {rapidjson::GetParseError_En(reader.GetParseErrorCode()), reader.GetErrorOffset()};
}

// Parses `text` into `doc` (strings copied), checking encoding and nesting. nullopt on success;
// on failure `doc` is left null.
std::optional<json_error> parse_json(rapidjson::Document& doc, std::string_view text);

// Parses `buffer` in place into `doc`, whose strings then point into `buffer`. Same checks as
// parse_json.
std::optional<json_error> parse_json_insitu(rapidjson::Document& doc, std::string& buffer);

// Every YAML document of `text`, checked: nesting (aliases followed) at most max_nesting_depth, and
// aliases expanding to at most 16 nodes per byte of text plus a little, so that walking the nodes
// (YAML to JSON) can neither recurse without end (`&a [*a]` is its own element) nor blow up
// (a "billion laughs" file). Throws std::runtime_error "invalid YAML at line L, column C: ...".
std::vector<YAML::Node> load_yaml_documents(std::string_view text);

// One YAML file (a kubeconfig), with the same checks; throws std::runtime_error the same way, or
// YAML's own exception when the file cannot be read.
YAML::Node load_yaml_file(const std::string& path);

}  // namespace apr::codec
