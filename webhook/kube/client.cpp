#include "kube/client.hpp"

#include "kube/log.hpp"

#include "codec/input_limits.hpp"

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

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <atomic>
#include <charconv>
#include <optional>
#include <future>
#include <thread>
#include <vector>

namespace apr::kube {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using steady = std::chrono::steady_clock;

namespace {

struct connection {
    beast::ssl_stream<beast::tcp_stream> stream;
    beast::flat_buffer buffer;
    steady::time_point idle_since{};

    connection(net::any_io_executor ex, ssl::context& ctx) : stream(ex, ctx) {}
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

// How long the API server asked us to wait before sending the same request again, or nullopt
// when the answer is final. 429 (API Priority and Fairness, max-requests-inflight) means the
// request was not processed, so any verb may be sent again; a 5xx with Retry-After (an API server
// shutting down or overloaded) only for GET, which cannot do anything twice. As client-go, a
// 429 without a usable Retry-After waits one second.
std::optional<std::chrono::seconds> throttle_delay(const http::response<http::string_body>& res, http::verb verb) {
    const auto status = res.result_int();
    const bool too_many = status == 429;
    const bool unavailable = status >= 500 && verb == http::verb::get;
    if (!too_many && !unavailable) return std::nullopt;
    const auto header = res[http::field::retry_after];
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

api_error cancelled_error() {
    api_error e;
    e.reason = "Cancelled";
    e.message = "request cancelled";
    return e;
}

api_error transport_error(boost::system::error_code ec, const char* what) {
    api_error e;
    e.transport = ec;
    e.reason = ec == beast::error::timeout ? "Timeout" : "Transport";
    e.message = std::string(what) + ": " + ec.message();
    return e;
}

http::verb to_verb(method m) {
    switch (m) {
        case method::get:
            return http::verb::get;
        case method::post:
            return http::verb::post;
        case method::put:
            return http::verb::put;
        case method::patch:
            return http::verb::patch;
        case method::del:
            return http::verb::delete_;
    }
    return http::verb::get;
}

bool is_ip_literal(const std::string& host) {
    boost::system::error_code ec;
    net::ip::make_address(host, ec);
    return !ec;
}

}  // namespace

struct client::impl {
    cluster_config cfg;
    client_options opts;
    token_source tokens;
    ssl::context ssl_ctx{ssl::context::tls_client};
    std::string verify_name;
    std::string host_header;

    net::io_context ioc{1};
    net::executor_work_guard<net::io_context::executor_type> work{ioc.get_executor()};
    std::vector<std::shared_ptr<connection>> idle;  // touched only on the io thread
    std::atomic<std::size_t> opened{0};
    std::thread io_thread;

    impl(cluster_config c, client_options o) : cfg(std::move(c)), opts(std::move(o)), tokens(cfg, opts.token_refresh) {
        SSL_CTX_set_min_proto_version(ssl_ctx.native_handle(), TLS1_2_VERSION);
        boost::system::error_code ec;
        if (!cfg.ca_pem.empty()) {
            ssl_ctx.add_certificate_authority(net::buffer(cfg.ca_pem), ec);
            if (ec)
                throw std::runtime_error(cfg.source +
                                         ": certificate-authority is not a PEM "
                                         "certificate: " +
                                         ec.message());
        } else
            ssl_ctx.set_default_verify_paths();
        ssl_ctx.set_verify_mode(cfg.insecure_skip_tls_verify ? ssl::verify_none : ssl::verify_peer);
        if (!cfg.client_cert_pem.empty()) {
            ssl_ctx.use_certificate_chain(net::buffer(cfg.client_cert_pem), ec);
            if (ec) throw std::runtime_error(cfg.source + ": client-certificate: " + ec.message());
            ssl_ctx.use_private_key(net::buffer(cfg.client_key_pem), ssl::context::pem, ec);
            if (ec) throw std::runtime_error(cfg.source + ": client-key: " + ec.message());
        }
        verify_name = cfg.tls_server_name.empty() ? cfg.host : cfg.tls_server_name;
        host_header = (cfg.host.find(':') != std::string::npos ? "[" + cfg.host + "]" : cfg.host) + ":" + cfg.port;
        io_thread = std::thread([this] { ioc.run(); });
    }

    ~impl() {
        work.reset();
        net::post(ioc, [this] {
            for (auto& c : idle) {
                boost::system::error_code ignored;
                beast::get_lowest_layer(c->stream).socket().close(ignored);
            }
            idle.clear();
        });
        if (io_thread.joinable()) io_thread.join();
    }

    std::string target(std::string_view path) const { return cfg.base_path + std::string(path); }

    http::request<http::string_body> make_request(method m, std::string_view path, std::string_view body,
                                                  std::string_view content_type) {
        http::request<http::string_body> req{to_verb(m), target(path), 11};
        req.set(http::field::host, host_header);
        req.set(http::field::user_agent, opts.user_agent);
        req.set(http::field::accept, "application/json");
        if (auto tok = tokens.current(); !tok.empty()) req.set(http::field::authorization, "Bearer " + tok);
        if (!body.empty() || m == method::post || m == method::put || m == method::patch) {
            req.set(http::field::content_type,
                    content_type.empty() ? std::string_view("application/json") : content_type);
            req.body() = std::string(body);
        }
        req.prepare_payload();
        return req;
    }

    // Opens and verifies a TLS connection; the deadline covers resolve, connect and handshake.
    net::awaitable<std::shared_ptr<connection>> connect(steady::time_point deadline, boost::system::error_code& ec) {
        auto ex = co_await net::this_coro::executor;
        tcp::resolver resolver(ex);
        auto endpoints =
            co_await resolver.async_resolve(cfg.host, cfg.port, net::redirect_error(net::use_awaitable, ec));
        if (ec) co_return nullptr;
        auto conn = std::make_shared<connection>(ex, ssl_ctx);
        auto& ssl_handle = *conn->stream.native_handle();
        if (!cfg.insecure_skip_tls_verify) conn->stream.set_verify_callback(ssl::host_name_verification(verify_name));
        // SNI carries DNS names only (RFC 6066 forbids IP literals there).
        if (!is_ip_literal(verify_name)) SSL_set_tlsext_host_name(&ssl_handle, verify_name.c_str());
        beast::get_lowest_layer(conn->stream).expires_at(deadline);
        co_await beast::get_lowest_layer(conn->stream)
            .async_connect(endpoints, net::redirect_error(net::use_awaitable, ec));
        if (ec) co_return nullptr;
        // A watch may legitimately be silent for minutes; TCP keep-alive (30 s, as client-go's
        // dialer) is what notices an API server that vanished without closing the connection.
        auto& socket = beast::get_lowest_layer(conn->stream).socket();
        boost::system::error_code opt_ec;
        socket.set_option(net::socket_base::keep_alive(true), opt_ec);
        const int idle = 30, interval = 10, count = 3;
        ::setsockopt(socket.native_handle(), IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
        ::setsockopt(socket.native_handle(), IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
        ::setsockopt(socket.native_handle(), IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
        co_await conn->stream.async_handshake(ssl::stream_base::client, net::redirect_error(net::use_awaitable, ec));
        if (ec) co_return nullptr;
        ++opened;
        co_return conn;
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

    net::awaitable<void> unary(http::request<http::string_body> req, std::chrono::milliseconds timeout,
                               std::shared_ptr<cancel_slot> cancel, api_result<http_reply>& out) {
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
                    out = transport_error(ec, "connect");
                    co_return;
                }
            }
            cancel->conn = conn;
            if (cancel->cancelled) {
                out = cancelled_error();
                co_return;
            }
            auto& lowest = beast::get_lowest_layer(conn->stream);
            lowest.expires_at(deadline);
            co_await http::async_write(conn->stream, req, net::redirect_error(net::use_awaitable, ec));
            http::response_parser<http::string_body> parser;
            parser.body_limit(opts.max_body_bytes);
            if (!ec)
                co_await http::async_read(conn->stream, conn->buffer, parser,
                                          net::redirect_error(net::use_awaitable, ec));
            if (ec) {
                cancel->conn.reset();
                if (cancel->cancelled) {
                    out = cancelled_error();
                    co_return;
                }
                // A pooled connection the server already closed fails before any answer:
                // retry once on a fresh connection.
                if (reused && ec != beast::error::timeout && !parser.got_some()) {
                    may_reuse = false;
                    continue;
                }
                out = transport_error(ec, "request");
                co_return;
            }
            cancel->conn.reset();
            auto res = parser.release();
            if (res.keep_alive() && idle.size() < 16) {
                lowest.expires_never();
                conn->idle_since = steady::now();
                idle.push_back(std::move(conn));
            }
            const auto delay = throttle_delay(res, req.method());
            if (!delay || throttled == max_throttle_retries || steady::now() + *delay >= deadline) {
                out = http_reply{res.result_int(), std::move(res.body())};
                co_return;
            }
            if (cancel->cancelled) {
                out = cancelled_error();
                co_return;
            }
            ++throttled;
            // Once per request at info: sustained throttling would otherwise flood the log.
            log(throttled == 1 ? log_level::info : log_level::debug,
                std::string(req.method_string()) + " " + std::string(req.target()) + ": API server answered " +
                    std::to_string(res.result_int()) + ", retrying in " + std::to_string(delay->count()) +
                    "s as asked (retry " + std::to_string(throttled) + " of " + std::to_string(max_throttle_retries) +
                    ")");
            net::steady_timer wait(co_await net::this_coro::executor, *delay);
            cancel->throttle_wait = &wait;
            co_await wait.async_wait(net::redirect_error(net::use_awaitable, ec));
            cancel->throttle_wait = nullptr;
            if (cancel->cancelled) {
                out = cancelled_error();
                co_return;
            }
        }
    }

    net::awaitable<void> watch(http::request<http::string_body> req, std::chrono::seconds idle_timeout,
                               const stream_handler& on_bytes, std::stop_token stop, std::shared_ptr<connection>& slot,
                               api_result<void>& out) {
        boost::system::error_code ec;
        auto conn = co_await connect(steady::now() + opts.request_timeout, ec);
        if (ec) {
            out = transport_error(ec, "connect");
            co_return;
        }
        slot = conn;
        // A stop requested while connecting found no socket to close.
        if (stop.stop_requested()) co_return;
        auto& lowest = beast::get_lowest_layer(conn->stream);
        lowest.expires_after(opts.request_timeout);
        co_await http::async_write(conn->stream, req, net::redirect_error(net::use_awaitable, ec));
        http::response_parser<http::buffer_body> parser;
        parser.body_limit(boost::none);  // a watch body is unbounded
        if (!ec)
            co_await http::async_read_header(conn->stream, conn->buffer, parser,
                                             net::redirect_error(net::use_awaitable, ec));
        if (ec) {
            out = transport_error(ec, "watch");
            co_return;
        }
        const unsigned status = parser.get().result_int();
        std::string error_body;
        std::vector<char> buf(64 * 1024);
        while (!parser.is_done()) {
            parser.get().body().data = buf.data();
            parser.get().body().size = buf.size();
            lowest.expires_after(idle_timeout);
            co_await http::async_read_some(conn->stream, conn->buffer, parser,
                                           net::redirect_error(net::use_awaitable, ec));
            if (ec == http::error::need_buffer) ec = {};
            std::size_t n = buf.size() - parser.get().body().size;
            if (n > 0) {
                std::string_view bytes(buf.data(), n);
                if (status != 200) {
                    if (error_body.size() < 1 << 20) error_body.append(bytes);
                } else if (!on_bytes(bytes)) {
                    out = api_result<void>();
                    co_return;
                }
            }
            if (ec) break;
        }
        if (status != 200) {
            out = decode_status(status, error_body);
            co_return;
        }
        if (ec) {
            out = transport_error(ec, "watch");
            co_return;
        }
        out = api_result<void>();
    }

    api_result<http_reply> run_unary(http::request<http::string_body> req, std::chrono::milliseconds timeout,
                                     std::stop_token stop) {
        if (ioc.get_executor().running_in_this_thread()) {
            api_error e;
            e.reason = "Deadlock";
            e.message = "blocking kube call made on the client's own io thread";
            return e;
        }
        api_result<http_reply> out = api_error{};
        std::promise<void> done;
        auto fut = done.get_future();
        auto cancel = std::make_shared<cancel_slot>();
        // Closing the socket from the io thread makes the pending operation fail at once.
        std::stop_callback on_stop(stop, [this, cancel] {
            net::post(ioc, [cancel] {
                cancel->cancelled = true;
                if (cancel->conn) {
                    boost::system::error_code ignored;
                    beast::get_lowest_layer(cancel->conn->stream).socket().close(ignored);
                }
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
            api_error err;
            err.reason = "Internal";
            err.message = e.what();
            return err;
        }
        return out;
    }
};

client::client(cluster_config cfg, client_options opts)
    : impl_(std::make_unique<impl>(std::move(cfg), std::move(opts))) {}

client::~client() = default;

const cluster_config& client::config() const {
    return impl_->cfg;
}

const client_options& client::options() const {
    return impl_->opts;
}

std::size_t client::connections_opened() const {
    return impl_->opened.load();
}

api_result<http_reply> client::request(method m, std::string_view path, std::string_view body,
                                       std::string_view content_type, std::chrono::milliseconds timeout,
                                       std::stop_token stop) {
    if (timeout.count() <= 0) timeout = impl_->opts.request_timeout;
    return impl_->run_unary(impl_->make_request(m, path, body, content_type), timeout, std::move(stop));
}

namespace {

api_result<rapidjson::Document> to_document(api_result<http_reply> r) {
    if (!r) return r.error();
    if (r->status < 200 || r->status >= 300) return decode_status(r->status, r->body);
    rapidjson::Document d;
    const auto invalid = codec::parse_json(d, r->body);
    if (invalid || !d.IsObject()) {
        api_error e;
        e.code = static_cast<int>(r->status);
        e.reason = "BadResponse";
        e.message =
            invalid ? "response body is not valid JSON: " + invalid->to_string() : "response body is not a JSON object";
        return e;
    }
    return api_result<rapidjson::Document>(std::move(d));
}

}  // namespace

api_result<rapidjson::Document> client::get(std::string_view path) {
    return to_document(request(method::get, path));
}

api_result<rapidjson::Document> client::create(std::string_view path, std::string_view json) {
    return to_document(request(method::post, path, json));
}

api_result<rapidjson::Document> client::put(std::string_view path, std::string_view json) {
    return to_document(request(method::put, path, json));
}

api_result<rapidjson::Document> client::merge_patch(std::string_view path, std::string_view json) {
    return to_document(request(method::patch, path, json, "application/merge-patch+json"));
}

api_result<rapidjson::Document> client::json_patch(std::string_view path, std::string_view json) {
    return to_document(request(method::patch, path, json, "application/json-patch+json"));
}

api_result<void> client::remove(std::string_view path) {
    auto r = request(method::del, path);
    if (!r) return r.error();
    if (r->status < 200 || r->status >= 300) return decode_status(r->status, r->body);
    return {};
}

api_result<list_page_info> client::list(std::string_view path, std::size_t page_limit, const list_item_handler& on_item,
                                        std::stop_token stop) {
    list_page_info info;
    std::string cont;
    const char sep = path.find('?') == std::string_view::npos ? '?' : '&';
    do {
        std::string target(path);
        target += sep;
        target += "limit=" + std::to_string(page_limit);
        if (!cont.empty()) target += "&continue=" + query_escape(cont);
        auto r = request(method::get, target, {}, {}, std::chrono::milliseconds(0), stop);
        if (!r) return r.error();
        if (r->status != 200) return decode_status(r->status, r->body);
        // In-situ parsing avoids copying every string of a multi-megabyte page.
        rapidjson::Document d;
        const auto invalid = codec::parse_json_insitu(d, r->body);
        if (invalid || !d.IsObject() || !d.HasMember("items") || !d["items"].IsArray()) {
            api_error e;
            e.code = 200;
            e.reason = "BadResponse";
            e.message = "LIST " + std::string(path) + ": body is not a list" +
                        (invalid ? ": " + invalid->to_string() : std::string());
            return e;
        }
        ++info.pages;
        for (const auto& item : d["items"].GetArray()) {
            ++info.items;
            on_item(item);
        }
        cont.clear();
        if (auto m = d.FindMember("metadata"); m != d.MemberEnd() && m->value.IsObject()) {
            const auto& meta = m->value;
            if (auto rv = meta.FindMember("resourceVersion"); rv != meta.MemberEnd() && rv->value.IsString())
                info.resource_version = rv->value.GetString();
            if (auto c = meta.FindMember("continue"); c != meta.MemberEnd() && c->value.IsString())
                cont = c->value.GetString();
        }
    } while (!cont.empty());
    return info;
}

api_result<void> client::stream(std::string_view path, const stream_handler& on_bytes, std::stop_token stop,
                                std::chrono::seconds idle_timeout) {
    net::io_context local(1);
    api_result<void> out = api_error{};
    std::shared_ptr<connection> slot;
    auto req = impl_->make_request(method::get, path, {}, {});
    // Stopping closes the socket from the loop's own thread; the pending operation then fails
    // and the coroutine ends normally, so nothing is torn down mid-operation.
    std::stop_callback on_stop(stop, [&] {
        net::post(local, [&] {
            if (slot) {
                boost::system::error_code ignored;
                beast::get_lowest_layer(slot->stream).socket().close(ignored);
            }
        });
    });
    std::exception_ptr failure;
    net::co_spawn(local, impl_->watch(std::move(req), idle_timeout, on_bytes, stop, slot, out),
                  [&failure](std::exception_ptr e) { failure = e; });
    local.run();
    if (stop.stop_requested()) return {};
    if (failure) {
        api_error err;
        err.reason = "Internal";
        try {
            std::rethrow_exception(failure);
        } catch (const std::exception& e) {
            err.message = e.what();
        } catch (...) {
            err.message = "unknown exception in watch";
        }
        return err;
    }
    return out;
}

std::string query_escape(std::string_view s) {
    static const char hex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
            out.push_back(static_cast<char>(c));
        else {
            out.push_back('%');
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 15]);
        }
    }
    return out;
}

api_error decode_status(unsigned status, std::string_view body) {
    api_error e;
    e.code = static_cast<int>(status);
    rapidjson::Document d;
    if (!codec::parse_json(d, body) && d.IsObject()) {
        if (auto k = d.FindMember("kind");
            k != d.MemberEnd() && k->value.IsString() && std::string_view(k->value.GetString()) == "Status") {
            if (auto c = d.FindMember("code"); c != d.MemberEnd() && c->value.IsInt()) e.code = c->value.GetInt();
            if (auto r = d.FindMember("reason"); r != d.MemberEnd() && r->value.IsString())
                e.reason = r->value.GetString();
            if (auto m = d.FindMember("message"); m != d.MemberEnd() && m->value.IsString())
                e.message = m->value.GetString();
            return e;
        }
    }
    e.reason = "HTTP" + std::to_string(status);
    e.message = std::string(body.substr(0, 256));
    return e;
}

std::string to_json(const rapidjson::Value& v) {
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    v.Accept(w);
    return std::string(sb.GetString(), sb.GetSize());
}

std::string api_error::describe() const {
    std::string s = code ? std::to_string(code) : std::string("no response");
    if (!reason.empty()) s += " " + reason;
    if (!message.empty()) s += ": " + message;
    return s;
}

void throw_exception_from_error(const api_error& e, const boost::source_location&) {
    throw api_exception(e);
}

}  // namespace apr::kube
