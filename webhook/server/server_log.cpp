#include "server_log.hpp"

#include <iostream>
#include <mutex>

namespace apr::server {

std::string
format_log_line(log_level level, std::string_view message, std::time_t now) {
  char const* name = level == log_level::debug  ? "debug"
                     : level == log_level::info ? "info"
                     : level == log_level::warn ? "warn"
                                                : "error";
  std::tm tm{};
  gmtime_r(&now, &tm);
  char ts[32];
  std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
  std::string line;
  line.reserve(message.size() + 64);
  line += "time=";
  line += ts;
  line += " level=";
  line += name;
  line += " component=server msg=\"";
  for (char c : message) {
    if (c == '"' || c == '\\') {
      line += '\\';
      line += c;
    } else if (c == '\n') {
      line += "\\n";
    } else {
      line += c;
    }
  }
  line += "\"\n";
  return line;
}

void
default_log(log_level level, std::string_view message) {
  if (level == log_level::debug) {
    return;
  }
  std::string const line = format_log_line(level, message, std::time(nullptr));
  // One write per line under a lock: lines from serving threads never interleave.
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  std::cerr << line << std::flush;
}

}  // namespace apr::server
