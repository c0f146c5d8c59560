#include "router.hpp"

#include <algorithm>
#include <array>
#include <exception>

namespace apr::server {

namespace {

constexpr std::array<std::string_view, 3> builtin_paths = {"/healthz", "/readyz", "/metrics"};

response_parts method_not_allowed(std::string_view allowed) {
    auto res = text_response(405, "use " + std::string(allowed) + "\n", "method_not_allowed");
    res.allow = allowed;  // a literal, see the callers
    return res;
}

// A handler's answer as response parts; an exception becomes a 500 with outcome `error`.
// `route` is the route table's key (stable storage, see response_parts::route).
template <class Handle>
response_parts call_handler(const log_sink& log, const std::string& route, const Handle& handle) {
    handler_result result;
    try {
        result = handle();
    } catch (const std::exception& e) {
        log(log_level::error, "handler for " + route + " threw: " + e.what());
        result = {500, "internal error in admission handler\n", std::string(text_plain), "error", {}};
    } catch (...) {
        log(log_level::error, "handler for " + route + " threw a non-exception");
        result = {500, "internal error in admission handler\n", std::string(text_plain), "error", {}};
    }
    response_parts res;
    res.route = route;
    res.status = result.status;
    res.body = std::move(result.body);
    res.content_type = std::move(result.content_type);
    res.outcome = result.outcome.empty() ? "ok" : std::move(result.outcome);
    res.headers = std::move(result.headers);
    return res;
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

std::string_view request_view::header(std::string_view name) const {
    if (fields == nullptr) return {};
    const auto it = fields->find(boost::beast::string_view(name.data(), name.size()));
    return it == fields->end() ? std::string_view() : std::string_view(it->value().data(), it->value().size());
}

std::optional<std::string> query_value(std::string_view target, std::string_view key) {
    const auto q = target.find('?');
    if (q == std::string_view::npos) return std::nullopt;
    std::string_view rest = target.substr(q + 1);
    while (!rest.empty()) {
        const auto amp = rest.find('&');
        const std::string_view pair = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
        const auto eq = pair.find('=');
        if (pair.substr(0, eq) != key) continue;
        const std::string_view raw = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
        std::string value;
        for (std::size_t i = 0; i < raw.size(); ++i) {
            if (raw[i] == '+') {
                value += ' ';
            } else if (raw[i] != '%') {
                value += raw[i];
            } else {
                if (i + 2 >= raw.size()) return std::nullopt;
                const int hi = hex_digit(raw[i + 1]), lo = hex_digit(raw[i + 2]);
                if (hi < 0 || lo < 0) return std::nullopt;
                value += static_cast<char>(hi * 16 + lo);
                i += 2;
            }
        }
        return value;
    }
    return std::nullopt;
}

std::string_view path_of(std::string_view target) {
    const auto q = target.find('?');
    return q == std::string_view::npos ? target : target.substr(0, q);
}

router::router(const metrics_registry& metrics, log_sink log) : metrics_(metrics), log_(std::move(log)) {}

void router::add_admission_route(std::string path, admission_handler handler) {
    admission_[std::move(path)] = std::move(handler);
}

void router::add_route(std::string path, request_handler handler) {
    routes_[std::move(path)] = std::move(handler);
}

void router::set_readiness(std::function<bool()> ready) {
    readiness_ = std::move(ready);
}

std::string_view router::route_label(std::string_view path) const {
    if (auto it = admission_.find(path); it != admission_.end()) {
        return it->first;
    }
    if (auto it = routes_.find(path); it != routes_.end()) {
        return it->first;
    }
    for (std::string_view known : builtin_paths) {
        if (path == known) {
            return known;
        }
    }
    return "unmatched";
}

response_parts router::answer(request_view request, bool stopping) const {
    std::string_view const path = path_of(request.target);
    if (const auto it = admission_.find(path); it != admission_.end()) {
        if (request.method != "POST") {
            auto res = method_not_allowed("POST");
            res.route = it->first;
            return res;
        }
        return call_handler(log_, it->first, [&] { return it->second(request.content_type, request.body); });
    }
    if (const auto it = routes_.find(path); it != routes_.end()) {
        return call_handler(log_, it->first, [&] { return it->second(request); });
    }
    auto res = builtin(path, request.method, stopping);
    res.route = route_label(path);
    return res;
}

response_parts router::builtin(std::string_view path, std::string_view method, bool stopping) const {
    if (std::find(builtin_paths.begin(), builtin_paths.end(), path) == builtin_paths.end()) {
        return text_response(404, "no route for this path\n", "not_found");
    }
    if (method != "GET") {
        return method_not_allowed("GET");
    }
    if (path == "/healthz") {
        return text_response(200, "ok\n", "ok");
    }
    if (path == "/readyz") {
        if (stopping) {
            return text_response(503, "shutting down\n", "not_ready");
        }
        bool ready = true;
        try {
            ready = !readiness_ || readiness_();
        } catch (const std::exception& e) {
            ready = false;
            log_(log_level::error, std::string("readiness check threw: ") + e.what());
        }
        return ready ? text_response(200, "ok\n", "ok") : text_response(503, "not ready\n", "not_ready");
    }
    auto res = text_response(200, metrics_.expose(), "ok");
    res.content_type = metrics_registry::content_type;
    return res;
}

}  // namespace apr::server
