#pragma once
// The controller's fakes (tests/controller): a recording rollout_api, a fixed fleet_view, a rollout
// and held Applications to feed them, and a fixture with a fixed clock.

#include "controller/rollout_controller.hpp"

#include "codec/canonical_json.hpp"
#include "codec/kube_objects.hpp"
#include "codec/rollout_codec.hpp"

#include <boost/test/unit_test.hpp>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <functional>
#include <memory>

namespace apr::controller::test {

using namespace std::chrono_literals;

inline constexpr std::string_view rollout_path =
    "/apis/deployment.skyscanner.net/v1alpha1/namespaces/argocd/progressiverollouts/web";
inline constexpr std::string_view apps_path = "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/";
inline constexpr std::string_view appset_path = "/apis/argoproj.io/v1alpha1/namespaces/argocd/applicationsets/web-set";

struct api_call {
    std::string verb;  // put, json_patch, merge_patch, event
    std::string path;  // for an event: its reason
    std::string body;  // for an event: its message
};

// Records every write; `answer` decides each one's result (default: success).
class fake_api final : public rollout_api {
public:
    std::vector<api_call> calls;
    std::function<kube::api_result<void>(const api_call&)> answer;

    kube::api_result<void> put(std::string_view path, std::string_view json) override { return add("put", path, json); }
    kube::api_result<void> json_patch(std::string_view path, std::string_view json) override {
        return add("json_patch", path, json);
    }
    kube::api_result<void> merge_patch(std::string_view path, std::string_view json) override {
        return add("merge_patch", path, json);
    }
    void record(const kube::object_reference&, kube::event_type, std::string reason, std::string message) override {
        calls.push_back({"event", std::move(reason), std::move(message)});
    }

    std::vector<api_call> writes_to(std::string_view verb) const {
        std::vector<api_call> out;
        for (const auto& c : calls)
            if (c.verb == verb) out.push_back(c);
        return out;
    }
    // Index of the first call with `verb` whose path starts with `prefix`; -1 when none.
    long index_of(std::string_view verb, std::string_view prefix) const {
        for (std::size_t i = 0; i < calls.size(); ++i)
            if (calls[i].verb == verb && std::string_view(calls[i].path).starts_with(prefix))
                return static_cast<long>(i);
        return -1;
    }

private:
    kube::api_result<void> add(std::string verb, std::string_view path, std::string_view body) {
        calls.push_back({std::move(verb), std::string(path), std::string(body)});
        if (answer) return answer(calls.back());
        return {};
    }
};

// A fixed cache: what the watches would hold.
class fake_fleet final : public fleet_view {
public:
    std::vector<std::shared_ptr<const cached_rollout>> rollout_list;
    std::vector<core::cluster> cluster_list;
    std::vector<std::shared_ptr<const codec::application_record>> applications;

    bool synced() const override { return true; }
    std::shared_ptr<const core::fleet_state> state() const override {
        std::vector<core::rollout> rollouts;
        for (const auto& r : rollout_list) rollouts.push_back(r->rollout);
        return std::make_shared<const core::fleet_state>(core::build_fleet_state(
            rollouts, cluster_list, std::vector<core::application_set_ref>{{"argocd", "web-set"}}));
    }
    std::vector<std::shared_ptr<const cached_rollout>> rollouts() const override { return rollout_list; }
    std::vector<core::cluster> clusters() const override { return cluster_list; }
    std::vector<std::shared_ptr<const codec::application_record>> applications_of(
        const std::string& set) const override {
        std::vector<std::shared_ptr<const codec::application_record>> out;
        for (const auto& a : applications)
            if (a->application_set == set) out.push_back(a);
        return out;
    }
    std::map<std::string, codec::hold_refusal> hold_refusals() const override { return {}; }
};

// `request`: the value of the annotation deployment.skyscanner.net/request, when not empty.
inline std::shared_ptr<const cached_rollout> rollout(std::string_view resource_version, std::string_view finalizers,
                                                     bool deleting = false, const std::string& request = {}) {
    std::string annotations;
    if (!request.empty()) {
        rapidjson::StringBuffer quoted;
        rapidjson::Writer<rapidjson::StringBuffer> w(quoted);
        w.String(request.c_str());
        annotations = R"(,"annotations":{"deployment.skyscanner.net/request":)" + std::string(quoted.GetString()) + "}";
    }
    const std::string json =
        std::string(R"({"apiVersion":"deployment.skyscanner.net/v1alpha1","kind":"ProgressiveRollout",
        "metadata":{"name":"web","namespace":"argocd","uid":"u-1","generation":1,"resourceVersion":")") +
        std::string(resource_version) + R"(","finalizers":)" + std::string(finalizers) +
        (deleting ? R"(,"deletionTimestamp":"2026-01-01T00:00:00Z")" : "") + annotations + R"(},
        "spec":{"sourceRef":{"apiGroup":"argoproj.io/v1alpha1","kind":"ApplicationSet","name":"web-set"},
                "stages":[{"name":"all","maxUnavailable":1,"maxClusters":"100%",
                           "clusters":{"selector":{"matchLabels":{"env":"prod"}}}}]}})";
    rapidjson::Document doc;
    doc.Parse(json.c_str());
    BOOST_REQUIRE(!doc.HasParseError());
    auto decoded = decode_cached_rollout(doc);
    BOOST_REQUIRE(decoded);
    BOOST_REQUIRE(decoded->spec_errors.empty());
    return std::make_shared<const cached_rollout>(std::move(*decoded));
}

// An Application of web-set on `cluster`, holding a template change.
inline std::shared_ptr<const codec::application_record> held_application(const std::string& cluster) {
    codec::application_record a;
    a.namespace_ = "argocd";
    a.name = "web-" + cluster;
    a.application_set = "web-set";
    a.application_sets = {"web-set"};
    a.destination_server = "https://" + cluster + ".example.com";
    a.pending_spec = R"({"source":{"repoURL":"https://git.example.com/web","targetRevision":"v2"}})";
    a.observation.name = a.name;
    a.observation.pending_hash = codec::content_hash(a.pending_spec);
    a.observation.sync_status = "Synced";
    a.observation.health_status = "Healthy";
    return std::make_shared<const codec::application_record>(std::move(a));
}

struct fixture {
    fake_api api;
    fake_fleet fleet;
    std::vector<std::chrono::milliseconds> sleeps;
    core::time_point clock_now{std::chrono::seconds(1'800'000'000)};
    rollout_controller controller{api, fleet, [this] {
                                      controller_options o;
                                      o.clock = [this] { return clock_now; };
                                      o.sleep = [this](std::chrono::milliseconds d) { sleeps.push_back(d); };
                                      return o;
                                  }()};

    fixture() {
        fleet.cluster_list = {{"c1", "https://c1.example.com", {{"env", "prod"}}},
                              {"c2", "https://c2.example.com", {{"env", "prod"}}}};
        fleet.applications = {held_application("c1"), held_application("c2")};
    }
};

inline const std::string finalizers_with_ours = R"(["deployment.skyscanner.net/finalizer"])";

}  // namespace apr::controller::test
