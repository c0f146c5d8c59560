#include "kube/log.hpp"

#include "codec/log_line.hpp"

#include <cstdio>
#include <ctime>
#include <mutex>
#include <string>

namespace apr::kube {

namespace {

std::mutex sink_mutex;
log_sink current_sink;

const char* level_name(log_level level) {
    switch (level) {
        case log_level::debug:
            return "debug";
        case log_level::info:
            return "info";
        case log_level::warning:
            return "warning";
        case log_level::error:
            return "error";
    }
    return "?";
}

}  // namespace

void set_log_sink(log_sink sink) {
    std::lock_guard lock(sink_mutex);
    current_sink = std::move(sink);
}

void log(log_level level, std::string_view message) {
    std::lock_guard lock(sink_mutex);
    if (current_sink) {
        current_sink(level, message);
        return;
    }
    if (level == log_level::debug) return;
    std::string const line = codec::format_log_line(level_name(level), message, std::time(nullptr), "kube");
    std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace apr::kube
