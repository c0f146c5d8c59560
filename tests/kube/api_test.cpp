// The kube layer against a REAL kube-apiserver + etcd (scripts/testenv.sh, CTest fixture
// "kube"): requests, paging, watch caches through timeouts, 410s and restarts, conflicts on
// status writes, Events and Lease leader election. No fake server anywhere.
#define BOOST_TEST_MODULE kube_api
#include <boost/test/unit_test.hpp>

#include "testenv.hpp"

#include "codec/canonical_json.hpp"
#include "codec/kube_objects.hpp"
#include "kube/config.hpp"
#include "kube/event_recorder.hpp"
#include "kube/informer.hpp"
#include "kube/leader_election.hpp"
#include "kube/log.hpp"
#include "kube/update.hpp"

#include <rapidjson/pointer.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <mutex>
#include <thread>

#include <unistd.h>

using namespace apr::kube;
using namespace apr::kube::test;
using namespace std::chrono_literals;

namespace {

// Every log line of the module, to prove no secret or token is ever written.
struct captured_logs {
    std::mutex mutex;
    std::vector<std::string> lines;

    captured_logs() {
        set_log_sink([this](log_level, std::string_view m) {
            std::lock_guard lock(mutex);
            lines.emplace_back(m);
            BOOST_TEST_MESSAGE("kube log: " << m);
        });
    }
    ~captured_logs() { set_log_sink({}); }

    bool contains(const std::string& needle) {
        std::lock_guard lock(mutex);
        for (const auto& l : lines)
            if (l.find(needle) != std::string::npos) return true;
        return false;
    }
};

captured_logs& logs() {
    static captured_logs instance;
    return instance;
}

struct log_fixture {
    log_fixture() { logs(); }
};
BOOST_TEST_GLOBAL_FIXTURE(log_fixture);

std::string b64(std::string_view s) {
    return apr::codec::base64_encode(s);
}

std::string ns() {
    return testenv::get().ns();
}

std::string secrets_path() {
    return "/api/v1/namespaces/" + ns() + "/secrets";
}

std::string apps_path() {
    return "/apis/argoproj.io/v1alpha1/namespaces/" + ns() + "/applications";
}

std::string rollouts_path() {
    return "/apis/deployment.skyscanner.net/v1alpha1/namespaces/" + ns() + "/progressiverollouts";
}

std::string configmaps_path() {
    return "/api/v1/namespaces/" + ns() + "/configmaps";
}

std::string cluster_secret_json(const std::string& name, const std::string& run, const std::string& server,
                                const std::string& region, const std::string& password) {
    return R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":")" + name +
           R"(","labels":{"argocd.argoproj.io/secret-type":"cluster","apr-test":")" + run + R"(","region":")" + region +
           R"("}},"data":{"server":")" + b64(server) + R"(","name":")" + b64(name) + R"(","config":")" +
           b64(R"({"password":")" + password + R"(","tlsClientConfig":{"insecure":true}})") + R"("}})";
}

std::string configmap_json(const std::string& name, const std::string& run, const std::string& value) {
    return R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name + R"(","labels":{"apr-test":")" +
           run + R"("}},"data":{"v":")" + value + R"("}})";
}

std::string app_json(const std::string& name, const std::string& run, const std::string& revision) {
    return R"({"apiVersion":"argoproj.io/v1alpha1","kind":"Application","metadata":{"name":")" + name +
           R"(","labels":{"apr-test":")" + run +
           R"("}},"spec":{"project":"default",)"
           R"("destination":{"server":"https://kubernetes.default.svc","namespace":"default"},)"
           R"("source":{"repoURL":"https://example.com/repo.git","path":"app","targetRevision":")" +
           revision + R"("}}})";
}

std::string rollout_json(const std::string& name, const std::string& run) {
    return R"({"apiVersion":"deployment.skyscanner.net/v1alpha1","kind":"ProgressiveRollout",)"
           R"("metadata":{"name":")" +
           name + R"(","labels":{"apr-test":")" + run +
           R"("}},)"
           R"("spec":{"sourceRef":{"apiGroup":"argoproj.io","kind":"ApplicationSet","name":"set"},)"
           R"("stages":[{"name":"one"}]}})";
}

// What the controller would keep of an Application: name and target revision only.
struct app_view {
    std::string name;
    std::string revision;
};

std::optional<app_view> decode_app(const rapidjson::Value& obj) {
    auto name = rapidjson::Pointer("/metadata/name").Get(obj);
    auto rev = rapidjson::Pointer("/spec/source/targetRevision").Get(obj);
    if (!name || !name->IsString() || (rev && !rev->IsString())) return std::nullopt;
    return app_view{name->GetString(), rev ? rev->GetString() : ""};
}

struct rollout_view {
    std::string name;
    std::int64_t generation = 0;
};

std::optional<rollout_view> decode_rollout(const rapidjson::Value& obj) {
    auto name = rapidjson::Pointer("/metadata/name").Get(obj);
    auto gen = rapidjson::Pointer("/metadata/generation").Get(obj);
    if (!name || !name->IsString() || !gen || !gen->IsInt64()) return std::nullopt;
    return rollout_view{name->GetString(), gen->GetInt64()};
}

std::string key(const std::string& name) {
    return ns() + "/" + name;
}

void require_ok(const api_result<rapidjson::Document>& r, const char* what) {
    BOOST_REQUIRE_MESSAGE(r.has_value(), what << ": " << (r ? "" : r.error().describe()));
}

// Server-side list of names with the run label, for comparing caches with the truth.
std::set<std::string> server_names(client& c, const std::string& path, const std::string& run) {
    std::set<std::string> out;
    auto r = c.list(path + "?labelSelector=" + query_escape("apr-test=" + run), 100, [&](const rapidjson::Value& item) {
        out.insert(rapidjson::Pointer("/metadata/name").Get(item)->GetString());
    });
    BOOST_REQUIRE(r.has_value());
    return out;
}

template <class Map>
std::set<std::string> cache_names(const Map& m) {
    std::set<std::string> out;
    for (const auto& [k, v] : m) out.insert(k.substr(k.find('/') + 1));
    return out;
}

// A test's run id; everything labelled apr-test=<id> is deleted when the test ends, so other
// suites sharing the control plane (and its argocd namespace) never see our cluster Secrets.
struct run_scope {
    std::string id = unique_suffix();

    ~run_scope() {
        try {
            auto admin = testenv::get().admin();
            const auto selector = "?labelSelector=" + query_escape("apr-test=" + id);
            for (const auto& path : {secrets_path(), configmaps_path(), apps_path(), rollouts_path()})
                (void)admin->request(method::del, path + selector);
        } catch (const std::exception&) {
        }
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(requests)

BOOST_AUTO_TEST_CASE(verified_tls_bearer_auth_and_typed_errors) {
    auto admin = testenv::get().admin();
    auto got = admin->get("/api/v1/namespaces/" + ns());
    require_ok(got, "get namespace");
    BOOST_TEST(rapidjson::Pointer("/metadata/name").Get(*got)->GetString() == ns());

    auto missing = admin->get(secrets_path() + "/does-not-exist-" + unique_suffix());
    BOOST_REQUIRE(!missing);
    BOOST_TEST(missing.error().code == 404);
    BOOST_TEST(missing.error().reason == "NotFound");
    BOOST_TEST(missing.error().is_not_found());

    // The webhook's service account has least-privilege RBAC: no cluster-wide namespace list.
    auto hook = testenv::get().webhook();
    auto forbidden = hook->get("/api/v1/namespaces");
    BOOST_REQUIRE(!forbidden);
    BOOST_TEST(forbidden.error().code == 403);
    BOOST_TEST(forbidden.error().reason == "Forbidden");
    auto allowed = hook->list(secrets_path(), 50, [](const rapidjson::Value&) {});
    BOOST_TEST(allowed.has_value());
}

BOOST_AUTO_TEST_CASE(keep_alive_reuses_one_connection) {
    auto admin = testenv::get().admin();
    for (int i = 0; i < 10; ++i) require_ok(admin->get("/api/v1/namespaces/" + ns()), "get");
    BOOST_TEST(admin->connections_opened() == 1u);
}

BOOST_AUTO_TEST_CASE(server_certificate_is_verified_by_ca_and_ip_san) {
    auto cfg = load_kubeconfig(testenv::get().value("KUBECONFIG_ADMIN"));
    BOOST_TEST(cfg.host == "127.0.0.1");  // verification goes through the IP SAN

    // The system trust store does not know the test cluster's CA: the handshake must fail.
    auto wrong_ca = cfg;
    wrong_ca.ca_pem.clear();
    client c1(wrong_ca);
    auto r1 = c1.get("/api/v1/namespaces/" + ns());
    BOOST_REQUIRE(!r1);
    BOOST_TEST(r1.error().is_transport());

    auto wrong_name = cfg;
    wrong_name.tls_server_name = "not-the-apiserver.example.com";
    client c2(wrong_name);
    auto r2 = c2.get("/api/v1/namespaces/" + ns());
    BOOST_REQUIRE(!r2);
    BOOST_TEST(r2.error().is_transport());

    auto no_token = cfg;
    no_token.token.clear();
    no_token.token_file.clear();
    no_token.client_cert_pem.clear();
    no_token.client_key_pem.clear();
    client c3(no_token);
    auto r3 = c3.get("/api/v1/namespaces/" + ns());
    BOOST_REQUIRE(!r3);
    BOOST_TEST((r3.error().code == 401 || r3.error().code == 403));
}

BOOST_AUTO_TEST_CASE(in_cluster_config_follows_token_rotation) {
    // The service-account layout of a pod, pointing at the test API server.
    auto dir = std::filesystem::temp_directory_path() / ("apr-sa-" + unique_suffix());
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "ca.crt") << read_file(testenv::get().value("APISERVER_CA"));
    auto write_token = [&](const std::string& t) {
        std::ofstream(dir / "token.tmp") << t << "\n";
        std::filesystem::rename(dir / "token.tmp", dir / "token");  // atomic, like the kubelet
    };
    write_token(testenv::get().value("TOKEN_WEBHOOK"));
    setenv("KUBERNETES_SERVICE_HOST", testenv::get().value("APISERVER_HOST").c_str(), 1);
    setenv("KUBERNETES_SERVICE_PORT", testenv::get().value("APISERVER_PORT").c_str(), 1);
    auto cfg = load_in_cluster(dir.string());
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");

    client c(cfg, {.token_refresh = 0s});
    const auto path = secrets_path() + "?limit=1";
    BOOST_TEST(c.get(path).has_value());
    write_token("revoked-token");
    auto denied = c.get(path);
    BOOST_REQUIRE(!denied);
    BOOST_TEST(denied.error().code == 401);
    write_token(testenv::get().value("TOKEN_WEBHOOK"));
    BOOST_TEST(c.get(path).has_value());
    std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(request_deadline_is_enforced) {
    auto admin = testenv::get().admin();
    // A watch never completes on its own within 1 s: the unary call must time out.
    auto start = std::chrono::steady_clock::now();
    auto r = admin->request(method::get, configmaps_path() + "?watch=1&timeoutSeconds=60", {}, {}, 500ms);
    auto took = std::chrono::steady_clock::now() - start;
    BOOST_REQUIRE(!r);
    BOOST_TEST(r.error().reason == "Timeout");
    BOOST_TEST(std::chrono::duration_cast<std::chrono::milliseconds>(took).count() < 5000);
    // And the client is still usable afterwards.
    require_ok(admin->get("/api/v1/namespaces/" + ns()), "get after timeout");
}

BOOST_AUTO_TEST_CASE(stop_token_cancels_a_request_in_flight) {
    auto admin = testenv::get().admin();
    std::stop_source stop;
    api_result<http_reply> r = api_error{};
    auto start = std::chrono::steady_clock::now();
    std::jthread t([&] {
        r = admin->request(method::get, configmaps_path() + "?watch=1&timeoutSeconds=60", {}, {}, 30s,
                           stop.get_token());
    });
    BOOST_REQUIRE(eventually([&] { return admin->connections_opened() == 1; }, 10s));
    stop.request_stop();
    t.join();
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
    BOOST_REQUIRE(!r);
    BOOST_TEST(r.error().reason == "Cancelled");
    BOOST_TEST(ms < 5000);
    require_ok(admin->get("/api/v1/namespaces/" + ns()), "get after cancel");
}

BOOST_AUTO_TEST_CASE(create_patch_and_conflict_errors) {
    auto admin = testenv::get().admin();
    run_scope scope;
    const auto& run = scope.id;
    std::string name = "kt-cm-" + run;
    require_ok(admin->create(configmaps_path(), configmap_json(name, run, "1")), "create");
    auto again = admin->create(configmaps_path(), configmap_json(name, run, "1"));
    BOOST_REQUIRE(!again);
    BOOST_TEST(again.error().is_already_exists());

    auto merged = admin->merge_patch(configmaps_path() + "/" + name, R"({"data":{"w":"2"}})");
    require_ok(merged, "merge patch");
    BOOST_TEST(std::string(rapidjson::Pointer("/data/w").Get(*merged)->GetString()) == "2");
    auto patched =
        admin->json_patch(configmaps_path() + "/" + name, R"([{"op":"replace","path":"/data/v","value":"3"}])");
    require_ok(patched, "json patch");
    BOOST_TEST(std::string(rapidjson::Pointer("/data/v").Get(*patched)->GetString()) == "3");

    // A PUT with a stale resourceVersion is a typed 409 Conflict.
    auto stale = configmap_json(name, run, "4");
    stale.insert(stale.find("\"labels\""), R"("resourceVersion":"1",)");
    auto conflict = admin->put(configmaps_path() + "/" + name, stale);
    BOOST_REQUIRE(!conflict);
    BOOST_TEST(conflict.error().is_conflict());

    BOOST_TEST(admin->remove(configmaps_path() + "/" + name).has_value());
    BOOST_TEST(admin->remove(configmaps_path() + "/" + name).error().is_not_found());
}

BOOST_AUTO_TEST_CASE(list_pages_through_continue_tokens) {
    auto admin = testenv::get().admin();
    run_scope scope;
    const auto& run = scope.id;
    for (int i = 0; i < 25; ++i)
        require_ok(
            admin->create(configmaps_path(), configmap_json("kt-page-" + run + "-" + std::to_string(i), run, "x")),
            "create");
    std::set<std::string> seen;
    auto r = admin->list(configmaps_path() + "?labelSelector=apr-test%3D" + run, 10, [&](const rapidjson::Value& item) {
        seen.insert(rapidjson::Pointer("/metadata/name").Get(item)->GetString());
    });
    BOOST_REQUIRE(r.has_value());
    BOOST_TEST(r->pages == 3u);
    BOOST_TEST(r->items == 25u);
    BOOST_TEST(seen.size() == 25u);
    BOOST_TEST(!r->resource_version.empty());
}

BOOST_AUTO_TEST_CASE(expired_continue_token_is_a_typed_gone) {
    auto admin = testenv::get().admin();
    run_scope scope;
    const auto& run = scope.id;
    for (int i = 0; i < 3; ++i)
        require_ok(
            admin->create(configmaps_path(), configmap_json("kt-gone-" + run + "-" + std::to_string(i), run, "x")),
            "create");
    auto first = admin->get(configmaps_path() + "?limit=1&labelSelector=apr-test%3D" + run);
    require_ok(first, "first page");
    std::string cont = rapidjson::Pointer("/metadata/continue").Get(*first)->GetString();
    // Move etcd past the list's revision, then compact it away.
    require_ok(admin->create(configmaps_path(), configmap_json("kt-gone-" + run + "-x", run, "x")), "bump");
    testenv::get().run_script("compact");
    auto next =
        admin->get(configmaps_path() + "?limit=1&labelSelector=apr-test%3D" + run + "&continue=" + query_escape(cont));
    BOOST_REQUIRE(!next);
    BOOST_TEST(next.error().code == 410);
    BOOST_TEST(next.error().is_gone());
}

BOOST_AUTO_TEST_SUITE_END()

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
    for (const auto& [k, s] : *cache.snapshot()) {
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

BOOST_AUTO_TEST_SUITE(writes)

BOOST_AUTO_TEST_CASE(status_conflict_is_retried_and_no_field_is_lost) {
    auto admin = testenv::get().admin();
    auto hook = testenv::get().webhook();
    auto other = testenv::get().webhook();
    run_scope scope;
    const auto& run = scope.id;
    std::string const name = "kt-status-" + run;
    require_ok(admin->create(rollouts_path(), rollout_json(name, run)), "create rollout");
    std::string const status_path = rollouts_path() + "/" + name + "/status";

    // Deterministic conflict: between our read and our write, another writer updates status.
    int attempts = 0;
    auto r = update_with_retry(*hook, status_path, [&](rapidjson::Document& obj) {
        if (++attempts == 1) {
            auto w = update_with_retry(*other, status_path, [](rapidjson::Document& o) {
                rapidjson::Pointer("/status/pass").Set(o, 7);
                return true;
            });
            BOOST_REQUIRE(w.has_value());
        }
        rapidjson::Pointer("/status/clustersDone").Set(obj, 3);
        return true;
    });
    BOOST_REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().describe()));
    BOOST_TEST(attempts == 2);
    auto now = admin->get(rollouts_path() + "/" + name);
    require_ok(now, "get");
    BOOST_TEST(rapidjson::Pointer("/status/pass").Get(*now)->GetInt() == 7);
    BOOST_TEST(rapidjson::Pointer("/status/clustersDone").Get(*now)->GetInt() == 3);

    // Two concurrent writers, each owning one field: both end at their last value.
    std::atomic<int> failures{0};
    auto writer = [&](client& c, const char* field) {
        for (int i = 1; i <= 15; ++i) {
            auto w = update_with_retry(c, status_path,
                                       [&](rapidjson::Document& o) {
                                           rapidjson::Pointer(field).Set(o, i);
                                           return true;
                                       },
                                       {.steps = 20});
            if (!w) ++failures;
        }
    };
    {
        std::jthread a([&] { writer(*hook, "/status/clustersTotal"); });
        std::jthread b([&] { writer(*other, "/status/clustersDone"); });
    }
    BOOST_TEST(failures.load() == 0);
    now = admin->get(rollouts_path() + "/" + name);
    require_ok(now, "get");
    BOOST_TEST(rapidjson::Pointer("/status/clustersTotal").Get(*now)->GetInt() == 15);
    BOOST_TEST(rapidjson::Pointer("/status/clustersDone").Get(*now)->GetInt() == 15);
    BOOST_TEST(rapidjson::Pointer("/status/pass").Get(*now)->GetInt() == 7);
}

BOOST_AUTO_TEST_CASE(events_are_written_and_repeats_are_counted) {
    auto admin = testenv::get().admin();
    auto hook = testenv::get().webhook();
    run_scope scope;
    const auto& run = scope.id;
    std::string const name = "kt-ev-" + run;
    auto created = admin->create(rollouts_path(), rollout_json(name, run));
    require_ok(created, "create rollout");
    object_reference ref{"deployment.skyscanner.net/v1alpha1", "ProgressiveRollout", ns(), name,
                         rapidjson::Pointer("/metadata/uid").Get(*created)->GetString()};

    event_recorder events(*hook);  // defaults, as the serve command uses them
    auto start = std::chrono::steady_clock::now();
    events.record(ref, event_type::normal, "StageStarted", "stage one started");
    events.record(ref, event_type::normal, "StageStarted", "stage one started");
    events.record(ref, event_type::warning, "ClusterFailed", "cluster c1 failed");
    const auto record_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
    BOOST_TEST(record_ms < 100);  // record() never waits on I/O
    BOOST_REQUIRE(events.flush(30s));
    BOOST_TEST(events.written() == 3u);
    BOOST_TEST(events.failed() == 0u);

    std::map<std::string, rapidjson::Document> by_reason;
    auto r = admin->list(
        "/api/v1/namespaces/" + ns() + "/events?fieldSelector=" + query_escape("involvedObject.name=" + name), 50,
        [&](const rapidjson::Value& e) {
            rapidjson::Document d;
            d.CopyFrom(e, d.GetAllocator());
            by_reason[rapidjson::Pointer("/reason").Get(e)->GetString()] = std::move(d);
        });
    BOOST_REQUIRE(r.has_value());
    BOOST_REQUIRE(by_reason.size() == 2u);
    auto& started = by_reason["StageStarted"];
    BOOST_TEST(rapidjson::Pointer("/count").Get(started)->GetInt() == 2);
    BOOST_TEST(std::string(rapidjson::Pointer("/type").Get(started)->GetString()) == "Normal");
    BOOST_TEST(std::string(rapidjson::Pointer("/involvedObject/uid").Get(started)->GetString()) == ref.uid);
    BOOST_TEST(std::string(rapidjson::Pointer("/involvedObject/kind").Get(started)->GetString()) ==
               "ProgressiveRollout");
    BOOST_TEST(std::string(rapidjson::Pointer("/source/component").Get(started)->GetString()) ==
               "argocd-progressive-rollout");
    BOOST_TEST(std::string(rapidjson::Pointer("/reportingComponent").Get(started)->GetString()) ==
               "argocd-progressive-rollout");
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    BOOST_TEST(std::string(rapidjson::Pointer("/reportingInstance").Get(started)->GetString()) == host);
    BOOST_TEST(rapidjson::Pointer("/firstTimestamp").Get(started)->IsString());
    BOOST_TEST(rapidjson::Pointer("/lastTimestamp").Get(started)->IsString());
    auto& failed = by_reason["ClusterFailed"];
    BOOST_TEST(std::string(rapidjson::Pointer("/type").Get(failed)->GetString()) == "Warning");
    BOOST_TEST(rapidjson::Pointer("/count").Get(failed)->GetInt() == 1);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(leader_election)

// The RBAC of the webhook only allows this lease name; the tests use the real identity.
std::string const lease_name = "argocd-progressive-rollout";
const lease_timings fast{.lease_duration = 3s, .renew_deadline = 2s, .retry_period = 500ms};

struct candidate {
    std::unique_ptr<client> c = testenv::get().webhook();
    leader_elector elector;
    std::atomic<int> started{0};
    std::atomic<int> stopped{0};
    std::jthread thread;

    explicit candidate(std::string identity) : elector(*c, ns(), lease_name, std::move(identity), fast) {
        thread = std::jthread([this](std::stop_token st) {
            elector.run(
                st, [this] { ++started; }, [this] { ++stopped; });
        });
    }
    void stop() {
        thread.request_stop();
        thread.join();
    }
};

std::optional<lease_record> read_lease(client& c) {
    auto r = c.get("/apis/coordination.k8s.io/v1/namespaces/" + ns() + "/leases/" + lease_name);
    if (!r) return std::nullopt;
    return parse_lease(*r);
}

BOOST_AUTO_TEST_CASE(one_leader_unclean_stop_hands_over_after_expiry_clean_stop_at_once) {
    auto admin = testenv::get().admin();
    (void)admin->remove("/apis/coordination.k8s.io/v1/namespaces/" + ns() + "/leases/" + lease_name);
    run_scope scope;
    const auto& run = scope.id;

    auto a = std::make_unique<candidate>("a-" + run);
    auto b = std::make_unique<candidate>("b-" + run);
    BOOST_REQUIRE(eventually([&] { return a->elector.is_leader() || b->elector.is_leader(); }, 15s));
    // Over several renew periods, never two leaders and no flapping.
    bool two = false;
    eventually(
        [&] {
            two = two || (a->elector.is_leader() && b->elector.is_leader());
            return false;
        },
        3s, 20ms);
    BOOST_TEST(!two);
    BOOST_TEST(a->started + b->started == 1);
    auto& leader = a->elector.is_leader() ? a : b;
    auto& standby = a->elector.is_leader() ? b : a;
    auto rec = read_lease(*admin);
    BOOST_REQUIRE(rec);
    BOOST_TEST(rec->holder == leader->elector.identity());
    BOOST_TEST(rec->lease_duration_seconds == 3);

    // Unclean stop: the lease is not released, so the standby must wait for it to expire
    // (judged by its own clock since it last saw the record change), then take over.
    leader->elector.set_release_on_stop(false);
    auto t0 = std::chrono::steady_clock::now();
    leader->stop();
    BOOST_REQUIRE(eventually([&] { return standby->elector.is_leader(); }, 10s, 20ms));
    auto handover = std::chrono::steady_clock::now() - t0;
    BOOST_TEST_MESSAGE("unclean handover took "
                       << std::chrono::duration_cast<std::chrono::milliseconds>(handover).count() << " ms");
    const auto handover_ms = std::chrono::duration_cast<std::chrono::milliseconds>(handover).count();
    BOOST_TEST(handover_ms >= 2000);  // it did wait for expiry (lease 3 s, last renew <= 0.5 s before)
    BOOST_TEST(handover_ms <= (fast.lease_duration + 3 * fast.retry_period).count());
    auto after = read_lease(*admin);
    BOOST_REQUIRE(after);
    BOOST_TEST(after->holder == standby->elector.identity());
    BOOST_TEST(after->transitions == rec->transitions + 1);

    // Clean stop: released at once, a fresh candidate takes over well within a lease duration.
    auto c = std::make_unique<candidate>("c-" + run);
    BOOST_TEST(!c->elector.is_leader());  // the standby-turned-leader still holds a valid lease
    auto t1 = std::chrono::steady_clock::now();
    standby->stop();
    BOOST_TEST(standby->stopped == 1);
    BOOST_REQUIRE(eventually([&] { return c->elector.is_leader(); }, 10s, 20ms));
    auto clean = std::chrono::steady_clock::now() - t1;
    BOOST_TEST_MESSAGE("clean handover took " << std::chrono::duration_cast<std::chrono::milliseconds>(clean).count()
                                              << " ms");
    const auto clean_ms = std::chrono::duration_cast<std::chrono::milliseconds>(clean).count();
    BOOST_TEST(clean_ms < fast.lease_duration.count());
    BOOST_TEST(clean_ms <= (3 * fast.retry_period).count());
    c->stop();
    auto final_rec = read_lease(*admin);
    BOOST_REQUIRE(final_rec);
    BOOST_TEST(final_rec->holder == "");
}

BOOST_AUTO_TEST_SUITE_END()
