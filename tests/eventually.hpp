#pragma once
// The tests' one poll: for conditions with no change callback (connection counts, leadership,
// objects in the API server), re-check every `step` until the deadline.

#include <chrono>
#include <functional>
#include <thread>

namespace apr::test {

// Whether `pred` held before `timeout` ran out (it is checked once more at the deadline).
inline bool eventually(const std::function<bool()>& pred,
                       std::chrono::milliseconds timeout = std::chrono::milliseconds(10000),
                       std::chrono::milliseconds step = std::chrono::milliseconds(20)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (pred()) return true;
        std::this_thread::sleep_for(step);
    }
    return pred();
}

}  // namespace apr::test
