#include "controller/measurement_runner.hpp"

#include "codec/gate_codec.hpp"
#include "http/client.hpp"
#include "kube/log.hpp"

#include <algorithm>

namespace apr::controller {

namespace {

std::string key_of(const core::rollout& r) {
    return r.namespace_ + "/" + r.name;
}

// What status keeps of an answer's body: enough to say why, never a page.
std::string cut(std::string_view text, std::size_t limit = 256) {
    if (text.size() <= limit) return std::string(text);
    return std::string(text.substr(0, limit)) + "...";
}

core::measurement error_at(core::time_point at, std::string message) {
    return {at, core::measurement_phase::error, {}, std::move(message)};
}

// The gate's recorded measurements in `status`, or -1 when status no longer has the gate.
long long recorded_count(const core::rollout_status& status, const core::measurement_result& r) {
    if (status.pass != r.pass) return -1;
    for (const auto& s : status.stages) {
        if (s.name != r.stage) continue;
        const std::vector<core::gate_status>* gates = &s.gates;
        if (!r.cluster.empty()) {
            auto c = std::find_if(s.clusters.begin(), s.clusters.end(),
                                  [&](const core::cluster_status& x) { return x.name == r.cluster; });
            if (c == s.clusters.end()) return -1;
            gates = &c->gates;
        }
        for (const auto& g : *gates)
            if (g.name == r.gate) return g.taken;
    }
    return -1;
}

}  // namespace

measurement_runner::measurement_runner(secret_reader secrets, measurement_options options)
    : secrets_(std::move(secrets)), options_(std::move(options)) {
    for (int i = 0; i < std::max(1, options_.workers); ++i)
        workers_.emplace_back([this](std::stop_token stop) { work(stop); });
}

measurement_runner::~measurement_runner() {
    for (auto& w : workers_) w.request_stop();
    ready_.notify_all();
    workers_.clear();  // joins; a call in flight ends within its timeout
}

core::time_point measurement_runner::now() const {
    if (options_.clock) return options_.clock();
    return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
}

void measurement_runner::start(const core::rollout& rollout, const core::measurement_request& request) {
    const auto rollout_key = key_of(rollout);
    std::lock_guard lock(mutex_);
    // Asked in every step until status holds the result: once in flight or done, not again.
    if (!in_flight_.insert(rollout_key + "\n" + request.key()).second) return;
    queue_.push_back({rollout_key, rollout.namespace_, rollout.name, request});
    ready_.notify_one();
}

std::vector<core::measurement_result> measurement_runner::results(const core::rollout& rollout) {
    std::lock_guard lock(mutex_);
    auto it = done_.find(key_of(rollout));
    return it == done_.end() ? std::vector<core::measurement_result>{} : it->second;
}

void measurement_runner::recorded(const core::rollout& rollout, const core::rollout_status& status) {
    const auto rollout_key = key_of(rollout);
    std::lock_guard lock(mutex_);
    auto it = done_.find(rollout_key);
    if (it == done_.end()) return;
    std::erase_if(it->second, [&](const core::measurement_result& r) {
        const auto taken = recorded_count(status, r);
        // Held (or moved past) by status, or no longer asked for: forget it, so it may be asked again.
        const bool gone = taken < 0 || taken >= r.number;
        if (gone) {
            core::measurement_request key{r.stage, r.gate, r.cluster, r.pass, r.number};
            in_flight_.erase(rollout_key + "\n" + key.key());
        }
        return gone;
    });
    if (it->second.empty()) done_.erase(it);
}

void measurement_runner::work(std::stop_token stop) {
    for (;;) {
        job j;
        {
            std::unique_lock lock(mutex_);
            if (!ready_.wait(lock, stop, [&] { return !queue_.empty(); })) return;
            j = std::move(queue_.front());
            queue_.pop_front();
        }
        auto taken = measure(j);
        {
            std::lock_guard lock(mutex_);
            const auto& r = j.request;
            done_[j.rollout_key].push_back({r.stage, r.gate, r.cluster, r.pass, r.number, std::move(taken)});
        }
        if (options_.on_result) options_.on_result();
    }
}

core::measurement measurement_runner::measure(const job& j) {
    const auto at = now();
    try {
        if (j.request.prometheus) return query_prometheus(j.request, at);
        if (j.request.webhook) return call_webhook(j, at);
        return error_at(at, "nothing to measure");
    } catch (const std::exception& e) {
        return error_at(at, e.what());
    }
}

core::measurement measurement_runner::query_prometheus(const core::measurement_request& r, core::time_point at) {
    const auto& check = *r.prometheus;
    auto url = http::parse_url(check.address);
    if (!url.error.empty()) return error_at(at, "prometheus.address: " + url.error);
    url.where.ca_pem = options_.ca_pem;
    http::client client(url.where);
    http::request req;
    req.path = "/api/v1/query?query=" + http::query_escape(check.query);
    req.timeout = options_.prometheus_timeout;
    auto answer = client.send(req);
    if (!answer) return error_at(at, "Prometheus: " + answer.error().message);
    if (answer->status != 200)
        return error_at(at, "Prometheus answered " + std::to_string(answer->status) + ": " + cut(answer->body));
    auto samples = codec::parse_prometheus_answer(answer->body);
    if (!samples.error.empty()) return error_at(at, samples.error);
    return core::judge_samples(check, samples.values, at);
}

core::measurement measurement_runner::call_webhook(const job& j, core::time_point at) {
    const auto& check = *j.request.webhook;
    auto url = http::parse_url(check.url);
    if (!url.error.empty()) return error_at(at, "webhook.url: " + url.error);
    url.where.ca_pem = options_.ca_pem;
    http::request req;
    req.verb = http::method::post;
    req.path = url.where.base_path.empty() ? "/" : "";
    req.body = codec::webhook_payload(j.namespace_, j.name, j.request);
    req.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(check.timeout.get());
    for (const auto& h : check.headers) {
        if (!h.secret) {
            req.headers.push_back({h.name, h.value});
            continue;
        }
        std::string why;
        auto value = secrets_ ? secrets_(j.namespace_, h.secret->name, h.secret->key, why) : std::nullopt;
        if (!value)
            return error_at(at,
                            "header " + h.name + ": Secret " + h.secret->name + " key " + h.secret->key + ": " + why);
        req.headers.push_back({h.name, std::move(*value)});
    }
    http::client client(url.where);
    auto answer = client.send(req);
    if (!answer) return error_at(at, "webhook: " + answer.error().message);
    const auto status = answer->status;
    if (status >= 200 && status < 300) return {at, core::measurement_phase::successful, std::to_string(status), {}};
    return {at, core::measurement_phase::failed, std::to_string(status),
            "webhook answered " + std::to_string(status) + ": " + cut(answer->body)};
}

}  // namespace apr::controller
