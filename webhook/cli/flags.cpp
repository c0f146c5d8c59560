#include "cli/flags.hpp"

#include <iostream>
#include <sstream>

namespace apr::cli {

namespace {

std::string& name_storage() {
    static std::string name = "argocd-progressive-rollout";
    return name;
}

}  // namespace

const std::string& program_name() {
    return name_storage();
}

void set_program_name(std::string_view argv0) {
    const auto slash = argv0.rfind('/');
    const auto base = slash == std::string_view::npos ? argv0 : argv0.substr(slash + 1);
    // kubectl finds plugins as kubectl-NAME on PATH, `_` standing for `-` in NAME.
    if (base.starts_with("kubectl-")) {
        std::string plugin(base.substr(8));
        for (auto& c : plugin)
            if (c == '_') c = '-';
        name_storage() = "kubectl " + plugin;
    }
}

void add_cluster_flags(po::options_description& options, cluster_flags& flags) {
    options.add_options()("namespace,n", po::value(&flags.namespace_)->default_value(flags.namespace_),
                          "namespace of the rollout")(
        "kubeconfig", po::value(&flags.kubeconfig),
        "kubeconfig file (default: $KUBECONFIG, in-cluster, then ~/.kube/config, as kubectl)");
}

command_line::command_line(std::string command_, std::string usage_, std::string summary_)
    : command(std::move(command_)), usage(std::move(usage_)), summary(std::move(summary_)) {
    options.add_options()("help,h", "show this help");
}

std::string command_line::help() const {
    std::ostringstream out;
    out << "Usage: " << program_name() << " " << usage << "\n" << summary << "\n\n" << options << "\n";
    return out.str();
}

int command_line::parse(const arguments& args, po::variables_map& vm) const {
    po::options_description all;
    all.add(options).add(hidden);
    try {
        po::store(po::command_line_parser(args).options(all).positional(positional).run(), vm);
        if (vm.count("help")) {
            std::cout << help();
            return 0;
        }
        po::notify(vm);
    } catch (const po::error& e) {
        std::cerr << command << ": " << e.what() << "\n\n" << help();
        return 2;
    }
    return -1;
}

}  // namespace apr::cli
