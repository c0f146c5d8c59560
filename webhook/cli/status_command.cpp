// `status` needs the Kubernetes client; until it is wired it says so plainly.

#include "cli/commands.hpp"

#include <iostream>

namespace apr::cli {

int run_status(const arguments&) {
    std::cerr << "status: not available in this build yet\n";
    return 2;
}

int run_serve(const arguments&) {
    std::cerr << "serve: not available in this build yet\n";
    return 2;
}

}  // namespace apr::cli
