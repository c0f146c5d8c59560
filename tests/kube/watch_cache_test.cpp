// Watch caches against the REAL kube-apiserver: changes in order, server timeouts, 410s after
// restarts, bad objects skipped; cluster Secrets cached without credentials.
#include <boost/test/unit_test.hpp>

#include "api_support.hpp"

#include <rapidjson/pointer.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include <unistd.h>

using namespace apr::kube;
using namespace apr::kube::test;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(watch_caches)

BOOST_AUTO_TEST_CASE(secret_cache_follows_changes_in_order_and_holds_no_credentials) {
    auto admin = testenv::get().admin();
    auto hook = testenv::get().webhook();
    run_scope scope;
    const auto& run = scope.id;
    std::string const password = "SUPERSECRET-" + run;
    require_ok(admin->create(secrets_path(),
                             cluster_secret_json("kt-c1-" + run, run, "https://c1.example.com", "eu", password)),
               "create c1");

    std::mutex order_mutex;
    std::vector<std::string> order;  // server URLs of kt-c2, in the order the watch decoded them
    change_signal changed;
    informer<apr::core::cluster> cache(
        *hook,
        {.path = secrets_path(),
         .label_selector = std::string(apr::codec::cluster_secret_selector) + ",apr-test=" + run},
        [&](const rapidjson::Value& obj) {
            auto s = apr::codec::decode_cluster_secret(obj);
            if (s && s->name == "kt-c2-" + run) {
                std::lock_guard lock(order_mutex);
                order.push_back(s->server);
            }
            return s;
        },
        [&] { changed.notify(); });
    cache.start();
    BOOST_REQUIRE(cache.wait_synced(30s));
    BOOST_TEST(cache.snapshot()->size() == 1u);
    BOOST_TEST(cache.find(key("kt-c1-" + run))->server == "https://c1.example.com");

    require_ok(admin->create(secrets_path(),
                             cluster_secret_json("kt-c2-" + run, run, "https://v1.example.com", "us", password)),
               "create c2");
    for (int v = 2; v <= 4; ++v)
        require_ok(admin->merge_patch(
                       secrets_path() + "/kt-c2-" + run,
                       R"({"data":{"server":")" + b64("https://v" + std::to_string(v) + ".example.com") + R"("}})"),
                   "update c2");
    require_ok(admin->merge_patch(secrets_path() + "/kt-c1-" + run, R"({"metadata":{"labels":{"region":"ap"}}})"),
               "relabel c1");
    BOOST_TEST(admin->remove(secrets_path() + "/kt-c1-" + run).has_value());

    BOOST_REQUIRE(changed.wait_until(
        [&] {
            auto s = cache.snapshot();
            auto c2 = s->find(key("kt-c2-" + run));
            return s->size() == 1 && c2 != s->end() && c2->second->server == "https://v4.example.com";
        },
        30s));
    {
        std::lock_guard lock(order_mutex);
        std::vector<std::string> expected = {"https://v1.example.com", "https://v2.example.com",
                                             "https://v3.example.com", "https://v4.example.com"};
        BOOST_TEST(order == expected, boost::test_tools::per_element());
    }
    auto c2 = cache.find(key("kt-c2-" + run));
    BOOST_TEST(c2->labels.at("region") == "us");
    BOOST_TEST(cache.stats().events.load() >= 5u);

    // The cache holds only name/server/labels: nothing of data.config, in any field.
    const auto snapshot = cache.snapshot();  // alive for the whole loop
    for (const auto& [k, s] : *snapshot) {
        BOOST_TEST(s->server.find(password) == std::string::npos);
        BOOST_TEST(s->name.find(password) == std::string::npos);
        for (const auto& [lk, lv] : s->labels) BOOST_TEST(lv.find(password) == std::string::npos);
    }
    cache.stop();
    BOOST_TEST(!logs().contains(password));
    BOOST_TEST(!logs().contains(b64(password).substr(0, 12)));
    BOOST_TEST(!logs().contains(testenv::get().value("TOKEN_WEBHOOK")));
    BOOST_TEST(!logs().contains(testenv::get().value("TOKEN_ADMIN")));
}

BOOST_AUTO_TEST_CASE(application_and_rollout_caches_follow_changes) {
    auto admin = testenv::get().admin();
    auto hook = testenv::get().webhook();
    run_scope scope;
    const auto& run = scope.id;
    change_signal changed;
    reflector_options app_opts{.path = apps_path(), .label_selector = "apr-test=" + run};
    informer<app_view> apps(*hook, app_opts, decode_app, [&] { changed.notify(); });
    informer<rollout_view> rollouts(*hook, {.path = rollouts_path(), .label_selector = "apr-test=" + run},
                                    decode_rollout, [&] { changed.notify(); });
    apps.start();
    rollouts.start();
    BOOST_REQUIRE(apps.wait_synced(30s));
    BOOST_REQUIRE(rollouts.wait_synced(30s));
    BOOST_TEST(apps.snapshot()->empty());

    for (int i = 0; i < 3; ++i)
        require_ok(admin->create(apps_path(), app_json("kt-app-" + run + "-" + std::to_string(i), run, "v1")),
                   "create app");
    require_ok(admin->create(rollouts_path(), rollout_json("kt-ro-" + run, run)), "create rollout");
    require_ok(
        admin->merge_patch(apps_path() + "/kt-app-" + run + "-1", R"({"spec":{"source":{"targetRevision":"v2"}}})"),
        "update app");
    BOOST_TEST(admin->remove(apps_path() + "/kt-app-" + run + "-2").has_value());
    require_ok(admin->merge_patch(rollouts_path() + "/kt-ro-" + run, R"({"spec":{"paused":true}})"), "update rollout");

    BOOST_REQUIRE(changed.wait_until(
        [&] {
            auto a = apps.snapshot();
            auto r = rollouts.find(key("kt-ro-" + run));
            auto a1 = a->find(key("kt-app-" + run + "-1"));
            return a->size() == 2 && a1 != a->end() && a1->second->revision == "v2" && r && r->generation == 2;
        },
        30s));
    BOOST_TEST(apps.find(key("kt-app-" + run + "-0"))->revision == "v1");
    BOOST_TEST(!apps.find(key("kt-app-" + run + "-2")));
}

BOOST_AUTO_TEST_CASE(server_watch_timeouts_rewatch_without_loss_or_duplicates) {
    auto admin = testenv::get().admin();
    run_scope scope;
    const auto& run = scope.id;
    change_signal changed;
    informer<app_view> cache(
        *admin,
        {.path = configmaps_path(),
         .label_selector = "apr-test=" + run,
         .min_watch_timeout = 1s,
         .max_watch_timeout = 2s},
        [](const rapidjson::Value& obj) -> std::optional<app_view> {
            auto v = rapidjson::Pointer("/data/v").Get(obj);
            if (!v || !v->IsString()) return std::nullopt;
            return app_view{rapidjson::Pointer("/metadata/name").Get(obj)->GetString(), v->GetString()};
        },
        [&] { changed.notify(); });
    cache.start();
    BOOST_REQUIRE(cache.wait_synced(30s));
    // Changes spread over several server-side watch timeouts.
    for (int i = 0; i < 8; ++i) {
        const auto restarts = cache.stats().watch_restarts.load();
        require_ok(admin->create(configmaps_path(),
                                 configmap_json("kt-to-" + run + "-" + std::to_string(i), run, std::to_string(i))),
                   "create");
        if (i % 2 == 1) BOOST_REQUIRE(eventually([&] { return cache.stats().watch_restarts.load() > restarts; }, 10s));
    }
    BOOST_TEST(admin->remove(configmaps_path() + "/kt-to-" + run + "-0").has_value());
    auto truth = server_names(*admin, configmaps_path(), run);
    BOOST_REQUIRE(changed.wait_until([&] { return cache_names(*cache.snapshot()) == truth; }, 30s));
    BOOST_TEST(cache.snapshot()->size() == 7u);
    BOOST_TEST(cache.stats().watch_restarts.load() >= 4u);
    BOOST_TEST(cache.stats().relists.load() == 0u);  // a timeout re-watches, it does not re-list
}

BOOST_AUTO_TEST_CASE(bad_objects_are_logged_and_skipped_and_the_watch_goes_on) {
    auto admin = testenv::get().admin();
    auto hook = testenv::get().webhook();
    run_scope scope;
    const auto& run = scope.id;
    change_signal changed;
    informer<apr::core::cluster> cache(
        *hook,
        {.path = secrets_path(),
         .label_selector = std::string(apr::codec::cluster_secret_selector) + ",apr-test=" + run},
        apr::codec::decode_cluster_secret, [&] { changed.notify(); });
    cache.start();
    BOOST_REQUIRE(cache.wait_synced(30s));
    const auto errors_before = cache.stats().errors.load();
    // data.server that is not a URL's base64 at all (a Secret's data must be base64 for the API
    // server, so use stringData with bytes that decode to nothing usable: an empty server).
    std::string bad = R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"kt-bad-)" + run +
                      R"(","labels":{"argocd.argoproj.io/secret-type":"cluster","apr-test":")" + run +
                      R"("}},"data":{"config":")" + b64("{\"password\":\"BADSECRET-" + run + "\"}") + R"("}})";
    require_ok(admin->create(secrets_path(), bad), "create bad");
    require_ok(admin->create(secrets_path(),
                             cluster_secret_json("kt-good-" + run, run, "https://good.example.com", "eu", "x")),
               "create good");
    BOOST_REQUIRE(changed.wait_until([&] { return cache.find(key("kt-good-" + run)) != nullptr; }, 30s));
    BOOST_TEST(!cache.find(key("kt-bad-" + run)));
    BOOST_TEST(cache.stats().errors.load() > errors_before);
    BOOST_TEST(logs().contains("kt-bad-" + run));
    BOOST_TEST(!logs().contains("BADSECRET-" + run));
}

BOOST_AUTO_TEST_CASE(gone_after_api_server_restart_relists_without_loss_or_duplicates) {
    auto admin = testenv::get().admin();
    auto hook = testenv::get().webhook();
    run_scope scope;
    const auto& run = scope.id;
    for (int i = 0; i < 5; ++i)
        require_ok(admin->create(secrets_path(), cluster_secret_json("kt-rs-" + run + "-" + std::to_string(i), run,
                                                                     "https://s" + std::to_string(i), "eu", "pw")),
                   "create");
    require_ok(admin->create(apps_path(), app_json("kt-rs-app-" + run, run, "v1")), "create app");

    change_signal changed;
    // Short backoff so recovery after the restart is quick on a loaded machine.
    backoff_policy quick{.initial = 200ms, .max = 2s};
    informer<apr::core::cluster> secrets(
        *hook,
        {.path = secrets_path(),
         .label_selector = std::string(apr::codec::cluster_secret_selector) + ",apr-test=" + run,
         .page_limit = 2,
         .backoff = quick},
        apr::codec::decode_cluster_secret, [&] { changed.notify(); });
    informer<app_view> apps(*hook, {.path = apps_path(), .label_selector = "apr-test=" + run, .backoff = quick},
                            decode_app, [&] { changed.notify(); });
    secrets.start();
    apps.start();
    BOOST_REQUIRE(secrets.wait_synced(30s));
    BOOST_REQUIRE(apps.wait_synced(30s));
    BOOST_TEST(secrets.snapshot()->size() == 5u);

    // Writes elsewhere move etcd past our resourceVersion, so once the restarted API server's
    // watch cache starts at the current revision, our resourceVersion is too old: 410.
    for (int i = 0; i < 3; ++i)
        require_ok(
            admin->create(configmaps_path(), configmap_json("kt-rs-bump-" + run + "-" + std::to_string(i), run, "x")),
            "bump");
    testenv::get().run_script("restart-apiserver");

    // Changes made while the caches are still reconnecting.
    BOOST_TEST(admin->remove(secrets_path() + "/kt-rs-" + run + "-0").has_value());
    require_ok(
        admin->create(secrets_path(), cluster_secret_json("kt-rs-" + run + "-new", run, "https://new", "eu", "pw")),
        "create after restart");
    require_ok(admin->merge_patch(apps_path() + "/kt-rs-app-" + run, R"({"spec":{"source":{"targetRevision":"v2"}}})"),
               "update app after restart");

    auto truth = server_names(*admin, secrets_path(), run);
    BOOST_TEST(truth.size() == 5u);
    BOOST_REQUIRE(changed.wait_until(
        [&] {
            auto a = apps.find(key("kt-rs-app-" + run));
            return cache_names(*secrets.snapshot()) == truth && a && a->revision == "v2";
        },
        90s));
    BOOST_TEST(secrets.stats().gone.load() >= 1u);
    BOOST_TEST(secrets.stats().relists.load() >= 1u);
    BOOST_TEST(secrets.snapshot()->size() == 5u);
    BOOST_TEST(secrets.synced());

    // Still live after the re-list: a further change arrives through the new watch.
    BOOST_TEST(admin->remove(secrets_path() + "/kt-rs-" + run + "-1").has_value());
    BOOST_REQUIRE(changed.wait_until(
        [&] { return !secrets.find(key("kt-rs-" + run + "-1")) && secrets.snapshot()->size() == 4; }, 30s));
}

BOOST_AUTO_TEST_SUITE_END()
