// argocd-progressive-rollout: one binary, several subcommands. main() only dispatches.

#include "cli/commands.hpp"

#include <csignal>
#include <iostream>
#include <string_view>

namespace {

constexpr std::string_view usage = R"(argocd-progressive-rollout - staged rollouts of Argo CD ApplicationSet changes

Usage:
  argocd-progressive-rollout validate FILE...
      Validate ProgressiveRollout YAML/JSON files with the webhook's rules.
      Exit 0 when valid, 1 when not, 2 on unreadable input.
  argocd-progressive-rollout plan --rollout FILE --clusters FILE [-o text|json]
      Show which cluster goes in which stage and wave, from a rollout and Argo CD cluster Secrets.
  argocd-progressive-rollout serve [flags]
      Run the admission webhook server (and, on the Lease holder, the rollout controller).
  argocd-progressive-rollout status [NAME] [-n NAMESPACE] [--watch [--timeout D]] [--kubeconfig FILE]
      Show where rollouts stand.
  argocd-progressive-rollout dashboard [--listen 127.0.0.1:8080] [-n NAMESPACE] [--kubeconfig FILE]
      Serve a live dashboard of the rollouts in a browser (loopback only; --allow-actions for buttons).

Run a subcommand with --help for its flags.
)";

}  // namespace

int main(int argc, char** argv) {
    // A peer that closes its end while we write (an API server timing out, a scraper going
    // away) must cost one connection, not the process: writes then fail with EPIPE instead.
    std::signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        std::cerr << usage;
        return 2;
    }
    const std::string_view command = argv[1];
    apr::cli::arguments args(argv + 2, argv + argc);
    if (command == "validate") return apr::cli::run_validate(args);
    if (command == "plan") return apr::cli::run_plan(args);
    if (command == "serve") return apr::cli::run_serve(args);
    if (command == "status") return apr::cli::run_status(args);
    if (command == "dashboard") return apr::cli::run_dashboard(args);
    if (command == "--help" || command == "-h" || command == "help") {
        std::cout << usage;
        return 0;
    }
    std::cerr << "unknown command " << command << "\n\n" << usage;
    return 2;
}
