// Implementation of the server test support: a deadline-bounded Beast TLS client, plain TCP,
// concurrent clients, and the fixture (the certificates are in test_certificates.cpp).
#include "test_support.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <openssl/bn.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstdlib>
#include <sstream>
#include <stdexcept>

namespace apr::server::test {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

namespace {
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// Runs one coroutine on ioc with a deadline; on timeout closes what `on_timeout` closes, lets
// the cancelled operations finish, and throws.
template <class T>
T run_bounded(net::io_context& ioc, net::awaitable<T> task, std::chrono::milliseconds timeout,
              const std::function<void()>& on_timeout, const char* what) {
    ioc.restart();
    auto fut = net::co_spawn(ioc, std::move(task), net::use_future);
    ioc.run_for(timeout);
    if (fut.wait_for(0s) != std::future_status::ready) {
        on_timeout();
        ioc.restart();
        ioc.run_for(2s);
        throw std::runtime_error(std::string(what) + ": timed out");
    }
    return fut.get();
}

http_reply to_reply(const http::response<http::string_body>& res) {
    http_reply r;
    r.status = res.result_int();
    r.body = res.body();
    r.keep_alive = res.keep_alive();
    for (const auto& f : res) {
        std::string name(f.name_string());
        for (auto& c : name) {
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        r.headers[name] = std::string(f.value());
    }
    return r;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

struct tls_client::impl {
    unsigned short port;
    client_options options;
    net::io_context ioc;
    ssl::context ctx{ssl::context::tls_client};
    std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> stream;
    beast::flat_buffer buffer;

    impl(unsigned short p, const std::filesystem::path& ca, client_options o) : port(p), options(std::move(o)) {
        ctx.load_verify_file(ca.string());
        ctx.set_verify_mode(ssl::verify_peer);
        if (options.max_tls_version != 0) {
            SSL_CTX_set_max_proto_version(ctx.native_handle(), options.max_tls_version);
            SSL_CTX_set_security_level(ctx.native_handle(), 0);
        }
    }

    void abort() {
        if (stream) {
            beast::get_lowest_layer(*stream).close();
        }
    }

    template <class T>
    T run(net::awaitable<T> task, const char* what) {
        return run_bounded(
            ioc, std::move(task), options.timeout, [this] { abort(); }, what);
    }

    net::awaitable<void> do_connect() {
        stream = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(ioc, ctx);
        buffer.clear();
        auto& tcp_layer = stream->next_layer();
        auto [cec] =
            co_await tcp_layer.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), use_tuple);
        if (cec) {
            throw std::runtime_error("connect: " + cec.message());
        }
        SSL* native = stream->native_handle();
        SSL_set_tlsext_host_name(native, options.server_name.c_str());
        stream->set_verify_callback(ssl::host_name_verification(options.server_name));
        if (!options.alpn.empty()) {
            std::string wire(1, static_cast<char>(options.alpn.size()));
            wire += options.alpn;
            SSL_set_alpn_protos(native, reinterpret_cast<const unsigned char*>(wire.data()),
                                static_cast<unsigned>(wire.size()));
        }
        auto [hec] = co_await stream->async_handshake(ssl::stream_base::client, use_tuple);
        if (hec) {
            throw std::runtime_error("handshake: " + hec.message());
        }
    }

    net::awaitable<std::optional<http_reply>> do_read() {
        http::response_parser<http::string_body> parser;
        parser.body_limit(64 * 1024 * 1024);
        auto [ec, n] = co_await http::async_read(*stream, buffer, parser, use_tuple);
        if (ec) {
            co_return std::nullopt;
        }
        co_return to_reply(parser.get());
    }

    net::awaitable<void> do_write(std::string bytes) {
        auto [ec, n] = co_await net::async_write(*stream, net::buffer(bytes), use_tuple);
        if (ec) {
            throw std::runtime_error("write: " + ec.message());
        }
    }
};

tls_client::tls_client(unsigned short port, std::filesystem::path ca_file, client_options options)
    : impl_(std::make_unique<impl>(port, ca_file, std::move(options))) {}

tls_client::~tls_client() = default;
tls_client::tls_client(tls_client&&) noexcept = default;
tls_client& tls_client::operator=(tls_client&&) noexcept = default;

void tls_client::connect() {
    impl_->run(impl_->do_connect(), "connect");
}

http_reply tls_client::request(const std::string& method, const std::string& target, const std::string& body,
                               const std::string& content_type,
                               const std::vector<std::pair<std::string, std::string>>& extra_headers) {
    std::string raw = method + " " + target + " HTTP/1.1\r\nHost: localhost\r\n";
    if (!body.empty() || method == "POST") {
        raw += "Content-Type: " + content_type + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    }
    for (const auto& [k, v] : extra_headers) {
        raw += k + ": " + v + "\r\n";
    }
    raw += "\r\n";
    raw += body;
    send_raw(raw);
    auto reply = read_reply();
    if (!reply) {
        throw std::runtime_error("request " + method + " " + target + ": connection ended");
    }
    return *reply;
}

void tls_client::send_raw(const std::string& bytes) {
    impl_->run(impl_->do_write(bytes), "write");
}

std::optional<http_reply> tls_client::read_reply() {
    return impl_->run(impl_->do_read(), "read");
}

bool tls_client::wait_closed() {
    auto task = [](impl* i) -> net::awaitable<bool> {
        char byte;
        auto [ec, n] = co_await i->stream->async_read_some(net::buffer(&byte, 1), use_tuple);
        co_return ec&& n == 0;
    };
    try {
        return impl_->run(task(impl_.get()), "wait_closed");
    } catch (const std::exception&) {
        return false;
    }
}

std::optional<http_reply> tls_client::upload(const std::string& target, std::size_t size) {
    auto task = [](impl* i, std::string target, std::size_t size) -> net::awaitable<std::optional<http_reply>> {
        auto writer = [](impl* i, std::string target, std::size_t size) -> net::awaitable<void> {
            std::string head = "POST " + target +
                               " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                               "Content-Length: " +
                               std::to_string(size) + "\r\n\r\n";
            auto [hec, hn] = co_await net::async_write(*i->stream, net::buffer(head), use_tuple);
            if (hec) {
                co_return;
            }
            std::string chunk(256 * 1024, '0');
            std::size_t left = size;
            while (left > 0) {
                std::size_t const n = std::min(left, chunk.size());
                auto [ec, written] = co_await net::async_write(*i->stream, net::buffer(chunk.data(), n), use_tuple);
                if (ec) {
                    co_return;  // the server stopped reading: expected
                }
                left -= n;
            }
        };
        net::co_spawn(i->ioc, writer(i, target, size), net::detached);
        auto reply = co_await i->do_read();
        beast::get_lowest_layer(*i->stream).close();  // ends the writer too
        co_return reply;
    };
    return impl_->run(task(impl_.get(), target, size), "upload");
}

std::size_t tls_client::trickle(const std::string& bytes, std::chrono::milliseconds interval,
                                std::atomic<std::size_t>& sent) {
    auto task = [](impl* i, std::string bytes, std::chrono::milliseconds interval,
                   std::atomic<std::size_t>* sent) -> net::awaitable<std::size_t> {
        net::steady_timer pace(i->ioc);
        // A reader alongside: the server's hang-up (close_notify or reset) shows up here, while a
        // write after it could still land in the kernel buffer and look successful.
        auto closed = std::make_shared<bool>(false);
        auto reader = [](impl* i, std::shared_ptr<bool> closed, net::steady_timer* pace) -> net::awaitable<void> {
            char buf[256];
            for (;;) {
                auto [ec, n] = co_await i->stream->async_read_some(net::buffer(buf), use_tuple);
                if (ec) {
                    *closed = true;
                    pace->cancel();
                    co_return;
                }
            }
        };
        net::co_spawn(i->ioc, reader(i, closed, &pace), net::detached);
        std::size_t n = 0;
        for (char c : bytes) {
            if (*closed) {
                break;
            }
            auto [ec, w] = co_await net::async_write(*i->stream, net::buffer(&c, 1), use_tuple);
            if (ec) {
                break;
            }
            ++n;
            *sent = n;
            // The pacing is the behaviour under test (a slowloris client), not synchronization.
            pace.expires_after(interval);
            co_await pace.async_wait(use_tuple);
        }
        beast::get_lowest_layer(*i->stream).close();  // ends the reader
        co_return n;
    };
    auto saved = impl_->options.timeout;
    impl_->options.timeout = std::chrono::milliseconds(interval * (bytes.size() + 4) + 10s);
    auto n = impl_->run(task(impl_.get(), bytes, interval, &sent), "trickle");
    impl_->options.timeout = saved;
    return n;
}

certificate_info tls_client::peer_certificate() const {
    certificate_info info;
    X509* cert = SSL_get1_peer_certificate(impl_->stream->native_handle());
    if (cert == nullptr) {
        return info;
    }
    BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get_serialNumber(cert), nullptr);
    char* hex = BN_bn2hex(bn);
    info.serial_hex = hex;
    OPENSSL_free(hex);
    BN_free(bn);
    char name[512];
    X509_NAME_oneline(X509_get_subject_name(cert), name, sizeof name);
    info.subject = name;
    X509_free(cert);
    return info;
}

std::string tls_client::negotiated_alpn() const {
    const unsigned char* data = nullptr;
    unsigned int len = 0;
    SSL_get0_alpn_selected(impl_->stream->native_handle(), &data, &len);
    return std::string(reinterpret_cast<const char*>(data), len);
}

std::string tls_client::tls_version() const {
    return SSL_get_version(impl_->stream->native_handle());
}

void tls_client::close() {
    impl_->abort();
}

std::string raw_tcp_exchange(unsigned short port, const std::string& bytes, std::chrono::milliseconds timeout) {
    net::io_context ioc;
    tcp::socket socket(ioc);
    auto task = [](tcp::socket& socket, unsigned short port, std::string bytes) -> net::awaitable<std::string> {
        auto [cec] = co_await socket.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), use_tuple);
        if (cec) {
            throw std::runtime_error("connect: " + cec.message());
        }
        // The server may hang up before taking all of it; what it answered is what counts.
        [[maybe_unused]] auto [wec, wn] = co_await net::async_write(socket, net::buffer(bytes), use_tuple);
        std::string got;
        char buf[4096];
        for (;;) {
            auto [ec, n] = co_await socket.async_read_some(net::buffer(buf), use_tuple);
            got.append(buf, n);
            if (ec) {
                break;
            }
        }
        co_return got;
    };
    return run_bounded(
        ioc, task(socket, port, bytes), timeout,
        [&] {
            boost::system::error_code ec;
            socket.close(ec);
        },
        "raw_tcp_exchange");
}

concurrency_result concurrent_requests(unsigned short port, const std::filesystem::path& ca_file, int n,
                                       const std::string& target, std::function<void()> on_all_connected,
                                       std::chrono::milliseconds timeout) {
    net::io_context ioc;
    ssl::context ctx{ssl::context::tls_client};
    ctx.load_verify_file(ca_file.string());
    ctx.set_verify_mode(ssl::verify_peer);
    concurrency_result result;
    net::steady_timer all_connected(ioc, net::steady_timer::time_point::max());
    std::vector<std::unique_ptr<beast::ssl_stream<beast::tcp_stream>>> streams;
    for (int k = 0; k < n; ++k) {
        streams.push_back(std::make_unique<beast::ssl_stream<beast::tcp_stream>>(ioc, ctx));
    }
    bool barrier_released = false;
    auto one = [&](beast::ssl_stream<beast::tcp_stream>& s, int k) -> net::awaitable<void> {
        auto [cec] =
            co_await s.next_layer().async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), use_tuple);
        if (!cec) {
            SSL_set_tlsext_host_name(s.native_handle(), "localhost");
            auto [hec] = co_await s.async_handshake(ssl::stream_base::client, use_tuple);
            cec = hec;
        }
        if (!cec) {
            ++result.connected;
        }
        if (result.connected == n && !barrier_released) {
            barrier_released = true;
            on_all_connected();
            all_connected.cancel();
        }
        if (cec) {
            co_return;
        }
        if (!barrier_released) {
            co_await all_connected.async_wait(use_tuple);
        }
        std::string const body = "{\"n\":" + std::to_string(k) + "}";
        http::request<http::string_body> req{http::verb::post, target, 11};
        req.set(http::field::host, "localhost");
        req.set(http::field::content_type, "application/json");
        req.body() = body;
        req.prepare_payload();
        auto [wec, wn] = co_await http::async_write(s, req, use_tuple);
        if (wec) {
            co_return;
        }
        beast::flat_buffer buffer;
        http::response<http::string_body> res;
        auto [rec, rn] = co_await http::async_read(s, buffer, res, use_tuple);
        if (!rec && res.result_int() == 200 && res.body() == body) {
            ++result.answered_200;
        }
    };
    for (int k = 0; k < n; ++k) {
        net::co_spawn(ioc, one(*streams[k], k), net::detached);
    }
    ioc.run_for(timeout);
    return result;
}

// ---------------------------------------------------------------------------------------------

server_fixture::server_fixture() : ca(dir.path()) {
    first = ca.issue(1, "apr-test-serving-1");
    cert_file = dir.path() / "tls.crt";
    key_file = dir.path() / "tls.key";
    write_file_atomically(cert_file, first.cert_pem);
    write_file_atomically(key_file, first.key_pem);
}

server_fixture::~server_fixture() {
    if (server_) {
        server_->stop();
        if (run_.valid()) {
            run_.wait();
        }
    }
}

server_options server_fixture::default_options() const {
    server_options o;
    o.listen = "127.0.0.1:0";
    o.cert_file = cert_file;
    o.key_file = key_file;
    o.threads = 2;
    o.shutdown_grace = 10s;
    return o;
}

https_server& server_fixture::create(server_options options) {
    options.log = [this](log_level level, std::string_view message) {
        static char const* const names[] = {"debug", "info", "warn", "error"};
        std::lock_guard lock(log_mutex_);
        logs_.push_back(std::string(names[static_cast<int>(level)]) + " " + std::string(message));
    };
    server_ = std::make_unique<https_server>(std::move(options), metrics_);
    return *server_;
}

void server_fixture::run_in_background() {
    run_ = std::async(std::launch::async, [s = server_.get()] { s->run(); });
}

tls_client server_fixture::client(client_options options) const {
    return tls_client(port(), ca.ca_file(), std::move(options));
}

http_reply server_fixture::get(const std::string& path) const {
    auto c = client();
    c.connect();
    return c.request("GET", path);
}

double server_fixture::metric(const std::string& series) const {
    std::istringstream in(metrics_.expose());
    std::string line;
    while (std::getline(in, line)) {
        if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 && line[series.size()] == ' ') {
            return std::stod(line.substr(series.size() + 1));
        }
    }
    return -1;
}

bool server_fixture::run_returned() const {
    return run_.valid() && run_.wait_for(0s) == std::future_status::ready;
}

bool server_fixture::wait_run_returned(std::chrono::milliseconds deadline) {
    return run_.valid() && run_.wait_for(deadline) == std::future_status::ready;
}

std::vector<std::string> server_fixture::logs() const {
    std::lock_guard lock(log_mutex_);
    return logs_;
}

}  // namespace apr::server::test
