// Which answer a request gets: admission routes (POST only, handed to the injected handler),
// request routes (any method, the handler sees the whole request: the dashboard's page and API),
// GET /healthz, /readyz and /metrics, 404 and 405 otherwise. A function from a request to
// response parts and nothing else: no sockets, no threads, so it is tested on its own.
// What does not live here: reading requests or writing answers (session.cpp), decoding
// AdmissionReviews (the handlers `serve` registers do that).
#pragma once

#include "metrics_registry.hpp"
#include "response.hpp"
#include "server_log.hpp"

#include <boost/beast/http/fields.hpp>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace apr::server {

// What a route handler returns.
struct handler_result {
    unsigned status = 200;  // HTTP status
    std::string body;       // response body (JSON for admission)
    std::string content_type = "application/json";
    std::string outcome;  // metrics label: allowed|held|denied|error|...; empty -> "ok"
    std::string headers;  // more header lines, each "Name: value\r\n" (request routes' security headers)
};

// Called on a server thread for a POST to the route, with the request's Content-Type and body.
// Must not throw; the server catches anyway and answers 500 with a short message. It runs on an
// I/O thread, so it must not block for long: a blocked call holds up its thread, one of
// `threads`, and every connection served on it.
// The body is the connection's own request buffer, lent for the call: NUL-terminated
// (body.c_str()), and the handler may overwrite or move it, so an in-situ JSON parser
// (RapidJSON's ParseInsitu) needs no copy. The server starts the next request afresh.
using admission_handler = std::function<handler_result(std::string_view content_type, std::string& body)>;

// The parts of a request routing looks at.
struct request_view {
    std::string_view method;  // as sent: "POST", "GET", ...
    std::string_view target;  // path and query, e.g. "/mutate?timeout=10s"
    std::string_view content_type;
    std::string& body;                                   // lent to an admission handler, see above
    const boost::beast::http::fields* fields = nullptr;  // every header, for request routes

    // A header's value, empty when absent.
    std::string_view header(std::string_view name) const;
};

// Called on a server thread for a request to the route, whatever its method (the handler answers
// 405 itself); same rules as admission_handler otherwise.
using request_handler = std::function<handler_result(const request_view& request)>;

// The path part of a request target: the API server appends ?timeout=10s, and routing is on
// the path only.
std::string_view path_of(std::string_view target);

// The percent-decoded value of `key` in the target's query string ("/x?name=a%20b" -> "a b"),
// nullopt when absent or badly encoded.
std::optional<std::string> query_value(std::string_view target, std::string_view key);

class router {
public:
    // `metrics` is what /metrics exposes; `log` hears of handlers and readiness checks that throw.
    router(const metrics_registry& metrics, log_sink log);

    // Set up before serving starts; answer() is then called from every serving thread at once.
    void add_admission_route(std::string path, admission_handler handler);
    void add_route(std::string path, request_handler handler);
    // /readyz answers 200 iff this returns true and the server is not stopping. Default: ready.
    void set_readiness(std::function<bool()> ready);

    // The answer, with its route and outcome labels. `stopping`: the server is shutting down, so
    // /readyz fails. Handler exceptions become a 500 with outcome `error`.
    response_parts answer(request_view request, bool stopping) const;

    // The metrics label of a path: the route's own path (as stored in the table, so it outlives
    // any request), a built-in path, or "unmatched".
    std::string_view route_label(std::string_view path) const;

private:
    response_parts builtin(std::string_view path, std::string_view method, bool stopping) const;

    const metrics_registry& metrics_;
    log_sink log_;
    std::map<std::string, admission_handler, std::less<>> admission_;
    std::map<std::string, request_handler, std::less<>> routes_;
    std::function<bool()> readiness_;
};

}  // namespace apr::server
