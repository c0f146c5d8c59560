#include "codec/input_limits.hpp"

#include <rapidjson/encodedstream.h>
#include <rapidjson/memorystream.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>
#include <yaml-cpp/yaml.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace apr::codec {

namespace {

// Length of the well-formed UTF-8 sequence at p (RFC 3629, table 3-7 of Unicode), 0 if there is none.
std::size_t sequence_length(const unsigned char* p, const unsigned char* end) {
    const unsigned char c = *p;
    auto continuation = [&](std::size_t i, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
        return p + i < end && p[i] >= lo && p[i] <= hi;
    };
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return continuation(1) ? 2 : 0;
    if (c == 0xE0) return continuation(1, 0xA0) && continuation(2) ? 3 : 0;
    if (c == 0xED) return continuation(1, 0x80, 0x9F) && continuation(2) ? 3 : 0;  // no surrogates
    if (c >= 0xE1 && c <= 0xEF) return continuation(1) && continuation(2) ? 3 : 0;
    if (c == 0xF0) return continuation(1, 0x90) && continuation(2) && continuation(3) ? 4 : 0;
    if (c >= 0xF1 && c <= 0xF3) return continuation(1) && continuation(2) && continuation(3) ? 4 : 0;
    if (c == 0xF4) return continuation(1, 0x80, 0x8F) && continuation(2) && continuation(3) ? 4 : 0;
    return 0;
}

// Kubernetes JSON is almost all ASCII: eight bytes are checked at once until one has its top bit.
const unsigned char* skip_ascii(const unsigned char* p, const unsigned char* end) {
    constexpr std::uint64_t high_bits = 0x8080808080808080ull;
    while (end - p >= 8) {
        std::uint64_t word;
        std::memcpy(&word, p, sizeof word);
        if (word & high_bits) break;
        p += 8;
    }
    while (p < end && *p < 0x80) ++p;
    return p;
}

}  // namespace

std::string nesting_too_deep() {
    return "nesting deeper than " + std::to_string(max_nesting_depth) + " levels";
}

std::optional<std::size_t> find_invalid_utf8(std::string_view text) {
    const auto* const begin = reinterpret_cast<const unsigned char*>(text.data());
    const auto* const end = begin + text.size();
    for (const unsigned char* p = skip_ascii(begin, end); p < end; p = skip_ascii(p, end)) {
        const std::size_t n = sequence_length(p, end);
        if (n == 0) return static_cast<std::size_t>(p - begin);
        p += n;
    }
    return std::nullopt;
}

body_scan scan_body(std::string_view text) {
    body_scan out;
    const auto* const begin = reinterpret_cast<const unsigned char*>(text.data());
    const auto* const end = begin + text.size();
    const unsigned char* p = begin;
    auto escape_at = [&](const unsigned char* q) { return *q == '\\' && q + 1 < end && q[1] == 'u'; };
    while (p < end) {
#if defined(__SSE2__)
        // Kubernetes JSON is almost all ASCII without NUL or backslash: 16 bytes are checked at once
        // and a block that has any of them takes the byte loop below.
        const __m128i zero = _mm_setzero_si128();
        const __m128i backslash = _mm_set1_epi8('\\');
        while (end - p >= 16) {
            const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
            const int special = _mm_movemask_epi8(
                _mm_or_si128(bytes, _mm_or_si128(_mm_cmpeq_epi8(bytes, zero), _mm_cmpeq_epi8(bytes, backslash))));
            if (special != 0) break;
            p += 16;
        }
        if (p == end) break;
#endif
        // One block's worth (or the tail) byte by byte.
        const unsigned char* const stop = std::min(end, p + 16);
        while (p < stop) {
            const unsigned char c = *p;
            if (c == 0) {
                out.nul = static_cast<std::size_t>(p - begin);
                return out;  // a NUL is reported before anything else: the rest is never parsed
            }
            if (c < 0x80) {
                if (!out.unicode_escapes && escape_at(p)) out.unicode_escapes = true;
                ++p;
                continue;
            }
            const std::size_t n = sequence_length(p, end);
            if (n == 0) {
                if (!out.invalid_utf8) out.invalid_utf8 = static_cast<std::size_t>(p - begin);
                ++p;
                continue;
            }
            p += n;
        }
    }
    return out;
}

std::string to_valid_utf8(std::string_view text) {
    auto bad = find_invalid_utf8(text);
    if (!bad) return std::string(text);
    std::string out(text.substr(0, *bad));
    const auto* p = reinterpret_cast<const unsigned char*>(text.data()) + *bad;
    const auto* const end = reinterpret_cast<const unsigned char*>(text.data()) + text.size();
    while (p < end) {
        if (const std::size_t n = sequence_length(p, end)) {
            out.append(reinterpret_cast<const char*>(p), n);
            p += n;
        } else {
            out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER, one per byte as Go writes it
            ++p;
        }
    }
    return out;
}

namespace {

// Both readers take a NUL for the end of the input; valid JSON has none outside \u0000 escapes, and
// text after one would be ignored.
std::optional<json_error> find_nul(std::string_view text) {
    if (const void* nul = std::memchr(text.data(), '\0', text.size()))
        return json_error{"NUL byte", static_cast<std::size_t>(static_cast<const char*>(nul) - text.data())};
    return std::nullopt;
}

}  // namespace

std::optional<json_error> parse_json(rapidjson::Document& doc, std::string_view text) {
    doc.SetNull();
    if (auto nul = find_nul(text)) return nul;
    // A MemoryStream reads nothing past `text`, which need not end with a NUL.
    rapidjson::MemoryStream bytes(text.data(), text.size());
    rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> stream(bytes);
    rapidjson::Reader reader;
    std::optional<json_error> error;
    auto generate = [&](rapidjson::Document& d) {
        limits_handler limits(d);
        if (!reader.Parse<rapidjson::kParseValidateEncodingFlag>(stream, limits).IsError()) return true;
        error = describe(reader, limits);
        return false;
    };
    doc.Populate(generate);
    return error;
}

std::optional<json_error> parse_json_insitu(rapidjson::Document& doc, std::string& buffer) {
    doc.SetNull();
    if (auto nul = find_nul(buffer)) return nul;
    // The in-situ reader ends at the NUL that ends the string's text.
    rapidjson::InsituStringStream stream(buffer.data());
    rapidjson::Reader reader;
    std::optional<json_error> error;
    auto generate = [&](rapidjson::Document& d) {
        limits_handler limits(d);
        constexpr unsigned flags = rapidjson::kParseInsituFlag | rapidjson::kParseValidateEncodingFlag;
        if (!reader.Parse<flags>(stream, limits).IsError()) return true;
        error = describe(reader, limits);
        return false;
    };
    doc.Populate(generate);
    return error;
}

namespace {

std::string position(const YAML::Mark& mark) {
    if (mark.is_null()) return {};
    return " at line " + std::to_string(mark.line + 1) + ", column " + std::to_string(mark.column + 1);
}

[[noreturn]] void yaml_failure(const YAML::Mark& mark, const std::string& what) {
    throw std::runtime_error("invalid YAML" + position(mark) + ": " + what);
}

// Walks every node as a conversion will, aliases followed, within the depth and node budget.
void check_node(const YAML::Node& node, unsigned depth, std::size_t& budget) {
    if (budget == 0) yaml_failure(node.Mark(), "aliases expand to too many nodes (more than 16 per byte of text)");
    --budget;
    if (!node.IsSequence() && !node.IsMap()) return;
    if (depth > max_nesting_depth) yaml_failure(node.Mark(), nesting_too_deep());
    if (node.IsSequence()) {
        for (const auto& item : node) check_node(item, depth + 1, budget);
    } else {
        for (const auto& kv : node) {
            check_node(kv.first, depth + 1, budget);
            check_node(kv.second, depth + 1, budget);
        }
    }
}

// A first pass over the parser's events, before yaml-cpp builds any node: yaml-cpp 0.7 takes some
// inputs (the 4 bytes "!,\t1", found by the fuzzer) for an endless run of documents, and loading
// them grew memory until the process died. Real YAML has a few events per byte at most; the pass
// also stops at the first collection too deep and at an alias inside its own anchor.
class event_precheck : public YAML::EventHandler {
public:
    explicit event_precheck(std::size_t size) : budget_(8 * size + 64) {}

    void OnDocumentStart(const YAML::Mark& mark) override { tick(mark); }
    void OnDocumentEnd() override { tick(last_); }
    void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { tick(mark); }
    void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
        tick(mark);
        if (std::find(open_.begin(), open_.end(), anchor) != open_.end())
            yaml_failure(mark, nesting_too_deep() + " (an alias inside its own anchor nests without end)");
    }
    void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t, const std::string&) override {
        tick(mark);
    }
    void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                         YAML::EmitterStyle::value) override {
        open(mark, anchor);
    }
    void OnSequenceEnd() override { close(); }
    void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                    YAML::EmitterStyle::value) override {
        open(mark, anchor);
    }
    void OnMapEnd() override { close(); }

private:
    void tick(const YAML::Mark& mark) {
        last_ = mark;
        if (budget_-- == 0) yaml_failure(mark, "more parser events than the text can hold (a yaml-cpp loop)");
    }
    void open(const YAML::Mark& mark, YAML::anchor_t anchor) {
        tick(mark);
        if (open_.size() >= max_nesting_depth) yaml_failure(mark, nesting_too_deep());
        open_.push_back(anchor);
    }
    void close() {
        tick(last_);
        open_.pop_back();
    }

    std::size_t budget_;
    std::vector<YAML::anchor_t> open_;  // anchors of the collections being read, 0 for none
    YAML::Mark last_;
};

std::vector<YAML::Node> load_checked(const std::string& text) {
    if (auto bad = find_invalid_utf8(text))
        throw std::runtime_error("invalid YAML at byte " + std::to_string(*bad) + ": not UTF-8");
    try {
        std::istringstream in(text);
        YAML::Parser parser(in);
        event_precheck precheck(text.size());
        while (parser.HandleNextDocument(precheck)) {
        }
    } catch (const YAML::DeepRecursion& e) {
        yaml_failure(e.mark, nesting_too_deep());
    } catch (const YAML::Exception& e) {
        yaml_failure(e.mark, e.msg);
    }
    std::vector<YAML::Node> documents;
    try {
        documents = YAML::LoadAll(text);
    } catch (const YAML::DeepRecursion& e) {
        // yaml-cpp's own guard (498 levels) is deeper than ours: the words are ours.
        yaml_failure(e.mark, nesting_too_deep());
    } catch (const YAML::Exception& e) {
        yaml_failure(e.mark, e.msg);
    }
    std::size_t budget = 16 * text.size() + 1024;
    for (const auto& d : documents) check_node(d, 1, budget);
    return documents;
}

}  // namespace

std::vector<YAML::Node> load_yaml_documents(std::string_view text) {
    return load_checked(std::string(text));
}

YAML::Node load_yaml_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open the file: " + std::string(std::strerror(errno)));
    std::ostringstream text;
    text << in.rdbuf();
    auto documents = load_checked(text.str());
    // YAML::LoadFile's answer for a file of several documents: the first.
    return documents.empty() ? YAML::Node() : documents.front();
}

}  // namespace apr::codec
