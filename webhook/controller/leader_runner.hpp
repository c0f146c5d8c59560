#pragma once
// Runs the work only one replica may do (controller-runtime's leader-election runnables):
// while this replica holds the Lease, `runnable` runs on a thread of its own; when leadership
// is lost, or at stop(), it is asked to stop and joined. Everything else (the webhook server,
// the watch caches every replica keeps) runs outside it, on every replica.

#include "kube/client.hpp"
#include "kube/leader_election.hpp"

#include <functional>
#include <stop_token>
#include <string>
#include <thread>

namespace apr::controller {

struct leader_runner_options {
    bool leader_elect = true;  // false: this replica always leads (one replica, tests)
    std::string lease_namespace;
    std::string lease_name;
    std::string identity;  // empty: hostname_pid
    kube::lease_timings timings;
};

class leader_runner {
public:
    using runnable = std::function<void(std::stop_token)>;
    // `on_leading` reports each start (true) and stop (false) of leading, on the runner's thread.
    leader_runner(kube::client& client, leader_runner_options options, runnable work,
                  std::function<void(bool)> on_leading = {});
    ~leader_runner();
    leader_runner(const leader_runner&) = delete;
    leader_runner& operator=(const leader_runner&) = delete;

    void start();
    // Stops the runnable and releases the Lease, so another replica takes over at once.
    void stop();

    const std::string& identity() const { return options_.identity; }

private:
    void run(std::stop_token stop);
    void start_leading();
    void stop_leading();

    kube::client& client_;
    leader_runner_options options_;
    runnable work_;
    std::function<void(bool)> on_leading_;
    std::jthread worker_;  // the runnable while leading; the runner's thread only
    std::jthread thread_;
};

}  // namespace apr::controller
