// The TLS admission server, modelled on Beast's advanced server examples (C++20 coroutines, one
// strand per connection, error_code results on the request path, one place that decides how a
// connection ends). Certificate reload lives here too because it swaps what the listener hands
// to new connections.
#include "https_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <sys/inotify.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <charconv>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <vector>

namespace apr::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

void
default_log(log_level level, std::string_view message) {
  if (level == log_level::debug) {
    return;
  }
  static std::mutex mutex;
  char const* name = level == log_level::info   ? "info"
                     : level == log_level::warn ? "warn"
                                                : "error";
  std::time_t const now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char ts[32];
  std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
  std::string line;
  line.reserve(message.size() + 64);
  line += "time=";
  line += ts;
  line += " level=";
  line += name;
  line += " component=server msg=\"";
  for (char c : message) {
    if (c == '"' || c == '\\') {
      line += '\\';
      line += c;
    } else if (c == '\n') {
      line += "\\n";
    } else {
      line += c;
    }
  }
  line += "\"\n";
  std::lock_guard lock(mutex);
  std::cerr << line << std::flush;
}

tcp::endpoint
parse_listen(std::string const& listen) {
  auto const colon = listen.rfind(':');
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
  auto const [ptr, perr] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (perr != std::errc{} || ptr != port_text.data() + port_text.size() || port > 65535 ||
      port_text.empty()) {
    throw std::runtime_error("invalid listen port in '" + listen + "'");
  }
  boost::system::error_code ec;
  auto const address = net::ip::make_address(host, ec);
  if (ec) {
    throw std::runtime_error("invalid listen address '" + listen + "': " + ec.message());
  }
  return {address, static_cast<unsigned short>(port)};
}

std::string
read_whole_file(std::filesystem::path const& p, bool& ok) {
  std::ifstream in(p, std::ios::binary);
  ok = static_cast<bool>(in);
  if (!ok) {
    return {};
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return std::move(ss).str();
}

std::string_view
path_of(std::string_view target) {
  // The API server appends ?timeout=10s; routing is on the path only.
  auto const q = target.find('?');
  return q == std::string_view::npos ? target : target.substr(0, q);
}

bool
looks_like_http(beast::flat_buffer const& buffer) {
  auto const data = buffer.data();
  std::string_view const s(static_cast<char const*>(data.data()), data.size());
  std::size_t i = 0;
  while (i < s.size() && s[i] >= 'A' && s[i] <= 'Z') {
    ++i;
  }
  return i > 0 && (i == s.size() || s[i] == ' ');
}

std::string
describe_endpoint(tcp::socket const& socket) {
  boost::system::error_code ec;
  auto const ep = socket.remote_endpoint(ec);
  if (ec) {
    return "unknown";
  }
  std::ostringstream ss;
  ss << ep;
  return ss.str();
}

}  // namespace

struct https_server::impl {
  struct route {
    std::string path;
    admission_handler handler;
  };

  struct session {
    session(impl& server, tcp::socket&& socket, std::shared_ptr<ssl::context> ctx)
        : server(server), context(std::move(ctx)), stream(std::move(socket), *context) {
      // Asio turns on SSL_MODE_RELEASE_BUFFERS, which frees OpenSSL's record buffers after every
      // read and write; with ~20 KB admission bodies that is a malloc/free (and, at the top of
      // the heap, a brk trim plus page faults) per record, the largest cost per request in
      // profiles. Keeping them costs about 34 KB per connection.
      SSL_clear_mode(stream.native_handle(), SSL_MODE_RELEASE_BUFFERS);
    }
    ~session() { server.deregister(this); }

    impl& server;
    // Declared before the stream: the SSL object refers to this context for its whole life.
    std::shared_ptr<ssl::context> context;
    beast::ssl_stream<beast::tcp_stream> stream;
    beast::flat_buffer buffer;
    bool idle = false;  // waiting for the first byte of a request; touched only on the strand
    std::string peer;
  };

  impl(server_options opts, metrics_registry& registry)
      : options(std::move(opts)),
        log(options.log ? options.log : log_sink(default_log)),
        metrics(registry),
        requests(registry.add_counter("apr_http_requests_total",
                                      "HTTP requests answered, by route, outcome and status code.",
                                      {"route", "outcome", "code"})),
        latency(registry.add_histogram(
            "apr_http_request_duration_seconds",
            "Time from a request fully read to its response ready to send, by route.", {"route"})),
        in_flight(registry.add_gauge("apr_http_requests_in_flight",
                                     "Requests read and not yet answered.")
                      .with({})),
        connections_open(registry.add_gauge("apr_http_connections_open",
                                            "Accepted TCP connections not yet closed.")
                             .with({})),
        connections_total(
            registry.add_counter("apr_http_connections_total", "Accepted TCP connections.")
                .with({})),
        handshake_failures(registry
                               .add_counter("apr_tls_handshake_failures_total",
                                            "Connections that failed the TLS handshake, "
                                            "including plain HTTP sent to the TLS port.")
                               .with({})),
        reloads(registry.add_counter("apr_tls_certificate_reloads_total",
                                     "Serving certificate reload attempts after a file change, "
                                     "by result (success|error).",
                                     {"result"})),
        not_after(registry
                      .add_gauge("apr_tls_certificate_not_after_seconds",
                                 "notAfter of the certificate being served, unix seconds.")
                      .with({})),
        control(net::make_strand(ioc)),
        acceptor(control),
        accept_backoff(control),
        delay_timer(control),
        grace_timer(control),
        poll_timer(control),
        inotify(control) {
    if (options.threads == 0) {
      options.threads = std::max(1u, std::thread::hardware_concurrency());
    }
    // Watch before the first read, so that no change between the two goes unseen; events queue
    // in the descriptor until run() starts reading them.
    start_watching();
    creds = load_tls_credentials(options.cert_file, options.key_file);
    not_after.set(static_cast<double>(creds.info.not_after));

    auto const endpoint = parse_listen(options.listen);
    try {
      acceptor.open(endpoint.protocol());
      acceptor.set_option(net::socket_base::reuse_address(true));
      acceptor.bind(endpoint);
      acceptor.listen(net::socket_base::max_listen_connections);
      bound_port = acceptor.local_endpoint().port();
    } catch (boost::system::system_error const& e) {
      throw std::runtime_error("cannot listen on '" + options.listen + "': " +
                               e.code().message());
    }
    log(log_level::info, "listening on " + options.listen + " (port " +
                             std::to_string(acceptor.local_endpoint().port()) +
                             "), certificate subject=\"" + creds.info.subject + "\" serial=" +
                             creds.info.serial_hex +
                             " not_after=" + std::to_string(creds.info.not_after));
  }

  ~impl() {
    alive = false;
    ioc.stop();
  }

  // ---- configuration (before run) ----
  server_options options;
  log_sink log;
  metrics_registry& metrics;
  family<counter>& requests;
  family<histogram>& latency;
  gauge& in_flight;
  gauge& connections_open;
  counter& connections_total;
  counter& handshake_failures;
  family<counter>& reloads;
  gauge& not_after;
  std::map<std::string, route, std::less<>> routes;
  std::function<bool()> readiness;

  // ---- serving credentials: swapped whole, copied by each accepted connection ----
  mutable std::mutex creds_mutex;
  tls_credentials creds;
  std::mutex reload_mutex;  // one reload at a time (watcher, poll and callers)
  std::string last_failed_cert, last_failed_key;  // to log a bad pair once, not every poll

  // ---- live connections, for draining ----
  std::mutex sessions_mutex;
  std::unordered_map<session*, std::weak_ptr<session>> sessions;

  std::atomic<bool> alive{true};
  std::atomic<bool> stopping{false};  // readiness fails from here on
  std::atomic<bool> draining{false};  // listener closed, idle connections closing
  std::atomic<bool> ran{false};

  // I/O objects last: they are destroyed first, before the io_context they belong to, and the
  // io_context (destroying suspended session frames) before the session registry above.
  net::io_context ioc;
  net::strand<net::io_context::executor_type> control;
  tcp::acceptor acceptor;
  unsigned short bound_port = 0;
  net::steady_timer accept_backoff;
  net::steady_timer delay_timer;
  net::steady_timer grace_timer;
  net::steady_timer poll_timer;
  net::posix::stream_descriptor inotify;

  std::shared_ptr<ssl::context> current_context() const {
    std::lock_guard lock(creds_mutex);
    return creds.context;
  }

  void deregister(session* s) {
    connections_open.dec();
    bool last = false;
    {
      std::lock_guard lock(sessions_mutex);
      sessions.erase(s);
      last = sessions.empty();
    }
    if (last && draining && alive) {
      // Nothing left to drain: let run() return without waiting out the grace period.
      net::post(control, [this] { grace_timer.cancel(); });
    }
  }

  // ---- certificate reload ----
  bool reload() {
    std::lock_guard reload_lock(reload_mutex);
    bool cert_ok = false, key_ok = false;
    std::string cert = read_whole_file(options.cert_file, cert_ok);
    std::string key = read_whole_file(options.key_file, key_ok);
    if (!cert_ok || !key_ok) {
      // Mid-swap, or the volume is being remounted; the next event or poll tries again.
      log(log_level::debug, "certificate reload: files not readable yet");
      return false;
    }
    {
      std::lock_guard lock(creds_mutex);
      if (cert == creds.cert_pem && key == creds.key_pem) {
        return false;
      }
    }
    if (cert == last_failed_cert && key == last_failed_key) {
      return false;
    }
    try {
      auto fresh = make_tls_credentials(cert, key, options.cert_file.string(),
                                        options.key_file.string());
      auto const info = fresh.info;
      {
        std::lock_guard lock(creds_mutex);
        creds = std::move(fresh);
      }
      last_failed_cert.clear();
      last_failed_key.clear();
      not_after.set(static_cast<double>(info.not_after));
      reloads.with({"success"}).inc();
      log(log_level::info, "certificate reloaded: subject=\"" + info.subject +
                               "\" serial=" + info.serial_hex +
                               " not_after=" + std::to_string(info.not_after));
      return true;
    } catch (std::exception const& e) {
      // Typically the certificate was written and the key not yet: keep serving the old pair.
      last_failed_cert = std::move(cert);
      last_failed_key = std::move(key);
      reloads.with({"error"}).inc();
      log(log_level::warn, std::string("certificate reload failed, keeping the current one: ") +
                               e.what());
      return false;
    }
  }

  void start_watching() {
    int const fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) {
      log(log_level::warn, "inotify unavailable; certificate changes found by polling only");
      return;
    }
    // Watch the directories, not the files: a Secret volume update renames a new `..data`
    // symlink over the old one, which changes what tls.crt resolves to without touching it.
    std::set<std::filesystem::path> dirs;
    for (auto const& f : {options.cert_file, options.key_file}) {
      auto dir = std::filesystem::absolute(f).parent_path();
      dirs.insert(dir);
    }
    uint32_t const mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE |
                          IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;
    for (auto const& d : dirs) {
      if (::inotify_add_watch(fd, d.c_str(), mask) < 0) {
        log(log_level::warn, "cannot watch " + d.string() + "; relying on polling");
      }
    }
    inotify.assign(fd);
  }

  net::awaitable<void> watch_loop() {
    std::array<char, 4096> events;
    while (inotify.is_open()) {
      auto [ec, n] = co_await inotify.async_read_some(net::buffer(events), use_tuple);
      if (ec) {
        if (ec != net::error::operation_aborted) {
          log(log_level::warn, "certificate watch ended, polling only: " + ec.message());
        }
        break;
      }
      log(log_level::debug, "certificate directory changed");
      reload();
    }
  }

  net::awaitable<void> poll_loop() {
    while (!draining) {
      poll_timer.expires_after(options.cert_poll_interval);
      auto [ec] = co_await poll_timer.async_wait(use_tuple);
      if (ec || draining) {
        break;
      }
      reload();
    }
  }

  // ---- accepting ----
  net::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(net::make_strand(ioc), use_tuple);
      if (ec) {
        if (draining || ec == net::error::operation_aborted) {
          break;
        }
        // EMFILE and friends: back off briefly instead of spinning on the error.
        log(log_level::warn, "accept failed: " + ec.message());
        accept_backoff.expires_after(std::chrono::milliseconds(50));
        co_await accept_backoff.async_wait(use_tuple);
        continue;
      }
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      connections_total.inc();
      connections_open.inc();
      auto s = std::make_shared<session>(*this, std::move(socket), current_context());
      {
        std::lock_guard lock(sessions_mutex);
        sessions.emplace(s.get(), s);
      }
      auto executor = s->stream.get_executor();
      net::co_spawn(executor, run_session(std::move(s)), [this](std::exception_ptr e) {
        if (!e) {
          return;
        }
        // Only allocation failures and bugs get here: the request path uses error codes and
        // handler exceptions are caught where the handler is called.
        try {
          std::rethrow_exception(e);
        } catch (std::exception const& ex) {
          log(log_level::error, std::string("connection ended by exception: ") + ex.what());
        } catch (...) {
          log(log_level::error, "connection ended by unknown exception");
        }
      });
    }
  }

  // ---- one connection ----
  net::awaitable<void> run_session(std::shared_ptr<session> s) {
    auto& tcp_layer = s->stream.next_layer();
    s->peer = describe_endpoint(tcp_layer.socket());

    // TLS handshake (with detection, to answer plain HTTP with a readable 400 rather than a
    // handshake alert the client would print as garbage).
    tcp_layer.expires_after(options.read_timeout);
    auto [dec, is_tls] = co_await beast::async_detect_ssl(tcp_layer, s->buffer, use_tuple);
    if (dec) {
      handshake_failures.inc();
      log(log_level::debug, "tls detect failed peer=" + s->peer + ": " + dec.message());
      co_return;
    }
    if (!is_tls) {
      handshake_failures.inc();
      log(log_level::debug, "non-TLS bytes on the TLS port peer=" + s->peer);
      if (looks_like_http(s->buffer)) {
        static constexpr std::string_view answer =
            "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Connection: close\r\nContent-Length: 48\r\n\r\n"
            "Client sent an HTTP request to an HTTPS server.\n";
        tcp_layer.expires_after(options.write_timeout);
        co_await net::async_write(tcp_layer, net::buffer(answer), use_tuple);
      }
      boost::system::error_code ignored;
      tcp_layer.socket().shutdown(tcp::socket::shutdown_send, ignored);
      tcp_layer.close();
      co_return;
    }
    auto [hec, used] =
        co_await s->stream.async_handshake(ssl::stream_base::server, s->buffer.data(), use_tuple);
    s->buffer.consume(used);
    if (hec) {
      handshake_failures.inc();
      log(log_level::debug, "tls handshake failed peer=" + s->peer + ": " + hec.message());
      co_return;
    }

    bool send_close_notify = true;
    for (;;) {
      if (s->buffer.size() == 0) {
        // Idle between requests: wait for the first byte as long as a keep-alive client may.
        if (draining) {
          break;
        }
        tcp_layer.expires_after(options.idle_timeout);
        s->idle = true;
        auto [ec, n] = co_await s->stream.async_read_some(s->buffer.prepare(16 * 1024), use_tuple);
        s->idle = false;
        if (ec) {
          // eof: the client's close_notify (answer it); timeout or our drain: say goodbye;
          // truncation or reset: the peer is gone, nothing to send.
          send_close_notify = ec == net::error::eof || ec == beast::error::timeout ||
                              ec == net::error::operation_aborted;
          break;
        }
        s->buffer.commit(n);
      }

      // From the first byte the whole request must arrive within read_timeout, however slowly
      // it trickles: this is what cuts off a slowloris client.
      tcp_layer.expires_after(options.read_timeout);
      http::request_parser<http::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(
          std::min<std::size_t>(options.header_limit, std::numeric_limits<std::uint32_t>::max())));
      parser.body_limit(options.body_limit);
      auto [rec, nread] = co_await http::async_read(s->stream, s->buffer, parser, use_tuple);
      if (rec) {
        auto rejection = reject(rec, parser);
        if (!rejection) {
          log(log_level::debug, "read failed peer=" + s->peer + ": " + rec.message());
          send_close_notify = rec == beast::error::timeout;
          break;
        }
        tcp_layer.expires_after(options.write_timeout);
        co_await http::async_write(s->stream, *rejection, use_tuple);
        break;
      }

      auto const started = std::chrono::steady_clock::now();
      in_flight.inc();
      std::string_view route_label;
      std::string outcome;
      auto res = answer(parser.get(), route_label, outcome);
      bool const keep_alive = parser.get().keep_alive() && !draining;
      res.keep_alive(keep_alive);
      res.prepare_payload();
      tcp_layer.expires_after(options.write_timeout);
      // Counted before the write: once the client has its answer the metrics already show it.
      in_flight.dec();
      requests.with({route_label, outcome, std::to_string(res.result_int())}).inc();
      latency.with({route_label})
          .observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started)
                       .count());
      auto [wec, nwritten] = co_await http::async_write(s->stream, res, use_tuple);
      if (wec) {
        log(log_level::debug, "write failed peer=" + s->peer + ": " + wec.message());
        send_close_notify = false;
        break;
      }
      if (!keep_alive) {
        break;
      }
    }

    if (send_close_notify) {
      // Bounded: a peer that never answers our close_notify must not hold the connection.
      tcp_layer.expires_after(std::min(options.write_timeout, std::chrono::seconds(5)));
      co_await s->stream.async_shutdown(use_tuple);
    }
    tcp_layer.close();
  }

  std::string_view route_label_for(std::string_view path) const {
    if (auto it = routes.find(path); it != routes.end()) {
      return it->first;
    }
    if (path == "/healthz" || path == "/readyz" || path == "/metrics") {
      return path;
    }
    return "unmatched";
  }

  // The answer to a request that could not be read, or nothing when the connection should just
  // close (timeouts, resets, a peer that vanished mid-request).
  std::optional<http::response<http::string_body>>
  reject(boost::system::error_code ec, http::request_parser<http::string_body>& parser) {
    unsigned status = 0;
    std::string outcome;
    std::string body;
    if (ec == http::error::body_limit) {
      status = 413;
      outcome = "too_large";
      body = "request body exceeds the limit of " + std::to_string(options.body_limit) +
             " bytes\n";
    } else if (ec == http::error::header_limit) {
      status = 431;
      outcome = "header_too_large";
      body = "request header exceeds the limit of " + std::to_string(options.header_limit) +
             " bytes\n";
    } else if (ec.category() == http::make_error_code(http::error::bad_method).category() &&
               ec != http::error::end_of_stream && ec != http::error::partial_message &&
               ec != http::error::need_more && ec != http::error::need_buffer) {
      status = 400;
      outcome = "bad_request";
      body = "malformed HTTP request: " + ec.message() + "\n";
    } else {
      return std::nullopt;
    }
    // The start line is parsed before any header limit trips, so the target is known here.
    std::string_view const route = route_label_for(path_of(parser.get().target()));
    requests.with({route, outcome, std::to_string(status)}).inc();
    log(log_level::info, "rejected request: " + std::to_string(status) + " " + outcome +
                             " route=" + std::string(route));
    http::response<http::string_body> res{static_cast<http::status>(status), 11};
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.body() = std::move(body);
    // The rest of the request is unread, so the connection cannot carry another one.
    res.keep_alive(false);
    res.prepare_payload();
    return res;
  }

  static http::response<http::string_body> text(http::status status, unsigned version,
                                                std::string body) {
    http::response<http::string_body> res{status, version};
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.body() = std::move(body);
    return res;
  }

  http::response<http::string_body> answer(http::request<http::string_body>& req,
                                           std::string_view& route_label, std::string& outcome) {
    std::string_view const path = path_of(req.target());
    unsigned const version = req.version();
    route_label = route_label_for(path);

    if (auto it = routes.find(path); it != routes.end()) {
      if (req.method() != http::verb::post) {
        outcome = "method_not_allowed";
        auto res = text(http::status::method_not_allowed, version, "use POST\n");
        res.set(http::field::allow, "POST");
        return res;
      }
      handler_result result;
      try {
        result = it->second.handler(req[http::field::content_type], req.body());
      } catch (std::exception const& e) {
        log(log_level::error, "handler for " + it->first + " threw: " + e.what());
        result = {500, "internal error in admission handler\n", "text/plain; charset=utf-8",
                  "error"};
      } catch (...) {
        log(log_level::error, "handler for " + it->first + " threw a non-exception");
        result = {500, "internal error in admission handler\n", "text/plain; charset=utf-8",
                  "error"};
      }
      outcome = result.outcome.empty() ? "ok" : std::move(result.outcome);
      http::response<http::string_body> res{static_cast<http::status>(result.status), version};
      res.set(http::field::content_type, result.content_type);
      res.body() = std::move(result.body);
      return res;
    }

    bool const builtin = path == "/healthz" || path == "/readyz" || path == "/metrics";
    if (!builtin) {
      outcome = "not_found";
      return text(http::status::not_found, version, "no route for this path\n");
    }
    if (req.method() != http::verb::get) {
      outcome = "method_not_allowed";
      auto res = text(http::status::method_not_allowed, version, "use GET\n");
      res.set(http::field::allow, "GET");
      return res;
    }
    if (path == "/healthz") {
      outcome = "ok";
      return text(http::status::ok, version, "ok\n");
    }
    if (path == "/readyz") {
      if (stopping) {
        outcome = "not_ready";
        return text(http::status::service_unavailable, version, "shutting down\n");
      }
      bool ready = true;
      try {
        ready = !readiness || readiness();
      } catch (std::exception const& e) {
        ready = false;
        log(log_level::error, std::string("readiness check threw: ") + e.what());
      }
      outcome = ready ? "ok" : "not_ready";
      return ready ? text(http::status::ok, version, "ok\n")
                   : text(http::status::service_unavailable, version, "not ready\n");
    }
    outcome = "ok";
    auto res = text(http::status::ok, version, metrics.expose());
    res.set(http::field::content_type, metrics_registry::content_type);
    return res;
  }

  // ---- shutdown ----
  void begin_stop() {
    log(log_level::info, "shutdown: readiness now fails; draining in " +
                             std::to_string(options.shutdown_delay.count()) + "s");
    if (options.shutdown_delay.count() > 0) {
      delay_timer.expires_after(options.shutdown_delay);
      delay_timer.async_wait([this](boost::system::error_code) { begin_drain(); });
    } else {
      begin_drain();
    }
  }

  void begin_drain() {
    draining = true;
    boost::system::error_code ignored;
    acceptor.close(ignored);
    poll_timer.cancel();
    inotify.close(ignored);
    delay_timer.cancel();

    std::vector<std::shared_ptr<session>> live = snapshot_sessions();
    log(log_level::info, "shutdown: listener closed, " + std::to_string(live.size()) +
                             " connection(s) finishing");
    for (auto& s : live) {
      // Only idle connections are interrupted; one in the middle of a request gets its answer
      // (with Connection: close) and then ends by itself.
      net::post(s->stream.get_executor(), [s] {
        // Bytes already received are a request the client has sent: let it be read and served.
        boost::system::error_code ec;
        if (s->idle && s->stream.next_layer().socket().available(ec) == 0) {
          s->stream.next_layer().cancel();
        }
      });
    }
    if (live.empty()) {
      return;
    }
    grace_timer.expires_after(options.shutdown_grace);
    grace_timer.async_wait([this](boost::system::error_code ec) {
      if (ec) {
        return;  // everything drained in time
      }
      auto left = snapshot_sessions();
      log(log_level::warn, "shutdown: grace period over, closing " +
                               std::to_string(left.size()) + " connection(s)");
      for (auto& s : left) {
        net::post(s->stream.get_executor(), [s] { s->stream.next_layer().close(); });
      }
    });
  }

  std::vector<std::shared_ptr<session>> snapshot_sessions() {
    std::vector<std::shared_ptr<session>> live;
    std::lock_guard lock(sessions_mutex);
    live.reserve(sessions.size());
    for (auto& [_, weak] : sessions) {
      if (auto s = weak.lock()) {
        live.push_back(std::move(s));
      }
    }
    return live;
  }
};

https_server::https_server(server_options options, metrics_registry& metrics)
    : impl_(std::make_unique<impl>(std::move(options), metrics)) {}

https_server::~https_server() = default;

void
https_server::add_admission_route(std::string path, admission_handler handler) {
  auto& r = impl_->routes[path];
  r.path = path;
  r.handler = std::move(handler);
}

void
https_server::set_readiness(std::function<bool()> ready) {
  impl_->readiness = std::move(ready);
}

unsigned short
https_server::port() const {
  return impl_->bound_port;
}

void
https_server::run() {
  auto& i = *impl_;
  if (i.ran.exchange(true)) {
    throw std::logic_error("https_server::run() called twice");
  }
  auto on_done = [&i](std::exception_ptr e) {
    if (e) {
      i.log(log_level::error, "server task ended by exception");
    }
  };
  net::co_spawn(i.control, i.accept_loop(), on_done);
  if (i.inotify.is_open()) {
    net::co_spawn(i.control, i.watch_loop(), on_done);
  }
  net::co_spawn(i.control, i.poll_loop(), on_done);

  std::vector<std::thread> pool;
  pool.reserve(i.options.threads - 1);
  for (unsigned t = 1; t < i.options.threads; ++t) {
    pool.emplace_back([&i] { i.ioc.run(); });
  }
  i.ioc.run();
  for (auto& t : pool) {
    t.join();
  }
  i.log(log_level::info, "shutdown: complete");
}

void
https_server::stop() {
  if (impl_->stopping.exchange(true)) {
    return;
  }
  net::post(impl_->control, [i = impl_.get()] { i->begin_stop(); });
}

bool
https_server::reload_certificate() {
  return impl_->reload();
}

certificate_info
https_server::current_certificate() const {
  std::lock_guard lock(impl_->creds_mutex);
  return impl_->creds.info;
}

// ---- signals ----

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

shutdown_signals::shutdown_signals(std::function<void(int)> on_signal)
    : impl_(std::make_unique<impl>()) {
  impl_->on_signal = std::move(on_signal);
  impl_->wait();
  impl_->thread = std::thread([i = impl_.get()] { i->ioc.run(); });
}

shutdown_signals::~shutdown_signals() {
  impl_->ioc.stop();
  impl_->thread.join();
}

}  // namespace apr::server
