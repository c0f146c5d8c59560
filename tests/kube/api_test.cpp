// The kube layer against a REAL kube-apiserver + etcd (scripts/testenv.sh, CTest fixture
// "kube"): requests, paging, conflicts on status writes and Events. Watch caches are in
// watch_cache_test.cpp, Lease leader election in leader_election_test.cpp. No fake server anywhere.
#define BOOST_TEST_MODULE kube_api
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

namespace {
struct log_fixture {
    log_fixture() { logs(); }
};
BOOST_TEST_GLOBAL_FIXTURE(log_fixture);
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
