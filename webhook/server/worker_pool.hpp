// The serving threads: one io_context per thread, each run by exactly that thread (Beast's
// multi-io_context shape). The listener hands connections to them in turn and a connection
// stays on its context for life, so nothing of a connection is touched by two threads and no
// strand is needed. What does not live here: how many threads (cpu_budget.hpp decides the
// default), accepting (listener.hpp), the connections themselves (session.hpp).
#pragma once

#include "request_metrics.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <cstddef>
#include <memory>
#include <thread>
#include <vector>

namespace apr::server {

// One serving thread's context and what only that thread touches.
struct worker {
    // Hint 1: exactly one thread runs this context, so Asio skips waking other threads.
    boost::asio::io_context ioc{1};
    request_metrics_cache metrics;
};

class worker_pool {
public:
    explicit worker_pool(unsigned threads);  // at least 1
    ~worker_pool();
    worker_pool(const worker_pool&) = delete;
    worker_pool& operator=(const worker_pool&) = delete;

    std::size_t size() const { return workers_.size(); }

    // The worker the next connection goes to, and moving on once it has one; round robin. Only
    // the accepting thread calls these.
    worker& next() { return *workers_[next_]; }
    void advance() { next_ = (next_ + 1) % workers_.size(); }

    // Starts the threads. Their contexts are held open until finish(), since a connection may be
    // accepted onto any of them at any moment before.
    void start();
    // Lets the contexts run out of work (every connection ends) and joins the threads.
    void finish();

private:
    using work_guard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;

    std::vector<std::unique_ptr<worker>> workers_;
    std::size_t next_ = 0;
    std::vector<work_guard> held_;
    std::vector<std::thread> threads_;
};

}  // namespace apr::server
