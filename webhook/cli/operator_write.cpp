#include "cli/operator_write.hpp"

#include "codec/operator_request_codec.hpp"
#include "codec/rollout_codec.hpp"
#include "codec/time_format.hpp"
#include "kube/api_paths.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <optional>
#include <random>
#include <thread>

namespace apr::cli {

namespace {

using namespace std::chrono_literals;

std::string new_request_id() {
    std::random_device random;
    std::uniform_int_distribution<unsigned> digit(0, 15);
    std::string id =
        codec::format_time(std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now())) + "-";
    for (int i = 0; i < 8; ++i) id += "0123456789abcdef"[digit(random)];
    return id;
}

// {"metadata":{"annotations":{REQUEST: text}}} plus {"spec":{"paused": p}} when given.
std::string request_patch(const std::string& text, std::optional<bool> paused) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    w.Key("metadata");
    w.StartObject();
    w.Key("annotations");
    w.StartObject();
    w.Key(core::request_annotation.data(), static_cast<rapidjson::SizeType>(core::request_annotation.size()));
    w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
    w.EndObject();
    w.EndObject();
    if (paused) {
        w.Key("spec");
        w.StartObject();
        w.Key("paused");
        w.Bool(*paused);
        w.EndObject();
    }
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

// The API server's words: RBAC's 403 text, or the webhook's refusal without its envelope.
std::string describe(const kube::api_error& e) {
    constexpr std::string_view denied = "denied the request: ";
    if (auto at = e.message.find(denied); at != std::string::npos && e.message.starts_with("admission webhook"))
        return e.message.substr(at + denied.size());
    return e.message.empty() ? e.describe() : e.message;
}

}  // namespace

write_outcome write_request(kube::client& client, const std::string& namespace_, const std::string& name,
                            core::operator_request request, core::duration wait) {
    const auto path = kube::rollout_path(namespace_, name);
    // pause and resume are spec.paused, written with the request that records who asked.
    std::optional<bool> paused;
    if (request.verb == core::request_verb::pause) paused = true;
    if (request.verb == core::request_verb::resume) paused = false;
    // No local check before the write: RBAC answers first (403), then the validating webhook
    // refuses an illegal move with the same core rule the controller applies.
    request.id = new_request_id();
    write_outcome out;
    out.id = request.id;
    auto written = client.merge_patch(path, request_patch(codec::encode_request(request), paused));
    if (!written) {
        const auto& e = written.error();
        out.code = e.code;
        out.message = e.is_not_found() ? "ProgressiveRollout " + namespace_ + "/" + name + " not found" : describe(e);
        return out;
    }
    out.what = write_outcome::result::written;
    // The controller records the request in status.requests, then removes the annotation.
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (std::chrono::steady_clock::now() < deadline) {
        if (auto current = client.get(path)) {
            const auto status = codec::decode_rollout(*current).rollout.status;
            for (const auto& record : status.requests) {
                if (record.id != request.id) continue;
                out.what = record.refused ? write_outcome::result::refused : write_outcome::result::recorded;
                out.user = record.user;
                out.message = record.result;
                return out;
            }
        }
        std::this_thread::sleep_for(std::min<core::duration>(500ms, wait));
    }
    return out;
}

}  // namespace apr::cli
