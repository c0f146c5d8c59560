#pragma once
// One flag style for every command (boost::program_options): `--help` for each, `-n/--namespace`
// (default argocd) and `--kubeconfig` (else $KUBECONFIG, in-cluster, ~/.kube/config, as kubectl)
// wherever a command talks to the API server, and the same error and exit code for bad usage.

#include "cli/commands.hpp"

#include <boost/program_options.hpp>

#include <string>
#include <string_view>

namespace apr::cli {

namespace po = boost::program_options;

// How the binary was invoked: "argocd-progressive-rollout", or "kubectl progressive-rollout"
// when run as the kubectl plugin kubectl-progressive_rollout. Usage texts use it.
const std::string& program_name();
void set_program_name(std::string_view argv0);

struct cluster_flags {
    std::string namespace_ = "argocd";
    std::string kubeconfig;
};

// -n/--namespace and --kubeconfig, bound to `flags`.
void add_cluster_flags(po::options_description& options, cluster_flags& flags);

// A command's flags: its usage line and description, its options and positional arguments.
struct command_line {
    std::string command;  // e.g. "promote"
    std::string usage;    // after the program name, e.g. "promote NAME [--stage S] [--skip-bake]"
    std::string summary;  // one paragraph
    po::options_description options{"Flags"};
    po::positional_options_description positional;
    po::options_description hidden;  // the positional arguments' storage

    command_line(std::string command, std::string usage, std::string summary);
    // Parses `args` into `vm`. Returns -1 to go on, or the exit code: 0 after --help, 2 after a
    // usage error (printed with the usage).
    int parse(const arguments& args, po::variables_map& vm) const;
    std::string help() const;
};

}  // namespace apr::cli
