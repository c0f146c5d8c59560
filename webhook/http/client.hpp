#pragma once
// One HTTP/1.1 client on Beast + OpenSSL for every outbound call of the project: the Kubernetes
// API (kube::client wraps it), Prometheus queries and gate webhooks. One client talks to one
// origin (http or https; TLS verified against the system trust store or a CA bundle, TLS 1.2+),
// keeps idle connections for reuse, and gives every request a deadline and a stop_token. Unary
// requests run as coroutines on one private io thread (so deadlines are real timers); a stream
// runs on the calling thread's own io_context (so its callback never delays other requests).
// No call throws on I/O errors or HTTP statuses: they come back as values.

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

namespace apr::http {

// Where requests go and how the server is verified.
struct origin {
    bool tls = true;
    std::string host;  // DNS name or IP literal (IPv6 without brackets)
    std::string port = "443";
    std::string base_path;                  // prefix of every request path, usually empty
    std::string ca_pem;                     // empty: the system trust store
    std::string tls_server_name;            // overrides the name verified (and sent as SNI)
    bool insecure_skip_tls_verify = false;  // only when a kubeconfig says so
    std::string client_cert_pem;
    std::string client_key_pem;
};

// Splits "http(s)://host[:port][/path]" into an origin (base_path = path) or says why not.
struct parsed_url {
    origin where;
    std::string error;  // empty when parsed
};
parsed_url parse_url(std::string_view url);

struct options {
    std::chrono::milliseconds request_timeout{30'000};
    std::size_t max_body_bytes = std::size_t(1) << 30;
    std::chrono::seconds max_idle{60};  // pooled connections older than this are dropped
    std::string user_agent = "argocd-progressive-rollout";
    // Send again after a 429 (any verb) or a 5xx with Retry-After (GET), as the Kubernetes API
    // asks clients to; at most 10 times, within the deadline.
    bool retry_throttled = false;
    // Told about each such retry (number 1, 2, ...), e.g. to log it.
    std::function<void(std::string_view message, int retry)> on_retry;
};

enum class method { get, post, put, patch, del };

struct header {
    std::string name;
    std::string value;
};

struct request {
    method verb = method::get;
    std::string path;  // after the origin's base_path, with the query string
    std::string body;
    std::string content_type;  // default application/json when there is a body
    std::vector<header> headers;
    std::chrono::milliseconds timeout{0};  // 0: options().request_timeout
};

struct reply {
    unsigned status = 0;
    std::string body;
};

// A request that got no answer.
struct failure {
    std::string reason;  // "Transport", "Timeout", "Cancelled", "Internal"
    std::string message;
    boost::system::error_code transport;
};

template <class T>
using result = boost::system::result<T, failure>;

// Called with raw response body bytes as they arrive; return false to end the stream.
using stream_handler = std::function<bool(std::string_view bytes)>;

struct stream_status {
    unsigned status = 0;     // the response's status
    std::string error_body;  // its body (cut at 1 MiB) when the status is not 200
};

class client {
public:
    // Throws std::runtime_error when the TLS material in `where` is unusable.
    explicit client(origin where, options opts = {});
    ~client();
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    // Blocks until the answer, the deadline or `stop`.
    result<reply> send(const request& r, std::stop_token stop = {});

    // A long GET (a watch) on a dedicated connection, run on the calling thread. Returns when the
    // server ends the response, `on_bytes` returns false, `stop` is requested, or nothing arrives
    // for `idle_timeout`. Body bytes of a 200 answer go to `on_bytes`.
    result<stream_status> stream(const request& r, const stream_handler& on_bytes, std::stop_token stop,
                                 std::chrono::seconds idle_timeout);

    const origin& where() const;
    const options& opts() const;
    // Connections opened so far (tests use it to check keep-alive reuse).
    std::size_t connections_opened() const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

// Percent-encodes a query parameter value.
std::string query_escape(std::string_view s);

}  // namespace apr::http
