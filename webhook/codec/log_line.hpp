#pragma once
// The one log line format of the process (logfmt): every layer's default sink and `serve`'s
// process logger write through it, so one event is one line whoever logs it.

#include <ctime>
#include <string>
#include <string_view>

namespace apr::codec {

// `time=2026-11-27T10:00:00Z level=info component=server msg="..."` with its newline; the
// component is left out when empty. The message is quoted (core::quote): quotes, backslashes,
// newlines and control characters are escaped, so one event stays one line.
std::string format_log_line(std::string_view level, std::string_view message, std::time_t now,
                            std::string_view component = {});

}  // namespace apr::codec
