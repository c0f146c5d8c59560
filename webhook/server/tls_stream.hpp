// The server side of one TLS connection, for a connection that lives on one io_context thread.
// OpenSSL works through a BIO of our own: it reads from a per-connection input buffer, which
// the coroutine fills with one socket read whenever OpenSSL asks for more, and it writes straight
// to the socket with send(). What does not live here: HTTP, deadlines (the session closes the
// socket to end an operation), the certificate (an ssl::context handed in).
//
// Why not asio::ssl::stream: it pipes every byte through a BIO pair, one copy more per byte in
// each direction, its 17 KB input buffer needs two recv calls per 20 KB review, and its
// composed operations add completion hops per read.
//
// Why not let OpenSSL recv() itself: waiting for readiness first costs a failed recv and, with
// Asio's async_wait, an epoll_ctl per wait; Asio's async_read_some tries the read at once and
// waits only if there is nothing yet.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/error_code.hpp>

#include <openssl/ssl.h>

#include <cstddef>
#include <memory>
#include <string_view>

namespace apr::server {

// A connection stays on one io_context for life, so its I/O objects name that context's
// executor type rather than any_io_executor: completions dispatch without type-erased copies.
using connection_executor = boost::asio::io_context::executor_type;
using connection_socket = boost::asio::ip::tcp::socket::rebind_executor<connection_executor>::other;
template <class T>
using connection_task = boost::asio::awaitable<T, connection_executor>;
// A connection's completion token: awaits on its executor and yields (error_code, result...)
// instead of throwing, so each step goes to one failure path.
inline constexpr auto on_connection = boost::asio::as_tuple(boost::asio::use_awaitable_t<connection_executor>{});

struct tls_io_result {
    boost::system::error_code ec;
    std::size_t bytes = 0;
};

class tls_stream {
public:
    // Creates the SSL object from `context` (which must outlive the stream) in server mode.
    // Without a context the stream is plain TCP (the server's plain-HTTP mode, for loopback tools
    // such as the dashboard): reads and writes go straight to the socket, the handshake and
    // shutdown do nothing but the TCP half-close.
    tls_stream(connection_socket&& socket, boost::asio::ssl::context* context);
    ~tls_stream();
    tls_stream(const tls_stream&) = delete;
    tls_stream& operator=(const tls_stream&) = delete;

    connection_socket& socket() { return transport_.socket; }
    SSL* native_handle() { return ssl_; }

    // The handshake; `already_read` is what TLS detection took from the socket, read first.
    connection_task<boost::system::error_code> handshake(std::string_view already_read);
    // Up to `size` bytes of plaintext (at most one record's). net::error::eof once the peer's
    // close_notify has arrived; ssl::error::stream_truncated if the peer closed without one.
    connection_task<tls_io_result> read_some(void* data, std::size_t size);
    // All of it, or an error.
    connection_task<tls_io_result> write(const void* data, std::size_t size);
    // Sends close_notify and waits for the peer's (the caller bounds the wait).
    connection_task<tls_io_result> shutdown();

    // Bytes taken from the socket that no read has returned yet.
    bool has_buffered_input() const {
        return ssl_ != nullptr && (transport_.input_begin < transport_.input_end || SSL_has_pending(ssl_) == 1);
    }

    // What the BIO reads from and writes to; public for the BIO callbacks only.
    struct transport {
        static constexpr std::size_t input_capacity = 32 * 1024;  // a 20 KB review in one recv

        connection_socket socket;
        std::unique_ptr<char[]> input = std::make_unique<char[]>(input_capacity);
        std::size_t input_begin = 0, input_end = 0;  // what OpenSSL has not taken yet
        bool eof = false;                            // the peer closed its side of TCP
    };

private:
    enum class operation { handshake, read, write, shutdown };
    connection_task<tls_io_result> perform(operation op, void* data, std::size_t size);
    connection_task<tls_io_result> plain(operation op, void* data, std::size_t size);

    transport transport_;
    SSL* ssl_ = nullptr;
};

}  // namespace apr::server
