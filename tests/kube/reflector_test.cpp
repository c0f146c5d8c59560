// The reflector between a scripted lister_watcher and a recording store: no API server.
#define BOOST_TEST_MODULE kube_reflector
#include <boost/test/unit_test.hpp>

#include "kube/reflector.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

using namespace apr::kube;
using namespace std::chrono_literals;

namespace {

// LIST answers `items` at resourceVersion "10"; each WATCH sends the next scripted body, then
// stays open until stopped.
class scripted_source final : public lister_watcher {
public:
    std::vector<std::string> items;
    std::deque<std::string> watch_bodies;

    api_result<list_page_info> list(std::string_view path, std::size_t, const list_item_handler& on_item,
                                    std::stop_token) override {
        {
            std::lock_guard lock(mutex_);
            paths_.emplace_back(path);
            ++lists_;
        }
        for (const auto& json : items) {
            rapidjson::Document d;
            d.Parse(json.c_str());
            on_item(d);
        }
        return list_page_info{"10", items.size(), 1};
    }

    api_result<void> watch(std::string_view path, const stream_handler& on_bytes, std::stop_token stop,
                           std::chrono::seconds) override {
        std::string body;
        {
            std::lock_guard lock(mutex_);
            paths_.emplace_back(path);
            if (!watch_bodies.empty()) {
                body = std::move(watch_bodies.front());
                watch_bodies.pop_front();
            }
        }
        if (!body.empty() && !on_bytes(body)) return {};
        std::unique_lock lock(mutex_);
        cv_.wait(lock, stop, [] { return false; });
        return {};
    }

    int lists() const {
        std::lock_guard lock(mutex_);
        return lists_;
    }
    std::vector<std::string> paths() const {
        std::lock_guard lock(mutex_);
        return paths_;
    }

private:
    mutable std::mutex mutex_;
    std::condition_variable_any cv_;
    std::vector<std::string> paths_;
    int lists_ = 0;
};

// Records each call as a line; refuses objects whose key is `refuse`.
class recording_store final : public watch_store {
public:
    std::string refuse;

    void begin_list() override { add("begin"); }
    bool list_item(const std::string& key, const rapidjson::Value&) override {
        add("item " + key);
        return key != refuse;
    }
    void end_list() override { add("end"); }
    bool apply(watch_event_type type, const std::string& key, const rapidjson::Value&) override {
        add(std::string(type == watch_event_type::added      ? "added "
                        : type == watch_event_type::modified ? "modified "
                                                             : "deleted ") +
            key);
        return key != refuse;
    }
    void end_batch() override { add("batch"); }

    // Waits until `line` was recorded; returns everything recorded so far.
    std::vector<std::string> wait_for(const std::string& line) {
        std::unique_lock lock(mutex_);
        cv_.wait_for(lock, 10s, [&] { return std::find(lines_.begin(), lines_.end(), line) != lines_.end(); });
        return lines_;
    }

private:
    void add(std::string line) {
        {
            std::lock_guard lock(mutex_);
            lines_.push_back(std::move(line));
        }
        cv_.notify_all();
    }

    std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<std::string> lines_;
};

std::string object(const std::string& name) {
    return R"({"metadata":{"namespace":"ns","name":")" + name + R"(","resourceVersion":"11"}})";
}

std::string event(const std::string& type, const std::string& name) {
    return R"({"type":")" + type + R"(","object":)" + object(name) + "}\n";
}

reflector_options options() {
    reflector_options o;
    o.path = "/api/v1/namespaces/ns/configmaps";
    o.label_selector = "app=web";
    return o;
}

}  // namespace

BOOST_AUTO_TEST_CASE(lists_then_applies_watch_events_from_the_lists_resource_version) {
    scripted_source source;
    source.items = {object("a"), object("b")};
    source.watch_bodies = {event("ADDED", "c") + event("DELETED", "a")};
    recording_store store;
    reflector r(source, store, options());
    r.start();
    BOOST_TEST(r.wait_synced(10s));
    const auto lines = store.wait_for("batch");
    const std::vector<std::string> expected{"begin",      "item ns/a",    "item ns/b", "end",
                                            "added ns/c", "deleted ns/a", "batch"};
    BOOST_TEST(lines == expected, boost::test_tools::per_element());
    r.stop();
    const auto paths = source.paths();
    BOOST_REQUIRE_GE(paths.size(), 2u);
    BOOST_TEST(paths[0] == "/api/v1/namespaces/ns/configmaps?labelSelector=app%3Dweb");
    BOOST_TEST(paths[1].find("watch=1") != std::string::npos);
    BOOST_TEST(paths[1].find("resourceVersion=10") != std::string::npos);
    BOOST_TEST(r.stats().events.load() == 2u);
    BOOST_TEST(r.resource_version() == "11");
}

BOOST_AUTO_TEST_CASE(objects_the_store_refuses_are_counted_as_errors) {
    scripted_source source;
    source.items = {object("good"), object("bad")};
    recording_store store;
    store.refuse = "ns/bad";
    reflector r(source, store, options());
    r.start();
    BOOST_TEST(r.wait_synced(10s));
    r.stop();
    BOOST_TEST(r.stats().errors.load() == 1u);
}

BOOST_AUTO_TEST_CASE(an_expired_watch_lists_again) {
    scripted_source source;
    source.items = {object("a")};
    source.watch_bodies = {R"({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired"}})"
                           "\n"};
    recording_store store;
    reflector r(source, store, options());
    r.start();
    BOOST_TEST(r.wait_synced(10s));
    for (int i = 0; i < 1000 && source.lists() < 2; ++i) std::this_thread::sleep_for(10ms);
    r.stop();
    BOOST_TEST(source.lists() == 2);
    BOOST_TEST(r.stats().gone.load() == 1u);
    BOOST_TEST(r.stats().relists.load() == 1u);
}
