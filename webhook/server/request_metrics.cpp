#include "request_metrics.hpp"

namespace apr::server {

server_metrics::server_metrics(metrics_registry& registry)
    : requests(registry.add_counter("argocd_progressive_rollout_http_requests_total",
                                    "HTTP requests answered, by route, outcome and status code.",
                                    {"route", "outcome", "code"})),
      latency(registry.add_histogram("argocd_progressive_rollout_http_request_duration_seconds",
                                     "Time from a request fully read to its response ready to send, by route.",
                                     {"route"})),
      in_flight(
          registry
              .add_gauge("argocd_progressive_rollout_http_requests_in_flight", "Requests read and not yet answered.")
              .with({})),
      connections_open(
          registry
              .add_gauge("argocd_progressive_rollout_http_connections_open", "Accepted TCP connections not yet closed.")
              .with({})),
      connections_total(
          registry.add_counter("argocd_progressive_rollout_http_connections_total", "Accepted TCP connections.")
              .with({})),
      handshake_failures(registry
                             .add_counter("argocd_progressive_rollout_tls_handshake_failures_total",
                                          "Connections that failed the TLS handshake, "
                                          "including plain HTTP sent to the TLS port.")
                             .with({})) {}

void request_metrics_cache::record(server_metrics& metrics, std::string_view route, std::string_view outcome,
                                   unsigned status, std::chrono::steady_clock::time_point started) {
    // A few short string comparisons instead of formatting the code and taking the family's lock.
    counter* count = nullptr;
    for (const auto& e : counts_) {
        if (e.status == status && e.route == route && e.outcome == outcome) {
            count = e.cell;
            break;
        }
    }
    if (count == nullptr) {
        count = &metrics.requests.with({route, outcome, std::to_string(status)});
        if (counts_.size() < count_limit) {
            counts_.push_back({route, std::string(outcome), status, count});
        }
    }
    histogram* seconds = nullptr;
    for (const auto& e : latencies_) {
        if (e.route == route) {
            seconds = e.cell;
            break;
        }
    }
    if (seconds == nullptr) {
        seconds = &metrics.latency.with({route});
        latencies_.push_back({route, seconds});
    }
    count->inc();
    seconds->observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
}

}  // namespace apr::server
