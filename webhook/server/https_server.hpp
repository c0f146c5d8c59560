// The TLS admission server: HTTP/1.1 keep-alive over TLS 1.2+/1.3 on Boost.Beast and C++20
// coroutines, admission routes by path, /healthz, /readyz, /metrics, certificate hot reload and
// graceful shutdown (docs/operations.md). This is the facade that wires the parts (README.md in
// this directory shows them). What does not live here: decoding AdmissionReviews (the handler
// that `serve` registers per route does that and returns a handler_result), any rollout logic,
// signal handling (shutdown_signals.hpp).
#pragma once

#include "metrics_registry.hpp"
#include "router.hpp"
#include "server_log.hpp"
#include "tls_credentials.hpp"

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

namespace apr::server {

struct server_options {
    std::string listen = ":8443";  // "HOST:PORT", ":PORT" (all IPv4), "[::1]:PORT"; port 0 = any
    std::filesystem::path cert_file, key_file;
    // Plain HTTP instead of TLS, with no certificate: only for a local tool on loopback (the
    // dashboard, docs/dashboard.md). The webhook always serves TLS.
    bool plain_http = false;
    std::size_t body_limit = 7 * 1024 * 1024;  // controller-runtime's maxRequestSize
    std::size_t header_limit = 64 * 1024;
    // Idle keep-alive connections are kept at least as long as Go's http.Transport keeps them
    // (IdleConnTimeout 90 s); closing earlier races with the API server reusing the connection.
    std::chrono::seconds idle_timeout{90};
    // From the first byte of a request to its last (and for the TLS handshake): a slow client
    // is cut off here, whatever its byte rate.
    std::chrono::seconds read_timeout{30};
    std::chrono::seconds write_timeout{30};
    // Serving threads, each with its own event loop. 0 = as many as CPUs this process may really
    // use: its affinity mask, limited by its cgroup's CPU quota, rounded up (cpu_budget.hpp).
    unsigned threads = 0;
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
    https_server(const https_server&) = delete;
    https_server& operator=(const https_server&) = delete;

    // Before run(). POST only (405 otherwise); the query string is ignored for routing.
    void add_admission_route(std::string path, admission_handler handler);
    // Before run(). Any method: the handler sees the whole request and answers 405 itself.
    void add_route(std::string path, request_handler handler);
    // /readyz = this && not shutting down. Default: always ready. Before run().
    void set_readiness(std::function<bool()> ready);

    unsigned short port() const;  // the bound port (listen on :0 in tests)

    // Serves on `threads` threads of its own until stop(), each connection on one of them; the
    // caller's thread accepts and runs the certificate watch and shutdown. Returns after draining.
    void run();
    // Graceful, idempotent, callable from any thread (or before run(), which then returns at once).
    void stop();

    // Reads the certificate files now; true if a new certificate is being served afterwards
    // (false in plain-HTTP mode).
    // The watcher calls the same thing; exposed for SIGHUP-style triggers and tests.
    bool reload_certificate();
    certificate_info current_certificate() const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace apr::server
