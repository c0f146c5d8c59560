#pragma once
// A watch-fed cache of one resource, holding only what `decode` extracts (e.g. for cluster
// Secrets: name, server, labels; never data). Readers take an immutable snapshot
// (shared_ptr<const map>) and never wait on the watch thread's parsing: the watch thread builds
// a new map off to the side and swaps the pointer under a short lock.
//
//   informer<app_view> apps(client, {.path = "/apis/argoproj.io/v1alpha1/namespaces/argocd/"
//       "applications"}, decode_app, [&] { controller.wake(); });
//   apps.start(); apps.wait_synced(30s); auto snap = apps.snapshot();

#include "kube/log.hpp"
#include "kube/reflector.hpp"

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace apr::kube {

// The typed store a reflector fills: decodes each object, builds the next map off to the side
// and publishes it whole.
template <class T>
class snapshot_store final : public watch_store {
public:
    using value_ptr = std::shared_ptr<const T>;
    using map_type = std::map<std::string, value_ptr>;  // key: "namespace/name"
    using decode_fn = std::function<std::optional<T>(const rapidjson::Value& object)>;
    using change_fn = std::function<void()>;

    // `what` names the cache in logs (its collection path).
    snapshot_store(std::string what, decode_fn decode, change_fn on_change)
        : what_(std::move(what)),
          decode_(std::move(decode)),
          on_change_(std::move(on_change)),
          current_(std::make_shared<const map_type>()) {}

    std::shared_ptr<const map_type> snapshot() const {
        std::lock_guard lock(snapshot_mutex_);
        return current_;
    }

    void begin_list() override { building_ = std::make_shared<map_type>(); }

    bool list_item(const std::string& key, const rapidjson::Value& object) override {
        auto v = decode_checked(key, object);
        if (v) building_->insert_or_assign(key, std::move(v));
        return v != nullptr;
    }

    void end_list() override {
        publish(std::move(building_));
        building_.reset();
        working_.reset();
    }

    bool apply(watch_event_type type, const std::string& key, const rapidjson::Value& object) override {
        if (!working_) working_ = std::make_shared<map_type>(*snapshot());
        if (type == watch_event_type::deleted) {
            working_->erase(key);
            return true;
        }
        auto v = decode_checked(key, object);
        if (v)
            working_->insert_or_assign(key, std::move(v));
        else
            working_->erase(key);
        return v != nullptr;
    }

    void end_batch() override {
        if (working_) {
            publish(std::move(working_));
            working_.reset();
        }
    }

private:
    value_ptr decode_checked(const std::string& key, const rapidjson::Value& object) {
        std::optional<T> v;
        try {
            v = decode_(object);
        } catch (const std::exception&) {
            v.reset();
        }
        if (!v) {
            log(log_level::warning,
                "cache " + what_ + ": object " + key + " has unexpected content; left out of the cache");
            return nullptr;
        }
        return std::make_shared<const T>(std::move(*v));
    }

    void publish(std::shared_ptr<map_type> next) {
        {
            std::lock_guard lock(snapshot_mutex_);
            current_ = std::move(next);
        }
        if (on_change_) on_change_();
    }

    std::string what_;
    decode_fn decode_;
    change_fn on_change_;
    mutable std::mutex snapshot_mutex_;
    std::shared_ptr<const map_type> current_;
    std::shared_ptr<map_type> building_;  // watch thread only
    std::shared_ptr<map_type> working_;   // watch thread only
};

// A reflector over the API server feeding a snapshot_store. The reflector is declared last, so
// it is destroyed (its thread stopped) before the store and the source it uses.
template <class T>
class informer {
public:
    using store_type = snapshot_store<T>;
    using value_ptr = typename store_type::value_ptr;
    using map_type = typename store_type::map_type;
    // Returns nullopt for an object it cannot use; the object is then absent from the cache,
    // the error is counted and logged (by key only), and the watch goes on.
    using decode_fn = typename store_type::decode_fn;
    // Called on the watch thread after the cache changed (after a LIST or a batch of events).
    using change_fn = typename store_type::change_fn;

    informer(client& c, reflector_options opts, decode_fn decode, change_fn on_change = {})
        : source_(c),
          store_(opts.path, std::move(decode), std::move(on_change)),
          reflector_(source_, store_, std::move(opts)) {}

    void start() { reflector_.start(); }
    void stop() { reflector_.stop(); }
    bool synced() const { return reflector_.synced(); }
    bool wait_synced(std::chrono::milliseconds timeout) const { return reflector_.wait_synced(timeout); }
    const watch_stats& stats() const { return reflector_.stats(); }
    const reflector& watch() const { return reflector_; }

    std::shared_ptr<const map_type> snapshot() const { return store_.snapshot(); }

    value_ptr find(const std::string& key) const {
        auto snap = snapshot();
        auto it = snap->find(key);
        return it == snap->end() ? nullptr : it->second;
    }

private:
    client_lister_watcher source_;
    store_type store_;
    reflector reflector_;
};

}  // namespace apr::kube
