// libFuzzer target: one input is tried as an AdmissionReview on both admission routes (parsing,
// the decision against a fleet with held, admitted and unstaged clusters, patch rendering) and as
// a file of objects (JSON or YAML, as `validate`, `plan` and `serve --snapshot` read one).
// Besides the sanitizers' findings, an answer that is not UTF-8 JSON, or a patch that is not a JSON
// array of operations, stops the run: the API server would refuse either.
#include "../unit/review_fixtures.hpp"
#include "codec/admission_review.hpp"
#include "codec/canonical_json.hpp"
#include "codec/input_limits.hpp"
#include "codec/json_reader.hpp"
#include "codec/kube_objects.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace {

using namespace apr;

[[noreturn]] void fail(const char* what, const std::string& text) {
    std::fprintf(stderr, "admission_fuzz: %s: %.400s\n", what, text.c_str());
    std::abort();
}

void check_answer(const codec::review_answer& a) {
    if (a.http_status != 200 && a.http_status != 400) fail("unexpected HTTP status", std::to_string(a.http_status));
    if (codec::find_invalid_utf8(a.body)) fail("answer is not UTF-8", a.body);
    rapidjson::Document d;
    if (codec::parse_json(d, a.body)) fail("answer is not JSON", a.body);
    const auto* response = codec::find_path(d, {"response"});
    if (!response || !response->IsObject()) fail("answer has no response", a.body);
    const auto* allowed = codec::find_path(*response, {"allowed"});
    if (!allowed || !allowed->IsBool()) fail("answer has no allowed", a.body);
    const auto* patch = codec::find_path(*response, {"patch"});
    if (!patch) return;
    if (!allowed->GetBool()) fail("a denial carries a patch", a.body);
    const auto decoded = codec::base64_decode(patch->IsString() ? patch->GetString() : "");
    if (!decoded) fail("patch is not base64", a.body);
    rapidjson::Document ops;
    if (codec::parse_json(ops, *decoded) || !ops.IsArray() || ops.Empty()) fail("patch is not a JSON array", *decoded);
    for (const auto& op : ops.GetArray()) {
        const auto name = codec::string_at(op, {"op"});
        if (name != "add" && name != "remove" && name != "replace" && name != "test")
            fail("patch has an unknown op", *decoded);
        if (!codec::string_at(op, {"path"}).starts_with("/")) fail("patch path is not a JSON pointer", *decoded);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const auto fleet = test::guestbook_fleet();
    static const auto ids = test::test_identities();
    const std::string input(reinterpret_cast<const char*>(data), size);

    check_answer(codec::review_application("application/json", input, fleet, ids));
    check_answer(codec::review_rollout("application/json", input, fleet));
    try {
        for (const auto& object : codec::parse_objects(input)) codec::canonical_json(object);
    } catch (const std::runtime_error&) {
        // A clear error is the expected answer to most inputs.
    }
    return 0;
}
