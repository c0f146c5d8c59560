#pragma once
// The dashboard's end-to-end plumbing: `argocd-progressive-rollout dashboard` started as a user
// starts it (the admin's kubeconfig, a free loopback port), and the small helpers its tests share.

#include "rollout_scenario.hpp"

#include <boost/algorithm/string/replace.hpp>

namespace apr::e2e {

inline std::string seed_stages(const std::string& interval) {
    auto seed = read_source("manifests/samples/progressiverollout.yaml");
    auto stages = seed.substr(seed.find("  stages:\n") + 10);
    boost::replace_all(stages, "interval: 30m", "interval: " + interval);
    return stages;
}

// The dashboard as a user starts it, with the kubeconfig of test user `who` (ADMIN, VIEWER, ...),
// on a free loopback port.
class dashboard_process {
public:
    explicit dashboard_process(std::vector<std::string> extra = {}, const std::string& who = "ADMIN") {
        log_path_ = env("TESTENV_DIR") + "/dashboard-" + kube::test::unique_suffix() + ".log";
        const std::string port_file = log_path_ + ".port";
        std::vector<std::string> args = {APR_BINARY_PATH,
                                         "dashboard",
                                         "--listen",
                                         "127.0.0.1:0",
                                         "--port-file",
                                         port_file,
                                         "-n",
                                         env("ARGOCD_NAMESPACE"),
                                         "--kubeconfig",
                                         env("KUBECONFIG_" + who)};
        args.insert(args.end(), extra.begin(), extra.end());
        process_ = std::make_unique<child_process>(args, log_path_);
        BOOST_REQUIRE_MESSAGE(
            eventually([&] { return (port_ = read_port(port_file)) != 0 || !process_->running(); }, 30s) &&
                process_->running(),
            "dashboard did not start: " << process_->log());
    }
    unsigned short port() const { return port_; }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }
    std::string log() const { return process_->log(); }

private:
    std::string log_path_;
    std::unique_ptr<child_process> process_;
    unsigned short port_ = 0;
};

// Whether the rollout's spec.paused is true in the API server.
inline bool spec_paused(rollout_scenario& s) {
    auto doc = s.admin->get("/apis/deployment.skyscanner.net/v1alpha1/namespaces/" + s.env.ns() +
                            "/progressiverollouts/" + s.id);
    const auto* paused = doc ? codec::find_path(doc.value(), {"spec", "paused"}) : nullptr;
    return paused && paused->IsBool() && paused->GetBool();
}

// A canary (one eu-west-1 cluster) measured by a webhook gate `smoke` at `smoke_url` while it
// updates and bakes for `bake`, with `approval`, an approval `change-board` after it; then the
// rest of eu-west-1, one at a time, and eu-central-1.
inline std::string gated_stages(const std::string& smoke_url, const std::string& bake, bool approval = false) {
    return "  - name: canary\n"
           "    maxClusters: 1\n"
           "    bakeTime: " +
           bake +
           "\n"
           "    clusters: {selector: {matchLabels: {region: eu-west-1}}}\n"
           "    gates:\n"
           "      - name: smoke\n"
           "        when: During\n"
           "        scope: Cluster\n"
           "        interval: 1s\n"
           "        webhook: {url: \"" +
           smoke_url + "\"}\n" +
           (approval ? "      - name: change-board\n"
                       "        when: After\n"
                       "        approval: {}\n"
                     : "") +
           "  - name: eu-west-1\n"
           "    clusters: {selector: {matchLabels: {region: eu-west-1}}}\n"
           "  - name: eu-central-1\n"
           "    clusters: {selector: {matchLabels: {region: eu-central-1}}}\n";
}

inline const core::gate_status* stage_gate(const core::rollout& r, const std::string& stage, const std::string& gate) {
    for (const auto& s : r.status.stages)
        if (s.name == stage)
            for (const auto& g : s.gates)
                if (g.name == gate) return &g;
    return nullptr;
}

}  // namespace apr::e2e
