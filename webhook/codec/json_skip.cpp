#include "codec/json_skip.hpp"

#include <bit>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace apr::codec {

namespace {

// Where a scan stands between two chunks of input.
struct scan_state {
    long depth = 0;
    bool in_string = false;
    bool escaped = false;  // the previous byte was a backslash inside a string
};

// Scans [p, end); returns one past the closing bracket, or nullptr with `s` updated for the next
// chunk.
const char* scan_bytes(const char* p, const char* end, scan_state& s) {
    for (; p < end; ++p) {
        const char c = *p;
        if (s.in_string) {
            if (s.escaped)
                s.escaped = false;
            else if (c == '\\')
                s.escaped = true;
            else if (c == '"')
                s.in_string = false;
        } else if (c == '"') {
            s.in_string = true;
        } else if (c == '{' || c == '[') {
            ++s.depth;
        } else if (c == '}' || c == ']') {
            if (--s.depth == 0) return p + 1;
        }
    }
    return nullptr;
}

#if defined(__SSE2__)

// One bit per byte of a 64-byte block.
struct block_masks {
    std::uint64_t quote, backslash, open, close;
};

std::uint64_t movemask16(__m128i bytes, __m128i wanted) {
    return static_cast<std::uint16_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(bytes, wanted)));
}

block_masks classify(const char* p) {
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    // '[' | 0x20 == '{' and ']' | 0x20 == '}', and no other byte maps to either.
    const __m128i case_bit = _mm_set1_epi8(0x20);
    const __m128i open = _mm_set1_epi8('{');
    const __m128i close = _mm_set1_epi8('}');
    block_masks m{};
    for (int i = 0; i < 4; ++i) {
        const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * i));
        const __m128i folded = _mm_or_si128(bytes, case_bit);
        const int shift = 16 * i;
        m.quote |= movemask16(bytes, quote) << shift;
        m.backslash |= movemask16(bytes, backslash) << shift;
        m.open |= movemask16(folded, open) << shift;
        m.close |= movemask16(folded, close) << shift;
    }
    return m;
}

// Bit i of the result is the parity of quote bits 0..i: set from an opening quote up to (not
// including) its closing quote.
std::uint64_t prefix_xor(std::uint64_t bits) {
    bits ^= bits << 1;
    bits ^= bits << 2;
    bits ^= bits << 4;
    bits ^= bits << 8;
    bits ^= bits << 16;
    bits ^= bits << 32;
    return bits;
}

#endif

}  // namespace

const char* skip_container_scalar(const char* open, const char* end) {
    scan_state s;
    return scan_bytes(open, end, s);
}

const char* skip_container(const char* open, const char* end) {
    scan_state s;
    const char* p = open;
#if defined(__SSE2__)
    constexpr std::ptrdiff_t block = 64;
    while (end - p >= block) {
        const auto m = classify(p);
        // Backslashes are rare in Kubernetes objects; a block with one (or after one) takes the
        // byte loop, which knows what it escapes.
        if (m.backslash != 0 || s.escaped) {
            if (const char* found = scan_bytes(p, p + block, s)) return found;
            p += block;
            continue;
        }
        const std::uint64_t string_bytes = prefix_xor(m.quote) ^ (s.in_string ? ~std::uint64_t{0} : 0);
        s.in_string = (string_bytes >> 63) != 0;
        const std::uint64_t opens = m.open & ~string_bytes;
        const std::uint64_t closes = m.close & ~string_bytes;
        // Brackets are a few per block in Kubernetes JSON, so visiting each costs less than
        // counting them (x86-64 without POPCNT counts bits in a library call).
        for (std::uint64_t brackets = opens | closes; brackets != 0; brackets &= brackets - 1) {
            const int i = std::countr_zero(brackets);
            if ((opens >> i) & 1) {
                ++s.depth;
            } else if (--s.depth == 0) {
                return p + i + 1;
            }
        }
        p += block;
    }
#endif
    return scan_bytes(p, end, s);
}

}  // namespace apr::codec
