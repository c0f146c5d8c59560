#include "session.hpp"

#include "http_request.hpp"
#include "https_server.hpp"
#include "response.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/detect_ssl.hpp>

#include <algorithm>
#include <limits>
#include <sstream>

// GCC 12 pairs the operator delete of Asio's coroutine frames with the aligned_alloc inside
// Asio's recycling allocator and warns; that allocator releases the frame with free(), so the
// pair is right (a known false positive with Boost 1.81's awaitable frames).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace apr::server {

namespace beast = boost::beast;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

// A connection keeps its body buffer between requests (no allocation per request once it has
// seen the usual size), but not an unusually large one: 500 idle connections that each once
// received a 7 MiB body must not pin 3.5 GB.
constexpr std::size_t kept_body_capacity = 1024 * 1024;

bool looks_like_http(const beast::flat_buffer& buffer) {
    const auto data = buffer.data();
    std::string_view const s(static_cast<const char*>(data.data()), data.size());
    std::size_t i = 0;
    while (i < s.size() && s[i] >= 'A' && s[i] <= 'Z') {
        ++i;
    }
    return i > 0 && (i == s.size() || s[i] == ' ');
}

std::string describe_endpoint(const connection_socket& socket) {
    boost::system::error_code ec;
    const auto ep = socket.remote_endpoint(ec);
    if (ec) {
        return "unknown";
    }
    std::ostringstream ss;
    ss << ep;
    return ss.str();
}

}  // namespace

session::session(const session_shared& shared, worker& home, connection_socket&& socket,
                 std::shared_ptr<boost::asio::ssl::context> context)
    : shared_(shared),
      home_(home),
      context_(std::move(context)),
      tls_(std::move(socket), context_.get()),
      watchdog_(home.ioc.get_executor()) {}

session::~session() {
    shared_.on_end(this);
}

void session::start() {
    net::co_spawn(home_.ioc.get_executor(), run(shared_from_this()), [&log = shared_.log](std::exception_ptr e) {
        if (!e) {
            return;
        }
        // Only allocation failures and bugs get here: the request path uses error
        // codes and handler exceptions are caught where the handler is called.
        try {
            std::rethrow_exception(e);
        } catch (std::exception const& ex) {
            log(log_level::error, std::string("connection ended by exception: ") + ex.what());
        } catch (...) {
            log(log_level::error, "connection ended by unknown exception");
        }
    });
}

connection_task<void> session::run([[maybe_unused]] std::shared_ptr<session> self) {
    // `self` holds the session for as long as the coroutine runs.
    // However the connection ends (even by an exception), the watchdog lets go of it.
    struct watchdog_stop {
        session& s;
        ~watchdog_stop() { s.stop_watchdog(); }
    } const stop_watchdog_on_exit{*this};
    peer_ = describe_endpoint(socket());

    // Detection and handshake together are bounded by read_timeout.
    set_deadline(shared_.options.read_timeout);
    arm_watchdog();
    // Without a certificate the server speaks plain HTTP (server_options::plain_http).
    if (!context_ || (co_await detect() && co_await handshake())) {
        co_await serve();
    }
    co_await goodbye();
}

// TLS or not, from the first bytes: plain HTTP gets a readable 400 rather than a handshake
// alert the client would print as garbage.
connection_task<bool> session::detect() {
    auto [ec, is_tls] = co_await beast::async_detect_ssl(socket(), buffer_, on_connection);
    if (ec) {
        fail(step::detect, ec);
        co_return false;
    }
    if (is_tls) {
        co_return true;
    }
    fail(step::not_tls, {});
    if (looks_like_http(buffer_)) {
        static constexpr std::string_view answer =
            "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Connection: close\r\nContent-Length: 48\r\n\r\n"
            "Client sent an HTTP request to an HTTPS server.\n";
        set_deadline(shared_.options.write_timeout);
        co_await net::async_write(socket(), net::buffer(answer), on_connection);
    }
    boost::system::error_code ignored;
    socket().shutdown(tcp::socket::shutdown_send, ignored);
    co_return false;
}

connection_task<bool> session::handshake() {
    // What detection read is the start of the ClientHello: the handshake reads it first.
    const auto detected = buffer_.data();
    const auto ec =
        co_await tls_.handshake(std::string_view(static_cast<const char*>(detected.data()), detected.size()));
    buffer_.clear();
    if (ec) {
        fail(step::handshake, ec);
        co_return false;
    }
    co_return true;
}

// Requests one after another until the client closes, a request says close, the server drains,
// or something fails.
connection_task<void> session::serve() {
    const auto& options = shared_.options;
    for (;;) {
        if (buffer_.size() == 0) {
            // Idle between requests: wait for the first byte as long as a keep-alive client may.
            if (shared_.draining) {
                co_return;
            }
            if (!tls_.has_buffered_input()) {
                // The client sends its next request only once it has read this answer; the other
                // connections ready on this thread go first, so that by the time this one reads, the
                // request is usually there and the read does not end in EAGAIN and an epoll round.
                co_await net::post(home_.ioc.get_executor(), net::use_awaitable_t<connection_executor>{});
                if (shared_.draining) {
                    co_return;
                }
            }
            set_deadline(options.idle_timeout);
            idle_ = true;
            const auto space = buffer_.prepare(16 * 1024);
            auto [ec, n] = co_await tls_.read_some(space.data(), space.size());
            idle_ = false;
            if (ec) {
                // eof: the client's close_notify (answer it); our drain: say goodbye; timeout (the
                // watchdog closed the socket), truncation or reset: nothing can be sent. The usual end
                // of a keep-alive connection, so not a failure.
                goodbye_ = !timed_out_ && (ec == net::error::eof || ec == net::error::operation_aborted);
                co_return;
            }
            buffer_.commit(n);
        }

        // From the first byte the whole request must arrive within read_timeout, however slowly
        // it trickles: this is what cuts off a slowloris client.
        set_deadline(options.read_timeout);
        if (body_.capacity() > kept_body_capacity) {
            std::string().swap(body_);
        }
        body_.clear();
        request_parser parser(std::piecewise_construct, std::forward_as_tuple(std::move(body_)));
        parser.header_limit(static_cast<std::uint32_t>(
            std::min<std::size_t>(options.header_limit, std::numeric_limits<std::uint32_t>::max())));
        parser.body_limit(options.body_limit);
        parser.eager(true);
        if (const auto ec = co_await read_request(tls_, buffer_, parser)) {
            auto rejection = timed_out_ ? std::nullopt : rejection_for(ec, options.body_limit, options.header_limit);
            if (!rejection) {
                fail(step::read, ec);
                co_return;
            }
            // The start line is parsed before any header limit trips, so the target is known here.
            rejection->route = shared_.routes.route_label(path_of(parser.get().target()));
            shared_.metrics.requests.with({rejection->route, rejection->outcome, std::to_string(rejection->status)})
                .inc();
            shared_.log(log_level::info, "rejected request: " + std::to_string(rejection->status) + " " +
                                             rejection->outcome + " route=" + std::string(rejection->route));
            // The rest of the request is unread, so the connection cannot carry another one.
            render_response(response_, *rejection, 11, false);
            set_deadline(options.write_timeout);
            co_await tls_.write(response_.data(), response_.size());
            co_return;
        }

        const auto started = std::chrono::steady_clock::now();
        shared_.metrics.in_flight.inc();
        request& req = parser.get();
        const response_parts parts = shared_.routes.answer(
            {req.method_string(), req.target(), req[beast::http::field::content_type], req.body(), &req.base()},
            shared_.stopping);
        const bool keep_alive = req.keep_alive() && !shared_.draining;
        render_response(response_, parts, req.version(), keep_alive);
        body_ = std::move(req.body());
        // Counted before the write: once the client has its answer the metrics already show it.
        shared_.metrics.in_flight.dec();
        home_.metrics.record(shared_.metrics, parts.route, parts.outcome, parts.status, started);
        set_deadline(options.write_timeout);
        const auto [wec, written] = co_await tls_.write(response_.data(), response_.size());
        if (wec) {
            fail(step::write, wec);
            co_return;
        }
        if (!keep_alive) {
            co_return;
        }
    }
}

connection_task<void> session::goodbye() {
    if (goodbye_ && !timed_out_) {
        // Bounded: a peer that never answers our close_notify must not hold the connection.
        set_deadline(
            std::min<std::chrono::steady_clock::duration>(shared_.options.write_timeout, std::chrono::seconds(5)));
        co_await tls_.shutdown();
    }
    boost::system::error_code ignored;
    socket().close(ignored);
}

// Every early end goes through here: a connection that never completed the TLS handshake is
// counted (argocd_progressive_rollout_tls_handshake_failures_total), the reason is logged at debug with the peer and
// never any data, and no close_notify follows, since the peer is gone, silent or not speaking
// TLS.
void session::fail(step where, boost::system::error_code ec) {
    goodbye_ = false;
    std::string_view what;
    switch (where) {
        case step::not_tls:
            shared_.metrics.handshake_failures.inc();
            shared_.log(log_level::debug, "non-TLS bytes on the TLS port peer=" + peer_);
            return;
        case step::detect:
            shared_.metrics.handshake_failures.inc();
            what = "tls detect";
            break;
        case step::handshake:
            shared_.metrics.handshake_failures.inc();
            what = "tls handshake";
            break;
        case step::read:
            what = "read";
            break;
        case step::write:
            what = "write";
            break;
    }
    shared_.log(log_level::debug, std::string(what) + " failed peer=" + peer_ + ": " +
                                      (timed_out_ ? std::string("timeout") : ec.message()));
}

void session::interrupt_if_idle() {
    net::post(home_.ioc, [self = shared_from_this()] {
        // Bytes already received are a request the client has sent: let it be read and served.
        boost::system::error_code ec;
        if (self->idle_ && self->socket().available(ec) == 0 && !self->tls_.has_buffered_input()) {
            self->socket().cancel(ec);
        }
    });
}

void session::close_now() {
    net::post(home_.ioc, [self = shared_from_this()] {
        boost::system::error_code ignored;
        self->socket().close(ignored);
    });
}

// ---- the deadline ----
// One timer per connection instead of one per I/O operation: the session only stores when the
// current phase must end (idle, reading a request, writing, closing), and the watchdog wakes up
// at that deadline or earlier, re-arming when the deadline has moved on. Because it never
// sleeps longer than the shortest timeout, any deadline set later is still ahead of it, and the
// request path costs a clock read and a store, not a timer operation.

void session::set_deadline(std::chrono::steady_clock::duration timeout) {
    deadline_ = std::chrono::steady_clock::now() + timeout;
    if (deadline_ < watchdog_.expiry()) {
        arm_watchdog();  // a phase shorter than the watchdog's period: wake up in time for it
    }
}

void session::arm_watchdog() {
    const auto now = std::chrono::steady_clock::now();
    watchdog_.expires_at(std::min(deadline_, now + shared_.watchdog_period));
    watchdog_.async_wait([self = shared_from_this()](boost::system::error_code ec) { self->on_watchdog(ec); });
}

void session::on_watchdog(boost::system::error_code ec) {
    if (ec || finished_) {
        return;  // cancelled: re-armed for an earlier deadline, or the connection is over
    }
    if (std::chrono::steady_clock::now() < deadline_) {
        arm_watchdog();
        return;
    }
    // As beast::tcp_stream does on a timeout: close, so that the pending operation ends and the
    // session sees it fail with timed_out_ set.
    timed_out_ = true;
    boost::system::error_code ignored;
    socket().close(ignored);
}

void session::stop_watchdog() {
    finished_ = true;
    watchdog_.cancel();
}

}  // namespace apr::server
