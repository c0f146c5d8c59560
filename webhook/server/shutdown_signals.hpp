// SIGTERM and SIGINT for a graceful shutdown: what `serve` installs around the server and the
// controller. What does not live here: what shutting down means (https_server::stop() and the
// callers' own stops).
#pragma once

#include <functional>
#include <memory>

namespace apr::server {

// While alive, the first SIGTERM or SIGINT calls on_signal (e.g. [&]{ server.stop(); }) on a
// thread of its own; a second one ends the process at once with status 128+signo, for an
// operator who means it.
class shutdown_signals {
public:
    explicit shutdown_signals(std::function<void(int signo)> on_signal);
    ~shutdown_signals();
    shutdown_signals(const shutdown_signals&) = delete;
    shutdown_signals& operator=(const shutdown_signals&) = delete;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace apr::server
