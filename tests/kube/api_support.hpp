#pragma once
// What the kube layer's tests against the real kube-apiserver share: captured log lines (no secret
// may appear in them), object builders, paths, decoders and a per-test run scope.

#include "testenv.hpp"

#include <boost/test/unit_test.hpp>

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

namespace apr::kube::test {

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

inline captured_logs& logs() {
    static captured_logs instance;
    return instance;
}

inline std::string b64(std::string_view s) {
    return apr::codec::base64_encode(s);
}

inline std::string ns() {
    return testenv::get().ns();
}

inline std::string secrets_path() {
    return "/api/v1/namespaces/" + ns() + "/secrets";
}

inline std::string apps_path() {
    return "/apis/argoproj.io/v1alpha1/namespaces/" + ns() + "/applications";
}

inline std::string rollouts_path() {
    return "/apis/deployment.skyscanner.net/v1alpha1/namespaces/" + ns() + "/progressiverollouts";
}

inline std::string configmaps_path() {
    return "/api/v1/namespaces/" + ns() + "/configmaps";
}

inline std::string cluster_secret_json(const std::string& name, const std::string& run, const std::string& server,
                                       const std::string& region, const std::string& password) {
    return R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":")" + name +
           R"(","labels":{"argocd.argoproj.io/secret-type":"cluster","apr-test":")" + run + R"(","region":")" + region +
           R"("}},"data":{"server":")" + b64(server) + R"(","name":")" + b64(name) + R"(","config":")" +
           b64(R"({"password":")" + password + R"(","tlsClientConfig":{"insecure":true}})") + R"("}})";
}

inline std::string configmap_json(const std::string& name, const std::string& run, const std::string& value) {
    return R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":")" + name + R"(","labels":{"apr-test":")" +
           run + R"("}},"data":{"v":")" + value + R"("}})";
}

inline std::string app_json(const std::string& name, const std::string& run, const std::string& revision) {
    return R"({"apiVersion":"argoproj.io/v1alpha1","kind":"Application","metadata":{"name":")" + name +
           R"(","labels":{"apr-test":")" + run +
           R"("}},"spec":{"project":"default",)"
           R"("destination":{"server":"https://kubernetes.default.svc","namespace":"default"},)"
           R"("source":{"repoURL":"https://example.com/repo.git","path":"app","targetRevision":")" +
           revision + R"("}}})";
}

inline std::string rollout_json(const std::string& name, const std::string& run) {
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

inline std::optional<app_view> decode_app(const rapidjson::Value& obj) {
    auto name = rapidjson::Pointer("/metadata/name").Get(obj);
    auto rev = rapidjson::Pointer("/spec/source/targetRevision").Get(obj);
    if (!name || !name->IsString() || (rev && !rev->IsString())) return std::nullopt;
    return app_view{name->GetString(), rev ? rev->GetString() : ""};
}

struct rollout_view {
    std::string name;
    std::int64_t generation = 0;
};

inline std::optional<rollout_view> decode_rollout(const rapidjson::Value& obj) {
    auto name = rapidjson::Pointer("/metadata/name").Get(obj);
    auto gen = rapidjson::Pointer("/metadata/generation").Get(obj);
    if (!name || !name->IsString() || !gen || !gen->IsInt64()) return std::nullopt;
    return rollout_view{name->GetString(), gen->GetInt64()};
}

inline std::string key(const std::string& name) {
    return ns() + "/" + name;
}

inline void require_ok(const api_result<rapidjson::Document>& r, const char* what) {
    BOOST_REQUIRE_MESSAGE(r.has_value(), what << ": " << (r ? "" : r.error().describe()));
}

// Server-side list of names with the run label, for comparing caches with the truth.
inline std::set<std::string> server_names(client& c, const std::string& path, const std::string& run) {
    std::set<std::string> out;
    auto r = c.list(path + "?labelSelector=" + query_escape("apr-test=" + run), 100, [&](const rapidjson::Value& item) {
        out.insert(rapidjson::Pointer("/metadata/name").Get(item)->GetString());
    });
    BOOST_REQUIRE(r.has_value());
    return out;
}

template <class Map>
inline std::set<std::string> cache_names(const Map& m) {
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

}  // namespace apr::kube::test
