#include "shutdown_signals.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <cstdlib>
#include <thread>

namespace apr::server {

namespace net = boost::asio;

// Asio's signal_set rather than a raw handler: the callback then runs on an ordinary thread,
// where it may take locks and post work, instead of in signal context.
struct shutdown_signals::impl {
    net::io_context ioc;
    net::signal_set signals{ioc, SIGTERM, SIGINT};
    std::function<void(int)> on_signal;
    bool seen = false;
    std::thread thread;

    void wait() {
        signals.async_wait([this](boost::system::error_code ec, int signo) {
            if (ec) {
                return;
            }
            if (seen) {
                std::_Exit(128 + signo);
            }
            seen = true;
            on_signal(signo);
            wait();
        });
    }
};

shutdown_signals::shutdown_signals(std::function<void(int)> on_signal) : impl_(std::make_unique<impl>()) {
    impl_->on_signal = std::move(on_signal);
    impl_->wait();
    impl_->thread = std::thread([i = impl_.get()] { i->ioc.run(); });
}

shutdown_signals::~shutdown_signals() {
    impl_->ioc.stop();
    impl_->thread.join();
}

}  // namespace apr::server
