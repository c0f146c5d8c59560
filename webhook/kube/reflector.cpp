#include "kube/reflector.hpp"

#include "kube/line_framer.hpp"
#include "kube/log.hpp"

#include "codec/input_limits.hpp"

#include <random>

namespace apr::kube {

namespace {

std::string_view string_member(const rapidjson::Value& obj, const char* name) {
    if (!obj.IsObject()) return {};
    auto m = obj.FindMember(name);
    if (m == obj.MemberEnd() || !m->value.IsString()) return {};
    return {m->value.GetString(), m->value.GetStringLength()};
}

const rapidjson::Value* object_member(const rapidjson::Value& obj, const char* name) {
    if (!obj.IsObject()) return nullptr;
    auto m = obj.FindMember(name);
    if (m == obj.MemberEnd() || !m->value.IsObject()) return nullptr;
    return &m->value;
}

std::string_view object_rv(const rapidjson::Value& obj) {
    auto meta = object_member(obj, "metadata");
    return meta ? string_member(*meta, "resourceVersion") : std::string_view{};
}

}  // namespace

api_result<list_page_info> client_lister_watcher::list(std::string_view path, std::size_t page_limit,
                                                       const list_item_handler& on_item, std::stop_token stop) {
    return client_.list(path, page_limit, on_item, std::move(stop));
}

api_result<void> client_lister_watcher::watch(std::string_view path, const stream_handler& on_bytes,
                                              std::stop_token stop, std::chrono::seconds idle_timeout) {
    return client_.stream(path, on_bytes, std::move(stop), idle_timeout);
}

reflector::reflector(lister_watcher& source, watch_store& store, reflector_options opts)
    : source_(source), store_(store), opts_(std::move(opts)) {
    if (opts_.max_watch_timeout < opts_.min_watch_timeout) opts_.max_watch_timeout = opts_.min_watch_timeout;
    if (opts_.watch_idle_timeout.count() <= 0)
        opts_.watch_idle_timeout = opts_.max_watch_timeout + std::chrono::seconds(30);
}

reflector::~reflector() {
    stop();
}

void reflector::start() {
    if (thread_.joinable()) return;
    thread_ = std::jthread([this](std::stop_token st) { run(st); });
}

void reflector::stop() {
    if (!thread_.joinable()) return;
    thread_.request_stop();
    cv_.notify_all();
    thread_.join();
}

bool reflector::wait_synced(std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [this] { return synced_.load(); });
}

std::string reflector::resource_version() const {
    std::lock_guard lock(mutex_);
    return rv_;
}

void reflector::set_resource_version(std::string rv) {
    std::lock_guard lock(mutex_);
    rv_ = std::move(rv);
}

std::string reflector::object_key(const rapidjson::Value& object) {
    auto meta = object_member(object, "metadata");
    if (!meta) return {};
    auto name = string_member(*meta, "name");
    if (name.empty()) return {};
    auto ns = string_member(*meta, "namespace");
    if (ns.empty()) return std::string(name);
    std::string key;
    key.reserve(ns.size() + 1 + name.size());
    key.append(ns).append("/").append(name);
    return key;
}

std::string reflector::selectors() const {
    std::string q;
    if (!opts_.label_selector.empty()) q += "&labelSelector=" + query_escape(opts_.label_selector);
    if (!opts_.field_selector.empty()) q += "&fieldSelector=" + query_escape(opts_.field_selector);
    return q;
}

bool reflector::wait_for(const std::stop_token& stop, std::chrono::milliseconds d) {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, stop, d, [] { return false; });
    return !stop.stop_requested();
}

bool reflector::list_once(const std::stop_token& stop) {
    std::string query = selectors();
    if (!opts_.list_resource_version.empty()) query += "&resourceVersion=" + query_escape(opts_.list_resource_version);
    std::string path = opts_.path;
    // Appended in place: `"?" + query.substr(1)` builds a temporary by inserting at its front,
    // which g++ 12 at -O3 reports as an overlapping memcpy (-Wrestrict, a false positive).
    if (!query.empty()) path.append(1, '?').append(query, 1);
    store_.begin_list();
    auto r = source_.list(
        path, opts_.page_limit,
        [&](const rapidjson::Value& item) {
            auto key = object_key(item);
            if (key.empty()) {
                ++stats_.errors;
                log(log_level::warning, "list " + opts_.path + ": item without metadata.name skipped");
                return;
            }
            if (!store_.list_item(key, item)) ++stats_.errors;
        },
        stop);
    if (!r) {
        if (stop.stop_requested()) return false;
        ++stats_.errors;
        if (r.error().is_gone()) ++stats_.gone;
        log(log_level::warning, "list " + opts_.path + " failed: " + r.error().describe());
        return false;
    }
    set_resource_version(r->resource_version);
    // Counted before publishing, so whoever end_list() wakes already sees the counters.
    if (stats_.lists++ > 0) ++stats_.relists;
    store_.end_list();
    {
        std::lock_guard lock(mutex_);
        synced_ = true;
    }
    cv_.notify_all();
    log(log_level::debug, "list " + opts_.path + ": " + std::to_string(r->items) + " items, rv " + r->resource_version);
    return true;
}

reflector::watch_outcome reflector::watch_once(const std::stop_token& stop) {
    static thread_local std::mt19937 rng{std::random_device{}()};
    std::uniform_int_distribution<long> pick(opts_.min_watch_timeout.count(), opts_.max_watch_timeout.count());
    std::string path = opts_.path +
                       "?watch=1&allowWatchBookmarks=true&resourceVersion=" + query_escape(resource_version()) +
                       "&timeoutSeconds=" + std::to_string(pick(rng)) + selectors();

    line_framer framer;
    bool gone = false;
    bool failed = false;
    auto on_line = [&](std::string& line) {
        if (gone || failed) return;
        rapidjson::Document d;
        auto const invalid = codec::parse_json_insitu(d, line);
        if (invalid || !d.IsObject()) {
            ++stats_.errors;
            log(log_level::warning, "watch " + opts_.path + ": undecodable event skipped" +
                                        (invalid ? ": " + invalid->to_string() : std::string()));
            return;
        }
        auto type = string_member(d, "type");
        auto object = object_member(d, "object");
        if (type.empty() || !object) {
            ++stats_.errors;
            log(log_level::warning, "watch " + opts_.path + ": event without type/object skipped");
            return;
        }
        if (type == "ERROR") {
            auto code = object->FindMember("code");
            auto reason = string_member(*object, "reason");
            if ((code != object->MemberEnd() && code->value.IsInt() && code->value.GetInt() == 410) ||
                reason == "Expired" || reason == "Gone") {
                ++stats_.gone;
                gone = true;
                log(log_level::info, "watch " + opts_.path + ": resourceVersion expired, re-listing");
            } else {
                ++stats_.errors;
                failed = true;
                log(log_level::warning,
                    "watch " + opts_.path + ": ERROR event: " + std::string(string_member(*object, "message")));
            }
            return;
        }
        if (type == "BOOKMARK") {
            ++stats_.bookmarks;
            if (auto rv = object_rv(*object); !rv.empty()) set_resource_version(std::string(rv));
            return;
        }
        watch_event_type t;
        if (type == "ADDED")
            t = watch_event_type::added;
        else if (type == "MODIFIED")
            t = watch_event_type::modified;
        else if (type == "DELETED")
            t = watch_event_type::deleted;
        else {
            ++stats_.errors;
            log(log_level::warning, "watch " + opts_.path + ": unknown event type skipped");
            return;
        }
        auto key = object_key(*object);
        if (key.empty()) {
            ++stats_.errors;
            log(log_level::warning, "watch " + opts_.path + ": object without metadata.name skipped");
            return;
        }
        ++stats_.events;
        if (!store_.apply(t, key, *object)) ++stats_.errors;
        if (auto rv = object_rv(*object); !rv.empty()) set_resource_version(std::string(rv));
    };

    auto r = source_.watch(
        path,
        [&](std::string_view bytes) {
            bool ok = framer.feed(bytes, on_line);
            store_.end_batch();
            if (!ok) {
                ++stats_.errors;
                failed = true;
                log(log_level::warning, "watch " + opts_.path + ": event larger than the limit");
            }
            return !gone && !failed;
        },
        stop, opts_.watch_idle_timeout);

    if (framer.pending() > 0 && !stop.stop_requested()) {
        ++stats_.errors;
        log(log_level::warning, "watch " + opts_.path + ": stream ended inside an event (" +
                                    std::to_string(framer.pending()) + " bytes dropped)");
    }
    if (gone) return watch_outcome::gone;
    if (!r) {
        if (r.error().is_gone()) {
            ++stats_.gone;
            return watch_outcome::gone;
        }
        ++stats_.errors;
        log(log_level::warning, "watch " + opts_.path + ": " + r.error().describe());
        return watch_outcome::failed;
    }
    return failed ? watch_outcome::failed : watch_outcome::ended;
}

void reflector::run(std::stop_token stop) {
    backoff retry(opts_.backoff);
    bool need_list = true;
    while (!stop.stop_requested()) {
        const auto started = std::chrono::steady_clock::now();
        if (need_list) {
            if (!list_once(stop)) {
                auto now = std::chrono::steady_clock::now();
                if (!wait_for(stop, retry.next(now, now))) return;
                continue;
            }
            need_list = false;
        }
        auto outcome = watch_once(stop);
        if (stop.stop_requested()) return;
        ++stats_.watch_restarts;
        switch (outcome) {
            case watch_outcome::gone:
                // client-go clears nothing until the new LIST replaces the store atomically.
                need_list = true;
                break;
            case watch_outcome::ended:
                // Server-side timeout: re-watch at once from the last resourceVersion, unless the
                // server keeps closing at once (then back off rather than spin).
                if (std::chrono::steady_clock::now() - started < std::chrono::seconds(1) &&
                    !wait_for(stop, retry.next(std::chrono::steady_clock::now(), started)))
                    return;
                break;
            case watch_outcome::failed:
                if (!wait_for(stop, retry.next(std::chrono::steady_clock::now(), started))) return;
                break;
        }
    }
}

}  // namespace apr::kube
