// The admission path's in-place stream scans string contents 16 bytes at a time. Whatever the
// text, the result must be what RapidJSON's own reader gives: the same values, or the same error
// at the same offset. Strings of every length up to a few blocks, with each kind of byte the scan
// must stop at placed at every position, at every alignment of the buffer, as keys and values, and
// cut off at the very end of the buffer.
#define BOOST_TEST_MODULE insitu_stream
#include <boost/test/unit_test.hpp>

// First: the reader's hook for insitu_stream must be declared before any parse is compiled.
#include "codec/insitu_stream.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>
#include <vector>

using apr::codec::insitu_stream;

namespace {

struct outcome {
    bool ok = false;
    std::string json;  // the parsed value written back, when ok
    rapidjson::ParseErrorCode code = rapidjson::kParseErrorNone;
    std::size_t offset = 0;
};

outcome describe(const rapidjson::Document& d) {
    outcome o;
    if (d.HasParseError()) {
        o.code = d.GetParseError();
        o.offset = d.GetErrorOffset();
        return o;
    }
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    d.Accept(w);
    o.ok = true;
    o.json.assign(buffer.GetString(), buffer.GetSize());
    return o;
}

// RapidJSON's reader on its own read-only stream: the reference.
outcome reference(const std::string& text) {
    rapidjson::Document d;
    d.Parse(text.c_str(), text.size());
    return describe(d);
}

outcome in_place(std::string text) {
    rapidjson::Document d;
    insitu_stream stream(text.data(), text.data() + text.size());
    d.ParseStream<rapidjson::kParseInsituFlag>(stream);
    return describe(d);
}

// What may sit inside a string: plain text, escapes the reader decodes (which move the write
// position behind the read position for the rest of the string), multi-byte UTF-8, and bytes
// the scan must stop at and the reader refuses.
const std::vector<std::string> pieces = {
    "\\n",  "\\\"", "\\\\", "\\/", "\\u00e9", "\\ud83d\\ude00", "\xc3\xa9", "\xe2\x82\xac", "\x7f", " ",
    "\x01", "\x1a", "\x1f", "\t",  "\\x",     "\\u12",          "\"",       "\x20\x21",
};

std::string filler(std::size_t n) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s += static_cast<char>('a' + i % 26);
    return s;
}

void expect_same(const std::string& text) {
    const auto want = reference(text);
    const auto got = in_place(text);
    BOOST_TEST_INFO("text: " << text);
    BOOST_TEST(got.ok == want.ok);
    if (got.ok && want.ok) {
        BOOST_TEST(got.json == want.json);
    } else {
        BOOST_TEST(rapidjson::GetParseError_En(got.code) == rapidjson::GetParseError_En(want.code));
        BOOST_TEST(got.offset == want.offset);
    }
}

}  // namespace

BOOST_AUTO_TEST_CASE(plain_strings_of_every_length_and_alignment_read_as_the_reader_reads_them) {
    for (std::size_t align = 0; align < 16; ++align)
        for (std::size_t n = 0; n <= 70; ++n) {
            const std::string pad(align, ' ');
            const auto s = filler(n);
            expect_same(pad + "\"" + s + "\"");
            expect_same(pad + "{\"" + s + "\":\"" + s + "\",\"k\":[\"" + s + "\",1]}");
        }
}

BOOST_AUTO_TEST_CASE(each_byte_the_scan_stops_at_placed_everywhere_reads_as_the_reader_reads_it) {
    for (const auto& piece : pieces)
        for (std::size_t align = 0; align < 16; ++align)
            for (std::size_t before = 0; before <= 40; ++before) {
                const std::string pad(align, ' ');
                const auto s = filler(before) + piece + filler(37 - before % 37);
                expect_same(pad + "[\"" + s + "\"]");
                expect_same(pad + "{\"" + s + "\":0}");
                // Two escapes far apart: the second block copy runs with the write position behind.
                expect_same(pad + "[\"" + piece + filler(before) + piece + filler(20) + "\"]");
            }
}

BOOST_AUTO_TEST_CASE(a_string_cut_off_at_the_end_of_the_buffer_is_refused_where_the_reader_refuses_it) {
    for (std::size_t align = 0; align < 16; ++align)
        for (std::size_t n = 0; n <= 50; ++n) {
            const std::string pad(align, ' ');
            expect_same(pad + "[\"" + filler(n));
            expect_same(pad + "[\"" + filler(n) + "\\");
            expect_same(pad + "{\"" + filler(n));
        }
}
