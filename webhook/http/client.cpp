#include "http/client.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <atomic>
#include <cctype>
#include <charconv>
#include <future>
#include <thread>

namespace apr::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using steady = std::chrono::steady_clock;

namespace {

// One connection, TLS or plain: a plain one uses the TLS stream's TCP layer only.
struct connection {
    beast::ssl_stream<beast::tcp_stream> stream;
    bool tls;
    beast::flat_buffer buffer;
    steady::time_point idle_since{};

    connection(net::any_io_executor ex, ssl::context& ctx, bool use_tls) : stream(ex, ctx), tls(use_tls) {}
    beast::tcp_stream& tcp_layer() { return beast::get_lowest_layer(stream); }
    void close() {
        boost::system::error_code ignored;
        tcp_layer().socket().close(ignored);
    }
};

// Lets a caller's stop_token reach a request in flight: touched only on the io thread.
struct cancel_slot {
    std::shared_ptr<connection> conn;
    net::steady_timer* throttle_wait = nullptr;  // while waiting out a Retry-After
    bool cancelled = false;
};

// client-go's rest client retries a throttled request up to 10 times (maxRetries), each after
// the Retry-After the API server asked for.
constexpr int max_throttle_retries = 10;

// How long the server asked us to wait before sending the same request again, or nullopt when
// the answer is final. 429 means the request was not processed, so any verb may be sent again;
// a 5xx with Retry-After only for GET, which cannot do anything twice. As client-go, a 429
// without a usable Retry-After waits one second.
std::optional<std::chrono::seconds> throttle_delay(const bhttp::response<bhttp::string_body>& res, bhttp::verb verb) {
    const auto status = res.result_int();
    const bool too_many = status == 429;
    const bool unavailable = status >= 500 && verb == bhttp::verb::get;
    if (!too_many && !unavailable) return std::nullopt;
    const auto header = res[bhttp::field::retry_after];
    long seconds = -1;
    if (!header.empty()) {
        auto [ptr, ec] = std::from_chars(header.data(), header.data() + header.size(), seconds);
        if (ec != std::errc{} || ptr != header.data() + header.size() || seconds < 0) seconds = -1;
    }
    if (seconds < 0) {
        if (!too_many) return std::nullopt;  // a plain 5xx is an answer, not a request to come back
        seconds = 1;
    }
    return std::chrono::seconds(seconds);
}

failure cancelled() {
    return {"Cancelled", "request cancelled", {}};
}

failure transport_failure(boost::system::error_code ec, const char* what) {
    return {ec == beast::error::timeout ? "Timeout" : "Transport", std::string(what) + ": " + ec.message(), ec};
}

bhttp::verb to_verb(method m) {
    switch (m) {
        case method::get:
            return bhttp::verb::get;
        case method::post:
            return bhttp::verb::post;
        case method::put:
            return bhttp::verb::put;
        case method::patch:
            return bhttp::verb::patch;
        case method::del:
            return bhttp::verb::delete_;
    }
    return bhttp::verb::get;
}

bool is_ip_literal(const std::string& host) {
    boost::system::error_code ec;
    net::ip::make_address(host, ec);
    return !ec;
}

}  // namespace

parsed_url parse_url(std::string_view url) {
    parsed_url out;
    auto& o = out.where;
    if (url.starts_with("https://")) {
        url.remove_prefix(8);
    } else if (url.starts_with("http://")) {
        o.tls = false;
        o.port = "80";
        url.remove_prefix(7);
    } else {
        out.error = "not an http:// or https:// URL";
        return out;
    }
    const auto slash = url.find('/');
    auto authority = url.substr(0, slash);
    o.base_path = slash == std::string_view::npos ? "" : std::string(url.substr(slash));
    if (!o.base_path.empty() && o.base_path.back() == '/') o.base_path.pop_back();
    if (authority.starts_with('[')) {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) {
            out.error = "unterminated IPv6 address";
            return out;
        }
        o.host = std::string(authority.substr(1, close - 1));
        authority.remove_prefix(close + 1);
        if (authority.starts_with(':')) o.port = std::string(authority.substr(1));
    } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
        o.host = std::string(authority.substr(0, colon));
        o.port = std::string(authority.substr(colon + 1));
    } else {
        o.host = std::string(authority);
    }
    if (o.host.empty() || o.port.empty()) out.error = "no host or port";
    return out;
}

struct client::impl {
    origin where;
    options opts;
    ssl::context ssl_ctx{ssl::context::tls_client};
    std::string verify_name;
    std::string host_header;

    net::io_context ioc{1};
    net::executor_work_guard<net::io_context::executor_type> work{ioc.get_executor()};
    std::vector<std::shared_ptr<connection>> idle;  // touched only on the io thread
    std::atomic<std::size_t> opened{0};
    std::thread io_thread;

    impl(origin w, options o) : where(std::move(w)), opts(std::move(o)) {
        SSL_CTX_set_min_proto_version(ssl_ctx.native_handle(), TLS1_2_VERSION);
        boost::system::error_code ec;
        if (!where.ca_pem.empty()) {
            ssl_ctx.add_certificate_authority(net::buffer(where.ca_pem), ec);
            if (ec) throw std::runtime_error("certificate authority is not a PEM certificate: " + ec.message());
        } else {
            ssl_ctx.set_default_verify_paths();
        }
        ssl_ctx.set_verify_mode(where.insecure_skip_tls_verify ? ssl::verify_none : ssl::verify_peer);
        if (!where.client_cert_pem.empty()) {
            ssl_ctx.use_certificate_chain(net::buffer(where.client_cert_pem), ec);
            if (ec) throw std::runtime_error("client certificate: " + ec.message());
            ssl_ctx.use_private_key(net::buffer(where.client_key_pem), ssl::context::pem, ec);
            if (ec) throw std::runtime_error("client key: " + ec.message());
        }
        verify_name = where.tls_server_name.empty() ? where.host : where.tls_server_name;
        host_header =
            (where.host.find(':') != std::string::npos ? "[" + where.host + "]" : where.host) + ":" + where.port;
        io_thread = std::thread([this] { ioc.run(); });
    }

    ~impl() {
        work.reset();
        net::post(ioc, [this] {
            for (auto& c : idle) c->close();
            idle.clear();
        });
        if (io_thread.joinable()) io_thread.join();
    }

    bhttp::request<bhttp::string_body> make_request(const request& r) const {
        bhttp::request<bhttp::string_body> req{to_verb(r.verb), where.base_path + r.path, 11};
        req.set(bhttp::field::host, host_header);
        req.set(bhttp::field::user_agent, opts.user_agent);
        req.set(bhttp::field::accept, "application/json");
        for (const auto& h : r.headers) req.set(h.name, h.value);
        if (!r.body.empty() || r.verb == method::post || r.verb == method::put || r.verb == method::patch) {
            req.set(bhttp::field::content_type,
                    r.content_type.empty() ? std::string_view("application/json") : std::string_view(r.content_type));
            req.body() = r.body;
        }
        req.prepare_payload();
        return req;
    }

    // Opens a connection (and verifies TLS); the deadline covers resolve, connect and handshake.
    net::awaitable<std::shared_ptr<connection>> connect(steady::time_point deadline, boost::system::error_code& ec) {
        auto ex = co_await net::this_coro::executor;
        tcp::resolver resolver(ex);
        auto endpoints =
            co_await resolver.async_resolve(where.host, where.port, net::redirect_error(net::use_awaitable, ec));
        if (ec) co_return nullptr;
        auto conn = std::make_shared<connection>(ex, ssl_ctx, where.tls);
        if (where.tls) {
            if (!where.insecure_skip_tls_verify)
                conn->stream.set_verify_callback(ssl::host_name_verification(verify_name));
            // SNI carries DNS names only (RFC 6066 forbids IP literals there).
            if (!is_ip_literal(verify_name))
                SSL_set_tlsext_host_name(conn->stream.native_handle(), verify_name.c_str());
        }
        conn->tcp_layer().expires_at(deadline);
        co_await conn->tcp_layer().async_connect(endpoints, net::redirect_error(net::use_awaitable, ec));
        if (ec) co_return nullptr;
        // A watch may legitimately be silent for minutes; TCP keep-alive (30 s, as client-go's
        // dialer) is what notices a server that vanished without closing the connection.
        auto& socket = conn->tcp_layer().socket();
        boost::system::error_code opt_ec;
        socket.set_option(net::socket_base::keep_alive(true), opt_ec);
        const int idle_s = 30, interval = 10, count = 3;
        ::setsockopt(socket.native_handle(), IPPROTO_TCP, TCP_KEEPIDLE, &idle_s, sizeof idle_s);
        ::setsockopt(socket.native_handle(), IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
        ::setsockopt(socket.native_handle(), IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
        if (where.tls) {
            co_await conn->stream.async_handshake(ssl::stream_base::client,
                                                  net::redirect_error(net::use_awaitable, ec));
            if (ec) co_return nullptr;
        }
        ++opened;
        co_return conn;
    }

    static net::awaitable<std::size_t> write(connection& c, bhttp::request<bhttp::string_body>& req,
                                             boost::system::error_code& ec) {
        auto token = net::redirect_error(net::use_awaitable, ec);
        if (c.tls) co_return co_await bhttp::async_write(c.stream, req, token);
        co_return co_await bhttp::async_write(c.tcp_layer(), req, token);
    }

    template <class Parser>
    static net::awaitable<std::size_t> read(connection& c, Parser& parser, boost::system::error_code& ec) {
        auto token = net::redirect_error(net::use_awaitable, ec);
        if (c.tls) co_return co_await bhttp::async_read(c.stream, c.buffer, parser, token);
        co_return co_await bhttp::async_read(c.tcp_layer(), c.buffer, parser, token);
    }

    template <class Parser>
    static net::awaitable<std::size_t> read_header(connection& c, Parser& parser, boost::system::error_code& ec) {
        auto token = net::redirect_error(net::use_awaitable, ec);
        if (c.tls) co_return co_await bhttp::async_read_header(c.stream, c.buffer, parser, token);
        co_return co_await bhttp::async_read_header(c.tcp_layer(), c.buffer, parser, token);
    }

    template <class Parser>
    static net::awaitable<std::size_t> read_some(connection& c, Parser& parser, boost::system::error_code& ec) {
        auto token = net::redirect_error(net::use_awaitable, ec);
        if (c.tls) co_return co_await bhttp::async_read_some(c.stream, c.buffer, parser, token);
        co_return co_await bhttp::async_read_some(c.tcp_layer(), c.buffer, parser, token);
    }

    std::shared_ptr<connection> take_idle() {
        auto now = steady::now();
        while (!idle.empty()) {
            auto c = std::move(idle.back());
            idle.pop_back();
            if (now - c->idle_since < opts.max_idle) return c;
        }
        return nullptr;
    }

    net::awaitable<void> unary(bhttp::request<bhttp::string_body> req, std::chrono::milliseconds timeout,
                               std::shared_ptr<cancel_slot> cancel, result<reply>& out) {
        const auto deadline = steady::now() + timeout;
        bool may_reuse = true;
        int throttled = 0;
        for (;;) {
            boost::system::error_code ec;
            std::shared_ptr<connection> conn;
            bool reused = false;
            if (may_reuse)
                if ((conn = take_idle())) reused = true;
            if (!conn) {
                conn = co_await connect(deadline, ec);
                if (ec) {
                    out = transport_failure(ec, "connect");
                    co_return;
                }
            }
            cancel->conn = conn;
            if (cancel->cancelled) {
                out = cancelled();
                co_return;
            }
            conn->tcp_layer().expires_at(deadline);
            co_await write(*conn, req, ec);
            bhttp::response_parser<bhttp::string_body> parser;
            parser.body_limit(opts.max_body_bytes);
            if (!ec) co_await read(*conn, parser, ec);
            if (ec) {
                cancel->conn.reset();
                if (cancel->cancelled) {
                    out = cancelled();
                    co_return;
                }
                // A pooled connection the server already closed fails before any answer:
                // retry once on a fresh connection.
                if (reused && ec != beast::error::timeout && !parser.got_some()) {
                    may_reuse = false;
                    continue;
                }
                out = transport_failure(ec, "request");
                co_return;
            }
            cancel->conn.reset();
            auto res = parser.release();
            if (res.keep_alive() && idle.size() < 16) {
                conn->tcp_layer().expires_never();
                conn->idle_since = steady::now();
                idle.push_back(std::move(conn));
            }
            const auto delay = opts.retry_throttled ? throttle_delay(res, req.method()) : std::nullopt;
            if (!delay || throttled == max_throttle_retries || steady::now() + *delay >= deadline) {
                out = reply{res.result_int(), std::move(res.body())};
                co_return;
            }
            if (cancel->cancelled) {
                out = cancelled();
                co_return;
            }
            ++throttled;
            if (opts.on_retry)
                opts.on_retry(std::string(req.method_string()) + " " + std::string(req.target()) +
                                  ": server answered " + std::to_string(res.result_int()) + ", retrying in " +
                                  std::to_string(delay->count()) + "s as asked (retry " + std::to_string(throttled) +
                                  " of " + std::to_string(max_throttle_retries) + ")",
                              throttled);
            net::steady_timer wait(co_await net::this_coro::executor, *delay);
            cancel->throttle_wait = &wait;
            co_await wait.async_wait(net::redirect_error(net::use_awaitable, ec));
            cancel->throttle_wait = nullptr;
            if (cancel->cancelled) {
                out = cancelled();
                co_return;
            }
        }
    }

    net::awaitable<void> watch(bhttp::request<bhttp::string_body> req, std::chrono::seconds idle_timeout,
                               const stream_handler& on_bytes, std::stop_token stop, std::shared_ptr<connection>& slot,
                               result<stream_status>& out) {
        boost::system::error_code ec;
        auto conn = co_await connect(steady::now() + opts.request_timeout, ec);
        if (ec) {
            out = transport_failure(ec, "connect");
            co_return;
        }
        slot = conn;
        // A stop requested while connecting found no socket to close.
        if (stop.stop_requested()) co_return;
        conn->tcp_layer().expires_after(opts.request_timeout);
        co_await write(*conn, req, ec);
        bhttp::response_parser<bhttp::buffer_body> parser;
        parser.body_limit(boost::none);  // a watch body is unbounded
        if (!ec) co_await read_header(*conn, parser, ec);
        if (ec) {
            out = transport_failure(ec, "watch");
            co_return;
        }
        stream_status status{parser.get().result_int(), {}};
        std::vector<char> buf(64 * 1024);
        while (!parser.is_done()) {
            parser.get().body().data = buf.data();
            parser.get().body().size = buf.size();
            conn->tcp_layer().expires_after(idle_timeout);
            co_await read_some(*conn, parser, ec);
            if (ec == bhttp::error::need_buffer) ec = {};
            std::size_t n = buf.size() - parser.get().body().size;
            if (n > 0) {
                std::string_view bytes(buf.data(), n);
                if (status.status != 200) {
                    if (status.error_body.size() < 1 << 20) status.error_body.append(bytes);
                } else if (!on_bytes(bytes)) {
                    out = status;
                    co_return;
                }
            }
            if (ec) break;
        }
        if (ec && status.status == 200) {
            out = transport_failure(ec, "watch");
            co_return;
        }
        out = std::move(status);
    }

    result<reply> run_unary(bhttp::request<bhttp::string_body> req, std::chrono::milliseconds timeout,
                            std::stop_token stop) {
        if (ioc.get_executor().running_in_this_thread())
            return failure{"Deadlock", "blocking request made on the client's own io thread", {}};
        result<reply> out = failure{};
        std::promise<void> done;
        auto fut = done.get_future();
        auto cancel = std::make_shared<cancel_slot>();
        // Closing the socket from the io thread makes the pending operation fail at once.
        std::stop_callback on_stop(stop, [this, cancel] {
            net::post(ioc, [cancel] {
                cancel->cancelled = true;
                if (cancel->conn) cancel->conn->close();
                if (cancel->throttle_wait) cancel->throttle_wait->cancel();
            });
        });
        net::co_spawn(ioc, unary(std::move(req), timeout, cancel, out), [&done](std::exception_ptr e) {
            if (e)
                done.set_exception(e);
            else
                done.set_value();
        });
        try {
            fut.get();
        } catch (const std::exception& e) {
            return failure{"Internal", e.what(), {}};
        }
        return out;
    }
};

client::client(origin where, options opts) : impl_(std::make_unique<impl>(std::move(where), std::move(opts))) {}

client::~client() = default;

const origin& client::where() const {
    return impl_->where;
}

const options& client::opts() const {
    return impl_->opts;
}

std::size_t client::connections_opened() const {
    return impl_->opened.load();
}

result<reply> client::send(const request& r, std::stop_token stop) {
    const auto timeout = r.timeout.count() > 0 ? r.timeout : impl_->opts.request_timeout;
    return impl_->run_unary(impl_->make_request(r), timeout, std::move(stop));
}

result<stream_status> client::stream(const request& r, const stream_handler& on_bytes, std::stop_token stop,
                                     std::chrono::seconds idle_timeout) {
    net::io_context local(1);
    result<stream_status> out = failure{};
    std::shared_ptr<connection> slot;
    // Stopping closes the socket from the loop's own thread; the pending operation then fails
    // and the coroutine ends normally, so nothing is torn down mid-operation.
    std::stop_callback on_stop(stop, [&] {
        net::post(local, [&] {
            if (slot) slot->close();
        });
    });
    std::exception_ptr error;
    net::co_spawn(local, impl_->watch(impl_->make_request(r), idle_timeout, on_bytes, stop, slot, out),
                  [&error](std::exception_ptr e) { error = e; });
    local.run();
    if (stop.stop_requested()) return stream_status{200, {}};
    if (error) {
        try {
            std::rethrow_exception(error);
        } catch (const std::exception& e) {
            return failure{"Internal", e.what(), {}};
        } catch (...) {
            return failure{"Internal", "unknown exception in stream", {}};
        }
    }
    return out;
}

std::string query_escape(std::string_view s) {
    static const char hex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 15]);
        }
    }
    return out;
}

}  // namespace apr::http
