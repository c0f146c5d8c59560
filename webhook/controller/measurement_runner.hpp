#pragma once
// Takes the gate measurements the stage machine asks for (core::measurement_request): Prometheus
// instant queries and webhook calls, on a few worker threads so a slow webhook never holds the
// controller. A result is kept until status holds it and handed to every step meanwhile; the
// machine counts each measurement number once, so nothing is counted twice, and a result lost in
// a restart is simply asked for again (docs/controller.md#gate-measurements).

#include "core/measurements.hpp"
#include "core/rollout.hpp"

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace apr::controller {

// What the controller needs of measurements: start one, collect what came back, forget what
// status now holds. An interface so controller tests can answer with fixed results.
class measurement_port {
public:
    virtual ~measurement_port() = default;
    virtual void start(const core::rollout& rollout, const core::measurement_request& request) = 0;
    virtual std::vector<core::measurement_result> results(const core::rollout& rollout) = 0;
    virtual void recorded(const core::rollout& rollout, const core::rollout_status& status) = 0;
};

// Reads one key of a Secret in `namespace_` when a webhook call needs it; nullopt (and why in
// `error`) when it cannot. The value is never logged and never kept after the call.
using secret_reader = std::function<std::optional<std::string>(const std::string& namespace_, const std::string& name,
                                                               const std::string& key, std::string& error)>;

struct measurement_options {
    int workers = 4;
    std::string ca_pem;  // extra trust for https gate URLs (--gate-ca-file); empty: the system store
    std::chrono::milliseconds prometheus_timeout{10'000};
    std::function<core::time_point()> clock;  // default: the system clock in whole seconds
    std::function<void()> on_result;          // wakes the controller
};

class measurement_runner final : public measurement_port {
public:
    measurement_runner(secret_reader secrets, measurement_options options);
    ~measurement_runner() override;

    void start(const core::rollout& rollout, const core::measurement_request& request) override;
    std::vector<core::measurement_result> results(const core::rollout& rollout) override;
    void recorded(const core::rollout& rollout, const core::rollout_status& status) override;

private:
    struct job {
        std::string rollout_key;
        std::string namespace_;
        std::string name;
        core::measurement_request request;
    };
    void work(std::stop_token stop);
    core::measurement measure(const job& j);
    core::measurement query_prometheus(const core::measurement_request& r, core::time_point at);
    core::measurement call_webhook(const job& j, core::time_point at);
    core::time_point now() const;

    secret_reader secrets_;
    measurement_options options_;
    std::mutex mutex_;
    std::condition_variable_any ready_;
    std::deque<job> queue_;
    std::set<std::string> in_flight_;                                    // rollout key + request key
    std::map<std::string, std::vector<core::measurement_result>> done_;  // by rollout key
    std::vector<std::jthread> workers_;
};

}  // namespace apr::controller
