#pragma once
// The in-place input stream of the admission path, and a fast scan of string contents for it.
//
// RapidJSON's reader copies each string one byte at a time (its SIMD scan is off, see
// codec/CMakeLists.txt), and on a review of a few KB that loop is a fifth of the server's CPU.
// The reader asks its stream type for an optional bulk copy, ScanCopyUnescapedString, before that
// loop; this header gives insitu_stream one that moves 16 bytes at a time and stops where the
// byte loop would look anyway: a quote, a backslash or a control byte (< 0x20), or 16 bytes
// before the end of the buffer. Loads never reach past the end. Everything else (escapes, the
// closing quote, errors) stays with RapidJSON, so what is accepted and how it reads is unchanged;
// tests/unit/insitu_stream_test.cpp compares it with RapidJSON's own stream on every alignment.

#include <rapidjson/reader.h>

#include <cstddef>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace apr::codec {

// RapidJSON's reader works on a private copy of its own stream types while it parses a string
// (copyOptimization) and writes it back afterwards, which would undo a move made from a SAX
// handler (codec/admission_review.cpp's pruning filter skips values that way). A type of our own
// is not copied, so a handler sees and moves the live position.
struct insitu_stream : rapidjson::InsituStringStream {
    // [begin, end) is the text, writable; *end must be the NUL that ends it (a std::string's).
    insitu_stream(char* begin, const char* end) : rapidjson::InsituStringStream(begin), end_(end) {}
    const char* end_;
};

// Moves string bytes from src_ to dst_ (the same place until the first escape) up to the first
// byte the reader must look at itself.
inline void scan_copy_unescaped(insitu_stream& s) {
    char* p = s.src_;
    char* q = s.dst_;
    const char* const end = s.end_;
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i control_max = _mm_set1_epi8(0x1F);
    while (end - p >= 16) {
        const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        // A byte b is a control byte when max(b, 0x1F) == 0x1F, unsigned.
        const __m128i stop = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(bytes, quote), _mm_cmpeq_epi8(bytes, backslash)),
                                          _mm_cmpeq_epi8(_mm_max_epu8(bytes, control_max), control_max));
        const auto mask = static_cast<unsigned>(_mm_movemask_epi8(stop));
        if (mask != 0) {
            const auto n = static_cast<std::size_t>(__builtin_ctz(mask));
            if (q != p)
                for (std::size_t i = 0; i < n; ++i) q[i] = p[i];
            s.src_ = p + n;
            s.dst_ = q + n;
            return;
        }
        // q <= p: the 16 bytes are loaded before the store, and the store ends at or before p + 16.
        if (q != p) _mm_storeu_si128(reinterpret_cast<__m128i*>(q), bytes);
        p += 16;
        q += 16;
    }
#endif
    for (; p < end; ++p, ++q) {
        const auto c = static_cast<unsigned char>(*p);
        if (c == '"' || c == '\\' || c < 0x20) break;
        if (q != p) *q = *p;
    }
    s.src_ = p;
    s.dst_ = q;
}

}  // namespace apr::codec

// The reader's hook, for insitu_stream only (it does nothing for other streams).
template <>
template <>
inline void rapidjson::GenericReader<rapidjson::UTF8<>, rapidjson::UTF8<>, rapidjson::CrtAllocator>::
    ScanCopyUnescapedString<apr::codec::insitu_stream, apr::codec::insitu_stream>(apr::codec::insitu_stream& is,
                                                                                  apr::codec::insitu_stream&) {
    apr::codec::scan_copy_unescaped(is);
}
