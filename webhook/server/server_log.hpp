// The server's log interface and its default line format. What lives here: the levels, the sink
// type the server calls, the stderr sink used when `serve` hands in none. What does not: which
// events are logged (the parts that log them decide).
#pragma once

#include <ctime>
#include <functional>
#include <string>
#include <string_view>

namespace apr::server {

enum class log_level { debug, info, warn, error };
// One call per event, one line, no request bodies. Default: info and above to stderr as
// `time=... level=info component=server msg="..."`.
using log_sink = std::function<void(log_level, std::string_view message)>;

// `time=2026-11-27T10:00:00Z level=warn component=server msg="..."` with its newline, written by
// the process-wide format (codec/log_line.hpp).
std::string format_log_line(log_level level, std::string_view message, std::time_t now);

// The default sink: info and above, formatted as above, to stderr; whole lines from any thread.
void default_log(log_level level, std::string_view message);

}  // namespace apr::server
