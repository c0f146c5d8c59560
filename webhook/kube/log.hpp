#pragma once
// Logging hook for the kube layer. The layer never decides where logs go: the binary installs a
// sink (`serve` wires it to the process logger; docs/operations.md, "Logs"). Messages passed
// here must never contain tokens, Authorization headers or Secret data; callers format only
// names, paths and codes.

#include <functional>
#include <string_view>

namespace apr::kube {

enum class log_level { debug, info, warning, error };

using log_sink = std::function<void(log_level, std::string_view)>;

// Replaces the sink; thread-safe. An empty function restores the default (stderr, info+, in
// the process log format of codec/log_line.hpp with component=kube).
void set_log_sink(log_sink sink);

void log(log_level level, std::string_view message);

}  // namespace apr::kube
