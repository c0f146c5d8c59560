#pragma once
// The `status` view as a pure function, so what operators read can be tested without a server.
// Fetching from the API server and --watch live in status_command.cpp.

#include "core/rollout.hpp"

#include <string>

namespace apr::cli {

// A rollout as `argocd-progressive-rollout status` prints it: header (name, ApplicationSet,
// phase, pass, current stage and its age, progress), each stage with a progress bar, phase,
// bake time left and its clusters grouped by state (Requeued with attempt n/N and next try,
// Failed with message), the unstaged clusters and the conditions. Ends with a newline.
std::string render_status(const core::rollout& rollout, core::time_point now);

}  // namespace apr::cli
