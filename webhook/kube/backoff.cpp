#include "kube/backoff.hpp"

#include <algorithm>

namespace apr::kube {

backoff::backoff(backoff_policy policy, std::uint64_t seed) : policy_(policy), base_(policy.initial), rng_(seed) {}

std::chrono::milliseconds backoff::next(std::chrono::steady_clock::time_point now,
                                        std::chrono::steady_clock::time_point healthy_since) {
    if (now - healthy_since >= policy_.reset_after) base_ = policy_.initial;
    const auto base = base_;
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    const auto delay = std::chrono::milliseconds(
        static_cast<std::int64_t>(static_cast<double>(base.count()) * (1.0 + policy_.jitter * unit(rng_))));
    base_ = std::min(policy_.max, std::chrono::milliseconds(
                                      static_cast<std::int64_t>(static_cast<double>(base_.count()) * policy_.factor)));
    return delay;
}

}  // namespace apr::kube
