// Test support for the server suites: certificates made at test time with the OpenSSL API (no
// key ever lands in git; test_certificates.cpp), a TLS client whose every operation has a
// deadline (a broken server fails a test instead of hanging it) and a fixture that runs a real
// https_server on port 0 (test_support.cpp).
// Beast and Asio stay behind this header so the test files compile quickly.
#pragma once

#include "../eventually.hpp"
#include "server/https_server.hpp"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace apr::server::test {

using namespace std::chrono_literals;

// A scratch directory removed with everything in it.
class temp_dir {
public:
    temp_dir();
    ~temp_dir();
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

// A CA (kept in memory, its certificate written to ca.crt) that issues serving certificates
// with SANs DNS:localhost and IP:127.0.0.1, EC P-256 keys, EKU serverAuth.
class test_ca {
public:
    explicit test_ca(std::filesystem::path dir);
    ~test_ca();
    test_ca(const test_ca&) = delete;
    test_ca& operator=(const test_ca&) = delete;

    const std::filesystem::path& ca_file() const { return ca_file_; }

    struct issued {
        std::string cert_pem;
        std::string key_pem;
        std::string serial_hex;  // as certificate_info spells it
        std::string common_name;
    };
    issued issue(long serial, std::string common_name, int days = 30);

private:
    struct impl;
    std::unique_ptr<impl> impl_;
    std::filesystem::path ca_file_;
};

// Writes through a temporary and rename, as an operator's `kubectl cp`/`mv` or an atomic tool
// would; the server never sees a half-written file.
void write_file_atomically(const std::filesystem::path& p, const std::string& contents);

// The Kubernetes Secret volume layout (kubelet's atomic_writer): DIR/..TIMESTAMP/{tls.crt,tls.key},
// DIR/..data -> ..TIMESTAMP, DIR/tls.crt -> ..data/tls.crt, DIR/tls.key -> ..data/tls.key.
// swap() writes a new timestamped directory and renames a new ..data symlink over the old one.
class secret_volume {
public:
    explicit secret_volume(std::filesystem::path dir);
    void swap(const test_ca::issued& pair);
    std::filesystem::path cert_file() const { return dir_ / "tls.crt"; }
    std::filesystem::path key_file() const { return dir_ / "tls.key"; }

private:
    std::filesystem::path dir_;
    int generation_ = 0;
};

struct http_reply {
    unsigned status = 0;
    std::string body;
    std::map<std::string, std::string> headers;  // lower-case names
    bool keep_alive = false;
    std::string header(const std::string& name) const {
        auto it = headers.find(name);
        return it == headers.end() ? std::string{} : it->second;
    }
};

struct client_options {
    std::string alpn = "http/1.1";  // empty = offer none
    std::string server_name = "localhost";
    int max_tls_version = 0;  // e.g. TLS1_1_VERSION to prove old versions are refused
    std::chrono::milliseconds timeout{10000};
};

// One TLS connection to 127.0.0.1:port, verifying the server against the test CA.
class tls_client {
public:
    tls_client(unsigned short port, std::filesystem::path ca_file, client_options options = {});
    ~tls_client();
    tls_client(tls_client&&) noexcept;
    tls_client& operator=(tls_client&&) noexcept;

    // Throws std::runtime_error with the reason on failure (refused, handshake, timeout).
    void connect();
    http_reply request(const std::string& method, const std::string& target, const std::string& body = {},
                       const std::string& content_type = "application/json",
                       const std::vector<std::pair<std::string, std::string>>& extra_headers = {});
    void send_raw(const std::string& bytes);  // over TLS
    // The next response, or nullopt if the connection ends (cleanly or not) before one arrives.
    std::optional<http_reply> read_reply();
    // True if the server ends the connection within the timeout without sending anything.
    bool wait_closed();

    // Sends the header of a POST with Content-Length `size` and streams zeros as the body while
    // reading concurrently: a client that uploads a huge body and watches for an early answer.
    std::optional<http_reply> upload(const std::string& target, std::size_t size);

    // Sends `bytes` one at a time, one every `interval`, until done or the server cuts the
    // connection; returns how many were accepted. sent counts progress for other threads.
    std::size_t trickle(const std::string& bytes, std::chrono::milliseconds interval, std::atomic<std::size_t>& sent);

    certificate_info peer_certificate() const;
    std::string negotiated_alpn() const;
    std::string tls_version() const;
    void close();

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

// Plain TCP: sends bytes and returns whatever comes back until the server closes (or timeout).
std::string raw_tcp_exchange(unsigned short port, const std::string& bytes,
                             std::chrono::milliseconds timeout = 10000ms);

// Opens n TLS connections at once; when all n are established on_all_connected runs (the server
// holds n connections at that moment), then each sends one POST and reads the answer.
struct concurrency_result {
    int connected = 0;
    int answered_200 = 0;
};
concurrency_result concurrent_requests(unsigned short port, const std::filesystem::path& ca_file, int n,
                                       const std::string& target, std::function<void()> on_all_connected,
                                       std::chrono::milliseconds timeout = 60000ms);

// Waits until pred() holds, up to the deadline (default 10 s): tests/eventually.hpp.
using apr::test::eventually;

// A running https_server on 127.0.0.1:0 with fresh certificates and captured log lines.
class server_fixture {
public:
    server_fixture();
    ~server_fixture();

    server_options default_options() const;  // 127.0.0.1:0, the fixture's cert files, 2 threads
    // Builds the server; routes and readiness can be set on server() before run_in_background().
    https_server& create(server_options options);
    void run_in_background();
    https_server& start(server_options options) {
        auto& s = create(std::move(options));
        run_in_background();
        return s;
    }
    https_server& server() { return *server_; }
    unsigned short port() const { return server_->port(); }

    tls_client client(client_options options = {}) const;
    // Connect and GET path; a fresh connection each call.
    http_reply get(const std::string& path) const;

    // The value of a sample from metrics_registry::expose(), e.g.
    // metric("argocd_progressive_rollout_tls_handshake_failures_total"); -1 when absent.
    double metric(const std::string& series) const;
    std::string exposition() const { return metrics_.expose(); }

    bool run_returned() const;
    // Waits for run() to return (after stop()); false on deadline.
    bool wait_run_returned(std::chrono::milliseconds deadline);

    std::vector<std::string> logs() const;

    temp_dir dir;
    test_ca ca;
    test_ca::issued first;  // the pair the server starts with (serial 1)
    std::filesystem::path cert_file, key_file;
    metrics_registry metrics_;

private:
    std::unique_ptr<https_server> server_;
    std::future<void> run_;
    mutable std::mutex log_mutex_;
    std::vector<std::string> logs_;
};

}  // namespace apr::server::test
