#pragma once
// The LIST + WATCH loop behind every informer (client-go's Reflector): paged LIST, then WATCH
// from the list's resourceVersion with bookmarks and a random 5-10 min server timeout; re-list
// on 410 (HTTP 410 or an ERROR event), re-watch from the last resourceVersion after a timeout
// or a dropped connection, with exponential backoff and jitter between failures. It runs on
// its own thread. As client-go's, it is composed, not extended: it reads through a
// lister_watcher and fills a watch_store (informer<T> in informer.hpp holds one of each), and
// owns neither.

#include "kube/backoff.hpp"
#include "kube/client.hpp"

#include <rapidjson/document.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace apr::kube {

// Plain counters; controller/fleet_cache.cpp exports them on /metrics (docs/controller.md).
struct watch_stats {
    std::atomic<std::uint64_t> lists{0};           // every completed LIST (first sync included)
    std::atomic<std::uint64_t> relists{0};         // LISTs after the first (410, errors)
    std::atomic<std::uint64_t> gone{0};            // 410s seen (HTTP or ERROR event)
    std::atomic<std::uint64_t> watch_restarts{0};  // watches re-opened for any reason
    std::atomic<std::uint64_t> errors{0};          // failed requests, bad events, bad objects
    std::atomic<std::uint64_t> events{0};          // ADDED/MODIFIED/DELETED applied
    std::atomic<std::uint64_t> bookmarks{0};
};

struct reflector_options {
    std::string path;            // collection, e.g. "/api/v1/namespaces/argocd/secrets"
    std::string label_selector;  // optional, e.g. "argocd.argoproj.io/secret-type=cluster"
    std::string field_selector;  // optional
    std::size_t page_limit = 500;
    // resourceVersion for LISTs: "" reads etcd (consistent, paged by page_limit). "0" answers
    // from the API server's watch cache, but 1.20 then ignores limit and builds one unpaged
    // answer: for 10,000 ~20 KB Applications it grew past 12 GB RSS (bench-cache). Keep "".
    std::string list_resource_version;
    backoff_policy backoff{};
    std::chrono::seconds min_watch_timeout{300};
    std::chrono::seconds max_watch_timeout{600};
    std::chrono::seconds watch_idle_timeout{0};  // 0: max_watch_timeout + 30 s
};

enum class watch_event_type { added, modified, deleted };

// What a reflector fills (client-go's Store). All called on the reflector thread. list_item and
// apply return false for an object the store could not use (counted in watch_stats::errors).
class watch_store {
public:
    virtual ~watch_store() = default;
    virtual void begin_list() = 0;
    virtual bool list_item(const std::string& key, const rapidjson::Value& object) = 0;
    virtual void end_list() = 0;
    virtual bool apply(watch_event_type type, const std::string& key, const rapidjson::Value& object) = 0;
    virtual void end_batch() = 0;
};

// Where a reflector reads from (client-go's ListerWatcher): paths carry the query.
class lister_watcher {
public:
    virtual ~lister_watcher() = default;
    virtual api_result<list_page_info> list(std::string_view path, std::size_t page_limit,
                                            const list_item_handler& on_item, std::stop_token stop) = 0;
    virtual api_result<void> watch(std::string_view path, const stream_handler& on_bytes, std::stop_token stop,
                                   std::chrono::seconds idle_timeout) = 0;
};

// The API server through a client: paged LIST, streamed WATCH.
class client_lister_watcher final : public lister_watcher {
public:
    explicit client_lister_watcher(client& c) : client_(c) {}
    api_result<list_page_info> list(std::string_view path, std::size_t page_limit, const list_item_handler& on_item,
                                    std::stop_token stop) override;
    api_result<void> watch(std::string_view path, const stream_handler& on_bytes, std::stop_token stop,
                           std::chrono::seconds idle_timeout) override;

private:
    client& client_;
};

class reflector {
public:
    // `source` and `store` must outlive the reflector (or its stop()).
    reflector(lister_watcher& source, watch_store& store, reflector_options opts);
    ~reflector();
    reflector(const reflector&) = delete;
    reflector& operator=(const reflector&) = delete;

    void start();
    // Idempotent; the destructor calls it.
    void stop();

    // True once the first LIST has been stored (and stays true across re-lists).
    bool synced() const { return synced_.load(); }
    bool wait_synced(std::chrono::milliseconds timeout) const;

    std::string resource_version() const;
    const watch_stats& stats() const { return stats_; }
    const reflector_options& options() const { return opts_; }

    // "namespace/name", or "name" for cluster-scoped objects; empty when metadata is unusable.
    static std::string object_key(const rapidjson::Value& object);

private:
    enum class watch_outcome { ended, gone, failed };

    void run(std::stop_token stop);
    bool list_once(const std::stop_token& stop);
    watch_outcome watch_once(const std::stop_token& stop);
    std::string selectors() const;
    void set_resource_version(std::string rv);
    bool wait_for(const std::stop_token& stop, std::chrono::milliseconds d);

    lister_watcher& source_;
    watch_store& store_;
    reflector_options opts_;
    watch_stats stats_;
    std::atomic<bool> synced_{false};
    mutable std::mutex mutex_;
    mutable std::condition_variable_any cv_;
    std::string rv_;
    std::jthread thread_;
};

}  // namespace apr::kube
