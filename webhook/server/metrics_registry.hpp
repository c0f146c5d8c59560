// A small Prometheus registry: counters, gauges and histograms with labels, exposed in the text
// format 0.0.4. There is no prometheus-cpp package in Debian bookworm, so this is hand-written.
// What lives here: metric cells, label-keyed families, the registry and its exposition.
// What does not: the names of the server's own metrics (request_metrics.cpp,
// serving_certificate.cpp) or HTTP serving.
#pragma once

#include "prometheus/text_format.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace apr::server {

// A monotonically increasing value. Thread-safe, lock-free.
class counter {
public:
    void inc(double amount = 1.0) noexcept { value_.fetch_add(amount, std::memory_order_relaxed); }
    double value() const noexcept { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<double> value_{0.0};
};

// A value that goes up and down. Thread-safe, lock-free.
class gauge {
public:
    void set(double v) noexcept { value_.store(v, std::memory_order_relaxed); }
    void inc(double amount = 1.0) noexcept { value_.fetch_add(amount, std::memory_order_relaxed); }
    void dec(double amount = 1.0) noexcept { value_.fetch_sub(amount, std::memory_order_relaxed); }
    double value() const noexcept { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<double> value_{0.0};
};

// Observations counted into fixed upper bounds; the exposition makes them cumulative.
class histogram {
public:
    explicit histogram(std::vector<double> upper_bounds);
    void observe(double v) noexcept;

    struct snapshot {
        std::vector<double> upper_bounds;       // without +Inf
        std::vector<std::uint64_t> cumulative;  // one per bound, then the +Inf bucket
        double sum = 0;
        std::uint64_t count = 0;
    };
    snapshot read() const;

private:
    std::vector<double> bounds_;
    std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // bounds_.size() + 1 (+Inf)
    std::atomic<double> sum_{0.0};
    std::atomic<std::uint64_t> count_{0};
};

// Default latency buckets in seconds, 100 µs to 10 s: an admission answer is expected in about a
// millisecond, and the API server gives up at timeoutSeconds (1–30 s).
std::vector<double> latency_buckets();

enum class metric_type { counter, gauge, histogram };

// All series of one metric name, keyed by label values in the order of the label names.
// Cells are created on first use and never removed, so references stay valid for the family's
// life; the hot path is a shared-lock lookup with no allocation once the series exists.
template <class Cell>
class family {
public:
    family(std::vector<std::string> label_names, std::function<std::unique_ptr<Cell>()> make)
        : label_names_(std::move(label_names)), make_(std::move(make)) {}

    // Values must match the label names in number; extra or missing values are a programming
    // error and are padded/truncated rather than thrown on (this runs on the request path).
    Cell& with(std::initializer_list<std::string_view> values) {
        return with(std::span<std::string_view const>(values.begin(), values.size()));
    }
    Cell& with(std::span<std::string_view const> values);

    const std::vector<std::string>& label_names() const { return label_names_; }

    // Visits every series in label order under a shared lock.
    void for_each(const std::function<void(const std::vector<std::string>&, const Cell&)>& f) const;

private:
    struct key_less {
        using is_transparent = void;
        template <class A, class B>
        bool operator()(A const& a, B const& b) const {
            return std::lexicographical_compare(
                a.begin(), a.end(), b.begin(), b.end(),
                [](const auto& x, const auto& y) { return std::string_view(x) < std::string_view(y); });
        }
    };

    std::vector<std::string> label_names_;
    std::function<std::unique_ptr<Cell>()> make_;
    mutable std::shared_mutex mutex_;
    std::map<std::vector<std::string>, std::unique_ptr<Cell>, key_less> cells_;
};

class metrics_registry {
public:
    metrics_registry() = default;
    metrics_registry(const metrics_registry&) = delete;
    metrics_registry& operator=(const metrics_registry&) = delete;

    // Registering a name twice with the same type and labels returns the existing family (two
    // servers in one process share their series); a clash of type or labels throws
    // std::invalid_argument at startup. Names must match [a-zA-Z_:][a-zA-Z0-9_:]*.
    family<counter>& add_counter(std::string name, std::string help, std::vector<std::string> label_names = {});
    family<gauge>& add_gauge(std::string name, std::string help, std::vector<std::string> label_names = {});
    family<histogram>& add_histogram(std::string name, std::string help, std::vector<std::string> label_names = {},
                                     std::vector<double> upper_bounds = latency_buckets());

    // Other layers append their own complete lines (# HELP/# TYPE and samples, each ending in
    // '\n') at scrape time, e.g. per-rollout phase gauges computed from a cache snapshot.
    void add_collector(std::function<void(std::string& out)> collector);

    // The whole exposition, text format 0.0.4.
    std::string expose() const;

    static constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";

private:
    struct entry {
        std::string name;
        std::string help;
        metric_type type;
        std::vector<std::string> label_names;
        std::unique_ptr<family<counter>> counters;
        std::unique_ptr<family<gauge>> gauges;
        std::unique_ptr<family<histogram>> histograms;
    };
    entry& find_or_add(std::string name, std::string help, metric_type type, std::vector<std::string> label_names);

    mutable std::mutex mutex_;
    std::vector<std::unique_ptr<entry>> entries_;  // registration order is exposition order
    std::vector<std::function<void(std::string&)>> collectors_;
};

// Helpers for collectors that write their own lines.
// (prometheus/text_format.hpp writes the format; these names stay for the server's callers.)
using prometheus::append_escaped_label_value;
using prometheus::append_sample_value;
// `name{a="x",b="y"} value\n`; empty label lists print no braces.
void append_sample(std::string& out, std::string_view name, std::span<std::string const> label_names,
                   std::span<std::string const> label_values, double value);

}  // namespace apr::server
