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
#include <optional>
#include <string>

namespace apr::kube {

template<class T>
class informer : public reflector
{
public:
    using value_ptr = std::shared_ptr<T const>;
    using map_type = std::map<std::string, value_ptr>;  // key: "namespace/name"
    // Returns nullopt for an object it cannot use; the object is then absent from the cache,
    // the error is counted and logged (by key only), and the watch goes on.
    using decode_fn = std::function<std::optional<T>(rapidjson::Value const& object)>;
    // Called on the watch thread after the cache changed (after a LIST or a batch of events).
    using change_fn = std::function<void()>;

    informer(client& c, reflector_options opts, decode_fn decode, change_fn on_change = {})
        : reflector(c, std::move(opts)), decode_(std::move(decode)),
          on_change_(std::move(on_change)), current_(std::make_shared<map_type const>())
    {
    }

    ~informer() override { stop(); }

    std::shared_ptr<map_type const>
    snapshot() const
    {
        std::lock_guard lock(snapshot_mutex_);
        return current_;
    }

    value_ptr
    find(std::string const& key) const
    {
        auto snap = snapshot();
        auto it = snap->find(key);
        return it == snap->end() ? nullptr : it->second;
    }

protected:
    void
    begin_list() override
    {
        building_ = std::make_shared<map_type>();
    }

    void
    list_item(std::string const& key, rapidjson::Value const& object) override
    {
        if(auto v = decode_checked(key, object))
            building_->insert_or_assign(key, std::move(v));
    }

    void
    end_list() override
    {
        publish(std::move(building_));
        building_.reset();
        working_.reset();
    }

    void
    apply(watch_event_type type, std::string const& key, rapidjson::Value const& object) override
    {
        if(!working_)
            working_ = std::make_shared<map_type>(*snapshot());
        if(type == watch_event_type::deleted)
        {
            working_->erase(key);
            return;
        }
        if(auto v = decode_checked(key, object))
            working_->insert_or_assign(key, std::move(v));
        else
            working_->erase(key);
    }

    void
    end_batch() override
    {
        if(working_)
        {
            publish(std::move(working_));
            working_.reset();
        }
    }

private:
    value_ptr
    decode_checked(std::string const& key, rapidjson::Value const& object)
    {
        std::optional<T> v;
        try
        {
            v = decode_(object);
        }
        catch(std::exception const&)
        {
            v.reset();
        }
        if(!v)
        {
            ++stats_.errors;
            log(log_level::warning, "cache " + options().path + ": object " + key +
                " has unexpected content; left out of the cache");
            return nullptr;
        }
        return std::make_shared<T const>(std::move(*v));
    }

    void
    publish(std::shared_ptr<map_type> next)
    {
        {
            std::lock_guard lock(snapshot_mutex_);
            current_ = std::move(next);
        }
        if(on_change_)
            on_change_();
    }

    decode_fn decode_;
    change_fn on_change_;
    mutable std::mutex snapshot_mutex_;
    std::shared_ptr<map_type const> current_;
    std::shared_ptr<map_type> building_;  // watch thread only
    std::shared_ptr<map_type> working_;   // watch thread only
};

} // namespace apr::kube
