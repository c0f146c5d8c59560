#pragma once
// The window gates (docs/windows.md): the rollout's spec.windows close admission for the whole
// rollout; an Application's Argo CD AppProject sync windows close it for that one cluster, which
// then waits without taking a maxUnavailable slot. Both answer "wait until" the next change.

#include "core/gates.hpp"

#include <memory>
#include <string_view>

namespace apr::core {

// The name the rollout windows' verdicts carry (status.windowOpensAt is theirs).
inline constexpr std::string_view rollout_windows_gate = "windows";

std::unique_ptr<const gate> make_rollout_windows_gate();
std::unique_ptr<const gate> make_project_windows_gate();

}  // namespace apr::core
