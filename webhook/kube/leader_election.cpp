#include "kube/leader_election.hpp"

#include "kube/api_paths.hpp"

#include "kube/log.hpp"
#include "codec/time_format.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <random>

namespace apr::kube {

lease_decision decide_lease(const std::optional<lease_record>& current,
                            std::chrono::steady_clock::time_point observed_at,
                            std::chrono::steady_clock::time_point now, std::chrono::system_clock::time_point wall_now,
                            const std::string& identity, const lease_timings& timings) {
    const int duration_s = static_cast<int>(
        std::max<long long>(1, std::chrono::duration_cast<std::chrono::seconds>(timings.lease_duration).count()));
    lease_record next;
    next.holder = identity;
    next.lease_duration_seconds = duration_s;
    next.renew_time = wall_now;
    if (!current) {
        next.acquire_time = wall_now;
        return {lease_action::create, next};
    }
    next.resource_version = current->resource_version;
    if (current->holder == identity) {
        next.acquire_time = current->acquire_time ? current->acquire_time : wall_now;
        next.transitions = current->transitions;
        return {lease_action::renew, next};
    }
    const auto held_for = current->lease_duration_seconds > 0
                              ? std::chrono::milliseconds(std::chrono::seconds(current->lease_duration_seconds))
                              : timings.lease_duration;
    if (!current->holder.empty() && observed_at + held_for > now) return {lease_action::wait, *current};
    next.acquire_time = wall_now;
    next.transitions = current->transitions + 1;
    return {lease_action::acquire, next};
}

std::optional<lease_record> parse_lease(const rapidjson::Value& lease) {
    if (!lease.IsObject()) return std::nullopt;
    lease_record r;
    if (auto m = lease.FindMember("metadata"); m != lease.MemberEnd() && m->value.IsObject())
        if (auto rv = m->value.FindMember("resourceVersion"); rv != m->value.MemberEnd() && rv->value.IsString())
            r.resource_version = rv->value.GetString();
    auto spec = lease.FindMember("spec");
    if (spec == lease.MemberEnd()) return r;
    if (!spec->value.IsObject()) return std::nullopt;
    const auto& s = spec->value;
    auto str = [&](const char* k) -> std::string {
        auto m = s.FindMember(k);
        return m != s.MemberEnd() && m->value.IsString() ? m->value.GetString() : "";
    };
    auto num = [&](const char* k) -> int {
        auto m = s.FindMember(k);
        return m != s.MemberEnd() && m->value.IsInt() ? m->value.GetInt() : 0;
    };
    r.holder = str("holderIdentity");
    r.lease_duration_seconds = num("leaseDurationSeconds");
    r.transitions = num("leaseTransitions");
    if (auto t = str("acquireTime"); !t.empty()) r.acquire_time = codec::parse_micro_time(t);
    if (auto t = str("renewTime"); !t.empty()) r.renew_time = codec::parse_micro_time(t);
    return r;
}

leader_elector::leader_elector(client& c, std::string namespace_, std::string name, std::string identity,
                               lease_timings timings)
    : client_(c),
      namespace_(std::move(namespace_)),
      name_(std::move(name)),
      identity_(std::move(identity)),
      timings_(timings) {}

std::string leader_elector::lease_json(const lease_record& r, bool with_metadata) const {
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    w.StartObject();
    w.Key("apiVersion");
    w.String("coordination.k8s.io/v1");
    w.Key("kind");
    w.String("Lease");
    w.Key("metadata");
    w.StartObject();
    w.Key("name");
    w.String(name_.c_str());
    w.Key("namespace");
    w.String(namespace_.c_str());
    if (with_metadata && !r.resource_version.empty()) {
        w.Key("resourceVersion");
        w.String(r.resource_version.c_str());
    }
    w.EndObject();
    w.Key("spec");
    w.StartObject();
    w.Key("holderIdentity");
    w.String(r.holder.c_str());
    w.Key("leaseDurationSeconds");
    w.Int(r.lease_duration_seconds);
    if (r.acquire_time) {
        w.Key("acquireTime");
        w.String(codec::format_micro_time(*r.acquire_time).c_str());
    }
    if (r.renew_time) {
        w.Key("renewTime");
        w.String(codec::format_micro_time(*r.renew_time).c_str());
    }
    w.Key("leaseTransitions");
    w.Int(r.transitions);
    w.EndObject();
    w.EndObject();
    return std::string(sb.GetString(), sb.GetSize());
}

bool leader_elector::try_acquire_or_renew() {
    const auto now = std::chrono::steady_clock::now();
    const auto wall = std::chrono::system_clock::now();
    auto got = client_.get(lease_path(namespace_, name_));
    std::optional<lease_record> current;
    if (!got) {
        if (!got.error().is_not_found()) {
            log(log_level::warning, "lease " + namespace_ + "/" + name_ + ": " + got.error().describe());
            return false;
        }
    } else {
        current = parse_lease(*got);
        if (!current) {
            log(log_level::warning, "lease " + namespace_ + "/" + name_ + ": spec is malformed");
            return false;
        }
        if (!observed_ || !observed_->same_record(*current)) {
            observed_ = current;
            observed_at_ = now;
        }
        observed_->resource_version = current->resource_version;
    }

    auto d = decide_lease(current, observed_at_, now, wall, identity_, timings_);
    if (d.action == lease_action::wait) return false;
    auto r = d.action == lease_action::create ? client_.create(leases_path(namespace_), lease_json(d.next, false))
                                              : client_.put(lease_path(namespace_, name_), lease_json(d.next, true));
    if (!r) {
        // 409: another replica wrote first; it wins this round.
        if (r.error().code != 409)
            log(log_level::warning, "lease " + namespace_ + "/" + name_ + ": " + r.error().describe());
        return false;
    }
    if (auto written = parse_lease(*r)) {
        observed_ = written;
        observed_at_ = now;
    }
    if (d.action != lease_action::renew)
        log(log_level::info, "lease " + namespace_ + "/" + name_ + " acquired by " + identity_);
    return true;
}

void leader_elector::release() {
    if (!observed_ || observed_->holder != identity_) return;
    lease_record r;
    r.holder = "";
    r.lease_duration_seconds = 1;
    const auto wall = std::chrono::system_clock::now();
    r.acquire_time = wall;
    r.renew_time = wall;
    r.transitions = observed_->transitions;
    r.resource_version = observed_->resource_version;
    auto res = client_.put(lease_path(namespace_, name_), lease_json(r, true));
    if (!res)
        log(log_level::warning, "lease " + namespace_ + "/" + name_ + ": release failed: " + res.error().describe());
    else
        log(log_level::info, "lease " + namespace_ + "/" + name_ + " released by " + identity_);
}

bool leader_elector::wait_for(const std::stop_token& stop, std::chrono::milliseconds d) {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, stop, d, [] { return false; });
    return !stop.stop_requested();
}

void leader_elector::run(std::stop_token stop, std::function<void()> on_started_leading,
                         std::function<void()> on_stopped_leading) {
    std::mt19937 rng{std::random_device{}()};
    // client-go JitterFactor 1.2 for the acquire loop: spreads replicas' attempts.
    std::uniform_real_distribution<double> jitter(1.0, 2.2);
    while (!stop.stop_requested()) {
        while (!try_acquire_or_renew()) {
            auto d = std::chrono::milliseconds(static_cast<long long>(timings_.retry_period.count() * jitter(rng)));
            if (!wait_for(stop, d)) return;
        }
        leader_ = true;
        if (on_started_leading) on_started_leading();

        auto last_renew = std::chrono::steady_clock::now();
        while (wait_for(stop, timings_.retry_period)) {
            if (try_acquire_or_renew())
                last_renew = std::chrono::steady_clock::now();
            else if (observed_ && observed_->holder != identity_) {
                // Someone else holds it now: step down at once rather than at the deadline.
                log(log_level::warning, "lease " + namespace_ + "/" + name_ + ": taken over by " + observed_->holder);
                break;
            } else if (std::chrono::steady_clock::now() - last_renew > timings_.renew_deadline) {
                log(log_level::warning, "lease " + namespace_ + "/" + name_ + ": lost by " + identity_ +
                                            " (not renewed within the renew deadline)");
                break;
            }
        }
        leader_ = false;
        if (stop.stop_requested() && release_on_stop_) release();
        if (on_stopped_leading) on_stopped_leading();
    }
}

}  // namespace apr::kube
