#pragma once
// A minimal Kubernetes API client on Beast + OpenSSL: TLS with server verification, bearer or
// client-certificate auth, keep-alive reuse, per-request deadlines, paged LIST, streamed WATCH
// bodies, and errors decoded from `kind: Status`. The calls block the calling thread; inside,
// unary requests run as coroutines on one private io thread (so deadlines are real timers) and
// a watch stream runs on the calling thread's own io_context (so its callback never delays
// other requests). No call throws on I/O or server errors: they return api_result.

#include "kube/api_error.hpp"
#include "kube/config.hpp"

#include <rapidjson/document.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>

namespace apr::kube {

struct client_options {
    std::chrono::milliseconds request_timeout{30'000};
    std::size_t max_body_bytes = std::size_t(1) << 30;  // a LIST page of large objects
    std::chrono::seconds max_idle{60};                  // pooled connections older than this are dropped
    std::string user_agent = "argocd-progressive-rollout";
    std::chrono::seconds token_refresh{60};  // how often a token file is re-read (rotation)
};

enum class method { get, post, put, patch, del };

struct http_reply {
    unsigned status = 0;
    std::string body;
};

struct list_page_info {
    std::string resource_version;  // of the whole list (constant across pages)
    std::size_t items = 0;
    std::size_t pages = 0;
};

// Called for each item of each page, on the calling thread.
using list_item_handler = std::function<void(const rapidjson::Value& item)>;

// Called with raw response body bytes as they arrive; return false to end the stream.
using stream_handler = std::function<bool(std::string_view bytes)>;

class client {
public:
    // Throws std::runtime_error when the TLS material in `cfg` is unusable.
    explicit client(cluster_config cfg, client_options opts = {});
    ~client();
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    // Paths are absolute API paths, e.g. "/api/v1/namespaces/argocd/secrets/x", optionally
    // with a query string. Bodies are JSON text.
    api_result<rapidjson::Document> get(std::string_view path);
    api_result<rapidjson::Document> create(std::string_view path, std::string_view json);
    api_result<rapidjson::Document> put(std::string_view path, std::string_view json);
    api_result<rapidjson::Document> merge_patch(std::string_view path, std::string_view json);
    api_result<rapidjson::Document> json_patch(std::string_view path, std::string_view json);
    api_result<void> remove(std::string_view path);

    // LIST with limit/continue paging; `on_item` sees every item of every page. A continue
    // token that expired mid-way comes back as an error with is_gone(). Requesting `stop`
    // abandons the page in flight (reason "Cancelled"), so shutdown never waits on a big LIST.
    api_result<list_page_info> list(std::string_view path, std::size_t page_limit, const list_item_handler& on_item,
                                    std::stop_token stop = {});

    // Any request; `timeout` 0 means options().request_timeout; `stop` cancels it.
    api_result<http_reply> request(method m, std::string_view path, std::string_view body = {},
                                   std::string_view content_type = {},
                                   std::chrono::milliseconds timeout = std::chrono::milliseconds(0),
                                   std::stop_token stop = {});

    // A long GET (a watch) on a dedicated connection, run on the calling thread. Returns when
    // the server ends the response, `on_bytes` returns false, `stop` is requested, or nothing
    // arrives for `idle_timeout`. A non-200 answer is returned as its decoded Status.
    api_result<void> stream(std::string_view path, const stream_handler& on_bytes, std::stop_token stop,
                            std::chrono::seconds idle_timeout);

    const cluster_config& config() const;
    const client_options& options() const;

    // Connections opened so far (tests use it to check keep-alive reuse).
    std::size_t connections_opened() const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

// Percent-encodes a query parameter value (label selectors, continue tokens).
std::string query_escape(std::string_view s);

// Decodes a `kind: Status` body (or anything else) into an api_error for HTTP `status`.
api_error decode_status(unsigned status, std::string_view body);

// Serializes a RapidJSON value (for request bodies).
std::string to_json(const rapidjson::Value& v);

}  // namespace apr::kube
