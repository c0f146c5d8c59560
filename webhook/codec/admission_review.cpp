#include "codec/admission_review.hpp"

#include "codec/application_facts.hpp"
#include "codec/canonical_json.hpp"
#include "codec/input_limits.hpp"
#include "codec/insitu_stream.hpp"
#include "codec/json_reader.hpp"
#include "codec/json_skip.hpp"
#include "codec/kube_objects.hpp"
#include "codec/operator_request_codec.hpp"
#include "codec/pending_record.hpp"
#include "codec/rollout_codec.hpp"
#include "core/json_string.hpp"
#include "core/operator_request.hpp"
#include "core/validation.hpp"

#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <utility>

namespace apr::codec {

namespace {

using writer = rapidjson::Writer<rapidjson::StringBuffer>;

// Every string of an answer goes through here: the API server refuses an answer that is not
// UTF-8, and messages quote what the review said. Reviews are checked on the way in; this is the
// backstop for text from elsewhere (a --snapshot file's names).
void put_string(writer& w, std::string_view s) {
    if (!find_invalid_utf8(s)) {
        w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
        return;
    }
    const auto valid = to_valid_utf8(s);
    w.String(valid.data(), static_cast<rapidjson::SizeType>(valid.size()));
}

void put(writer& w, std::string_view key, std::string_view value) {
    w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
    put_string(w, value);
}

struct response_fields {
    std::string uid;
    bool allowed = true;
    int code = 200;
    std::string reason;  // metav1.Status reason when denied
    std::string message;
    std::string patch;  // raw JSON Patch text; empty = none
    std::vector<std::string> warnings;
    std::map<std::string, std::string> audit_annotations;
};

std::string render_review(const response_fields& f) {
    rapidjson::StringBuffer buffer;
    writer w(buffer);
    w.StartObject();
    put(w, "apiVersion", "admission.k8s.io/v1");
    put(w, "kind", "AdmissionReview");
    w.Key("response");
    w.StartObject();
    put(w, "uid", f.uid);
    w.Key("allowed");
    w.Bool(f.allowed);
    if (!f.allowed) {
        w.Key("status");
        w.StartObject();
        w.Key("code");
        w.Int(f.code);
        if (!f.reason.empty()) put(w, "reason", f.reason);
        put(w, "message", f.message);
        w.EndObject();
    }
    if (!f.patch.empty()) {
        put(w, "patchType", "JSONPatch");
        put(w, "patch", base64_encode(f.patch));
    }
    if (!f.warnings.empty()) {
        w.Key("warnings");
        w.StartArray();
        for (const auto& s : f.warnings) put_string(w, s);
        w.EndArray();
    }
    if (!f.audit_annotations.empty()) {
        w.Key("auditAnnotations");
        w.StartObject();
        for (const auto& [k, v] : f.audit_annotations) put(w, k, v);
        w.EndObject();
    }
    w.EndObject();
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

review_answer bad_request(std::string uid, std::string message, bool readable_review) {
    response_fields f;
    f.uid = std::move(uid);
    f.allowed = false;
    f.code = 400;
    f.reason = "BadRequest";
    f.message = std::move(message);
    review_answer a;
    // A review we could read (it has a uid) is answered with HTTP 200 so the API server reads our
    // message; anything else is not an AdmissionReview and gets a plain 400.
    a.http_status = readable_review ? 200 : 400;
    a.body = render_review(f);
    a.outcome = "error";
    a.detail = f.message;
    return a;
}

bool is_json_content_type(std::string_view ct) {
    auto semi = ct.find(';');
    auto media = ct.substr(0, semi);
    while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
    return media == "application/json";
}

// SAX filter between RapidJSON's reader and a Document: passes every event through, except that
// the values the admission decision never reads (request.object/oldObject .status but its `sync`
// and the revisions of `operationState.syncResult` and `history[]`, .metadata.managedFields and
// .labels; request.kind, resource, requestKind, requestResource and options) are skipped with
// skip_container and arrive in the Document as null.
// The reader cannot be told to skip, so the filter moves its stream past the value after leaving
// behind ": 0" in the value's last two bytes (the buffer is ours), and turns that 0 into null.
template <class Output>
class pruning_filter {
public:
    pruning_filter(Output& out, insitu_stream& stream) : out_(out), stream_(stream) {}

    bool Null() { return scalar(), out_.Null(); }
    bool Bool(bool b) { return scalar(), out_.Bool(b); }
    bool Int(int i) { return scalar(), out_.Int(i); }
    bool Uint(unsigned u) {
        if (std::exchange(skipped_value_next_, false)) return scalar(), out_.Null();
        return scalar(), out_.Uint(u);
    }
    bool Int64(int64_t i) { return scalar(), out_.Int64(i); }
    bool Uint64(uint64_t u) { return scalar(), out_.Uint64(u); }
    bool Double(double d) { return scalar(), out_.Double(d); }
    bool RawNumber(const char* s, rapidjson::SizeType n, bool copy) { return scalar(), out_.RawNumber(s, n, copy); }
    bool String(const char* s, rapidjson::SizeType n, bool copy) { return scalar(), out_.String(s, n, copy); }
    bool StartObject() {
        push(next_);
        next_ = scope::other;
        return out_.StartObject();
    }
    bool Key(const char* s, rapidjson::SizeType n, bool copy) {
        const std::string_view key(s, n);
        const scope here = top();
        next_ = here == scope::root && key == "request"                             ? scope::request
                : here == scope::request && (key == "object" || key == "oldObject") ? scope::object
                : here == scope::object && key == "metadata"                        ? scope::metadata
                : here == scope::object && key == "status"                          ? scope::status
                : here == scope::status && key == "operationState"                  ? scope::operation_state
                : here == scope::status && key == "history"                         ? scope::history
                : here == scope::operation_state && key == "syncResult"             ? scope::revisions_holder
                                                                                    : scope::other;
        // Of the status only `sync` (the resolved revision a sync is checked against) and the
        // revisions that say what runs (docs/api.md#moving-revisions) are read; the request's kinds,
        // resources and options and an Application's labels are not read at all.
        const bool read = here == scope::status ? key == "sync" || key == "operationState" || key == "history"
                          : here == scope::operation_state  ? key == "syncResult"
                          : here == scope::revisions_holder ? key == "revisions"
                          : here == scope::metadata         ? key != "managedFields" && key != "labels"
                          : here == scope::request ? key != "kind" && key != "resource" && key != "requestKind" &&
                                                         key != "requestResource" && key != "options"
                                                   : true;
        if (!read) skip_value();
        return out_.Key(s, n, copy);
    }
    bool EndObject(rapidjson::SizeType members) {
        pop();
        return out_.EndObject(members);
    }
    bool StartArray() {
        push(next_ == scope::history ? scope::history : scope::other);
        next_ = element_scope();
        return out_.StartArray();
    }
    bool EndArray(rapidjson::SizeType elements) {
        pop();
        return out_.EndArray(elements);
    }

private:
    // revisions_holder: operationState.syncResult and each history[] entry, of which only the
    // revisions are read.
    enum class scope : unsigned char {
        root,
        request,
        object,
        metadata,
        status,
        operation_state,
        history,
        revisions_holder,
        other
    };

    // What the next value in the current container is: an entry of status.history, or nothing read.
    scope element_scope() const { return top() == scope::history ? scope::revisions_holder : scope::other; }
    void scalar() { next_ = element_scope(); }
    void push(scope s) {
        if (depth_ < scopes_.size()) scopes_[depth_] = s;
        ++depth_;
    }
    void pop() {
        --depth_;
        next_ = element_scope();
    }
    scope top() const { return depth_ == 0 || depth_ > scopes_.size() ? scope::other : scopes_[depth_ - 1]; }

    static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

    // Called with the stream just past the key. Anything unexpected is left for the reader, which
    // then parses the value normally and reports errors in its own words.
    void skip_value() {
        char* p = stream_.src_;
        const char* const end = stream_.end_;
        while (p < end && is_space(*p)) ++p;
        if (p == end || *p != ':') return;
        ++p;
        while (p < end && is_space(*p)) ++p;
        if (p == end || (*p != '{' && *p != '[')) return;
        const char* value_end = skip_container(p, end);
        if (!value_end) return;
        char* last = p + (value_end - p) - 1;  // the closing bracket; the value is at least "{}"
        last[-1] = ':';
        last[0] = '0';
        stream_.src_ = last - 1;
        skipped_value_next_ = true;
    }

    Output& out_;
    insitu_stream& stream_;
    std::array<scope, 8> scopes_{};
    std::size_t depth_ = 0;
    scope next_ = scope::root;
    bool skipped_value_next_ = false;
};

struct parsed_review {
    std::string body;  // the Document's strings point into it
    rapidjson::Document doc;
    const rapidjson::Value* request = nullptr;
    std::string uid;
};

enum class parse_mode { whole, skip_unread };

// Parses the envelope; on failure fills `error`. The review keeps the body alive for the Document.
std::unique_ptr<parsed_review> parse_review(std::string_view content_type, std::string body, parse_mode mode,
                                            std::optional<review_answer>& error) {
    if (!is_json_content_type(content_type)) {
        error = bad_request("", "Content-Type must be application/json, got " + core::quote(content_type), false);
        return nullptr;
    }
    if (body.empty()) {
        error = bad_request("", "request body is empty: expected an admission.k8s.io/v1 AdmissionReview", false);
        return nullptr;
    }
    // One pass: the in-place reader stops at a NUL byte, which valid JSON never contains
    // unescaped; and the body is checked whole, the parts the pruning path skips included, so that
    // a review is UTF-8 or refused and nothing an answer quotes from it can make the answer invalid.
    const auto scan = scan_body(body);
    if (scan.nul) {
        error =
            bad_request("", "request body is not valid JSON: NUL byte at offset " + std::to_string(*scan.nul), false);
        return nullptr;
    }
    if (scan.invalid_utf8) {
        error = bad_request(
            "", "request body is not valid JSON: invalid UTF-8 at offset " + std::to_string(*scan.invalid_utf8), false);
        return nullptr;
    }
    auto r = std::make_unique<parsed_review>();
    r->body = std::move(body);
    char* const text = r->body.data();
    rapidjson::Reader reader;
    constexpr unsigned flags = rapidjson::kParseInsituFlag;
    std::optional<json_error> failed;
    // limits_handler stops the reader at max_nesting_depth: it recurses once per level.
    if (mode == parse_mode::skip_unread) {
        insitu_stream stream(text, text + r->body.size());
        auto generate = [&](auto& document) {
            pruning_filter filter(document, stream);
            limits_handler limits(filter, scan.unicode_escapes);
            if (!reader.Parse<flags>(stream, limits).IsError()) return true;
            failed = describe(reader, limits);
            return false;
        };
        r->doc.Populate(generate);
    } else {
        insitu_stream stream(text, text + r->body.size());
        auto generate = [&](auto& document) {
            limits_handler limits(document, scan.unicode_escapes);
            if (!reader.Parse<flags>(stream, limits).IsError()) return true;
            failed = describe(reader, limits);
            return false;
        };
        r->doc.Populate(generate);
    }
    if (failed) {
        error = bad_request("", "request body is not valid JSON: " + failed->to_string(), false);
        return nullptr;
    }
    auto& doc = r->doc;
    if (!doc.IsObject() || string_at(doc, {"kind"}) != "AdmissionReview") {
        error = bad_request("", "request body is not an AdmissionReview (kind must be \"AdmissionReview\")", false);
        return nullptr;
    }
    const auto api_version = string_at(doc, {"apiVersion"});
    if (api_version != "admission.k8s.io/v1") {
        error = bad_request("",
                            "unsupported AdmissionReview apiVersion " + core::quote(api_version) +
                                ": configure admissionReviewVersions: [v1]",
                            false);
        return nullptr;
    }
    r->request = find_path(doc, {"request"});
    if (!r->request || !r->request->IsObject()) {
        error = bad_request("", "request: Required value: the AdmissionReview has no request object", false);
        return nullptr;
    }
    const auto* uid = find_path(*r->request, {"uid"});
    if (!uid || !uid->IsString() || uid->GetStringLength() == 0) {
        error = bad_request("", "request.uid: Required value: must be a non-empty string", false);
        return nullptr;
    }
    r->uid.assign(uid->GetString(), uid->GetStringLength());
    return r;
}

}  // namespace

std::string render_patch(const std::vector<core::patch_operation>& patch) {
    // Values are already JSON text; RawValue inserts them without re-parsing.
    rapidjson::StringBuffer buffer;
    writer w(buffer);
    w.StartArray();
    for (const auto& op : patch) {
        w.StartObject();
        put(w, "op", op.op);
        put(w, "path", op.path);
        if (op.value_json) {
            w.Key("value");
            w.RawValue(op.value_json->data(), op.value_json->size(), rapidjson::kObjectType);
        }
        w.EndObject();
    }
    w.EndArray();
    return {buffer.GetString(), buffer.GetSize()};
}

review_answer review_application(std::string_view content_type, std::string body, const core::fleet_state& state,
                                 const core::admission_identities& identities) {
    std::optional<review_answer> error;
    auto review = parse_review(content_type, std::move(body), parse_mode::skip_unread, error);
    if (!review) return std::move(*error);
    if (auto problem = check_application_request(*review->request); !problem.empty())
        return bad_request(review->uid, problem, true);

    const auto facts = extract_facts(*review->request, identities);
    const auto verdict = core::decide(facts, state.admission, identities);

    response_fields f;
    f.uid = review->uid;
    f.allowed = verdict.kind != core::verdict_kind::deny;
    f.code = verdict.code;
    f.message = verdict.message;
    if (!f.allowed) f.reason = "Forbidden";
    if (!verdict.patch.empty()) f.patch = render_patch(verdict.patch);
    f.warnings = verdict.warnings;
    f.audit_annotations = verdict.audit_annotations;

    review_answer a;
    a.body = render_review(f);
    a.outcome = verdict.kind == core::verdict_kind::hold   ? "held"
                : verdict.kind == core::verdict_kind::deny ? "denied"
                                                           : "allowed";
    a.detail = verdict.reason;
    if (verdict.event) a.event = review_event{facts.namespace_, facts.name, *verdict.event};
    return a;
}

namespace {

std::vector<std::string> user_groups(const rapidjson::Value& request) {
    std::vector<std::string> groups;
    if (const auto* g = find_path(request, {"userInfo", "groups"}); g && g->IsArray())
        for (const auto& v : g->GetArray())
            if (v.IsString()) groups.emplace_back(v.GetString(), v.GetStringLength());
    return groups;
}

// The operator request this write makes: the annotation's value when it is new or changed (the
// same value again is the request already written, not a new one).
std::optional<std::string> new_request(const rapidjson::Value& request, const rapidjson::Value& object) {
    auto value = request_annotation_of(object);
    if (!value) return std::nullopt;
    const auto* old = find_path(request, {"oldObject"});
    if (old && old->IsObject() && request_annotation_of(*old) == value) return std::nullopt;
    return value;
}

// The API server's own wording for an invalid object (StatusReasonInvalid).
void deny_invalid(response_fields& f, review_answer& a, const std::string& name, const core::field_errors& errors) {
    std::string message = "ProgressiveRollout.deployment.skyscanner.net " + core::quote(name) + " is invalid: ";
    if (errors.size() > 1) message += "[";
    for (std::size_t i = 0; i < errors.size(); ++i) message += (i ? ", " : "") + errors[i].to_string();
    if (errors.size() > 1) message += "]";
    f.allowed = false;
    f.code = 422;
    f.reason = "Invalid";
    f.message = std::move(message);
    a.outcome = "denied";
    a.detail = "invalid";
}

}  // namespace

review_answer mutate_rollout(std::string_view content_type, std::string body, core::time_point now) {
    std::optional<review_answer> error;
    auto review = parse_review(content_type, std::move(body), parse_mode::whole, error);
    if (!review) return std::move(*error);
    const auto* request = review->request;
    const auto* object = find_path(*request, {"object"});
    response_fields f;
    f.uid = review->uid;
    review_answer a;
    a.outcome = "allowed";
    const auto operation = string_at(*request, {"operation"});
    if ((operation == "CREATE" || operation == "UPDATE") && object && object->IsObject()) {
        if (auto text = new_request(*request, *object)) {
            auto decoded = decode_request(*text);
            // A malformed request is left as written: the validating webhook denies it with its field paths.
            if (decoded.errors.empty()) {
                auto& q = decoded.request;
                q.user = string_at(*request, {"userInfo", "username"});
                q.groups = user_groups(*request);
                q.at = now;
                const auto stamped = encode_request(q);
                f.patch = render_patch(
                    {{"add", "/metadata/annotations/" + core::escape_pointer_token(core::request_annotation),
                      core::quote_json(stamped)}});
                a.outcome = "stamped";
                a.detail = std::string(core::to_string(q.verb)) + " by " + q.user;
            }
        }
    }
    a.body = render_review(f);
    return a;
}

review_answer review_rollout(std::string_view content_type, std::string body, const core::fleet_state& state,
                             core::time_point now) {
    std::optional<review_answer> error;
    auto review = parse_review(content_type, std::move(body), parse_mode::whole, error);
    if (!review) return std::move(*error);
    const auto* request = review->request;
    const auto operation = string_at(*request, {"operation"});
    const auto* object = find_path(*request, {"object"});

    response_fields f;
    f.uid = review->uid;
    review_answer a;
    a.outcome = "allowed";
    if ((operation == "CREATE" || operation == "UPDATE") && object && object->IsObject() &&
        !find_path(*object, {"metadata", "deletionTimestamp"})) {
        auto decoded = decode_rollout(*object);
        auto& r = decoded.rollout;
        if (r.namespace_.empty()) r.namespace_ = string_at(*request, {"namespace"});
        if (r.name.empty()) r.name = string_at(*request, {"name"});
        auto result = core::validate(r.spec, decoded.errors, state.validation_context_for(r.namespace_, r.name));
        auto& errors = result.errors;
        f.warnings = std::move(result.warnings);
        const auto text = new_request(*request, *object);
        std::optional<core::operator_request> asked;
        if (text) {
            auto q = decode_request(*text);
            for (auto& e : q.errors) errors.push_back(std::move(e));
            for (auto& e : core::check_request_fields(q.request, request_field_path, true))
                errors.push_back(std::move(e));
            if (q.errors.empty()) asked = std::move(q.request);
        }
        if (!errors.empty()) {
            deny_invalid(f, a, r.name, errors);
        } else if (asked) {
            // Judged against the rollout as it was before this write: `pause` on a paused one is refused.
            auto before = r;
            if (const auto* old = find_path(*request, {"oldObject"}); old && old->IsObject())
                before.spec.paused = decode_rollout(*old).rollout.spec.paused;
            auto refusal = core::refuse_request(before, *asked, now);
            const bool pausing = asked->verb == core::request_verb::pause;
            if (!refusal && (pausing || asked->verb == core::request_verb::resume) && r.spec.paused != pausing)
                refusal = std::string(core::to_string(asked->verb)) +
                          " is written together with spec.paused: " + (pausing ? "true" : "false");
            if (refusal) {
                f.allowed = false;
                f.code = 400;
                f.reason = "BadRequest";
                f.message = std::move(*refusal);
                a.outcome = "denied";
                a.detail = "request refused";
            }
        }
    }
    a.body = render_review(f);
    return a;
}

}  // namespace apr::codec
