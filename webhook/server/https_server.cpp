// The TLS admission server, modelled on Beast's advanced server examples (C++20 coroutines,
// error_code results on the request path, one place that decides how a connection ends).
// Certificate reload lives here too because it swaps what the listener hands to new connections.
//
// Threading: one io_context per serving thread, each run by exactly that thread; the acceptor
// hands connections to them in turn, so a connection lives on one single-threaded context and
// needs no strand. The acceptor, certificate watch and shutdown have a context of their own, run
// by the thread that called run(), so that a handler blocking its thread holds up only the
// connections on that thread, never accepting or draining.
#include "https_server.hpp"

#include "tls_stream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <malloc.h>
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

// GCC 12 pairs the operator delete of Asio's coroutine frames with the aligned_alloc inside
// Asio's recycling allocator and warns; that allocator releases the frame with free(), so the
// pair is right (a known false positive with Boost 1.81's awaitable frames).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace apr::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// Connections are bound to one io_context for life (see tls_stream.hpp for the socket and
// coroutine types); their timer names its executor type too.
using connection_timer =
    net::basic_waitable_timer<std::chrono::steady_clock,
                              net::wait_traits<std::chrono::steady_clock>, connection_executor>;
constexpr auto on_connection = net::as_tuple(net::use_awaitable_t<connection_executor>{});

// string_body's reader resizes the string (zero-filling it) before every copy into it; this one
// appends instead, saving a pass over each 20 KB body. Same contract otherwise: the body is a
// std::string reserved from Content-Length, so it is NUL-terminated for the handler.
struct request_body {
  using value_type = std::string;

  static std::uint64_t size(value_type const& body) { return body.size(); }

  class reader {
   public:
    template <bool is_request, class Fields>
    reader(http::header<is_request, Fields>&, value_type& body) : body_(body) {}

    void init(boost::optional<std::uint64_t> const& length, boost::system::error_code& ec) {
      // The parser has already refused a Content-Length over body_limit.
      if (length && *length <= body_.max_size()) {
        body_.reserve(static_cast<std::size_t>(*length));
      }
      ec = {};
    }

    template <class ConstBufferSequence>
    std::size_t put(ConstBufferSequence const& buffers, boost::system::error_code& ec) {
      std::size_t n = 0;
      for (auto const b : beast::buffers_range_ref(buffers)) {
        body_.append(static_cast<char const*>(b.data()), b.size());
        n += b.size();
      }
      ec = {};
      return n;
    }

    void finish(boost::system::error_code& ec) { ec = {}; }

   private:
    value_type& body_;
  };
};

using request_parser = http::request_parser<request_body>;
using request = http::request<request_body>;

// A connection keeps its body buffer between requests (no allocation per request once it has
// seen the usual size), but not an unusually large one: 500 idle connections that each once
// received a 7 MiB body must not pin 3.5 GB.
constexpr std::size_t kept_body_capacity = 1024 * 1024;

constexpr std::string_view text_plain = "text/plain; charset=utf-8";

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
describe_endpoint(connection_socket const& socket) {
  boost::system::error_code ec;
  auto const ep = socket.remote_endpoint(ec);
  if (ec) {
    return "unknown";
  }
  std::ostringstream ss;
  ss << ep;
  return ss.str();
}

void
append_decimal(std::string& out, std::uint64_t value) {
  char digits[24];
  auto const end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  out.append(digits, end);
}

// What answer() decided; rendered by render_response.
struct response_parts {
  unsigned status = 200;
  std::string body;
  std::string content_type;
  std::string_view allow;  // the Allow header of a 405
  std::string outcome;     // metrics label
};

// Status line, headers and body in one buffer, so that one SSL_write and one send carry the
// response. The header set is what Beast's serializer wrote for http::response<string_body>
// after keep_alive() and prepare_payload(): Content-Type, Allow on 405, Content-Length, and
// Connection only where the version's default does not already say it.
void
render_response(std::string& out, response_parts const& parts, unsigned version, bool keep_alive) {
  // Beast refuses a status over 999 and three digits is what the status line has room for.
  unsigned const status = parts.status >= 100 && parts.status <= 999 ? parts.status : 500;
  out.clear();
  out += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  append_decimal(out, status);
  out += ' ';
  auto const reason = http::obsolete_reason(static_cast<http::status>(status));
  out.append(reason.data(), reason.size());
  out += "\r\nContent-Type: ";
  out += parts.content_type;
  if (!parts.allow.empty()) {
    out += "\r\nAllow: ";
    out += parts.allow;
  }
  out += "\r\nContent-Length: ";
  append_decimal(out, parts.body.size());
  if (version >= 11 && !keep_alive) {
    out += "\r\nConnection: close";
  } else if (version < 11 && keep_alive) {
    out += "\r\nConnection: keep-alive";
  }
  out += "\r\n\r\n";
  out += parts.body;
}

}  // namespace

struct https_server::impl {
  struct route {
    std::string path;
    admission_handler handler;
  };

  // The children of the request metrics one serving thread has used, so that the steady state
  // neither formats the status code nor looks the labels up in the family's map under its lock.
  // Route labels come from stable storage (route map keys and literals, see route_label_for);
  // family cells are never removed, so the pointers stay valid.
  struct request_metrics_cache {
    struct count_entry {
      std::string_view route;
      std::string outcome;
      unsigned status;
      counter* cell;
    };
    struct latency_entry {
      std::string_view route;
      histogram* cell;
    };
    std::vector<count_entry> counts;
    std::vector<latency_entry> latencies;
  };
  // Outcomes are handler-defined strings; a handler inventing new ones per request must not
  // grow the cache without bound (it just takes the family's lookup then).
  static constexpr std::size_t metrics_cache_limit = 64;

  // One serving thread's io_context and what only that thread touches.
  struct worker {
    // Hint 1: exactly one thread runs this context, so Asio skips waking other threads.
    net::io_context ioc{1};
    request_metrics_cache metrics;
  };

  struct session : std::enable_shared_from_this<session> {
    session(impl& server, worker& home, connection_socket&& socket,
            std::shared_ptr<ssl::context> ctx)
        : server(server),
          home(home),
          context(std::move(ctx)),
          tls(std::move(socket), *context),
          watchdog(home.ioc.get_executor()) {}
    ~session() { server.deregister(this); }

    connection_socket& socket() { return tls.socket(); }

    // ---- deadline ----
    // One timer per connection instead of one per I/O operation: the session only stores when
    // the current phase must end (idle, reading a request, writing, closing), and the watchdog
    // wakes up at that deadline or earlier, re-arming when the deadline has moved on. Because it
    // never sleeps longer than the shortest timeout, any deadline set later is still ahead of
    // it, and the request path costs a clock read and a store, not a timer operation.
    void set_deadline(std::chrono::steady_clock::duration timeout) {
      deadline = std::chrono::steady_clock::now() + timeout;
      if (deadline < watchdog.expiry()) {
        arm_watchdog();  // a phase shorter than the watchdog's period: wake up in time for it
      }
    }

    void start_watchdog() { arm_watchdog(); }

    void stop_watchdog() {
      finished = true;
      watchdog.cancel();
    }

    void arm_watchdog() {
      auto const now = std::chrono::steady_clock::now();
      watchdog.expires_at(std::min(deadline, now + server.watchdog_period));
      watchdog.async_wait([self = shared_from_this()](boost::system::error_code ec) {
        self->on_watchdog(ec);
      });
    }

    void on_watchdog(boost::system::error_code ec) {
      if (ec || finished) {
        return;  // cancelled: re-armed for an earlier deadline, or the connection is over
      }
      if (std::chrono::steady_clock::now() < deadline) {
        arm_watchdog();
        return;
      }
      // As beast::tcp_stream did on a timeout: close, so that the pending operation ends and
      // the session sees timed_out.
      timed_out = true;
      boost::system::error_code ignored;
      socket().close(ignored);
    }

    impl& server;
    worker& home;
    // Declared before the stream: the SSL object refers to this context for its whole life.
    std::shared_ptr<ssl::context> context;
    tls_stream tls;
    connection_timer watchdog;
    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
    bool timed_out = false;
    bool finished = false;
    beast::flat_buffer buffer;
    std::string body;      // the request body, reused by the next request
    std::string response;  // the rendered response, reused likewise
    bool idle = false;  // waiting for the first byte of a request; touched only on home's thread
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
        watchdog_period(shortest_timeout(options)),
        workers(make_workers(options.threads)),
        control(control_ioc.get_executor()),
        acceptor(control),
        accept_backoff(control),
        delay_timer(control),
        grace_timer(control),
        poll_timer(control),
        inotify(control) {
    options.threads = static_cast<unsigned>(workers.size());
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
    control_ioc.stop();
    for (auto& w : workers) {
      w->ioc.stop();
    }
  }

  static std::vector<std::unique_ptr<worker>> make_workers(unsigned threads) {
    if (threads == 0) {
      threads = std::max(1u, std::thread::hardware_concurrency());
    }
    std::vector<std::unique_ptr<worker>> made;
    made.reserve(threads);
    for (unsigned t = 0; t < threads; ++t) {
      made.push_back(std::make_unique<worker>());
    }
    return made;
  }

  // The watchdog's longest sleep; a second at least, so that a zero timeout cannot make it spin
  // (set_deadline re-arms it for a deadline nearer than that).
  static std::chrono::steady_clock::duration shortest_timeout(server_options const& o) {
    std::chrono::steady_clock::duration shortest =
        std::min({o.idle_timeout, o.read_timeout, o.write_timeout});
    return std::max<std::chrono::steady_clock::duration>(shortest, std::chrono::seconds(1));
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
  std::chrono::steady_clock::duration watchdog_period;

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

  // I/O objects last: they are destroyed first, before the io_contexts they belong to, and the
  // io_contexts (destroying suspended session frames) before the session registry above.
  // The acceptor, certificate watch and shutdown; one thread runs it, which serialises them.
  net::io_context control_ioc{1};
  std::vector<std::unique_ptr<worker>> workers;
  std::size_t next_worker = 0;  // round-robin; touched only by the accept loop
  net::io_context::executor_type control;
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
      worker& home = *workers[next_worker];
      // The socket is created on its serving thread's context and stays there.
      auto [ec, socket] = co_await acceptor.async_accept(home.ioc, use_tuple);
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
      next_worker = (next_worker + 1) % workers.size();
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      connections_total.inc();
      connections_open.inc();
      auto s = std::make_shared<session>(*this, home, std::move(socket), current_context());
      {
        std::lock_guard lock(sessions_mutex);
        sessions.emplace(s.get(), s);
      }
      net::co_spawn(home.ioc.get_executor(), run_session(std::move(s)),
                    [this](std::exception_ptr e) {
                      if (!e) {
                        return;
                      }
                      // Only allocation failures and bugs get here: the request path uses error
                      // codes and handler exceptions are caught where the handler is called.
                      try {
                        std::rethrow_exception(e);
                      } catch (std::exception const& ex) {
                        log(log_level::error,
                            std::string("connection ended by exception: ") + ex.what());
                      } catch (...) {
                        log(log_level::error, "connection ended by unknown exception");
                      }
                    });
    }
  }

  // ---- one connection ----
  connection_task<void> run_session(std::shared_ptr<session> s) {
    // However the session ends (even by an exception), the watchdog lets go of it.
    struct watchdog_stop {
      session& s;
      ~watchdog_stop() { s.stop_watchdog(); }
    } const stop_watchdog_on_exit{*s};
    s->peer = describe_endpoint(s->socket());

    // TLS handshake (with detection, to answer plain HTTP with a readable 400 rather than a
    // handshake alert the client would print as garbage), bounded by read_timeout.
    s->set_deadline(options.read_timeout);
    s->start_watchdog();
    auto [dec, is_tls] = co_await beast::async_detect_ssl(s->socket(), s->buffer, on_connection);
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
        s->set_deadline(options.write_timeout);
        co_await net::async_write(s->socket(), net::buffer(answer), on_connection);
      }
      boost::system::error_code ignored;
      s->socket().shutdown(tcp::socket::shutdown_send, ignored);
      s->socket().close(ignored);
      co_return;
    }
    auto const detected = s->buffer.data();
    auto const hec = co_await s->tls.handshake(
        std::string_view(static_cast<char const*>(detected.data()), detected.size()));
    s->buffer.clear();
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
        if (!s->tls.has_buffered_input()) {
          // The client sends its next request only once it has read this answer; the other
          // connections ready on this thread go first, so that by the time this one reads, the
          // request is usually there and the read does not end in EAGAIN and an epoll round.
          co_await net::post(s->home.ioc.get_executor(), net::use_awaitable_t<connection_executor>{});
          if (draining) {
            break;
          }
        }
        s->set_deadline(options.idle_timeout);
        s->idle = true;
        auto const space = s->buffer.prepare(16 * 1024);
        auto [ec, n] = co_await s->tls.read_some(space.data(), space.size());
        s->idle = false;
        if (ec) {
          // eof: the client's close_notify (answer it); our drain: say goodbye; timeout (the
          // watchdog closed the socket), truncation or reset: nothing can be sent.
          send_close_notify =
              !s->timed_out && (ec == net::error::eof || ec == net::error::operation_aborted);
          break;
        }
        s->buffer.commit(n);
      }

      // From the first byte the whole request must arrive within read_timeout, however slowly
      // it trickles: this is what cuts off a slowloris client.
      s->set_deadline(options.read_timeout);
      if (s->body.capacity() > kept_body_capacity) {
        std::string().swap(s->body);
      }
      s->body.clear();
      request_parser parser(std::piecewise_construct, std::forward_as_tuple(std::move(s->body)));
      parser.header_limit(static_cast<std::uint32_t>(
          std::min<std::size_t>(options.header_limit, std::numeric_limits<std::uint32_t>::max())));
      parser.body_limit(options.body_limit);
      parser.eager(true);
      auto const rec = co_await read_request(*s, parser);
      if (rec) {
        auto rejection = s->timed_out ? std::nullopt : reject(rec, parser);
        if (!rejection) {
          log(log_level::debug, "read failed peer=" + s->peer + ": " +
                                    (s->timed_out ? std::string("timeout") : rec.message()));
          send_close_notify = false;
          break;
        }
        // The rest of the request is unread, so the connection cannot carry another one.
        render_response(s->response, *rejection, 11, false);
        s->set_deadline(options.write_timeout);
        co_await s->tls.write(s->response.data(), s->response.size());
        break;
      }

      auto const started = std::chrono::steady_clock::now();
      in_flight.inc();
      request& req = parser.get();
      std::string_view route_label;
      response_parts parts = answer(req, route_label);
      bool const keep_alive = req.keep_alive() && !draining;
      render_response(s->response, parts, req.version(), keep_alive);
      s->body = std::move(req.body());
      // Counted before the write: once the client has its answer the metrics already show it.
      in_flight.dec();
      record(s->home.metrics, route_label, parts.outcome, parts.status, started);
      s->set_deadline(options.write_timeout);
      auto const [wec, nwritten] = co_await s->tls.write(s->response.data(), s->response.size());
      if (wec) {
        log(log_level::debug, "write failed peer=" + s->peer + ": " +
                                  (s->timed_out ? std::string("timeout") : wec.message()));
        send_close_notify = false;
        break;
      }
      if (!keep_alive) {
        break;
      }
    }

    if (send_close_notify && !s->timed_out) {
      // Bounded: a peer that never answers our close_notify must not hold the connection.
      s->set_deadline(std::min<std::chrono::steady_clock::duration>(options.write_timeout,
                                                                    std::chrono::seconds(5)));
      co_await s->tls.shutdown();
    }
    boost::system::error_code ignored;
    s->socket().close(ignored);
  }

  // One request into `parser`, as http::async_read would read it (Beast's read_op and
  // read_some_op), from the TLS stream: parse what is buffered, read when the parser needs more.
  connection_task<boost::system::error_code> read_request(session& s, request_parser& parser) {
    for (;;) {
      if (s.buffer.size() > 0) {
        boost::system::error_code ec;
        std::size_t const used = parser.put(s.buffer.data(), ec);
        s.buffer.consume(used);
        if (ec && ec != http::error::need_more) {
          co_return ec;
        }
        if (parser.is_done()) {
          co_return boost::system::error_code{};
        }
        if (!ec && used > 0) {
          continue;  // more of the message may already be buffered
        }
      }
      std::size_t const size = beast::read_size(s.buffer, 65536);
      if (size == 0) {
        co_return http::error::buffer_overflow;
      }
      auto const space = s.buffer.prepare(size);
      auto const [ec, n] = co_await s.tls.read_some(space.data(), space.size());
      if (ec == net::error::eof) {
        if (!parser.got_some()) {
          co_return http::error::end_of_stream;
        }
        boost::system::error_code eof_ec;
        parser.put_eof(eof_ec);  // partial_message unless the message ends at EOF
        co_return eof_ec;
      }
      if (ec) {
        co_return ec;
      }
      s.buffer.commit(n);
    }
  }

  // Counts an answered request. The children are looked up once per thread and then found in
  // the thread's cache by comparing a few short strings.
  void record(request_metrics_cache& cache, std::string_view route, std::string_view outcome,
              unsigned status, std::chrono::steady_clock::time_point started) {
    counter* count = nullptr;
    for (auto const& e : cache.counts) {
      if (e.status == status && e.route == route && e.outcome == outcome) {
        count = e.cell;
        break;
      }
    }
    if (count == nullptr) {
      std::string code;
      append_decimal(code, status);
      count = &requests.with({route, outcome, code});
      if (cache.counts.size() < metrics_cache_limit) {
        cache.counts.push_back({route, std::string(outcome), status, count});
      }
    }
    histogram* seconds = nullptr;
    for (auto const& e : cache.latencies) {
      if (e.route == route) {
        seconds = e.cell;
        break;
      }
    }
    if (seconds == nullptr) {
      seconds = &latency.with({route});
      cache.latencies.push_back({route, seconds});  // bounded by the routes
    }
    count->inc();
    seconds->observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  }

  // The metrics label of a path. Always a view of stable storage (a route map key or a
  // literal), never of the request, because the per-thread metrics cache keeps it.
  std::string_view route_label_for(std::string_view path) const {
    if (auto it = routes.find(path); it != routes.end()) {
      return it->first;
    }
    for (std::string_view builtin : {std::string_view("/healthz"), std::string_view("/readyz"),
                                     std::string_view("/metrics")}) {
      if (path == builtin) {
        return builtin;
      }
    }
    return "unmatched";
  }

  // The answer to a request that could not be read, or nothing when the connection should just
  // close (timeouts, resets, a peer that vanished mid-request).
  std::optional<response_parts> reject(boost::system::error_code ec, request_parser& parser) {
    response_parts res;
    res.content_type = text_plain;
    if (ec == http::error::body_limit) {
      res.status = 413;
      res.outcome = "too_large";
      res.body = "request body exceeds the limit of " + std::to_string(options.body_limit) +
                 " bytes\n";
    } else if (ec == http::error::header_limit) {
      res.status = 431;
      res.outcome = "header_too_large";
      res.body = "request header exceeds the limit of " + std::to_string(options.header_limit) +
                 " bytes\n";
    } else if (ec.category() == http::make_error_code(http::error::bad_method).category() &&
               ec != http::error::end_of_stream && ec != http::error::partial_message &&
               ec != http::error::need_more && ec != http::error::need_buffer) {
      res.status = 400;
      res.outcome = "bad_request";
      res.body = "malformed HTTP request: " + ec.message() + "\n";
    } else {
      return std::nullopt;
    }
    // The start line is parsed before any header limit trips, so the target is known here.
    std::string_view const route = route_label_for(path_of(parser.get().target()));
    requests.with({route, res.outcome, std::to_string(res.status)}).inc();
    log(log_level::info, "rejected request: " + std::to_string(res.status) + " " + res.outcome +
                             " route=" + std::string(route));
    return res;
  }

  static response_parts text(unsigned status, std::string body, std::string outcome) {
    response_parts res;
    res.status = status;
    res.content_type = text_plain;
    res.body = std::move(body);
    res.outcome = std::move(outcome);
    return res;
  }

  response_parts answer(request& req, std::string_view& route_label) {
    std::string_view const path = path_of(req.target());
    route_label = route_label_for(path);

    if (auto it = routes.find(path); it != routes.end()) {
      if (req.method() != http::verb::post) {
        auto res = text(405, "use POST\n", "method_not_allowed");
        res.allow = "POST";
        return res;
      }
      handler_result result;
      try {
        result = it->second.handler(req[http::field::content_type], req.body());
      } catch (std::exception const& e) {
        log(log_level::error, "handler for " + it->first + " threw: " + e.what());
        result = {500, "internal error in admission handler\n", std::string(text_plain), "error"};
      } catch (...) {
        log(log_level::error, "handler for " + it->first + " threw a non-exception");
        result = {500, "internal error in admission handler\n", std::string(text_plain), "error"};
      }
      response_parts res;
      res.status = result.status;
      res.body = std::move(result.body);
      res.content_type = std::move(result.content_type);
      res.outcome = result.outcome.empty() ? "ok" : std::move(result.outcome);
      return res;
    }

    bool const builtin = path == "/healthz" || path == "/readyz" || path == "/metrics";
    if (!builtin) {
      return text(404, "no route for this path\n", "not_found");
    }
    if (req.method() != http::verb::get) {
      auto res = text(405, "use GET\n", "method_not_allowed");
      res.allow = "GET";
      return res;
    }
    if (path == "/healthz") {
      return text(200, "ok\n", "ok");
    }
    if (path == "/readyz") {
      if (stopping) {
        return text(503, "shutting down\n", "not_ready");
      }
      bool ready = true;
      try {
        ready = !readiness || readiness();
      } catch (std::exception const& e) {
        ready = false;
        log(log_level::error, std::string("readiness check threw: ") + e.what());
      }
      return ready ? text(200, "ok\n", "ok") : text(503, "not ready\n", "not_ready");
    }
    auto res = text(200, metrics.expose(), "ok");
    res.content_type = metrics_registry::content_type;
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
      // Each connection is touched only on its own thread. Only idle connections are
      // interrupted; one in the middle of a request gets its answer (with Connection: close)
      // and then ends by itself.
      net::post(s->home.ioc, [s] {
        // Bytes already received are a request the client has sent: let it be read and served.
        boost::system::error_code ec;
        if (s->idle && s->socket().available(ec) == 0 && !s->tls.has_buffered_input()) {
          s->socket().cancel(ec);
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
        net::post(s->home.ioc, [s] {
          boost::system::error_code ignored;
          s->socket().close(ignored);
        });
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

#ifdef __GLIBC__
  if (auto const threshold = i.options.malloc_trim_threshold; threshold > 0) {
    mallopt(M_TRIM_THRESHOLD, static_cast<int>(std::min<std::size_t>(
                                  threshold, std::numeric_limits<int>::max())));
  }
#endif

  // The control context runs out of work once the listener, the watchers and the grace period
  // are done; the serving contexts are held open until then, since a connection may be accepted
  // onto them at any moment before.
  using work_guard = net::executor_work_guard<net::io_context::executor_type>;
  std::vector<work_guard> held;
  std::vector<std::thread> pool;
  held.reserve(i.workers.size());
  pool.reserve(i.workers.size());
  for (auto& w : i.workers) {
    held.push_back(net::make_work_guard(w->ioc));
    pool.emplace_back([&ioc = w->ioc] { ioc.run(); });
  }
  i.control_ioc.run();
  // Every connection has ended, or was closed when the grace period ran out: let the serving
  // threads finish them and return.
  for (auto& guard : held) {
    guard.reset();
  }
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
