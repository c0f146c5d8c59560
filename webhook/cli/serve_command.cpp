// `serve`: the admission webhook server (and, in real mode, the rollout controller).

#include "cli/commands.hpp"

#include <iostream>

namespace apr::cli {

int run_serve(const arguments&) {
    std::cerr << "serve: not available in this build yet\n";
    return 2;
}

}  // namespace apr::cli
