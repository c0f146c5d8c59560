// Prometheus registry and text exposition 0.0.4 (prometheus.io/docs/instrumenting/exposition_formats).
#include "metrics_registry.hpp"

#include "prometheus/text_format.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace apr::server {

histogram::histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {
    std::sort(bounds_.begin(), bounds_.end());
    bounds_.erase(std::unique(bounds_.begin(), bounds_.end()), bounds_.end());
    // +Inf is implicit; an explicit one would print twice.
    if (!bounds_.empty() && std::isinf(bounds_.back())) {
        bounds_.pop_back();
    }
}

void histogram::observe(double v) noexcept {
    // Buckets are few (about a dozen), so a linear scan beats a binary search here.
    std::size_t i = 0;
    while (i < bounds_.size() && v > bounds_[i]) {
        ++i;
    }
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(v, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
}

histogram::snapshot histogram::read() const {
    snapshot s;
    s.upper_bounds = bounds_;
    s.cumulative.resize(bounds_.size() + 1);
    std::uint64_t running = 0;
    for (std::size_t i = 0; i <= bounds_.size(); ++i) {
        running += buckets_[i].load(std::memory_order_relaxed);
        s.cumulative[i] = running;
    }
    s.sum = sum_.load(std::memory_order_relaxed);
    // Concurrent observations may land between the loads; +Inf is the count by definition, so
    // derive it from the buckets to keep the exposition self-consistent.
    s.count = running;
    return s;
}

std::vector<double> latency_buckets() {
    return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

template <class Cell>
Cell& family<Cell>::with(std::span<std::string_view const> values) {
    {
        std::shared_lock lock(mutex_);
        if (values.size() == label_names_.size()) {
            auto it = cells_.find(values);
            if (it != cells_.end()) {
                return *it->second;
            }
        }
    }
    std::vector<std::string> key;
    key.reserve(label_names_.size());
    for (std::size_t i = 0; i < label_names_.size(); ++i) {
        key.emplace_back(i < values.size() ? values[i] : std::string_view{});
    }
    std::unique_lock lock(mutex_);
    auto it = cells_.find(key);
    if (it == cells_.end()) {
        it = cells_.emplace(std::move(key), make_()).first;
    }
    return *it->second;
}

template <class Cell>
void family<Cell>::for_each(const std::function<void(const std::vector<std::string>&, const Cell&)>& f) const {
    std::shared_lock lock(mutex_);
    for (const auto& [key, cell] : cells_) {
        f(key, *cell);
    }
}

template class family<counter>;
template class family<gauge>;
template class family<histogram>;

namespace {

bool valid_name(std::string_view name, bool allow_colon) {
    if (name.empty()) {
        return false;
    }
    for (std::size_t i = 0; i < name.size(); ++i) {
        const char c = name[i];
        const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (allow_colon && c == ':');
        const bool digit = c >= '0' && c <= '9';
        if (!(alpha || (i > 0 && digit))) {
            return false;
        }
    }
    return true;
}

const char* type_name(metric_type t) {
    switch (t) {
        case metric_type::counter:
            return "counter";
        case metric_type::gauge:
            return "gauge";
        case metric_type::histogram:
            return "histogram";
    }
    return "untyped";
}

void append_labels(std::string& out, std::span<std::string const> names, std::span<std::string const> values,
                   std::string_view extra_name = {}, std::string_view extra_value = {}) {
    std::vector<prometheus::label> labels;
    labels.reserve(names.size() + 1);
    for (std::size_t i = 0; i < names.size(); ++i) {
        labels.push_back({names[i], i < values.size() ? std::string_view(values[i]) : std::string_view()});
    }
    if (!extra_name.empty()) {
        labels.push_back({extra_name, extra_value});
    }
    prometheus::append_labels(out, labels);
}

}  // namespace

void append_sample(std::string& out, std::string_view name, std::span<std::string const> label_names,
                   std::span<std::string const> label_values, double value) {
    out += name;
    append_labels(out, label_names, label_values);
    out += ' ';
    append_sample_value(out, value);
    out += '\n';
}

metrics_registry::entry& metrics_registry::find_or_add(std::string name, std::string help, metric_type type,
                                                       std::vector<std::string> label_names) {
    if (!valid_name(name, true)) {
        throw std::invalid_argument("metrics: invalid metric name '" + name + "'");
    }
    for (const auto& l : label_names) {
        if (!valid_name(l, false) || l.starts_with("__") || l == "le") {
            throw std::invalid_argument("metrics: invalid label name '" + l + "' on " + name);
        }
    }
    std::lock_guard lock(mutex_);
    for (auto& e : entries_) {
        if (e->name == name) {
            if (e->type != type || e->label_names != label_names) {
                throw std::invalid_argument("metrics: '" + name + "' registered twice with a different type or labels");
            }
            return *e;
        }
    }
    auto e = std::make_unique<entry>();
    e->name = std::move(name);
    e->help = std::move(help);
    e->type = type;
    e->label_names = std::move(label_names);
    entries_.push_back(std::move(e));
    return *entries_.back();
}

family<counter>& metrics_registry::add_counter(std::string name, std::string help,
                                               std::vector<std::string> label_names) {
    auto& e = find_or_add(std::move(name), std::move(help), metric_type::counter, label_names);
    std::lock_guard lock(mutex_);
    if (!e.counters) {
        e.counters =
            std::make_unique<family<counter>>(std::move(label_names), [] { return std::make_unique<counter>(); });
    }
    return *e.counters;
}

family<gauge>& metrics_registry::add_gauge(std::string name, std::string help, std::vector<std::string> label_names) {
    auto& e = find_or_add(std::move(name), std::move(help), metric_type::gauge, label_names);
    std::lock_guard lock(mutex_);
    if (!e.gauges) {
        e.gauges = std::make_unique<family<gauge>>(std::move(label_names), [] { return std::make_unique<gauge>(); });
    }
    return *e.gauges;
}

family<histogram>& metrics_registry::add_histogram(std::string name, std::string help,
                                                   std::vector<std::string> label_names,
                                                   std::vector<double> upper_bounds) {
    auto& e = find_or_add(std::move(name), std::move(help), metric_type::histogram, label_names);
    std::lock_guard lock(mutex_);
    if (!e.histograms) {
        e.histograms = std::make_unique<family<histogram>>(
            std::move(label_names), [bounds = std::move(upper_bounds)] { return std::make_unique<histogram>(bounds); });
    }
    return *e.histograms;
}

void metrics_registry::add_collector(std::function<void(std::string& out)> collector) {
    std::lock_guard lock(mutex_);
    collectors_.push_back(std::move(collector));
}

std::string metrics_registry::expose() const {
    std::string out;
    out.reserve(4096);
    std::vector<std::function<void(std::string&)>> collectors;
    {
        std::lock_guard lock(mutex_);
        for (const auto& e : entries_) {
            prometheus::append_header(out, e->name, e->help, type_name(e->type));
            std::span<std::string const> names(e->label_names);
            if (e->counters) {
                e->counters->for_each([&](const auto& values, const counter& c) {
                    append_sample(out, e->name, names, values, c.value());
                });
            } else if (e->gauges) {
                e->gauges->for_each(
                    [&](const auto& values, const gauge& g) { append_sample(out, e->name, names, values, g.value()); });
            } else if (e->histograms) {
                std::string const bucket = e->name + "_bucket";
                std::string const sum = e->name + "_sum";
                std::string const count = e->name + "_count";
                e->histograms->for_each([&](const auto& values, const histogram& h) {
                    auto const s = h.read();
                    for (std::size_t i = 0; i <= s.upper_bounds.size(); ++i) {
                        std::string le;
                        if (i < s.upper_bounds.size()) {
                            append_sample_value(le, s.upper_bounds[i]);
                        } else {
                            le = "+Inf";
                        }
                        out += bucket;
                        append_labels(out, names, values, "le", le);
                        out += ' ';
                        append_sample_value(out, static_cast<double>(s.cumulative[i]));
                        out += '\n';
                    }
                    append_sample(out, sum, names, values, s.sum);
                    append_sample(out, count, names, values, static_cast<double>(s.count));
                });
            }
        }
        collectors = collectors_;
    }
    // Collectors run outside the registry lock: they may take their own locks or even register.
    for (const auto& c : collectors) {
        c(out);
    }
    if (!out.empty() && out.back() != '\n') {
        out += '\n';
    }
    return out;
}

}  // namespace apr::server
