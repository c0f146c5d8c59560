#pragma once
// A tiny HTTP/1.1 server on loopback for tests: the exporter Prometheus scrapes (per-cluster
// error rates the test sets) and the endpoint webhook gates call (200, 500 with a body, an answer
// slower than the gate's timeout), over plain HTTP or, given a certificate and key, HTTPS. One
// thread per connection, `Connection: close`; nothing else.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

struct ssl_ctx_st;

namespace apr::sim {

class http_stub {
public:
    struct answer {
        unsigned status = 200;
        std::string body;
        std::chrono::milliseconds delay{0};  // before answering (a hang past a client's timeout)
        std::string content_type = "text/plain; version=0.0.4";
    };
    struct received {
        std::string method;
        std::string target;
        std::string body;
        std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
    };
    using handler = std::function<answer(const received&)>;
    // PEM files of the serving certificate (valid for 127.0.0.1) and its key: HTTPS.
    struct tls_files {
        std::string cert;
        std::string key;
    };

    // Listens on 127.0.0.1, any free port; with `tls` it speaks HTTPS. Throws if it cannot.
    explicit http_stub(handler h, std::optional<tls_files> tls = std::nullopt);
    ~http_stub();
    http_stub(const http_stub&) = delete;
    http_stub& operator=(const http_stub&) = delete;

    unsigned short port() const { return port_; }
    std::string url() const { return (tls_ ? "https" : "http") + std::string("://127.0.0.1:") + std::to_string(port_); }
    std::vector<received> requests() const;  // every request so far, in arrival order

private:
    void accept_loop();
    void serve(int fd);

    handler handler_;
    ssl_ctx_st* tls_ = nullptr;
    int listen_fd_ = -1;
    unsigned short port_ = 0;
    mutable std::mutex mutex_;
    std::condition_variable stopping_;
    bool stop_ = false;
    std::vector<received> requests_;
    std::vector<std::thread> connections_;
    std::thread acceptor_;
};

}  // namespace apr::sim
