#include "kube/event_recorder.hpp"

#include "kube/api_paths.hpp"

#include "kube/log.hpp"
#include "codec/time_format.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdio>

#include <unistd.h>

namespace apr::kube {

event_recorder::event_recorder(client& c, event_recorder_options opts) : client_(c), opts_(std::move(opts)) {
    if (opts_.instance.empty()) {
        char host[256] = {};
        if (gethostname(host, sizeof host - 1) == 0) opts_.instance = host;
    }
    thread_ = std::jthread([this](std::stop_token st) { run(st); });
}

event_recorder::~event_recorder() {
    thread_.request_stop();
    cv_.notify_all();
}

void event_recorder::record(const object_reference& object, event_type type, std::string reason, std::string message) {
    {
        std::lock_guard lock(mutex_);
        if (queue_.size() >= opts_.queue_limit) {
            ++dropped_;
            return;
        }
        queue_.push_back({object, type, std::move(reason), std::move(message), std::chrono::system_clock::now()});
    }
    cv_.notify_all();
}

bool event_recorder::flush(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [this] { return queue_.empty() && !busy_; });
}

void event_recorder::run(std::stop_token stop) {
    for (;;) {
        pending p;
        {
            std::unique_lock lock(mutex_);
            busy_ = false;
            cv_.notify_all();
            if (!cv_.wait(lock, stop, [this] { return !queue_.empty(); })) return;
            p = std::move(queue_.front());
            queue_.pop_front();
            busy_ = true;
        }
        write(p);
    }
}

void event_recorder::write(const pending& p) {
    std::string const ns = p.object.namespace_.empty() ? "default" : p.object.namespace_;
    const char* type = p.type == event_type::warning ? "Warning" : "Normal";
    std::string key = ns + "\n" + p.object.kind + "\n" + p.object.name + "\n" + p.object.uid + "\n" + type + "\n" +
                      p.reason + "\n" + p.message;

    if (auto it = seen_.find(key); it != seen_.end()) {
        auto& s = it->second;
        std::string patch =
            "{\"count\":" + std::to_string(s.count + 1) + ",\"lastTimestamp\":\"" + codec::format_time(p.at) + "\"}";
        auto r = client_.merge_patch(event_path(ns, s.name), patch);
        if (r) {
            ++s.count;
            ++written_;
            return;
        }
        if (!r.error().is_not_found()) {
            ++failed_;
            log(log_level::warning, "event " + p.reason + " on " + p.object.kind + " " + p.object.name +
                                        " not written: " + r.error().describe());
            return;
        }
        seen_.erase(it);  // expired (Events live one hour): start a new series
    }

    char suffix[32];
    std::snprintf(suffix, sizeof suffix, ".%llx",
                  static_cast<unsigned long long>(
                      std::chrono::duration_cast<std::chrono::nanoseconds>(p.at.time_since_epoch()).count()));
    std::string const name = p.object.name + suffix;
    std::string const ts = codec::format_time(p.at);

    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    auto str = [&](const char* k, const std::string& v) {
        w.Key(k);
        w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
    };
    w.StartObject();
    str("apiVersion", "v1");
    str("kind", "Event");
    w.Key("metadata");
    w.StartObject();
    str("name", name);
    str("namespace", ns);
    w.EndObject();
    w.Key("involvedObject");
    w.StartObject();
    str("apiVersion", p.object.api_version);
    str("kind", p.object.kind);
    if (!p.object.namespace_.empty()) str("namespace", p.object.namespace_);
    str("name", p.object.name);
    if (!p.object.uid.empty()) str("uid", p.object.uid);
    w.EndObject();
    str("reason", p.reason);
    str("message", p.message);
    str("type", type);
    w.Key("count");
    w.Int(1);
    str("firstTimestamp", ts);
    str("lastTimestamp", ts);
    w.Key("source");
    w.StartObject();
    str("component", opts_.component);
    w.EndObject();
    str("reportingComponent", opts_.component);
    str("reportingInstance", opts_.instance);
    w.EndObject();

    auto r = client_.create(events_path(ns), std::string_view(sb.GetString(), sb.GetSize()));
    if (!r) {
        ++failed_;
        log(log_level::warning, "event " + p.reason + " on " + p.object.kind + " " + p.object.name +
                                    " not written: " + r.error().describe());
        return;
    }
    if (seen_.size() > 4096) seen_.clear();  // bounded memory; a repeat after this just starts a new series
    seen_[key] = series{ns, name, 1, p.at};
    ++written_;
}

}  // namespace apr::kube
