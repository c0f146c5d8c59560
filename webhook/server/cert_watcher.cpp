#include "cert_watcher.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/inotify.h>

#include <array>
#include <set>

// GCC 12 pairs the operator delete of Asio's coroutine frames with the aligned_alloc inside
// Asio's recycling allocator and warns; that allocator releases the frame with free(), so the
// pair is right (a known false positive with Boost 1.81's awaitable frames).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace apr::server {

namespace net = boost::asio;

namespace {
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
}

cert_watcher::cert_watcher(net::io_context& ioc, const std::vector<std::filesystem::path>& files,
                           std::chrono::seconds poll_interval, log_sink log, std::function<void()> on_change)
    : ioc_(ioc),
      poll_interval_(poll_interval),
      log_(std::move(log)),
      on_change_(std::move(on_change)),
      inotify_(ioc),
      poll_timer_(ioc) {
    const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) {
        log_(log_level::warn, "inotify unavailable; certificate changes found by polling only");
        return;
    }
    // Watch the directories, not the files. A Secret volume update writes the new pair into a
    // fresh `..TIMESTAMP` directory and renames a new `..data` symlink over the old one: tls.crt
    // (a symlink to ..data/tls.crt) now resolves to another file, yet neither it nor the file it
    // used to resolve to is touched, so a watch on the file sees nothing (and an inode watch
    // follows the old, deleted file). The rename is an event in the directory.
    std::set<std::filesystem::path> dirs;
    for (const auto& f : files) {
        dirs.insert(std::filesystem::absolute(f).parent_path());
    }
    std::uint32_t const mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ATTRIB |
                               IN_DELETE_SELF | IN_MOVE_SELF;
    for (const auto& d : dirs) {
        if (::inotify_add_watch(fd, d.c_str(), mask) < 0) {
            log_(log_level::warn, "cannot watch " + d.string() + "; relying on polling");
        }
    }
    inotify_.assign(fd);
}

void cert_watcher::start() {
    auto on_done = [log = log_](std::exception_ptr e) {
        if (e) {
            log(log_level::error, "certificate watch ended by exception");
        }
    };
    if (inotify_.is_open()) {
        net::co_spawn(ioc_, watch_loop(), on_done);
    }
    net::co_spawn(ioc_, poll_loop(), on_done);
}

void cert_watcher::stop() {
    stopped_ = true;
    poll_timer_.cancel();
    boost::system::error_code ignored;
    inotify_.close(ignored);
}

net::awaitable<void> cert_watcher::watch_loop() {
    std::array<char, 4096> events;
    while (inotify_.is_open()) {
        auto [ec, n] = co_await inotify_.async_read_some(net::buffer(events), use_tuple);
        if (ec) {
            if (ec != net::error::operation_aborted) {
                log_(log_level::warn, "certificate watch ended, polling only: " + ec.message());
            }
            break;
        }
        if (stopped_) {
            break;
        }
        // Which file the events name does not matter: any change in the directories means "look".
        log_(log_level::debug, "certificate directory changed");
        on_change_();
    }
}

net::awaitable<void> cert_watcher::poll_loop() {
    while (!stopped_) {
        poll_timer_.expires_after(poll_interval_);
        auto [ec] = co_await poll_timer_.async_wait(use_tuple);
        if (ec || stopped_) {
            break;
        }
        on_change_();
    }
}

}  // namespace apr::server
