#pragma once
// Access to the test control plane started by scripts/testenv.sh: the KEY=value file named by
// $APR_TESTENV, clients for its users, the script's restart/compact commands, and a way to wait
// for a condition with a deadline (never a bare sleep).

#include "../eventually.hpp"
#include "kube/client.hpp"

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace apr::kube::test {

class testenv {
public:
    static testenv& get();  // reads $APR_TESTENV once; throws if it is unset or unreadable

    const std::string& value(const std::string& key) const;
    const std::string& ns() const { return value("ARGOCD_NAMESPACE"); }

    std::unique_ptr<client> admin(client_options opts = {}) const;
    std::unique_ptr<client> webhook(client_options opts = {}) const;

    // scripts/testenv.sh COMMAND DIR; throws when it fails.
    void run_script(const std::string& command) const;

private:
    std::map<std::string, std::string> values_;
};

// Set by on_change callbacks; tests wait on it for a predicate with a deadline.
class change_signal {
public:
    void notify();
    bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout);

private:
    std::mutex mutex_;
    std::condition_variable cv_;
};

// For conditions with no change callback (e.g. leadership): tests/eventually.hpp.
using apr::test::eventually;

// A short random suffix so runs never collide with leftovers.
std::string unique_suffix();

}  // namespace apr::kube::test
