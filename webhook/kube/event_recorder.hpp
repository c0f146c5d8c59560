#pragma once
// Kubernetes Events (core v1) about our objects, written best effort from a background thread:
// record() only queues and never blocks; a full queue drops the event (counted). A repeat of
// the same (object, type, reason, message) bumps count/lastTimestamp on the existing Event, as
// client-go's correlator does, instead of creating a new one.

#include "kube/client.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace apr::kube {

struct object_reference {
    std::string api_version;  // e.g. "deployment.skyscanner.net/v1alpha1"
    std::string kind;
    std::string namespace_;  // empty for cluster-scoped objects (event goes to "default")
    std::string name;
    std::string uid;
};

enum class event_type { normal, warning };

struct event_recorder_options {
    std::string component = "argocd-progressive-rollout";  // source.component, reportingComponent
    std::string instance;  // reportingInstance; empty: the host name (the pod's name in a pod)
    std::size_t queue_limit = 256;
};

class event_recorder {
public:
    event_recorder(client& c, event_recorder_options opts = {});
    ~event_recorder();  // stops after at most one in-flight request
    event_recorder(const event_recorder&) = delete;
    event_recorder& operator=(const event_recorder&) = delete;

    void record(const object_reference& object, event_type type, std::string reason, std::string message);

    // Waits until everything queued so far was written or failed (tests, shutdown).
    bool flush(std::chrono::milliseconds timeout);

    std::uint64_t written() const { return written_.load(); }
    std::uint64_t failed() const { return failed_.load(); }
    std::uint64_t dropped() const { return dropped_.load(); }

private:
    struct pending {
        object_reference object;
        event_type type;
        std::string reason;
        std::string message;
        std::chrono::system_clock::time_point at;
    };
    struct series {
        std::string namespace_;
        std::string name;
        int count = 0;
        std::chrono::system_clock::time_point first;
    };

    void run(std::stop_token stop);
    void write(const pending& p);

    client& client_;
    event_recorder_options opts_;
    std::mutex mutex_;
    std::condition_variable_any cv_;
    std::deque<pending> queue_;
    bool busy_ = false;
    std::map<std::string, series> seen_;  // writer thread only
    std::atomic<std::uint64_t> written_{0}, failed_{0}, dropped_{0};
    std::jthread thread_;
};

}  // namespace apr::kube
