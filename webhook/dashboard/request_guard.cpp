#include "dashboard/request_guard.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <stdexcept>

namespace apr::dashboard {

std::optional<std::string> refusal(const guard_policy& policy, const request_headers& request) {
    if (!policy.hosts.empty() &&
        std::find(policy.hosts.begin(), policy.hosts.end(), request.host) == policy.hosts.end()) {
        return "Host \"" + std::string(request.host) + "\" is not this dashboard's address";
    }
    if (request.method == "GET" || request.method == "HEAD") return std::nullopt;
    if (!request.origin.empty() && request.origin != "http://" + std::string(request.host))
        return "Origin \"" + std::string(request.origin) + "\" may not act through this dashboard";
    if (policy.token.empty() || request.token != policy.token)
        return std::string("a write needs the X-Dashboard-Token header of the dashboard's own page");
    return std::nullopt;
}

std::vector<std::string> loopback_hosts(unsigned short port) {
    // Appended in place: g++ 12 -O3 warns (-Wrestrict, falsely) on "literal" + string temporaries.
    const std::string p = std::string(":").append(std::to_string(port));
    return {std::string("127.0.0.1").append(p), std::string("localhost").append(p), std::string("[::1]").append(p)};
}

std::string make_token() {
    unsigned char bytes[16];
    if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("cannot draw a random dashboard token");
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned char b : bytes) {
        out += hex[b >> 4];
        out += hex[b & 15];
    }
    return out;
}

}  // namespace apr::dashboard
