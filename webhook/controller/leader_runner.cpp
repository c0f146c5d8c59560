#include "controller/leader_runner.hpp"

#include <unistd.h>

#include <condition_variable>
#include <mutex>

namespace apr::controller {

namespace {

std::string default_identity() {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    return std::string(host) + "_" + std::to_string(getpid());
}

}  // namespace

leader_runner::leader_runner(kube::client& client, leader_runner_options options, runnable work,
                             std::function<void(bool)> on_leading)
    : client_(client), options_(std::move(options)), work_(std::move(work)), on_leading_(std::move(on_leading)) {
    if (options_.identity.empty()) options_.identity = default_identity();
}

leader_runner::~leader_runner() {
    stop();
}

void leader_runner::start() {
    if (thread_.joinable()) return;
    thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

void leader_runner::stop() {
    if (!thread_.joinable()) return;
    thread_.request_stop();
    thread_.join();
}

void leader_runner::start_leading() {
    if (on_leading_) on_leading_(true);
    worker_ = std::jthread([this](std::stop_token stop) { work_(stop); });
}

void leader_runner::stop_leading() {
    if (on_leading_) on_leading_(false);
    if (worker_.joinable()) {
        worker_.request_stop();
        worker_.join();
    }
}

void leader_runner::run(std::stop_token stop) {
    if (!options_.leader_elect) {
        start_leading();
        std::mutex m;
        std::condition_variable_any cv;
        std::unique_lock lock(m);
        cv.wait(lock, stop, [] { return false; });
        stop_leading();
        return;
    }
    kube::leader_elector elector(client_, options_.lease_namespace, options_.lease_name, options_.identity,
                                 options_.timings);
    elector.run(
        stop, [this] { start_leading(); }, [this] { stop_leading(); });
    stop_leading();
}

}  // namespace apr::controller
