// Notices that the certificate files may have changed and says so: inotify on the files'
// directories, plus a poll for filesystems without events (some network and FUSE mounts). What
// does not live here: reading, validating and swapping the pair (serving_certificate.hpp), which
// is also what decides whether anything really changed.
#pragma once

#include "server_log.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <vector>

namespace apr::server {

class cert_watcher {
public:
    // Sets the watches up at once, so that a change between now and start() (say, while the
    // caller loads the certificate for the first time) is not lost: its events wait in the
    // descriptor. The watcher then runs on `ioc` and calls on_change there.
    cert_watcher(boost::asio::io_context& ioc, const std::vector<std::filesystem::path>& files,
                 std::chrono::seconds poll_interval, log_sink log, std::function<void()> on_change);

    void start();
    // From ioc's thread: no further on_change calls; the loops end.
    void stop();

private:
    boost::asio::awaitable<void> watch_loop();
    boost::asio::awaitable<void> poll_loop();

    boost::asio::io_context& ioc_;
    std::chrono::seconds poll_interval_;
    log_sink log_;
    std::function<void()> on_change_;
    bool stopped_ = false;
    boost::asio::posix::stream_descriptor inotify_;
    boost::asio::steady_timer poll_timer_;
};

}  // namespace apr::server
