#pragma once
// Leader election on a coordination.k8s.io/v1 Lease with client-go semantics. A held lease is
// judged expired by the LOCAL clock: `observed_at` (when this replica last saw the record
// change) + leaseDurationSeconds; the holder's renewTime is never compared across machines.
// The decision is a pure function (decide_lease) so it can be tested without a server.

#include "kube/client.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>

namespace apr::kube {

struct lease_record {
    std::string holder;  // spec.holderIdentity ("" when released)
    int lease_duration_seconds = 0;
    std::optional<std::chrono::system_clock::time_point> acquire_time;
    std::optional<std::chrono::system_clock::time_point> renew_time;
    int transitions = 0;
    std::string resource_version;  // metadata.resourceVersion (not part of equality)

    bool same_record(const lease_record& o) const {
        return holder == o.holder && lease_duration_seconds == o.lease_duration_seconds &&
               acquire_time == o.acquire_time && renew_time == o.renew_time && transitions == o.transitions;
    }
};

struct lease_timings {
    std::chrono::milliseconds lease_duration{15'000};
    std::chrono::milliseconds renew_deadline{10'000};
    std::chrono::milliseconds retry_period{2'000};
};

enum class lease_action {
    create,   // no Lease object yet
    acquire,  // take over an expired or released lease (leaseTransitions + 1)
    renew,    // we hold it: bump renewTime
    wait      // someone else holds a valid lease
};

struct lease_decision {
    lease_action action;
    lease_record next;  // what to write (unused for wait)
};

// `current` is the record read from the server (nullopt: 404), `observed_at` the local
// steady time at which that record was first seen in its present form.
lease_decision decide_lease(const std::optional<lease_record>& current,
                            std::chrono::steady_clock::time_point observed_at,
                            std::chrono::steady_clock::time_point now, std::chrono::system_clock::time_point wall_now,
                            const std::string& identity, const lease_timings& timings);

// Lease JSON <-> record (spec fields only).
std::optional<lease_record> parse_lease(const rapidjson::Value& lease);

class leader_elector {
public:
    leader_elector(client& c, std::string namespace_, std::string name, std::string identity,
                   lease_timings timings = {});

    // Blocks until `stop` is requested: acquires, renews every retry_period, and if renewing
    // fails for renew_deadline, loses leadership (on_stopped_leading) and tries to acquire
    // again. Stopping while leading releases the lease (holderIdentity cleared) so another
    // replica takes over at once. Callbacks run on this thread and must return quickly.
    void run(std::stop_token stop, std::function<void()> on_started_leading, std::function<void()> on_stopped_leading);

    bool is_leader() const { return leader_.load(); }
    const std::string& identity() const { return identity_; }

    // false: stop without releasing, as a crashed process would (tests of the takeover path).
    void set_release_on_stop(bool release) { release_on_stop_ = release; }

private:
    bool try_acquire_or_renew();
    void release();
    bool wait_for(const std::stop_token& stop, std::chrono::milliseconds d);
    std::string lease_json(const lease_record& r, bool with_metadata) const;

    client& client_;
    std::string namespace_;
    std::string name_;
    std::string identity_;
    lease_timings timings_;
    std::atomic<bool> leader_{false};
    std::atomic<bool> release_on_stop_{true};
    std::optional<lease_record> observed_;
    std::chrono::steady_clock::time_point observed_at_{};
    std::mutex mutex_;
    std::condition_variable_any cv_;
};

}  // namespace apr::kube
