// What the webhook adds to an Application update through the real API server (not a test).
// 1,000 status writes by Argo CD's application controller to a managed Application with a
// ~20 KB status — the hot path — timed at the client without and then with the webhook
// registered, plus the API server's own histogram of the webhook call
// (apiserver_admission_webhook_admission_duration_seconds). Run by scripts/bench-admission.sh.

#include "e2e/harness.hpp"
#include "sim/fleet_simulator.hpp"

#include "kube/config.hpp"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <thread>

using namespace apr;
using clock_type = std::chrono::steady_clock;

namespace {

std::vector<double> time_status_writes(kube::client& app_controller, const std::string& path, int count,
                                       const std::string& tag) {
    std::vector<double> us;
    for (int i = 0; i < count; ++i) {
        const std::string patch =
            R"({"status":{"reconciledAt":"2026-11-27T00:00:00Z","observedAt":")" + tag + std::to_string(i) + "\"}}";
        const auto start = clock_type::now();
        auto res = app_controller.merge_patch(path, patch);
        const auto took = std::chrono::duration<double, std::micro>(clock_type::now() - start).count();
        if (!res) throw std::runtime_error("status write failed: " + res.error().describe());
        us.push_back(took);
    }
    std::sort(us.begin(), us.end());
    return us;
}

double at(const std::vector<double>& sorted, double q) {
    return sorted[static_cast<std::size_t>(q * (sorted.size() - 1))];
}

// Sum of a histogram bucket (or _count) series of the API server's metrics for our webhook.
double webhook_metric(const std::string& metrics, const std::string& series, const std::string& le) {
    double total = 0;
    std::istringstream in(metrics);
    for (std::string line; std::getline(in, line);) {
        if (!line.starts_with(series) ||
            line.find("name=\"applications.deployment.skyscanner.net\"") == std::string::npos)
            continue;
        if (!le.empty() && line.find("le=\"" + le + "\"") == std::string::npos) continue;
        total += std::stod(line.substr(line.rfind(' ') + 1));
    }
    return total;
}

}  // namespace

int main(int argc, char** argv) {
    const int count = argc > 1 ? std::stoi(argv[1]) : 1000;
    auto& env = kube::test::testenv::get();
    auto admin = env.admin();
    kube::client appset(kube::load_kubeconfig(env.value("KUBECONFIG_APPSET")));
    kube::client appctrl(kube::load_kubeconfig(env.value("KUBECONFIG_APPCTRL")));
    sim::argocd_simulator argo(*admin, appset, appctrl, env.ns());
    argo.create_clusters({{"bench-eu-west-1a-1", {{"region", "eu-west-1"}, {"bench", "admission"}}}});
    argo.create_application_set("bench-set", "v1", {{"bench", "admission"}});
    argo.step_application_controller(std::chrono::system_clock::now());
    const std::string path =
        "/apis/argoproj.io/v1alpha1/namespaces/" + env.ns() + "/applications/bench-bench-eu-west-1a-1";
    // A realistic status: ~20 KB of resources.
    std::string resources;
    for (int i = 0; resources.size() < 20000; ++i)
        resources +=
            std::string(i ? "," : "") +
            R"({"group":"apps","version":"v1","kind":"Deployment","namespace":"guestbook","name":"guestbook-ui-)" +
            std::to_string(i) + R"(","status":"Synced","health":{"status":"Healthy"}})";
    if (auto r = appctrl.merge_patch(path, R"({"status":{"resources":[)" + resources + "]}}"); !r)
        throw std::runtime_error("status: " + r.error().describe());
    // The Application is managed: a rollout names its ApplicationSet.
    auto applied = e2e::kubectl("ADMIN", "apply -f -", R"(apiVersion: deployment.skyscanner.net/v1alpha1
kind: ProgressiveRollout
metadata: {name: bench-rollout}
spec:
  sourceRef: {apiGroup: argoproj.io, kind: ApplicationSet, name: bench-set}
  stages: [{name: all, clusters: {selector: {}}}]
)");
    if (applied.status != 0) throw std::runtime_error(applied.out);

    (void)time_status_writes(appctrl, path, 50, "warm");
    const auto without = time_status_writes(appctrl, path, count, "without");

    e2e::webhook_process webhook;
    while (!webhook.ready()) std::this_thread::sleep_for(std::chrono::milliseconds(100));  // bench setup, not a test
    e2e::register_webhooks(webhook.port());
    (void)time_status_writes(appctrl, path, 50, "warm2");
    const auto before = admin->request(kube::method::get, "/metrics");
    const auto with = time_status_writes(appctrl, path, count, "with");
    const auto after = admin->request(kube::method::get, "/metrics");
    e2e::unregister_webhooks();
    if (!before || !after) throw std::runtime_error("cannot read the API server's /metrics");

    const std::string h = "apiserver_admission_webhook_admission_duration_seconds";
    const double calls = webhook_metric(after->body, h + "_count", "") - webhook_metric(before->body, h + "_count", "");
    const double under_5ms =
        webhook_metric(after->body, h + "_bucket", "0.005") - webhook_metric(before->body, h + "_bucket", "0.005");
    std::printf("RESULT case=status_write_without_webhook n=%d p50_us=%.0f p99_us=%.0f\n", count, at(without, 0.5),
                at(without, 0.99));
    std::printf("RESULT case=status_write_with_webhook n=%d p50_us=%.0f p99_us=%.0f\n", count, at(with, 0.5),
                at(with, 0.99));
    std::printf("RESULT case=added_by_webhook p50_us=%.0f p99_us=%.0f\n", at(with, 0.5) - at(without, 0.5),
                at(with, 0.99) - at(without, 0.99));
    std::printf("RESULT case=apiserver_webhook_call calls=%.0f share_under_5ms=%.3f\n", calls,
                calls > 0 ? under_5ms / calls : 0.0);
    return 0;
}
