// `serve`: the admission webhook server and, in real mode, the rollout controller on the Lease
// holder. This file only wires: flags -> state source -> routes -> leader election -> signals.

#include "cli/commands.hpp"
#include "cli/flags.hpp"
#include "codec/admission_review.hpp"
#include "codec/json_reader.hpp"
#include "codec/read_file.hpp"
#include "codec/log_line.hpp"
#include "codec/snapshot.hpp"
#include "controller/fleet_cache.hpp"
#include "controller/leader_runner.hpp"
#include "controller/measurement_runner.hpp"
#include "controller/rollout_controller.hpp"
#include "kube/api_paths.hpp"
#include "kube/client.hpp"
#include "kube/config.hpp"
#include "kube/event_recorder.hpp"
#include "kube/log.hpp"
#include "kube/token_subject.hpp"
#include "server/https_server.hpp"
#include "server/shutdown_signals.hpp"

#include <boost/algorithm/string.hpp>
#include <boost/program_options.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <mutex>

namespace apr::cli {

namespace po = boost::program_options;

void write_port_file(const std::string& path, unsigned short port) {
    const std::string partial = path + ".partial";
    {
        std::ofstream out(partial, std::ios::trunc);
        out << port << "\n";
        if (!out.flush()) throw std::runtime_error(partial + ": cannot write the port file");
    }
    if (std::rename(partial.c_str(), path.c_str()) != 0)
        throw std::runtime_error(path + ": cannot write the port file");
}

namespace {

// One line per event on stderr: `time=... level=... msg="..."`, safe from every thread.
class line_logger {
public:
    void write(std::string_view level, std::string_view message) {
        const std::string line = codec::format_log_line(level, message, std::time(nullptr));
        std::lock_guard lock(mutex_);
        std::fwrite(line.data(), 1, line.size(), stderr);
    }

private:
    std::mutex mutex_;
};

line_logger logger;

struct serve_flags {
    std::string listen = "0.0.0.0:8443";
    std::string port_file;
    std::string tls_cert, tls_key;
    std::string snapshot, kubeconfig;
    std::string argocd_namespace = "argocd";
    std::string appset_user{core::default_application_set_controller};
    std::string app_controller_user{core::default_application_controller};
    std::string self_user;
    std::string bypass_groups{core::default_bypass_group};
    bool leader_elect = true;
    std::string lease_name = "argocd-progressive-rollout";
    std::string lease_namespace;
    std::string identity;
    double lease_duration = 15, renew_deadline = 10, retry_period = 2;
    unsigned threads = 0;
    double shutdown_delay = 0, shutdown_grace = 25;
    double idle_timeout = 90, read_timeout = 30;
    double settle_time = 5;
    std::vector<std::string> gate_url_prefixes;
    std::string gate_ca_file;
};

// A webhook gate's header from a Secret, read when the call is made: never logged, never kept.
controller::secret_reader read_secret_with(kube::client& client) {
    return [&client](const std::string& ns, const std::string& name, const std::string& key,
                     std::string& error) -> std::optional<std::string> {
        auto secret = client.get(kube::secret_path(ns, name));
        if (!secret) {
            error = secret.error().describe();
            return std::nullopt;
        }
        const auto* data = codec::find_path(secret.value(), {"data", key});
        auto encoded = codec::as_string(data);
        if (!encoded) {
            error = "no such key";
            return std::nullopt;
        }
        try {
            return kube::base64_decode(*encoded);
        } catch (const std::exception&) {
            error = "not base64";
            return std::nullopt;
        }
    };
}

std::vector<std::string> split_list(const std::string& text) {
    std::vector<std::string> out;
    boost::split(out, text, boost::is_any_of(","));
    out.erase(std::remove_if(out.begin(), out.end(),
                             [](std::string& s) {
                                 boost::trim(s);
                                 return s.empty();
                             }),
              out.end());
    return out;
}

server::handler_result to_http(codec::review_answer&& a) {
    server::handler_result r;
    r.status = a.http_status;
    r.body = std::move(a.body);
    r.outcome = a.outcome;
    return r;
}

int serve(const serve_flags& flags) {
    kube::set_log_sink([](kube::log_level level, std::string_view message) {
        static constexpr std::string_view names[] = {"debug", "info", "warning", "error"};
        if (level != kube::log_level::debug) logger.write(names[static_cast<int>(level)], message);
    });

    core::admission_identities ids;
    ids.application_set_controller = flags.appset_user;
    ids.application_controller = flags.app_controller_user;
    ids.bypass_groups = split_list(flags.bypass_groups);

    server::metrics_registry metrics;
    server::server_options options;
    options.listen = flags.listen;
    options.cert_file = flags.tls_cert;
    options.key_file = flags.tls_key;
    options.threads = flags.threads;
    options.idle_timeout = std::chrono::seconds(static_cast<long>(flags.idle_timeout));
    options.read_timeout = std::chrono::seconds(static_cast<long>(flags.read_timeout));
    options.shutdown_delay = std::chrono::seconds(static_cast<long>(flags.shutdown_delay));
    options.shutdown_grace = std::chrono::seconds(static_cast<long>(flags.shutdown_grace));
    options.log = [](server::log_level level, std::string_view message) {
        static constexpr std::string_view names[] = {"debug", "info", "warning", "error"};
        if (level != server::log_level::debug) logger.write(names[static_cast<int>(level)], message);
    };

    // The state admission reads: fixed (snapshot) or fed by watches (real mode).
    std::function<std::shared_ptr<const core::fleet_state>()> state;
    std::function<void(const codec::review_event&)> record_event = [](const codec::review_event& e) {
        logger.write("warning",
                     "admission: " + e.event.reason + " " + e.namespace_ + "/" + e.name + ": " + e.event.message);
    };

    std::unique_ptr<kube::client> client;
    std::unique_ptr<kube::event_recorder> events;
    std::unique_ptr<controller::fleet_cache> cache;
    std::unique_ptr<controller::client_rollout_api> rollout_api;
    std::unique_ptr<controller::rollout_controller> rollout_controller;
    std::unique_ptr<controller::measurement_runner> measurements;

    if (!flags.snapshot.empty()) {
        auto snapshot = codec::decode_snapshot(read_file(flags.snapshot), flags.snapshot);
        snapshot.allowed_gate_urls = flags.gate_url_prefixes;
        auto fixed = std::make_shared<const core::fleet_state>(std::move(snapshot));
        logger.write("info", "serving admission from snapshot " + flags.snapshot + " (" +
                                 codec::describe_snapshot(*fixed) + "); no controller");
        state = [fixed] { return fixed; };
        ids.self = flags.self_user;
    } else {
        auto config = kube::load_config(flags.kubeconfig);
        ids.self = flags.self_user.empty() ? kube::credentials_subject(config) : flags.self_user;
        if (ids.self.empty())
            throw std::runtime_error("--self-user: cannot tell this server's own username from its credentials (" +
                                     config.source + "); set --self-user");
        client = std::make_unique<kube::client>(config);
        events = std::make_unique<kube::event_recorder>(*client);
        cache = std::make_unique<controller::fleet_cache>(*client, flags.argocd_namespace, [&] {
            if (rollout_controller) rollout_controller->wake();
        });
        cache->set_allowed_gate_urls(flags.gate_url_prefixes);
        rollout_api = std::make_unique<controller::client_rollout_api>(*client, *events);
        controller::measurement_options measuring;
        if (!flags.gate_ca_file.empty()) measuring.ca_pem = read_file(flags.gate_ca_file);
        measuring.on_result = [&] {
            if (rollout_controller) rollout_controller->wake();
        };
        measurements = std::make_unique<controller::measurement_runner>(read_secret_with(*client), measuring);
        controller::controller_options control;
        control.measurements = measurements.get();
        control.self_user = ids.self;
        control.step.settle_time = std::chrono::milliseconds(static_cast<long>(flags.settle_time * 1000));
        rollout_controller = std::make_unique<controller::rollout_controller>(*rollout_api, *cache, control);
        auto* c = cache.get();
        state = [c] { return c->state(); };
        record_event = [ev = events.get()](const codec::review_event& e) {
            ev->record({"argoproj.io/v1alpha1", "Application", e.namespace_, e.name, ""},
                       e.event.warning ? kube::event_type::warning : kube::event_type::normal, e.event.reason,
                       e.event.message);
        };
        metrics.add_collector([c](std::string& out) {
            c->write_metrics(out);
            controller::write_rollout_metrics(*c, out);
        });
        logger.write("info", "real mode: " + config.source + ", namespace " + flags.argocd_namespace + ", acting as " +
                                 ids.self);
    }

    server::https_server server(options, metrics);
    server.add_admission_route(
        "/mutate/applications", [state, ids, record_event](std::string_view ct, std::string& body) {
            auto answer = codec::review_application(ct, std::move(body), *state(), ids);
            if (answer.event) record_event(*answer.event);
            if (answer.outcome == "denied" || answer.outcome == "error")
                logger.write("info", "admission: application " + answer.outcome + " (" + answer.detail + ")");
            return to_http(std::move(answer));
        });
    const auto now = [] { return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()); };
    server.add_admission_route("/validate/progressiverollouts", [state, now](std::string_view ct, std::string& body) {
        return to_http(codec::review_rollout(ct, std::move(body), *state(), now()));
    });
    server.add_admission_route("/mutate/progressiverollouts", [now](std::string_view ct, std::string& body) {
        auto answer = codec::mutate_rollout(ct, std::move(body), now());
        if (answer.outcome == "stamped") logger.write("info", "admission: operator request " + answer.detail);
        return to_http(std::move(answer));
    });
    if (cache) server.set_readiness([c = cache.get()] { return c->synced(); });

    auto& leading = metrics.add_gauge("argocd_progressive_rollout_leader",
                                      "Whether this replica holds the Lease and runs the controller.");
    leading.with({}).set(0);
    std::unique_ptr<controller::leader_runner> leader;
    if (cache) {
        cache->start();
        controller::leader_runner_options lease;
        lease.leader_elect = flags.leader_elect;
        lease.lease_namespace = flags.lease_namespace.empty() ? flags.argocd_namespace : flags.lease_namespace;
        lease.lease_name = flags.lease_name;
        lease.identity = flags.identity;
        lease.timings.lease_duration = std::chrono::milliseconds(static_cast<long>(flags.lease_duration * 1000));
        lease.timings.renew_deadline = std::chrono::milliseconds(static_cast<long>(flags.renew_deadline * 1000));
        lease.timings.retry_period = std::chrono::milliseconds(static_cast<long>(flags.retry_period * 1000));
        leader = std::make_unique<controller::leader_runner>(
            *client, std::move(lease), [c = rollout_controller.get()](std::stop_token stop) { c->run(stop); },
            [&leading](bool now_leading) { leading.with({}).set(now_leading ? 1 : 0); });
        leader->start();
    }

    server::shutdown_signals signals([&](int signo) {
        logger.write("info", "signal " + std::to_string(signo) + ": shutting down");
        server.stop();
    });
    if (!flags.port_file.empty()) write_port_file(flags.port_file, server.port());
    server.run();
    if (leader) leader->stop();  // releases the Lease so another replica takes over at once
    if (cache) cache->stop();
    if (events) events->flush(std::chrono::seconds(2));
    logger.write("info", "stopped");
    return 0;
}

}  // namespace

int run_serve(const arguments& args) {
    serve_flags f;
    command_line line("serve", "serve --tls-cert FILE --tls-key FILE [--snapshot FILE | --kubeconfig FILE]",
                      "Serves the admission webhooks over TLS; without --snapshot it watches the API server "
                      "(kubeconfig,\nor in-cluster when neither is given) and, on the replica holding the Lease, runs "
                      "the controller.");
    line.options.add_options()("listen", po::value(&f.listen)->default_value(f.listen),
                               "HOST:PORT to serve HTTPS on (port 0: any free port)")(
        "port-file", po::value(&f.port_file),
        "once listening, write the bound port to FILE (with --listen HOST:0: how scripts and tests learn it)")(
        "tls-cert", po::value(&f.tls_cert), "serving certificate (PEM); re-read when the file changes")(
        "tls-key", po::value(&f.tls_key), "private key of the serving certificate (PEM)")(
        "snapshot", po::value(&f.snapshot),
        "serve admission from a fixed YAML/JSON bundle of ProgressiveRollouts (with status), ApplicationSets and "
        "cluster Secrets; no controller")("kubeconfig", po::value(&f.kubeconfig),
                                          "kubeconfig to reach the API server (default: in-cluster service account)")(
        "argocd-namespace", po::value(&f.argocd_namespace)->default_value(f.argocd_namespace),
        "namespace of Argo CD's Applications, ApplicationSets, cluster Secrets and the rollouts")(
        "appset-controller-user", po::value(&f.appset_user)->default_value(f.appset_user),
        "username of Argo CD's ApplicationSet controller: its writes are held")(
        "application-controller-user", po::value(&f.app_controller_user)->default_value(f.app_controller_user),
        "username of Argo CD's application controller: its sync operations are never blocked")(
        "self-user", po::value(&f.self_user),
        "username this server's own writes arrive with (default: the service-account token's subject)")(
        "bypass-groups", po::value(&f.bypass_groups)->default_value(f.bypass_groups),
        "comma-separated groups whose members may bypass a rollout with the deployment.skyscanner.net/bypass "
        "annotation")("leader-elect", po::value(&f.leader_elect)->default_value(true),
                      "run the controller only on the holder of a coordination.k8s.io Lease")(
        "lease-name", po::value(&f.lease_name)->default_value(f.lease_name), "name of the Lease")(
        "lease-namespace", po::value(&f.lease_namespace), "namespace of the Lease (default: --argocd-namespace)")(
        "identity", po::value(&f.identity), "holder identity in the Lease (default: hostname_pid)")(
        "lease-duration", po::value(&f.lease_duration)->default_value(f.lease_duration),
        "seconds a Lease is valid without renewal")("renew-deadline",
                                                    po::value(&f.renew_deadline)->default_value(f.renew_deadline),
                                                    "seconds the leader keeps trying to renew before stepping down")(
        "retry-period", po::value(&f.retry_period)->default_value(f.retry_period), "seconds between Lease attempts")(
        "threads", po::value(&f.threads)->default_value(0),
        "server threads (0: one per CPU this process may use: its affinity mask, limited by its cgroup CPU quota, "
        "rounded up)")("idle-timeout", po::value(&f.idle_timeout)->default_value(f.idle_timeout),
                       "seconds an idle keep-alive connection is kept (at least 90 for the API server)")(
        "read-timeout", po::value(&f.read_timeout)->default_value(f.read_timeout), "seconds to read a whole request")(
        "settle-time", po::value(&f.settle_time)->default_value(f.settle_time),
        "seconds without a new hold before a stage skips a cluster with nothing pending (the ApplicationSet "
        "controller writes its Applications one by one)")(
        "shutdown-delay", po::value(&f.shutdown_delay)->default_value(f.shutdown_delay),
        "seconds /readyz fails before the listener closes on SIGTERM")(
        "shutdown-grace", po::value(&f.shutdown_grace)->default_value(f.shutdown_grace),
        "seconds in-flight requests get to finish on SIGTERM")(
        "gate-url-prefix", po::value(&f.gate_url_prefixes)->composing(),
        "allow only gate URLs (prometheus.address, webhook.url) starting with this prefix; repeatable "
        "(default: any http(s) URL)")("gate-ca-file", po::value(&f.gate_ca_file),
                                      "PEM bundle trusted for https gate URLs (default: the system trust store)");
    po::variables_map vm;
    if (int code = line.parse(args, vm); code >= 0) return code;
    if (f.tls_cert.empty() || f.tls_key.empty()) {
        std::cerr << "serve: --tls-cert and --tls-key are required (the webhook serves TLS only)\n";
        return 2;
    }
    if (!f.snapshot.empty() && !f.kubeconfig.empty()) {
        std::cerr << "serve: --snapshot and --kubeconfig are two different state sources; give one\n";
        return 2;
    }
    try {
        return serve(f);
    } catch (const std::exception& e) {
        logger.write("error", std::string("serve: ") + e.what());
        return 1;
    }
}

}  // namespace apr::cli
