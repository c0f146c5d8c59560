#pragma once
// Reconnect delays for watches, with client-go reflector parameters: 800 ms doubling to 30 s,
// jitter 1.0 (each delay is stretched by up to 100 %, so replicas do not retry in lockstep),
// and a reset once the connection has been healthy for 2 minutes.

#include <chrono>
#include <cstdint>
#include <random>

namespace apr::kube {

struct backoff_policy {
    std::chrono::milliseconds initial{800};
    std::chrono::milliseconds max{30'000};
    double factor = 2.0;
    double jitter = 1.0;
    std::chrono::milliseconds reset_after{120'000};
};

class backoff {
public:
    explicit backoff(backoff_policy policy = {}, std::uint64_t seed = std::random_device{}());

    // The delay to wait before the next attempt. `now` is when the previous attempt ended and
    // `healthy_since` when it had started working (equal to `now` if it never worked).
    std::chrono::milliseconds next(std::chrono::steady_clock::time_point now,
                                   std::chrono::steady_clock::time_point healthy_since);

    // Base delay (before jitter) the next call would use.
    std::chrono::milliseconds current_base() const { return base_; }

    void reset() { base_ = policy_.initial; }

private:
    backoff_policy policy_;
    std::chrono::milliseconds base_;
    std::mt19937_64 rng_;
};

}  // namespace apr::kube
