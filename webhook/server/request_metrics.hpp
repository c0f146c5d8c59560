// The server's own HTTP and connection metrics: the families it registers, and the per-thread
// cache that counts an answered request without formatting or map lookups in the steady state.
// What does not live here: the registry and its text format (metrics_registry.hpp), the
// certificate metrics (serving_certificate.hpp).
#pragma once

#include "metrics_registry.hpp"

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace apr::server {

// Registered once per server; the cells are shared by every serving thread.
struct server_metrics {
    explicit server_metrics(metrics_registry& registry);

    family<counter>& requests;   // route, outcome, code
    family<histogram>& latency;  // route
    gauge& in_flight;
    gauge& connections_open;
    counter& connections_total;
    counter& handshake_failures;
};

// The request-metric cells one serving thread has used. Touched only by that thread.
class request_metrics_cache {
public:
    // Counts an answered request and its latency since `started`. `route` must be a view of
    // stable storage (a route table key or a literal), because the cache keeps it.
    void record(server_metrics& metrics, std::string_view route, std::string_view outcome, unsigned status,
                std::chrono::steady_clock::time_point started);

private:
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
    // Outcomes are handler-defined strings; a handler inventing new ones per request must not
    // grow the cache without bound (it just takes the family's lookup then).
    static constexpr std::size_t count_limit = 64;

    // Family cells are never removed, so these pointers stay valid for the registry's life.
    std::vector<count_entry> counts_;
    std::vector<latency_entry> latencies_;  // bounded by the routes
};

}  // namespace apr::server
