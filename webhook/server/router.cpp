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

}  // namespace

std::string_view path_of(std::string_view target) {
    const auto q = target.find('?');
    return q == std::string_view::npos ? target : target.substr(0, q);
}

router::router(const metrics_registry& metrics, log_sink log) : metrics_(metrics), log_(std::move(log)) {}

void router::add_admission_route(std::string path, admission_handler handler) {
    admission_[std::move(path)] = std::move(handler);
}

void router::set_readiness(std::function<bool()> ready) {
    readiness_ = std::move(ready);
}

std::string_view router::route_label(std::string_view path) const {
    if (auto it = admission_.find(path); it != admission_.end()) {
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
    const auto it = admission_.find(path);
    if (it == admission_.end()) {
        auto res = builtin(path, request.method, stopping);
        res.route = route_label(path);
        return res;
    }

    if (request.method != "POST") {
        auto res = method_not_allowed("POST");
        res.route = it->first;
        return res;
    }
    handler_result result;
    try {
        result = it->second(request.content_type, request.body);
    } catch (const std::exception& e) {
        log_(log_level::error, "handler for " + it->first + " threw: " + e.what());
        result = {500, "internal error in admission handler\n", std::string(text_plain), "error"};
    } catch (...) {
        log_(log_level::error, "handler for " + it->first + " threw a non-exception");
        result = {500, "internal error in admission handler\n", std::string(text_plain), "error"};
    }
    response_parts res;
    res.route = it->first;
    res.status = result.status;
    res.body = std::move(result.body);
    res.content_type = std::move(result.content_type);
    res.outcome = result.outcome.empty() ? "ok" : std::move(result.outcome);
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
