// argocd-progressive-rollout: one binary, several subcommands. main() only dispatches. Installed
// (or symlinked) as kubectl-progressive_rollout it is also the kubectl plugin
// `kubectl progressive-rollout`.

#include "cli/commands.hpp"
#include "cli/flags.hpp"

#include <csignal>
#include <iostream>
#include <map>
#include <string_view>

namespace {

std::string usage() {
    const auto& p = apr::cli::program_name();
    return p + R"( - staged rollouts of Argo CD ApplicationSet changes

Usage: )" + p +
           R"( COMMAND [flags]     (COMMAND --help shows each command's flags)

Files:
  validate FILE...                     validate ProgressiveRollouts with the webhook's rules
  plan --rollout FILE --clusters FILE  which cluster goes in which stage and wave (also --live NAME)
Server:
  serve                                the admission webhooks and, on the Lease holder, the controller
Rollouts in the cluster (-n NAMESPACE, default argocd; --kubeconfig or $KUBECONFIG as kubectl):
  status [NAME]                        where rollouts stand (--watch to follow)
  pause NAME                           admit no new cluster; in-flight ones finish
  resume NAME                          admit clusters again
  promote NAME [--stage S] [--skip-bake]   pass what waits for a person: an approval, a bake
  abort NAME [--rollback]              stop the pass; --rollback restores what it changed
  retry NAME                           run a Failed, Aborted or RolledBack pass again
  hold NAME CLUSTER --reason R [--until T]   keep one cluster out of admission
  release NAME CLUSTER                 end a hold
  dashboard [--listen 127.0.0.1:8080]  a live dashboard of the rollouts in a browser (loopback only;
                                       --allow-actions for buttons)
)";
}

}  // namespace

int main(int argc, char** argv) {
    // A peer that closes its end while we write (an API server timing out, a scraper going
    // away) must cost one connection, not the process: writes then fail with EPIPE instead.
    std::signal(SIGPIPE, SIG_IGN);
    apr::cli::set_program_name(argc > 0 ? argv[0] : "");
    if (argc < 2) {
        std::cerr << usage();
        return 2;
    }
    const std::string_view command = argv[1];
    apr::cli::arguments args(argv + 2, argv + argc);
    using runner = int (*)(const apr::cli::arguments&);
    static const std::map<std::string_view, runner> commands = {
        {"validate", apr::cli::run_validate}, {"plan", apr::cli::run_plan},
        {"serve", apr::cli::run_serve},       {"status", apr::cli::run_status},
        {"pause", apr::cli::run_pause},       {"resume", apr::cli::run_resume},
        {"promote", apr::cli::run_promote},   {"abort", apr::cli::run_abort},
        {"retry", apr::cli::run_retry},       {"hold", apr::cli::run_hold},
        {"release", apr::cli::run_release},   {"dashboard", apr::cli::run_dashboard},
    };
    if (auto it = commands.find(command); it != commands.end()) return it->second(args);
    if (command == "--help" || command == "-h" || command == "help") {
        std::cout << usage();
        return 0;
    }
    std::cerr << "unknown command " << command << "\n\n" << usage();
    return 2;
}
