// The listening socket and the accept loop: binds at construction (so a bad address fails
// startup, not the first connection), then hands each accepted socket, created on the context
// of the worker whose turn it is, to the server. What does not live here: what a connection does
// (session.hpp), the threads (worker_pool.hpp).
#pragma once

#include "server_log.hpp"
#include "tls_stream.hpp"
#include "worker_pool.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <string>

namespace apr::server {

// "HOST:PORT", ":PORT" (all IPv4), "[::1]:PORT", "localhost:PORT"; port 0 = any free one.
// Throws std::runtime_error naming the text when it is none of these.
boost::asio::ip::tcp::endpoint parse_listen(const std::string& listen);

class listener {
public:
    using accept_handler = std::function<void(worker& home, connection_socket socket)>;

    // Opens and binds the socket on `ioc` (the accepting thread's context); throws
    // std::runtime_error naming the address when it cannot.
    listener(boost::asio::io_context& ioc, const std::string& listen, worker_pool& workers, log_sink log,
             accept_handler on_accept);

    unsigned short port() const { return port_; }

    // Starts accepting on ioc; ends once close() is called.
    void start();
    // From ioc's thread: stops accepting and closes the socket.
    void close();

private:
    boost::asio::awaitable<void> accept_loop();

    worker_pool& workers_;
    log_sink log_;
    accept_handler on_accept_;
    boost::asio::ip::tcp::acceptor acceptor_;
    boost::asio::steady_timer backoff_;
    unsigned short port_ = 0;
    bool closed_ = false;
};

}  // namespace apr::server
