#include "server_log.hpp"

#include "codec/log_line.hpp"

#include <iostream>
#include <mutex>

namespace apr::server {

std::string format_log_line(log_level level, std::string_view message, std::time_t now) {
    const char* name = level == log_level::debug  ? "debug"
                       : level == log_level::info ? "info"
                       : level == log_level::warn ? "warn"
                                                  : "error";
    return codec::format_log_line(name, message, now, "server");
}

void default_log(log_level level, std::string_view message) {
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
