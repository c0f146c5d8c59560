// OpenSSL over a connection's socket with a BIO of our own, driven by C++20 coroutines.
#include "tls_stream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <openssl/bio.h>
#include <openssl/err.h>

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>

namespace apr::server {

namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

namespace {

tls_stream::transport& transport_of(BIO* bio) {
    return *static_cast<tls_stream::transport*>(BIO_get_data(bio));
}

// Hands OpenSSL what the input buffer holds; when it is empty, "retry", and perform() reads the
// socket into it.
int transport_read(BIO* bio, char* out, std::size_t size, std::size_t* read) {
    auto& t = transport_of(bio);
    BIO_clear_retry_flags(bio);
    *read = 0;
    if (t.input_begin < t.input_end) {
        std::size_t const n = std::min(size, t.input_end - t.input_begin);
        std::memcpy(out, t.input.get() + t.input_begin, n);
        t.input_begin += n;
        if (t.input_begin == t.input_end) {
            t.input_begin = t.input_end = 0;
        }
        *read = n;
        return 1;
    }
    if (!t.eof) {
        BIO_set_retry_read(bio);
    }
    return 0;  // with eof set and no retry, OpenSSL sees the end of the stream
}

// OpenSSL's own socket BIO writes with write(2), which raises SIGPIPE on a connection the peer
// has reset; send(MSG_NOSIGNAL) does not. The descriptor is asked of the socket on every call:
// once the session has closed it, send fails with EBADF instead of reaching whatever
// connection reuses the number.
int transport_write(BIO* bio, const char* in, std::size_t size, std::size_t* written) {
    auto& t = transport_of(bio);
    BIO_clear_retry_flags(bio);
    *written = 0;
    for (;;) {
        const ssize_t n = ::send(t.socket.native_handle(), in, size, MSG_NOSIGNAL);
        if (n >= 0) {
            *written = static_cast<std::size_t>(n);
            return 1;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            BIO_set_retry_write(bio);
        }
        return 0;
    }
}

long transport_ctrl(BIO* bio, int command, long, void*) {
    switch (command) {
        case BIO_CTRL_FLUSH:
            return 1;  // nothing is buffered here
        case BIO_CTRL_EOF:
            // How OpenSSL tells a peer that vanished (unexpected EOF) from a transient error.
            return transport_of(bio).eof ? 1 : 0;
        default:
            return 0;
    }
}

BIO_METHOD const* transport_method() {
    static BIO_METHOD* const method = [] {
        BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "apr connection");
        if (m == nullptr) {
            throw std::bad_alloc();
        }
        BIO_meth_set_read_ex(m, transport_read);
        BIO_meth_set_write_ex(m, transport_write);
        BIO_meth_set_ctrl(m, transport_ctrl);
        BIO_meth_set_create(m, [](BIO* bio) {
            BIO_set_init(bio, 1);
            return 1;
        });
        return m;
    }();
    return method;
}

// The error codes asio::ssl::stream gave, which the session and its logs already speak.
boost::system::error_code error_of(int ssl_error, int saved_errno, bool transport_eof) {
    switch (ssl_error) {
        case SSL_ERROR_ZERO_RETURN:
            return net::error::eof;  // the peer's close_notify
        case SSL_ERROR_SYSCALL:
            if (const unsigned long e = ERR_get_error(); e != 0) {
                return {static_cast<int>(e), net::error::get_ssl_category()};
            }
            if (saved_errno != 0 && !transport_eof) {
                return {saved_errno, boost::system::system_category()};
            }
            return ssl::error::stream_truncated;
        case SSL_ERROR_SSL: {
            const unsigned long e = ERR_get_error();
            if (ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
                return ssl::error::stream_truncated;
            }
            return {static_cast<int>(e), net::error::get_ssl_category()};
        }
        default:
            return {static_cast<int>(ERR_get_error()), net::error::get_ssl_category()};
    }
}

}  // namespace

tls_stream::tls_stream(connection_socket&& socket, ssl::context* context) : transport_{std::move(socket)} {
    boost::system::error_code ignored;
    transport_.socket.non_blocking(true, ignored);  // our own recv/send must never block
    if (context == nullptr) {
        return;  // plain TCP
    }
    ssl_ = SSL_new(context->native_handle());
    BIO* bio = ssl_ ? BIO_new(transport_method()) : nullptr;
    if (bio == nullptr) {
        SSL_free(ssl_);
        throw std::bad_alloc();
    }
    BIO_set_data(bio, &transport_);
    SSL_set_bio(ssl_, bio, bio);  // the SSL object owns the BIO from here
    SSL_set_accept_state(ssl_);
    // Keeping the record buffers costs ~50 KB per connection; releasing them (Asio's choice) made
    // every record a malloc/free, which showed in profiles as heap trims and page faults.
    SSL_clear_mode(ssl_, SSL_MODE_RELEASE_BUFFERS);
    // Take whole records (and more) per BIO read rather than header, then body.
    SSL_set_read_ahead(ssl_, 1);
}

tls_stream::~tls_stream() {
    SSL_free(ssl_);
}

connection_task<boost::system::error_code> tls_stream::handshake(std::string_view already_read) {
    // TLS detection reads at most a couple of KB, far less than the buffer holds.
    std::size_t const n = std::min(already_read.size(), transport::input_capacity);
    std::memcpy(transport_.input.get(), already_read.data(), n);
    transport_.input_begin = 0;
    transport_.input_end = n;
    const auto result = co_await perform(operation::handshake, nullptr, 0);
    co_return result.ec;
}

connection_task<tls_io_result> tls_stream::read_some(void* data, std::size_t size) {
    return perform(operation::read, data, size);
}

connection_task<tls_io_result> tls_stream::write(const void* data, std::size_t size) {
    return perform(operation::write, const_cast<void*>(data), size);
}

connection_task<tls_io_result> tls_stream::shutdown() {
    return perform(operation::shutdown, nullptr, 0);
}

// Plain TCP: what the TLS operations become without TLS. Same error codes as with it (eof when
// the peer closed), so the session cannot tell.
connection_task<tls_io_result> tls_stream::plain(operation op, void* data, std::size_t size) {
    auto& socket = transport_.socket;
    switch (op) {
        case operation::handshake:
            co_return tls_io_result{};
        case operation::read: {
            auto [ec, n] = co_await socket.async_read_some(net::buffer(data, size), on_connection);
            co_return tls_io_result{ec, n};
        }
        case operation::write: {
            auto [ec, n] = co_await net::async_write(socket, net::buffer(data, size), on_connection);
            co_return tls_io_result{ec, n};
        }
        case operation::shutdown: {
            boost::system::error_code ec;
            socket.shutdown(tcp::socket::shutdown_send, ec);
            co_return tls_io_result{ec, 0};
        }
    }
    co_return tls_io_result{};
}

connection_task<tls_io_result> tls_stream::perform(operation op, void* data, std::size_t size) {
    if (ssl_ == nullptr) {
        co_return co_await plain(op, data, size);
    }
    for (;;) {
        // OpenSSL's error queue is per thread and SSL_get_error reads it: start each call clean.
        ERR_clear_error();
        errno = 0;
        std::size_t done = 0;
        int result = 0;
        switch (op) {
            case operation::handshake:
                result = SSL_do_handshake(ssl_);
                break;
            case operation::read:
                result = SSL_read_ex(ssl_, data, size, &done);
                break;
            case operation::write:
                // Without SSL_MODE_ENABLE_PARTIAL_WRITE this succeeds only once all of it is sent; after
                // WANT_WRITE OpenSSL resumes where it stopped, given the same arguments.
                result = SSL_write_ex(ssl_, data, size, &done);
                break;
            case operation::shutdown:
                result = SSL_shutdown(ssl_);
                if (result == 0) {
                    result = SSL_shutdown(ssl_);  // ours is sent; now read the peer's close_notify
                }
                if (result == 0) {
                    result = 1;
                }
                break;
        }
        const int saved_errno = errno;
        if (result == 1) {
            co_return tls_io_result{{}, done};
        }
        const int error = SSL_get_error(ssl_, result);
        if (error == SSL_ERROR_WANT_READ) {
            // OpenSSL has taken everything buffered (transport_read resets an empty buffer to 0).
            auto& t = transport_;
            auto [ec, n] = co_await t.socket.async_read_some(
                net::buffer(t.input.get() + t.input_end, transport::input_capacity - t.input_end), on_connection);
            if (ec == net::error::eof) {
                t.eof = true;  // let OpenSSL tell a close_notify'd end from a truncated one
                continue;
            }
            if (ec) {
                co_return tls_io_result{ec, 0};
            }
            t.input_end += n;
            continue;
        }
        if (error == SSL_ERROR_WANT_WRITE) {
            // Rare (a full socket buffer): Asio's readiness wait costs an epoll_ctl, a send does not.
            auto [ec] = co_await transport_.socket.async_wait(tcp::socket::wait_write, on_connection);
            if (ec) {
                co_return tls_io_result{ec, 0};
            }
            continue;
        }
        co_return tls_io_result{error_of(error, saved_errno, transport_.eof), 0};
    }
}

}  // namespace apr::server
