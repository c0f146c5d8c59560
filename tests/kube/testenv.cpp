#include "testenv.hpp"

#include "kube/config.hpp"

#include <cstdlib>
#include <fstream>
#include <random>
#include <stdexcept>
#include <thread>

namespace apr::kube::test {

testenv& testenv::get() {
    static testenv env = [] {
        testenv e;
        char const* path = std::getenv("APR_TESTENV");
        if (!path || !*path) throw std::runtime_error("APR_TESTENV is not set: run through ctest (fixture kube)");
        std::ifstream in(path);
        if (!in) throw std::runtime_error(std::string(path) + ": cannot read the testenv file");
        std::string line;
        while (std::getline(in, line)) {
            auto eq = line.find('=');
            if (eq != std::string::npos && line[0] != '#') e.values_[line.substr(0, eq)] = line.substr(eq + 1);
        }
        return e;
    }();
    return env;
}

const std::string& testenv::value(const std::string& key) const {
    auto it = values_.find(key);
    if (it == values_.end()) throw std::runtime_error("testenv file has no " + key);
    return it->second;
}

std::unique_ptr<client> testenv::admin(client_options opts) const {
    return std::make_unique<client>(load_kubeconfig(value("KUBECONFIG_ADMIN")), opts);
}

std::unique_ptr<client> testenv::webhook(client_options opts) const {
    return std::make_unique<client>(load_kubeconfig(value("KUBECONFIG_WEBHOOK")), opts);
}

void testenv::run_script(const std::string& command) const {
    std::string cmd =
        std::string(APR_SOURCE_DIR) + "/scripts/testenv.sh " + command + " " + value("TESTENV_DIR") + " >/dev/null";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("failed: " + cmd);
}

void change_signal::notify() {
    { std::lock_guard lock(mutex_); }
    cv_.notify_all();
}

bool change_signal::wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, pred);
}

std::string unique_suffix() {
    static const char hex[] = "0123456789abcdef";
    std::random_device rd;
    std::string s;
    for (int i = 0; i < 6; ++i) s.push_back(hex[rd() % 16]);
    return s;
}

}  // namespace apr::kube::test
