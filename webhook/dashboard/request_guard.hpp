#pragma once
// Who may use the dashboard's HTTP API (docs/dashboard.md, "Security"): it answers with the
// user's own Kubernetes credentials, so a web page the same browser visits must not be able to
// read it or act through it.
//  - Host must be one the dashboard listens as (127.0.0.1:PORT, localhost:PORT, [::1]:PORT):
//    defeats DNS rebinding, where a hostile name resolves to 127.0.0.1 and the page then reads
//    the API as "same origin".
//  - A write (POST) must carry X-Dashboard-Token, a random value the page gets embedded in its
//    HTML; another origin cannot read the page, so it cannot send the token, and a custom header
//    makes the browser ask first (CORS preflight), which this server never grants. Origin, when
//    the browser sends it, must be this server's.
// Pure: the caller passes the header values.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace apr::dashboard {

struct guard_policy {
    std::vector<std::string> hosts;  // accepted Host values; empty = any (--allow-remote)
    std::string token;               // required in X-Dashboard-Token on writes
};

struct request_headers {
    std::string_view method;
    std::string_view host;
    std::string_view origin;
    std::string_view token;
};

// Why the request is refused (for a 403's body), or nullopt when it may go on.
std::optional<std::string> refusal(const guard_policy& policy, const request_headers& request);

// The Host values a browser sends for a listener on loopback port `port`.
std::vector<std::string> loopback_hosts(unsigned short port);

// A random token (hex of 16 bytes from the OS's generator) for one dashboard process.
std::string make_token();

}  // namespace apr::dashboard
