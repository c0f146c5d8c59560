#include "listener.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <charconv>
#include <stdexcept>

// GCC 12 pairs the operator delete of Asio's coroutine frames with the aligned_alloc inside
// Asio's recycling allocator and warns; that allocator releases the frame with free(), so the
// pair is right (a known false positive with Boost 1.81's awaitable frames).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace apr::server {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
}

tcp::endpoint parse_listen(const std::string& listen) {
    const auto colon = listen.rfind(':');
    if (colon == std::string::npos) {
        throw std::runtime_error("invalid listen address '" + listen + "': want HOST:PORT or :PORT");
    }
    std::string host = listen.substr(0, colon);
    std::string const port_text = listen.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    if (host.empty()) {
        host = "0.0.0.0";
    } else if (host == "localhost") {
        host = "127.0.0.1";
    }
    unsigned port = 0;
    const auto [ptr, perr] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (perr != std::errc{} || ptr != port_text.data() + port_text.size() || port > 65535 || port_text.empty()) {
        throw std::runtime_error("invalid listen port in '" + listen + "'");
    }
    boost::system::error_code ec;
    const auto address = net::ip::make_address(host, ec);
    if (ec) {
        throw std::runtime_error("invalid listen address '" + listen + "': " + ec.message());
    }
    return {address, static_cast<unsigned short>(port)};
}

listener::listener(net::io_context& ioc, const std::string& listen, worker_pool& workers, log_sink log,
                   accept_handler on_accept)
    : workers_(workers), log_(std::move(log)), on_accept_(std::move(on_accept)), acceptor_(ioc), backoff_(ioc) {
    const auto endpoint = parse_listen(listen);
    try {
        acceptor_.open(endpoint.protocol());
        acceptor_.set_option(net::socket_base::reuse_address(true));
        acceptor_.bind(endpoint);
        acceptor_.listen(net::socket_base::max_listen_connections);
        port_ = acceptor_.local_endpoint().port();
    } catch (const boost::system::system_error& e) {
        throw std::runtime_error("cannot listen on '" + listen + "': " + e.code().message());
    }
}

void listener::start() {
    net::co_spawn(acceptor_.get_executor(), accept_loop(), [log = log_](std::exception_ptr e) {
        if (e) {
            log(log_level::error, "accept loop ended by exception");
        }
    });
}

void listener::close() {
    closed_ = true;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    backoff_.cancel();
}

net::awaitable<void> listener::accept_loop() {
    while (!closed_) {
        worker& home = workers_.next();
        // The socket is created on its serving thread's context and stays there.
        auto [ec, socket] = co_await acceptor_.async_accept(home.ioc, use_tuple);
        if (ec) {
            if (closed_ || ec == net::error::operation_aborted) {
                break;
            }
            // EMFILE and friends: back off briefly instead of spinning on the error.
            log_(log_level::warn, "accept failed: " + ec.message());
            backoff_.expires_after(std::chrono::milliseconds(50));
            co_await backoff_.async_wait(use_tuple);
            continue;
        }
        workers_.advance();
        on_accept_(home, std::move(socket));
    }
}

}  // namespace apr::server
