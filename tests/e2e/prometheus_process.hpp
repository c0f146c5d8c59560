#pragma once
// A real Prometheus (Debian's `prometheus`) for the gate tests: on loopback, scraping one target
// every second, its data in a temporary directory. The destructor kills it.

#include <string>

namespace apr::e2e {

class prometheus_process {
public:
    // `target`: host:port of the exporter to scrape at /metrics.
    explicit prometheus_process(const std::string& target);
    ~prometheus_process();
    prometheus_process(const prometheus_process&) = delete;
    prometheus_process& operator=(const prometheus_process&) = delete;

    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    // The value of an instant query's first sample, or empty while there is none.
    std::string query(const std::string& promql) const;

private:
    int pid_ = -1;
    unsigned short port_ = 0;
    std::string dir_;
};

}  // namespace apr::e2e
