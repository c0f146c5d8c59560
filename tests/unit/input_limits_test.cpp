// Hostile inputs to every parser the binary has: nesting deep enough to overflow a recursive
// parser's stack, bytes that are not UTF-8, escapes that decode to what is not UTF-8, YAML aliases
// that loop or multiply. Each gets a clear error; nothing crashes, nothing invalid is echoed.
#define BOOST_TEST_MODULE input_limits
#include <boost/test/unit_test.hpp>

#include "codec/admission_review.hpp"
#include "codec/input_limits.hpp"
#include "codec/json_reader.hpp"
#include "codec/kube_objects.hpp"
#include "review_fixtures.hpp"

#include <chrono>
#include <cstdint>
#include <cstring>

using namespace apr;
using namespace apr::test;

namespace {

const auto fleet = guestbook_fleet();
const auto ids = test_identities();

// The reported body has 120,000 levels, around where an 8 MiB thread stack overflowed.
std::string nested_brackets(std::size_t depth,
                            std::string_view prefix = "{\"request\":", std::string_view suffix = "}") {
    std::string s(prefix);
    s.append(depth, '[');
    s.append(depth, ']');
    s += suffix;
    return s;
}

std::string rollout_review(const std::string& object) {
    return R"({"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":"u-1","operation":"CREATE","name":"r","namespace":"argocd","object":)" +
           object + "}}";
}

// An answer must be JSON and UTF-8 whatever it was asked: the API server rejects anything else.
rapidjson::Document strict_parse(const std::string& answer) {
    rapidjson::Document d;
    d.Parse<rapidjson::kParseValidateEncodingFlag>(answer.data(), answer.size());
    BOOST_TEST_REQUIRE(!d.HasParseError(), "answer is not valid UTF-8 JSON: " << answer.substr(0, 300));
    BOOST_TEST_REQUIRE(!codec::find_invalid_utf8(answer).has_value());
    return d;
}

std::string message_of(const codec::review_answer& a) {
    auto d = strict_parse(a.body);
    return codec::string_at(d, {"response", "status", "message"});
}

bool contains(const std::string& haystack, std::string_view needle) {
    return haystack.find(needle) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(nesting)

BOOST_AUTO_TEST_CASE(the_limit_is_the_documented_one_and_inside_the_yaml_parser_own) {
    BOOST_TEST(codec::max_nesting_depth == 256u);
    BOOST_TEST(codec::nesting_too_deep() == "nesting deeper than 256 levels");
}

BOOST_AUTO_TEST_CASE(json_at_the_limit_parses_and_one_deeper_is_refused_at_the_bracket) {
    rapidjson::Document doc;
    BOOST_TEST(!codec::parse_json(doc, nested_brackets(256, "", "")).has_value());
    BOOST_TEST(doc.IsArray());
    auto error = codec::parse_json(doc, nested_brackets(257, "", ""));
    BOOST_TEST_REQUIRE(error.has_value());
    BOOST_TEST(error->to_string() == "nesting deeper than 256 levels at offset 256");
    BOOST_TEST(doc.IsNull());
    // Objects count as arrays do.
    std::string objects;
    for (int i = 0; i < 300; ++i) objects += "{\"a\":";
    objects += "1" + std::string(300, '}');
    error = codec::parse_json(doc, objects);
    BOOST_TEST_REQUIRE(error.has_value());
    BOOST_TEST(error->what == codec::nesting_too_deep());
    BOOST_TEST(error->offset == 256u * 5);
}

BOOST_AUTO_TEST_CASE(json_of_120000_levels_is_refused_by_every_json_parser) {
    const auto deep = nested_brackets(120000, "", "");
    rapidjson::Document doc;
    auto error = codec::parse_json(doc, deep);
    BOOST_TEST_REQUIRE(error.has_value());
    BOOST_TEST(error->what == codec::nesting_too_deep());
    std::string buffer = deep;
    error = codec::parse_json_insitu(doc, buffer);
    BOOST_TEST_REQUIRE(error.has_value());
    BOOST_TEST(error->to_string() == "nesting deeper than 256 levels at offset 256");
    BOOST_CHECK_EXCEPTION(codec::parse_objects(deep), std::runtime_error, [](const std::runtime_error& e) {
        return std::string(e.what()) == "invalid JSON at offset 256: nesting deeper than 256 levels";
    });
}

BOOST_AUTO_TEST_CASE(review_of_120000_nested_brackets_gets_400_on_both_routes) {
    const auto body = nested_brackets(120000);
    for (int route = 0; route < 2; ++route) {
        auto a = route == 0 ? codec::review_rollout("application/json", body, fleet)
                            : codec::review_application("application/json", body, fleet, ids);
        BOOST_TEST(a.http_status == 400u);
        BOOST_TEST(a.outcome == "error");
        BOOST_TEST(message_of(a) == "request body is not valid JSON: nesting deeper than 256 levels at offset 266");
    }
}

BOOST_AUTO_TEST_CASE(deep_nesting_inside_a_parsed_part_of_an_application_review_gets_400) {
    // spec is parsed (not skipped) on the pruning path; canonical JSON of it would recurse too.
    app_spec after;
    after.revision = "v2";
    std::string object = application_json(after);
    const std::string marker = "\"project\":\"default\"";
    object.replace(object.find(marker), marker.size(),
                   "\"project\":\"default\",\"x\":" + nested_brackets(1000, "", ""));
    review_spec r;
    r.object = object;
    r.old_object = application_json(app_spec{});
    auto a = codec::review_application("application/json", review_json(r), fleet, ids);
    BOOST_TEST(a.http_status == 400u);
    BOOST_TEST(contains(message_of(a), "nesting deeper than 256 levels at offset "));
}

BOOST_AUTO_TEST_CASE(deep_nesting_in_a_skipped_status_is_never_parsed) {
    // status is skipped by bracket matching, which keeps no stack: nothing recurses into it.
    app_spec before, after;
    after.revision = "v2";
    std::string object = application_json(after);
    object.insert(object.find("\"health\":{\"status\""), "\"deep\":" + nested_brackets(120000, "", "") + ",");
    review_spec r;
    r.object = object;
    r.old_object = application_json(before);
    auto a = codec::review_application("application/json", review_json(r), fleet, ids);
    BOOST_TEST(a.http_status == 200u);
    BOOST_TEST(a.outcome == "held");
    strict_parse(a.body);
}

BOOST_AUTO_TEST_CASE(a_rollout_nested_to_the_limit_is_answered) {
    // 256 levels in all, the review's own three included: still a normal (invalid) rollout.
    std::string object =
        R"({"apiVersion":"deployment.skyscanner.net/v1alpha1","kind":"ProgressiveRollout","metadata":{"name":"r","namespace":"argocd"},"spec":{"x":)" +
        nested_brackets(256 - 4, "", "") + "}}";
    auto a = codec::review_rollout("application/json", rollout_review(object), fleet);
    BOOST_TEST(a.http_status == 200u);
    BOOST_TEST(!contains(message_of(a), "nesting"));
    object.replace(object.find("\"x\":"), 4, "\"x\":[");
    object.insert(object.rfind(']'), "]");
    a = codec::review_rollout("application/json", rollout_review(object), fleet);
    BOOST_TEST(a.http_status == 400u);
    BOOST_TEST(contains(message_of(a), "nesting deeper than 256 levels"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(encoding)

BOOST_AUTO_TEST_CASE(utf8_validation_follows_rfc_3629) {
    using codec::find_invalid_utf8;
    BOOST_TEST(!find_invalid_utf8("").has_value());
    BOOST_TEST(!find_invalid_utf8("plain ASCII text that is longer than eight bytes").has_value());
    BOOST_TEST(
        !find_invalid_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x9A\x80 \xEF\xBF\xBF \xF4\x8F\xBF\xBF").has_value());
    BOOST_TEST(find_invalid_utf8("abc\xFF").value() == 3u);           // never a UTF-8 byte
    BOOST_TEST(find_invalid_utf8("0123456789\x80").value() == 10u);   // lone continuation
    BOOST_TEST(find_invalid_utf8("\xC0\xAF").value() == 0u);          // overlong '/'
    BOOST_TEST(find_invalid_utf8("\xE0\x80\xAF").value() == 0u);      // overlong
    BOOST_TEST(find_invalid_utf8("ab\xED\xA0\x80").value() == 2u);    // surrogate U+D800
    BOOST_TEST(find_invalid_utf8("\xF4\x90\x80\x80").value() == 0u);  // past U+10FFFF
    BOOST_TEST(find_invalid_utf8("x\xE2\x82").value() == 1u);         // truncated at the end
    BOOST_TEST(codec::to_valid_utf8("a\xFF"
                                    "b\xC3\xA9\xE2\x82")
                   .size() == 1 + 3 + 1 + 2 + 3 + 3);
    BOOST_TEST(codec::to_valid_utf8("a\xFF"
                                    "b") ==
               "a\xEF\xBF\xBD"
               "b");
}

BOOST_AUTO_TEST_CASE(the_body_scan_finds_what_utf8_validation_and_a_nul_search_find) {
    // scan_body reads 16 bytes at a time: each case is tried at every offset around a block edge,
    // so that the odd byte falls in the vector loop, in the byte loop and in the tail.
    const std::string padding(40, 'x');
    for (std::size_t at = 0; at < 40; ++at) {
        const std::string before = padding.substr(0, at), after = padding.substr(at);
        auto scan = [&](std::string_view middle) { return codec::scan_body(before + std::string(middle) + after); };
        BOOST_TEST(!scan("").nul.has_value());
        BOOST_TEST(!scan("").invalid_utf8.has_value());
        BOOST_TEST(!scan("").unicode_escapes);
        BOOST_TEST(!scan("caf\xC3\xA9 \xF0\x9F\x9A\x80").invalid_utf8.has_value());
        BOOST_TEST(scan("\xFF").invalid_utf8.value() == at);
        BOOST_TEST(scan("\xED\xA0\x80").invalid_utf8.value() == at);  // a surrogate
        BOOST_TEST(scan("\xE2\x82").invalid_utf8.value() == at);
        BOOST_TEST(scan(std::string_view("\0", 1)).nul.value() == at);
        // A NUL is reported whatever comes before it, as the reader would stop there.
        const auto both = scan(std::string_view("\xFF-\0", 3));
        BOOST_TEST(both.nul.value() == at + 2);
        BOOST_TEST(scan("\\u00e9").unicode_escapes);
        BOOST_TEST(!scan("\\n\\\"\\t").unicode_escapes);  // other escapes need no surrogate check
        BOOST_TEST(!scan("u\\").unicode_escapes);
    }
    // The same verdicts as the separate checks on arbitrary bytes.
    std::uint32_t seed = 12345;
    for (int round = 0; round < 2000; ++round) {
        std::string text(static_cast<std::size_t>(round % 70), ' ');
        for (auto& c : text) {
            seed = seed * 1103515245u + 12345u;
            const auto r = (seed >> 16) & 0xFF;
            c = static_cast<char>(r < 200 ? 'a' + r % 26 : r);  // mostly ASCII, some high bytes and NULs
        }
        const auto scan = codec::scan_body(text);
        const void* nul = std::memchr(text.data(), '\0', text.size());
        BOOST_TEST(scan.nul.has_value() == (nul != nullptr));
        if (!nul) BOOST_TEST((scan.invalid_utf8 == codec::find_invalid_utf8(text)));
    }
}

BOOST_AUTO_TEST_CASE(invalid_utf8_in_a_review_gets_400_and_a_valid_answer) {
    // In the name (echoed by a denial), in a skipped status, in the uid (echoed always).
    app_spec before, after;
    after.revision = "v2";
    review_spec r;
    r.username = "alice";
    r.object = application_json(after);
    r.old_object = application_json(before);
    const auto good = review_json(r);
    auto denied = codec::review_application("application/json", good, fleet, ids);
    BOOST_TEST_REQUIRE(denied.outcome == "denied");
    BOOST_TEST(contains(message_of(denied), "argocd/guestbook-eu-west-1a-1"));

    std::string in_name = good;
    const std::string name = "\"name\":\"guestbook-eu-west-1a-1\"";
    in_name.replace(in_name.find(name), name.size(), "\"name\":\"guestbook-\xFF\xFE-1a-1\"");
    std::string in_status = good;
    in_status.replace(in_status.find("\"status\":\"Synced\""), 17, "\"status\":\"Sync\xC3\"");
    std::string in_uid = good;
    in_uid.replace(in_uid.find("705ab4f5"), 8, "705a\xED\xA0\x80");
    for (const auto* body : {&in_name, &in_status, &in_uid}) {
        for (int route = 0; route < 2; ++route) {
            auto a = route == 0 ? codec::review_application("application/json", *body, fleet, ids)
                                : codec::review_rollout("application/json", *body, fleet);
            BOOST_TEST(a.http_status == 400u);
            BOOST_TEST(a.outcome == "error");
            BOOST_TEST(contains(message_of(a), "request body is not valid JSON: invalid UTF-8 at offset "));
        }
    }
}

BOOST_AUTO_TEST_CASE(an_escaped_unpaired_surrogate_gets_400) {
    // \udc00 is well-formed JSON text, but decodes to no character; RapidJSON would write it as
    // the bytes ED B0 80 and the uid is echoed in every answer.
    review_spec r;
    r.uid = "705ab4f5\\udc00";
    r.object = application_json(app_spec{});
    r.old_object = application_json(app_spec{});
    for (int route = 0; route < 2; ++route) {
        auto a = route == 0 ? codec::review_application("application/json", review_json(r), fleet, ids)
                            : codec::review_rollout("application/json", review_json(r), fleet);
        BOOST_TEST(a.http_status == 400u);
        BOOST_TEST(contains(message_of(a), "The surrogate pair in string is invalid."));
    }
    // Also deep in a long body, past the 16-byte blocks the first scan reads at a time.
    app_spec escaped;
    escaped.extra_annotations = "\"note\":\"" + std::string(100, 'n') + "\\udc00\"";
    r.uid = "705ab4f5-6393-11e8-b7cc-42010a800002";
    r.object = application_json(escaped);
    BOOST_TEST(contains(message_of(codec::review_application("application/json", review_json(r), fleet, ids)),
                        "The surrogate pair in string is invalid."));
    r.object = application_json(app_spec{});
    // A pair is a character like any other.
    r.uid = "705ab4f5\\ud83d\\ude80";
    auto a = codec::review_application("application/json", review_json(r), fleet, ids);
    BOOST_TEST(a.http_status == 200u);
    BOOST_TEST(codec::string_at(strict_parse(a.body), {"response", "uid"}) == "705ab4f5\xF0\x9F\x9A\x80");
}

BOOST_AUTO_TEST_CASE(names_from_elsewhere_are_made_valid_in_the_answer) {
    // Fleet state comes from a --snapshot file or the API; a name that is not UTF-8 is quoted in a
    // warning, and the answer stays UTF-8.
    core::rollout r;
    r.namespace_ = "argocd";
    r.name = "guestbook-\xFF-rollout";
    r.spec.source = {"argoproj.io/v1alpha1", "ApplicationSet", "guestbook"};
    r.status.phase = core::rollout_phase::progressing;
    const auto state = core::build_fleet_state({r}, {{"eu-west-1a-1", "https://eu-west-1a-1.example.com", {}}});
    app_spec before, after;
    after.revision = "v2";
    review_spec review;
    review.object = application_json(after);
    review.old_object = application_json(before);
    auto a = codec::review_application("application/json", review_json(review), state, ids);
    BOOST_TEST_REQUIRE(a.outcome == "held");
    auto d = strict_parse(a.body);
    const auto* warnings = codec::find_path(d, {"response", "warnings"});
    BOOST_TEST_REQUIRE((warnings && warnings->IsArray() && warnings->Size() == 1));
    BOOST_TEST(contains((*warnings)[0].GetString(), "guestbook-\xEF\xBF\xBD-rollout"));
}

BOOST_AUTO_TEST_CASE(json_files_and_api_responses_are_checked_too) {
    rapidjson::Document doc;
    auto error = codec::parse_json(doc, "{\"a\":\"\xFF\"}");
    BOOST_TEST_REQUIRE(error.has_value());
    BOOST_TEST(error->what == "Invalid encoding in string.");
    std::string buffer = "{\"a\":\"\\udc00\"}";
    error = codec::parse_json_insitu(doc, buffer);
    BOOST_TEST_REQUIRE(error.has_value());
    BOOST_TEST(error->what == "The surrogate pair in string is invalid.");
    error = codec::parse_json(doc, std::string_view("{}\0{", 4));
    BOOST_TEST_REQUIRE(error.has_value());
    BOOST_TEST(error->to_string() == "NUL byte at offset 2");
    BOOST_CHECK_THROW(codec::parse_objects("{\"kind\":\"\xC3\"}"), std::runtime_error);
    BOOST_CHECK_THROW(codec::parse_objects("kind: \xC3\n"), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(control_bytes_are_refused_raw_and_escaped_when_written) {
    // Found by the fuzzer: RapidJSON 1.1.0's SSE2 scans took bytes 0x1A-0x1F for ordinary ones, so a
    // raw one in a string was accepted and one decoded from \u001e was written back unescaped,
    // making the answer invalid JSON. Strings of 16 bytes and more took the SIMD path.
    review_spec r;
    r.object = application_json(app_spec{});
    r.old_object = application_json(app_spec{});
    r.uid = "705ab4f5-6393-11e8-b7cc-\\u001e\\u001f\\u001a-42010a800002";
    for (int route = 0; route < 2; ++route) {
        auto a = route == 0 ? codec::review_application("application/json", review_json(r), fleet, ids)
                            : codec::review_rollout("application/json", review_json(r), fleet);
        BOOST_TEST(a.http_status == 200u);
        BOOST_TEST(codec::string_at(strict_parse(a.body), {"response", "uid"}) ==
                   "705ab4f5-6393-11e8-b7cc-\x1e\x1f\x1a-42010a800002");
        BOOST_TEST(contains(a.body, "\\u001E\\u001F\\u001A"));
    }
    r.uid = "705ab4f5-6393-11e8-b7cc-\x1e-42010a800002";
    for (int route = 0; route < 2; ++route) {
        auto a = route == 0 ? codec::review_application("application/json", review_json(r), fleet, ids)
                            : codec::review_rollout("application/json", review_json(r), fleet);
        BOOST_TEST(a.http_status == 400u);
        BOOST_TEST(contains(message_of(a), "request body is not valid JSON: "));
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(yaml)

void expect_yaml_error(const std::string& text, std::string_view expected) {
    try {
        codec::parse_objects(text);
        BOOST_ERROR("no error for YAML starting " << text.substr(0, 40));
    } catch (const std::runtime_error& e) {
        BOOST_TEST(contains(e.what(), expected), e.what());
    }
}

BOOST_AUTO_TEST_CASE(deep_flow_yaml_gets_a_clear_error) {
    // Flow collections are what the JSON route does not take: a leading "x: " makes it YAML.
    expect_yaml_error("x: " + std::string(120000, '[') + std::string(120000, ']'), "nesting deeper than 256 levels");
    expect_yaml_error("x: " + std::string(300, '[') + std::string(300, ']'), "invalid YAML at line 1, column ");
    BOOST_TEST(codec::parse_objects("x: " + std::string(255, '[') + std::string(255, ']')).size() == 1u);
}

BOOST_AUTO_TEST_CASE(deep_block_yaml_gets_a_clear_error) {
    std::string sequences = "x:\n";
    for (int i = 0; i < 300; ++i) sequences += "- ";
    sequences += "leaf\n";
    expect_yaml_error(sequences, "nesting deeper than 256 levels");
    std::string maps;
    for (int i = 0; i < 300; ++i) maps += std::string(i, ' ') + "k:\n";
    maps += std::string(300, ' ') + "leaf\n";
    expect_yaml_error(maps, "nesting deeper than 256 levels");
    std::string deepest;
    for (int i = 0; i < 600; ++i) deepest += "- ";
    expect_yaml_error(deepest + "leaf\n", "nesting deeper than 256 levels");  // past yaml-cpp's own guard
}

BOOST_AUTO_TEST_CASE(an_alias_inside_its_own_anchor_is_refused) {
    // yaml-cpp makes this sequence its own element: converting it used to recurse until the
    // stack ran out.
    expect_yaml_error("&a [*a]\n", "nesting deeper than 256 levels");
    expect_yaml_error("kind: List\nitems: &a\n- *a\n", "nesting deeper than 256 levels");
}

BOOST_AUTO_TEST_CASE(aliases_that_multiply_are_refused_quickly) {
    std::string laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
    for (char c = 'b'; c <= 'j'; ++c) {
        const char prev = static_cast<char>(c - 1);
        laughs += std::string(1, c) + ": &" + c + " [";
        for (int i = 0; i < 10; ++i) laughs += std::string(i ? ", *" : "*") + prev;
        laughs += "]\n";
    }
    const auto started = std::chrono::steady_clock::now();
    expect_yaml_error(laughs, "aliases expand to too many nodes");
    BOOST_TEST((std::chrono::steady_clock::now() - started < std::chrono::seconds(5)));
    // A few aliases, as hand-written manifests use them, are fine.
    auto objects = codec::parse_objects("labels: &l {a: b}\nmore: {x: *l, y: *l}\n");
    BOOST_TEST_REQUIRE(objects.size() == 1u);
    BOOST_TEST(codec::string_at(objects[0], {"more", "y", "a"}) == "b");
}

BOOST_AUTO_TEST_CASE(yaml_cpp_endless_documents_are_cut_off) {
    // Found by the fuzzer: yaml-cpp 0.7 reads these 4 bytes as an endless run of documents, and
    // loading them grew memory until the process was killed.
    const auto started = std::chrono::steady_clock::now();
    expect_yaml_error("!,\t1", "more parser events than the text can hold");
    BOOST_TEST((std::chrono::steady_clock::now() - started < std::chrono::seconds(5)));
}

BOOST_AUTO_TEST_SUITE_END()
