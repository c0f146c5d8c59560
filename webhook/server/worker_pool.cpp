#include "worker_pool.hpp"

#include <algorithm>

namespace apr::server {

worker_pool::worker_pool(unsigned threads) {
    threads = std::max(threads, 1u);
    workers_.reserve(threads);
    for (unsigned t = 0; t < threads; ++t) {
        workers_.push_back(std::make_unique<worker>());
    }
}

worker_pool::~worker_pool() {
    // Only reached with threads running when run() was left by an exception; the contexts must
    // stop before the threads can be joined and the contexts destroyed.
    for (auto& w : workers_) {
        w->ioc.stop();
    }
    held_.clear();
    for (auto& t : threads_) {
        if (t.joinable()) {
            t.join();
        }
    }
}

void worker_pool::start() {
    held_.reserve(workers_.size());
    threads_.reserve(workers_.size());
    for (auto& w : workers_) {
        held_.push_back(boost::asio::make_work_guard(w->ioc));
        threads_.emplace_back([&ioc = w->ioc] { ioc.run(); });
    }
}

void worker_pool::finish() {
    for (auto& guard : held_) {
        guard.reset();
    }
    for (auto& t : threads_) {
        t.join();
    }
    held_.clear();
    threads_.clear();
}

}  // namespace apr::server
