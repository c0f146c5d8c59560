#pragma once
// One end-to-end rollout scenario: a fleet of simulated clusters with an ApplicationSet played
// by the fleet simulator (Argo CD), the real webhook registered with the real API server, and a
// ProgressiveRollout. Each scenario names its clusters, ApplicationSet and rollout uniquely, so
// scenarios share the test control plane without seeing each other's objects.

#include "harness.hpp"
#include "sim/fleet_simulator.hpp"

#include "codec/json_reader.hpp"
#include "codec/rollout_codec.hpp"
#include "kube/config.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <memory>
#include <set>

namespace apr::e2e {

using namespace std::chrono_literals;

class rollout_scenario {
public:
    kube::test::testenv& env = kube::test::testenv::get();
    std::unique_ptr<kube::client> admin = env.admin();
    kube::client appset_controller{kube::load_kubeconfig(env.value("KUBECONFIG_APPSET"))};
    kube::client app_controller{kube::load_kubeconfig(env.value("KUBECONFIG_APPCTRL"))};
    sim::argocd_simulator argo{*admin, appset_controller, app_controller, env.ns()};
    const std::string id;  // prefix of every name in the scenario
    std::unique_ptr<webhook_process> webhook;

    explicit rollout_scenario(std::string prefix) : id(prefix + "-" + kube::test::unique_suffix()) {}

    ~rollout_scenario() {
        webhook.reset();
        unregister_webhooks();
    }

    std::string cluster(const std::string& name) const { return id + "-" + name; }

    // The seed's regions: eu-west-1 and eu-central-1 in area emea, plus clusters elsewhere.
    std::vector<sim::fleet_cluster> emea_fleet() const {
        auto c = [&](std::string name, std::string area, std::string region) {
            return sim::fleet_cluster{cluster(name), {{"area", area}, {"region", region}, {"e2e", id}}};
        };
        return {c("eu-west-1a-1", "emea", "eu-west-1"),       c("eu-west-1b-1", "emea", "eu-west-1"),
                c("eu-west-1c-1", "emea", "eu-west-1"),       c("eu-central-1a-1", "emea", "eu-central-1"),
                c("eu-central-1b-1", "emea", "eu-central-1"), c("eu-central-1c-1", "emea", "eu-central-1"),
                c("us-east-1a-1", "amer", "us-east-1"),       c("ap-southeast-1a-1", "apac", "ap-southeast-1")};
    }

    void start_webhook(const std::string& identity = "replica-a", std::vector<std::string> extra = {}) {
        webhook = std::make_unique<webhook_process>(webhook_process::options{identity, std::move(extra)});
        BOOST_REQUIRE_MESSAGE(eventually([&] { return webhook->ready(); }, 60s), "not ready:\n" << webhook->log());
        register_webhooks(webhook->port());
    }

    void create_fleet(const std::vector<sim::fleet_cluster>& fleet, const std::string& revision = "v1") {
        argo.create_clusters(fleet);
        argo.create_application_set(id + "-set", revision, {{"e2e", id}});
        argo.step_application_controller(std::chrono::system_clock::now());
    }

    // The rollout manifest: `stages_yaml` is the spec's stages list, indented by two spaces;
    // `more_spec` more spec fields, indented by two spaces (e.g. "  scope:\n    paths: [...]\n").
    void apply_rollout(const std::string& stages_yaml, const std::string& more_spec = "") {
        const auto manifest =
            "apiVersion: deployment.skyscanner.net/v1alpha1\nkind: ProgressiveRollout\nmetadata:\n  name: " + id +
            "\nspec:\n  sourceRef:\n    apiGroup: argoproj.io/v1alpha1\n    kind: ApplicationSet\n    name: " + id +
            "-set\n" + more_spec + "  stages:\n" + stages_yaml;
        auto r = kubectl("ADMIN", "apply -f -", manifest);
        BOOST_REQUIRE_MESSAGE(r.status == 0, r.out);
    }

    core::rollout rollout() {
        auto doc = admin->get("/apis/deployment.skyscanner.net/v1alpha1/namespaces/" + env.ns() +
                              "/progressiverollouts/" + id);
        BOOST_REQUIRE_MESSAGE(doc.has_value(), "cannot read rollout " << id);
        return codec::decode_rollout(doc.value()).rollout;
    }

    const core::cluster_status* cluster_state(const core::rollout& r, const std::string& name) {
        for (const auto& s : r.status.stages)
            for (const auto& c : s.clusters)
                if (c.name == cluster(name)) return &c;
        return nullptr;
    }

    // One round of Argo CD: the ApplicationSet controller's reconcile and one application
    // controller pass. Errors (e.g. the webhook restarting) are reported and retried next round.
    void argo_round() {
        try {
            argo.refresh();
            argo.step_application_controller(std::chrono::system_clock::now());
        } catch (const std::exception& e) {
            BOOST_TEST_MESSAGE("argo round: " << e.what());
        }
    }

    // Plays Argo CD until `done` holds or the deadline passes; `each` sees every rollout status.
    bool play_until(const std::function<bool(const core::rollout&)>& done, std::chrono::seconds timeout,
                    const std::function<void(const core::rollout&)>& each = {}) {
        return eventually(
            [&] {
                argo_round();
                auto r = rollout();
                if (each) each(r);
                return done(r);
            },
            timeout, 300ms);
    }

    // Plays Argo CD until the scenario has `n` Applications and each satisfies `ok`.
    bool play_until_every_application(std::size_t n, const std::function<bool(const sim::application_view&)>& ok,
                                      std::chrono::seconds timeout) {
        return play_until(
            [&](const core::rollout&) {
                const auto apps = argo.applications();
                return apps.size() == n && std::all_of(apps.begin(), apps.end(), ok);
            },
            timeout);
    }

    std::vector<std::string> updated(const std::string& revision) const {
        std::vector<std::string> out;
        for (const auto& c : argo.updates(revision)) out.push_back(c.substr(id.size() + 1));  // drop the prefix
        return out;
    }

    std::string events() {
        return kubectl("ADMIN", "get events --field-selector involvedObject.name=" + id +
                                    " -o custom-columns=REASON:.reason,MESSAGE:.message")
            .out;
    }
};

inline bool phase_is(const core::rollout& r, core::rollout_phase p) {
    return r.status.phase == p;
}

// How often `name` appears in `order` (updated(): once per sync to the revision).
inline std::size_t count(const std::vector<std::string>& order, const std::string& name) {
    return static_cast<std::size_t>(std::count(order.begin(), order.end(), name));
}

}  // namespace apr::e2e
