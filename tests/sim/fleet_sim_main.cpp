// apr-fleet-sim: the fleet simulator (fleet_simulator.hpp) as a command, for scripts/demo.sh and
// for poking at a test control plane by hand. Reads the KEY=value file of scripts/testenv.sh.

#include "sim/fleet_simulator.hpp"
#include "sim/http_stub.hpp"

#include "codec/json_reader.hpp"
#include "codec/kube_objects.hpp"
#include "core/duration.hpp"
#include "kube/config.hpp"

#include <csignal>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

namespace {

using namespace apr;
using clock_type = std::chrono::system_clock;

constexpr std::string_view usage =
    R"(apr-fleet-sim - plays Argo CD (ApplicationSet + application controllers) against a real API server

Usage: apr-fleet-sim --env FILE COMMAND [flags]
  FILE is the env file of scripts/testenv.sh (KUBECONFIG_ADMIN, KUBECONFIG_APPSET, KUBECONFIG_APPCTRL,
  ARGOCD_NAMESPACE).

Commands:
  setup [--clusters N] [--appset NAME] [--revision REV]
      Create the demo fleet (N >= 8 cluster Secrets, default 8: area=emea in eu-west-1 and
      eu-central-1, one of them drained=true, plus us-east-1 and ap-southeast-1), the ApplicationSet
      NAME (default my-app-set) at REV (default v1), its Applications and their first status.
  play --revision REV [--appset NAME] [--rollout NAME] [--sync-delay D] [--undrain-after D]
       [--refresh-every D] [--tick D] [--timeout D] [--degraded C1,C2]
      Set the template revision, then every tick (default 1s): one application-controller pass,
      an ApplicationSet refresh every --refresh-every (default 10s), and after --undrain-after the
      drained=true label removed from every cluster. Ends 0 when every Application (except the
      rollout's unstagedClusters, with --rollout) is synced to REV, 1 at --timeout (default 10m).
      Durations: 500ms, 2s, 1m30s. --sync-delay default 2s.
  apps [--appset NAME]
      One line per Application: cluster, target and synced revision, sync, health, held.
  label CLUSTER KEY=VALUE|KEY- ...
      Set or remove labels of a cluster Secret.
  exporter --port-file FILE [--appset NAME] [--bad-revision REV] [--error-rate R]
      Serve /metrics for Prometheus on 127.0.0.1 (a free port, written to FILE) until SIGTERM or
      SIGINT: apr_demo_http_error_ratio{cluster="C"} for each Application, R (default 0.3) where
      it runs REV (status.sync.comparedTo), else 0.001 — a release that runs Healthy but serves
      errors.
)";

std::map<std::string, std::string> read_env(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error(path + ": cannot read the env file");
    std::map<std::string, std::string> values;
    std::string line;
    while (std::getline(in, line)) {
        const auto eq = line.find('=');
        if (eq != std::string::npos && !line.starts_with('#')) values[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return values;
}

struct flags {
    std::vector<std::string> positional;
    std::map<std::string, std::string> named;

    std::string get(const std::string& name, std::string fallback = {}) const {
        auto it = named.find(name);
        return it == named.end() ? fallback : it->second;
    }
    std::chrono::milliseconds duration(const std::string& name, std::string fallback) const {
        const std::string text = get(name, fallback);
        auto d = core::parse_duration(text);
        if (!d || *d < std::chrono::milliseconds::zero())
            throw std::runtime_error("--" + name + ": not a duration: " + text);
        return *d;
    }
};

flags parse_flags(const std::vector<std::string>& args) {
    flags f;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a.starts_with("--")) {
            auto eq = a.find('=');
            if (eq != std::string::npos) {
                f.named[a.substr(2, eq - 2)] = a.substr(eq + 1);
            } else {
                if (i + 1 >= args.size()) throw std::runtime_error(a + ": missing value");
                f.named[a.substr(2)] = args[++i];
            }
        } else {
            f.positional.push_back(a);
        }
    }
    return f;
}

std::string clock_now() {
    const std::time_t t = clock_type::to_time_t(clock_type::now());
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::ostringstream out;
    out << std::put_time(&tm, "%H:%M:%S");
    return out.str();
}

void print_apps(const std::vector<sim::application_view>& apps) {
    std::cout << std::left << std::setw(22) << "CLUSTER" << std::setw(10) << "TARGET" << std::setw(10) << "SYNCED"
              << std::setw(11) << "SYNC" << std::setw(10) << "HEALTH" << std::setw(11) << "OPERATION"
              << "HELD\n";
    for (const auto& a : apps) {
        std::cout << std::left << std::setw(22) << a.cluster << std::setw(10) << a.target_revision << std::setw(10)
                  << (a.synced_revision.empty() ? "-" : a.synced_revision) << std::setw(11)
                  << (a.sync.empty() ? "-" : a.sync) << std::setw(10) << (a.health.empty() ? "-" : a.health)
                  << std::setw(11) << (a.operation_phase.empty() ? "-" : a.operation_phase) << (a.held ? "held" : "")
                  << "\n";
    }
}

// Clusters the rollout never updates (status.unstagedClusters); empty without a rollout.
std::set<std::string> unstaged_clusters(kube::client& admin, const std::string& ns, const std::string& rollout) {
    std::set<std::string> out;
    if (rollout.empty()) return out;
    auto r = admin.get("/apis/deployment.skyscanner.net/v1alpha1/namespaces/" + ns + "/progressiverollouts/" + rollout);
    if (!r) return out;
    if (const auto* list = codec::find_path(*r, {"status", "unstagedClusters"}); list && list->IsArray()) {
        for (const auto& c : list->GetArray()) {
            if (c.IsString()) out.insert(c.GetString());
        }
    }
    return out;
}

// Removes drained=true from every cluster Secret carrying it; returns the clusters changed.
std::vector<std::string> undrain(sim::argocd_simulator& sim, kube::client& admin, const std::string& ns) {
    std::vector<std::pair<std::string, std::map<std::string, std::string>>> drained;
    auto listed = admin.list("/api/v1/namespaces/" + ns + "/secrets?labelSelector=" +
                                 kube::query_escape(std::string(sim::cluster_secret_label) + "=cluster,drained=true"),
                             100, [&](const rapidjson::Value& item) {
                                 rapidjson::Document secret;
                                 secret.Parse(kube::to_json(item).c_str());  // the page is parsed in situ: own copy
                                 if (auto c = codec::decode_cluster_secret(secret)) {
                                     std::map<std::string, std::string> labels(c->labels.begin(), c->labels.end());
                                     labels.erase("drained");
                                     drained.emplace_back(c->name, std::move(labels));
                                 }
                             });
    if (!listed) throw std::runtime_error("list drained clusters: " + listed.error().describe());
    std::vector<std::string> changed;
    for (const auto& [name, labels] : drained) {
        sim.set_cluster_labels(name, labels);
        changed.push_back(name);
    }
    return changed;
}

int run_play(sim::argocd_simulator& sim, kube::client& admin, const std::string& ns, const flags& f) {
    const std::string revision = f.get("revision");
    if (revision.empty()) throw std::runtime_error("play: --revision is required");
    const std::string rollout = f.get("rollout");
    sim.sync_delay = f.duration("sync-delay", "2s");
    const auto tick = std::max(f.duration("tick", "1s"), std::chrono::milliseconds(100));
    const auto refresh_every = f.duration("refresh-every", "10s");
    const auto timeout = f.duration("timeout", "10m");
    std::optional<std::chrono::milliseconds> undrain_after;
    if (!f.get("undrain-after").empty()) undrain_after = f.duration("undrain-after", "0s");
    std::stringstream degraded(f.get("degraded"));
    for (std::string c; std::getline(degraded, c, ',');) {
        if (!c.empty()) sim.degraded.insert(c);
    }

    const auto start = clock_type::now();
    std::cout << clock_now() << " ApplicationSet " << sim.application_set() << ": template targetRevision -> "
              << revision << " (the ApplicationSet controller rewrites every Application)" << std::endl;
    sim.set_template_revision(revision);
    auto last_refresh = start;
    bool undrained = false;
    std::map<std::string, std::string> last_state;

    for (auto next = start;; next += tick) {
        std::this_thread::sleep_until(next);
        const auto now = clock_type::now();
        // A transient failure (the webhook restarting, a timeout) must not end the simulation:
        // Argo CD's controllers retry on their next reconcile too.
        try {
            sim.step_application_controller(now);
            if (now - last_refresh >= refresh_every) {
                const int written = sim.refresh();
                last_refresh = now;
                if (written)
                    std::cout << clock_now() << " ApplicationSet refresh: rewrote " << written << " Application(s)"
                              << std::endl;
            }
            if (undrain_after && !undrained && now - start >= *undrain_after) {
                for (const auto& c : undrain(sim, admin, ns))
                    std::cout << clock_now() << " cluster " << c << ": drained label removed" << std::endl;
                undrained = true;
            }
            const auto unstaged = unstaged_clusters(admin, ns, rollout);
            bool done = true;
            for (const auto& a : sim.applications()) {
                std::ostringstream state;
                state << "target " << a.target_revision << ", synced "
                      << (a.synced_revision.empty() ? "-" : a.synced_revision) << ", "
                      << (a.sync.empty() ? "-" : a.sync) << "/" << (a.health.empty() ? "-" : a.health)
                      << (a.operation_phase == "Running" ? ", syncing" : "") << (a.held ? ", held" : "");
                if (last_state[a.cluster] != state.str()) {
                    std::cout << clock_now() << " " << a.cluster << ": " << state.str() << std::endl;
                    last_state[a.cluster] = state.str();
                }
                if (!unstaged.contains(a.cluster) &&
                    !(a.synced_revision == revision && a.target_revision == revision && !a.held))
                    done = false;
            }
            if (done) {
                std::cout << clock_now() << " every staged cluster runs " << revision << "; update order:";
                for (const auto& c : sim.updates(revision)) std::cout << " " << c;
                std::cout << std::endl;
                return 0;
            }
        } catch (const std::exception& e) {
            std::cout << clock_now() << " retrying after: " << e.what() << std::endl;
        }
        if (clock_type::now() - start >= timeout) {
            std::cout << clock_now() << " timeout: not every staged cluster runs " << revision << std::endl;
            print_apps(sim.applications());
            return 1;
        }
    }
}

// A stand-in for the fleet's monitoring: each cluster's HTTP error ratio, from the revision its
// Application runs. Scraped by the Prometheus of scripts/demo.sh.
int run_exporter(sim::argocd_simulator& sim, const flags& f) {
    const auto port_file = f.get("port-file");
    if (port_file.empty()) throw std::runtime_error("exporter: --port-file is required");
    const auto bad = f.get("bad-revision");
    const double rate = std::stod(f.get("error-rate", "0.3"));
    // SIGTERM and SIGINT are waited for below, in this thread only: block them before any thread starts.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    std::mutex mutex;
    sim::http_stub server([&](const sim::http_stub::received& r) {
        if (r.target != "/metrics") return sim::http_stub::answer{404, "not found\n"};
        std::string text = "# TYPE apr_demo_http_error_ratio gauge\n";
        try {
            std::lock_guard lock(mutex);
            for (const auto& a : sim.applications()) {
                const bool serves_errors = !bad.empty() && a.synced_revision == bad;
                text += "apr_demo_http_error_ratio{cluster=\"" + a.cluster + "\"} " +
                        std::to_string(serves_errors ? rate : 0.001) + "\n";
            }
        } catch (const std::exception& e) {
            return sim::http_stub::answer{500, std::string(e.what()) + "\n"};
        }
        return sim::http_stub::answer{200, text};
    });
    {
        std::ofstream out(port_file + ".tmp");
        out << server.port() << "\n";
    }
    std::rename((port_file + ".tmp").c_str(), port_file.c_str());
    std::cout << "exporter: http://127.0.0.1:" << server.port() << "/metrics" << std::endl;
    int received = 0;
    sigwait(&stop_signals, &received);
    return 0;
}

int run(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty() || args[0] == "--help" || args[0] == "-h") {
        std::cout << usage;
        return args.empty() ? 2 : 0;
    }
    std::string env_path;
    if (args.size() >= 2 && args[0] == "--env") {
        env_path = args[1];
        args.erase(args.begin(), args.begin() + 2);
    } else if (const char* e = std::getenv("APR_TESTENV")) {
        env_path = e;
    }
    if (env_path.empty() || args.empty()) {
        std::cerr << usage;
        return 2;
    }
    const std::string command = args[0];
    const flags f = parse_flags({args.begin() + 1, args.end()});
    const auto env = read_env(env_path);
    auto value = [&](const std::string& key) {
        auto it = env.find(key);
        if (it == env.end()) throw std::runtime_error(env_path + ": no " + key);
        return it->second;
    };
    const std::string ns = env.contains("ARGOCD_NAMESPACE") ? env.at("ARGOCD_NAMESPACE") : "argocd";
    kube::client admin(kube::load_kubeconfig(value("KUBECONFIG_ADMIN")));
    kube::client appset(kube::load_kubeconfig(value("KUBECONFIG_APPSET")));
    kube::client appctrl(kube::load_kubeconfig(value("KUBECONFIG_APPCTRL")));
    sim::argocd_simulator sim(admin, appset, appctrl, ns);
    const std::string appset_name = f.get("appset", "my-app-set");

    if (command == "setup") {
        const int count = std::stoi(f.get("clusters", "8"));
        if (count < 8) throw std::runtime_error("setup: --clusters must be at least 8");
        const auto fleet = sim::demo_fleet(count);
        sim.create_clusters(fleet);
        sim.create_application_set(appset_name, f.get("revision", "v1"));
        sim.step_application_controller(clock_type::now());
        std::cout << "fleet: " << fleet.size() << " clusters, ApplicationSet " << appset_name << " at "
                  << f.get("revision", "v1") << "\n";
        print_apps(sim.applications());
        return 0;
    }
    sim.attach_application_set(appset_name);
    if (command == "play") return run_play(sim, admin, ns, f);
    if (command == "exporter") return run_exporter(sim, f);
    if (command == "apps") {
        print_apps(sim.applications());
        return 0;
    }
    if (command == "label") {
        if (f.positional.empty()) throw std::runtime_error("label: CLUSTER is required");
        const std::string cluster = f.positional[0];
        auto secret = admin.get("/api/v1/namespaces/" + ns + "/secrets/cluster-" + cluster);
        if (!secret) throw std::runtime_error("cluster " + cluster + ": " + secret.error().describe());
        auto c = codec::decode_cluster_secret(*secret);
        if (!c) throw std::runtime_error("cluster-" + cluster + " is not an Argo CD cluster Secret");
        std::map<std::string, std::string> labels(c->labels.begin(), c->labels.end());
        labels.erase(std::string(sim::cluster_secret_label));
        for (std::size_t i = 1; i < f.positional.size(); ++i) {
            const auto& change = f.positional[i];
            if (change.ends_with('-')) {
                labels.erase(change.substr(0, change.size() - 1));
            } else if (auto eq = change.find('='); eq != std::string::npos) {
                labels[change.substr(0, eq)] = change.substr(eq + 1);
            } else {
                throw std::runtime_error("label: expected KEY=VALUE or KEY-: " + change);
            }
        }
        sim.set_cluster_labels(cluster, labels);
        return 0;
    }
    std::cerr << "unknown command " << command << "\n\n" << usage;
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::cerr << "apr-fleet-sim: " << e.what() << "\n";
        return 1;
    }
}
