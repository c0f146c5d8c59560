// `status`: where every rollout stands, read from the API server.

#include "cli/commands.hpp"

#include <iostream>

namespace apr::cli {

int run_status(const arguments&) {
    std::cerr << "status: not available in this build yet\n";
    return 2;
}

}  // namespace apr::cli
