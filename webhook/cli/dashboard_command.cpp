// `dashboard`: the live rollout dashboard in a browser (docs/dashboard.md). Runs on the user's
// machine with the user's kubeconfig, like `status`; serves plain HTTP on loopback through the
// same server as `serve`. This file only wires: flags -> client -> caches -> routes -> signals.

#include "cli/commands.hpp"
#include "cli/flags.hpp"
#include "cli/operator_write.hpp"
#include "dashboard/dashboard_server.hpp"
#include "kube/api_paths.hpp"
#include "kube/config.hpp"
#include "kube/log.hpp"
#include "server/listener.hpp"
#include "server/shutdown_signals.hpp"

#include <boost/program_options.hpp>

#include <iostream>

namespace apr::cli {

namespace po = boost::program_options;

namespace {

struct dashboard_flags {
    std::string listen = "127.0.0.1:8080";
    cluster_flags cluster;
    std::string port_file;
    bool allow_actions = false;
    bool allow_remote = false;
};

// A button: the operator command of the same name, through the same write (operator_write.hpp),
// with the user's credentials; waits a few seconds for the controller's record.
dashboard::action_result act(kube::client& client, const std::string& ns, const dashboard::action_request& a) {
    using core::request_verb;
    const auto verb = core::parse_request_verb(a.verb);
    if (!verb || (*verb != request_verb::pause && *verb != request_verb::resume && *verb != request_verb::promote &&
                  *verb != request_verb::abort))
        return {400, "unknown action \"" + a.verb + "\": pause, resume, promote or abort"};
    core::operator_request request;
    request.verb = *verb;
    request.skip_bake = a.skip_bake && *verb == request_verb::promote;
    request.rollback = a.rollback && *verb == request_verb::abort;
    request.reason = "from the dashboard";
    const auto out = write_request(client, ns, a.rollout, request, std::chrono::seconds(10));
    switch (out.what) {
        case write_outcome::result::recorded:
            return {200, a.verb + " by " + out.user + (out.message.empty() ? "" : ": " + out.message)};
        case write_outcome::result::refused:
            return {409, a.verb + " refused: " + out.message};
        case write_outcome::result::written:
            return {202, a.verb + " requested (id " + out.id + "); the controller has not recorded it yet"};
        case write_outcome::result::not_written:
            break;
    }
    return {out.code >= 400 && out.code < 600 ? static_cast<unsigned>(out.code) : 502u, a.verb + ": " + out.message};
}

int run(const dashboard_flags& flags) {
    const auto endpoint = server::parse_listen(flags.listen);
    const bool loopback = endpoint.address().is_loopback();
    if (!loopback && !flags.allow_remote) {
        std::cerr << "dashboard: refusing to listen on " << flags.listen
                  << ": the dashboard reads the cluster with your credentials and serves plain HTTP, so anyone who "
                     "can reach that address could read it. Use a loopback address (the default 127.0.0.1:8080), "
                     "or pass --allow-remote if you mean it.\n";
        return 2;
    }
    if (!loopback && flags.allow_actions) {
        std::cerr << "dashboard: --allow-actions is for loopback only: over plain HTTP off this machine anyone on "
                     "the network could pause, promote or abort rollouts as you\n";
        return 2;
    }
    kube::set_log_sink([](kube::log_level level, std::string_view message) {
        if (level >= kube::log_level::warning) std::cerr << "dashboard: " << message << "\n";
    });
    kube::client client(kube::load_config(flags.cluster.kubeconfig));

    dashboard::dashboard_options options;
    options.namespace_ = flags.cluster.namespace_;
    if (flags.allow_actions) {
        options.act = [&client, ns = flags.cluster.namespace_](const dashboard::action_request& a) {
            return act(client, ns, a);
        };
    }
    dashboard::dashboard_service service(client, std::move(options));

    server::metrics_registry metrics;
    server::server_options server_options;
    server_options.listen = flags.listen;
    server_options.plain_http = true;
    // Two threads: an action waits on the API server while the other keeps answering the page.
    server_options.threads = 2;
    server_options.shutdown_grace = std::chrono::seconds(2);
    server_options.log = [](server::log_level level, std::string_view message) {
        if (level >= server::log_level::warn) std::cerr << "dashboard: " << message << "\n";
    };
    server::https_server http(server_options, metrics);
    dashboard::guard_policy guard;
    guard.token = dashboard::make_token();
    if (loopback) guard.hosts = dashboard::loopback_hosts(http.port());
    service.add_routes(http, std::move(guard));
    http.set_readiness([&service] { return service.synced(); });
    service.start();

    server::shutdown_signals signals([&](int) { http.stop(); });
    // Appended in place: g++ 12 -O3 warns (-Wrestrict, falsely) on "literal" + string temporaries.
    const std::string host = endpoint.address().is_v6()
                                 ? std::string("[").append(endpoint.address().to_string()).append("]")
                                 : endpoint.address().to_string();
    std::cout << "Dashboard: http://" << host << ":" << http.port() << "/  (namespace " << flags.cluster.namespace_
              << ", " << (flags.allow_actions ? "actions on" : "read-only") << "; Ctrl-C to stop)" << std::endl;
    if (!loopback)
        std::cerr << "dashboard: WARNING: serving plain HTTP on " << flags.listen
                  << ": anyone who can reach it reads your rollouts with your credentials\n";
    if (!flags.port_file.empty()) write_port_file(flags.port_file, http.port());
    http.run();
    service.stop();
    return 0;
}

}  // namespace

int run_dashboard(const arguments& args) {
    dashboard_flags f;
    command_line line("dashboard", "dashboard [--listen 127.0.0.1:8080] [-n NS] [--kubeconfig FILE]",
                      "Serves a live dashboard of the namespace's ProgressiveRollouts at http://127.0.0.1:8080/, read "
                      "with\nyour kubeconfig's credentials (like kubectl). Loopback only unless --allow-remote.");
    line.options.add_options()("listen", po::value(&f.listen)->default_value(f.listen),
                               "HOST:PORT to serve on (port 0: any free port)");
    add_cluster_flags(line.options, f.cluster);
    line.options.add_options()("allow-actions", po::bool_switch(&f.allow_actions),
                               "show pause/resume/promote/abort buttons, which act with your credentials (loopback "
                               "only)")("allow-remote", po::bool_switch(&f.allow_remote),
                                        "allow a non-loopback --listen address (plain HTTP: anyone who reaches it "
                                        "reads as you)")("port-file", po::value(&f.port_file),
                                                         "once listening, write the bound port to FILE");
    po::variables_map vm;
    if (int code = line.parse(args, vm); code >= 0) return code;
    try {
        return run(f);
    } catch (const std::exception& e) {
        std::cerr << "dashboard: " << e.what() << "\n";
        return 1;
    }
}

}  // namespace apr::cli
