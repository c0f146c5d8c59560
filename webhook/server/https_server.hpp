// The TLS admission server: HTTP/1.1 keep-alive over TLS 1.2+/1.3 on Boost.Beast and C++20
// coroutines, admission routes by path, /healthz, /readyz, /metrics, certificate hot reload and
// graceful shutdown. What does not live here: decoding AdmissionReviews (the lead's handler does
// that and returns a handler_result) or any rollout logic.
#pragma once

#include "metrics_registry.hpp"
#include "tls_credentials.hpp"

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace apr::server {

// What a route handler returns.
struct handler_result {
  unsigned status = 200;  // HTTP status
  std::string body;       // response body (JSON for admission)
  std::string content_type = "application/json";
  std::string outcome;    // metrics label: allowed|held|denied|error|...; empty -> "ok"
};

// Called on a server thread for a POST to the route, with the request's Content-Type and body.
// Must not throw; the server catches anyway and answers 500 with a short message. It runs on an
// I/O thread, so it must not block for long: a blocked call holds up its thread, one of
// `threads`, and every connection served on it.
// The body is the connection's own request buffer, lent for the call: NUL-terminated
// (body.c_str()), and the handler may overwrite or move it, so an in-situ JSON parser
// (RapidJSON's ParseInsitu) needs no copy. The server starts the next request afresh.
using admission_handler =
    std::function<handler_result(std::string_view content_type, std::string& body)>;

enum class log_level { debug, info, warn, error };
// One call per event, one line, no request bodies. Default: info and above to stderr as
// `level=info component=server msg="..."`.
using log_sink = std::function<void(log_level, std::string_view message)>;

struct server_options {
  std::string listen = ":8443";  // "HOST:PORT", ":PORT" (all IPv4), "[::1]:PORT"; port 0 = any
  std::filesystem::path cert_file, key_file;
  std::size_t body_limit = 7 * 1024 * 1024;  // controller-runtime's maxRequestSize
  std::size_t header_limit = 64 * 1024;
  // Idle keep-alive connections are kept at least as long as Go's http.Transport keeps them
  // (IdleConnTimeout 90 s); closing earlier races with the API server reusing the connection.
  std::chrono::seconds idle_timeout{90};
  // From the first byte of a request to its last (and for the TLS handshake): a slow client
  // is cut off here, whatever its byte rate.
  std::chrono::seconds read_timeout{30};
  std::chrono::seconds write_timeout{30};
  unsigned threads = 0;  // 0 = hardware_concurrency
  // After stop(): /readyz answers 503 for shutdown_delay while still serving (so endpoints can
  // drop the pod), then the listener closes, idle connections close, in-flight requests get
  // their answers; whatever is left after shutdown_grace more is cut.
  std::chrono::seconds shutdown_delay{0};
  std::chrono::seconds shutdown_grace{25};
  // Certificate files are watched with inotify on their directories (which catches the Secret
  // volume `..data` symlink swap); this poll is the fallback for filesystems without events.
  std::chrono::seconds cert_poll_interval{10};
  // glibc hands free memory at the top of a thread's heap back to the kernel (madvise) once it
  // exceeds the trim threshold, 128 KiB by default; a serving thread that allocates and frees
  // a few hundred KiB per request (body, parsed review, answer) then gave it back and
  // page-faulted it in again on every request, a fifth to a third of the CPU per 20 KB review.
  // run() raises the process-wide threshold to this (mallopt M_TRIM_THRESHOLD), about where
  // glibc's own dynamic threshold lands after one 7 MiB body; 0 leaves the allocator alone.
  std::size_t malloc_trim_threshold = 16 * 1024 * 1024;
  log_sink log;  // empty = default stderr sink
};

class https_server {
 public:
  // Loads the certificate (throws std::runtime_error naming the file on a bad or mismatched
  // pair) and binds the listener (throws naming the address). Registers its metrics.
  https_server(server_options options, metrics_registry& metrics);
  ~https_server();
  https_server(https_server const&) = delete;
  https_server& operator=(https_server const&) = delete;

  // Before run(). POST only (405 otherwise); the query string is ignored for routing.
  void add_admission_route(std::string path, admission_handler handler);
  // /readyz = this && not shutting down. Default: always ready. Before run().
  void set_readiness(std::function<bool()> ready);

  unsigned short port() const;  // the bound port (listen on :0 in tests)

  // Serves on `threads` threads of its own until stop(), each connection on one of them; the
  // caller's thread accepts and runs the certificate watch and shutdown. Returns after draining.
  void run();
  // Graceful, idempotent, callable from any thread (or before run(), which then returns at once).
  void stop();

  // Reads the certificate files now; true if a new certificate is being served afterwards.
  // The watcher calls the same thing; exposed for SIGHUP-style triggers and tests.
  bool reload_certificate();
  certificate_info current_certificate() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// While alive, the first SIGTERM or SIGINT calls on_signal (e.g. [&]{ server.stop(); }) on a
// thread of its own; a second one ends the process at once with status 128+signo, for an
// operator who means it.
class shutdown_signals {
 public:
  explicit shutdown_signals(std::function<void(int signo)> on_signal);
  ~shutdown_signals();
  shutdown_signals(shutdown_signals const&) = delete;
  shutdown_signals& operator=(shutdown_signals const&) = delete;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace apr::server
