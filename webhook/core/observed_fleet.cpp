#include "core/observed_fleet.hpp"

#include "core/stage_machine.hpp"

#include <algorithm>
#include <cstdio>
#include <functional>

namespace apr::core {

std::string combine_hashes(const std::vector<std::pair<std::string, std::string>>& app_hashes) {
    if (app_hashes.empty()) return {};
    if (app_hashes.size() == 1) return app_hashes.front().second;
    auto sorted = app_hashes;
    std::sort(sorted.begin(), sorted.end());
    // FNV-1a: stable across builds and platforms, which std::hash is not.
    std::uint64_t h = 1469598103934665603ull;
    auto mix = [&](std::string_view s) {
        for (unsigned char c : s) {
            h ^= c;
            h *= 1099511628211ull;
        }
        h ^= 0xff;
        h *= 1099511628211ull;
    };
    for (const auto& [app, hash] : sorted) {
        mix(app);
        mix(hash);
    }
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return buf;
}

bool cluster_view::up_to_date() const {
    return std::all_of(apps.begin(), apps.end(), [](const application_observation* a) {
        return a->pending_hash.empty() && a->sync_status == "Synced" && a->health_status == "Healthy" &&
               a->compared_to_current && !a->operation_in_progress;
    });
}

std::optional<std::string> cluster_view::failure_since(time_point admitted_at) const {
    for (const auto* a : apps) {
        // Health reported against an older spec says nothing about the change being rolled out.
        if (a->health_status == "Degraded" && a->compared_to_current && a->pending_hash.empty())
            return "Application " + a->name + " is Degraded";
        if ((a->operation_phase == "Failed" || a->operation_phase == "Error") && a->operation_started_at &&
            *a->operation_started_at >= admitted_at)
            return "Application " + a->name + ": sync operation " + a->operation_phase;
    }
    return std::nullopt;
}

std::optional<std::string> cluster_view::degraded() const {
    for (const auto* a : apps)
        if (a->health_status == "Degraded") return "Application " + a->name + " became Degraded";
    return std::nullopt;
}

namespace {

// A name as the constructor sorts it: its first 16 bytes, big-endian and zero-padded, decide most
// comparisons without reading the name itself (it lives in an observation somewhere else).
struct sort_key {
    std::uint64_t high = 0;
    std::uint64_t low = 0;
    std::string_view name;
    std::uint32_t app = 0;  // position of the Application in the observations
};

std::uint64_t bytes_at(std::string_view s, std::size_t from) {
    std::uint64_t p = 0;
    for (std::size_t i = from; i < from + 8; ++i) p = (p << 8) | (i < s.size() ? static_cast<unsigned char>(s[i]) : 0u);
    return p;
}

bool operator<(const sort_key& a, const sort_key& b) {
    if (a.high != b.high) return a.high < b.high;
    if (a.low != b.low) return a.low < b.low;
    if (int c = a.name.compare(b.name); c != 0) return c < 0;
    return a.app < b.app;
}

std::size_t hash_of(std::string_view name) {
    return std::hash<std::string_view>{}(name);
}

std::uint32_t tag_of(std::size_t hash) {
    return static_cast<std::uint32_t>(static_cast<std::uint64_t>(hash) >> 32) | 1u;
}

}  // namespace

observed_fleet::observed_fleet(const observations& observed, bool track_revisions) {
    const auto& apps = observed.applications;
    // Applications grouped by cluster, clusters in name order, each cluster's in observed order.
    std::vector<sort_key> keys(apps.size());
    for (std::size_t i = 0; i < apps.size(); ++i)
        keys[i] = {bytes_at(apps[i].cluster, 0), bytes_at(apps[i].cluster, 8), apps[i].cluster,
                   static_cast<std::uint32_t>(i)};
    std::sort(keys.begin(), keys.end());
    std::size_t name_bytes = 0;
    for (std::size_t i = 0; i < keys.size(); ++i)
        if (i == 0 || keys[i].name != keys[i - 1].name) name_bytes += keys[i].name.size();
    names_.reserve(name_bytes);  // never reallocated: the views' names point into it
    apps_.reserve(keys.size());
    std::vector<std::size_t> starts;  // of each view's Applications in apps_
    for (std::size_t i = 0; i < keys.size(); ++i) {
        if (i == 0 || keys[i].name != keys[i - 1].name) {
            views_.emplace_back().name = std::string_view(names_.data() + names_.size(), keys[i].name.size());
            names_ += keys[i].name;
            starts.push_back(i);
        }
        apps_.push_back(&apps[keys[i].app]);
    }
    starts.push_back(apps_.size());
    for (std::size_t v = 0; v < views_.size(); ++v)
        views_[v].apps =
            std::span<const application_observation* const>(apps_.data() + starts[v], starts[v + 1] - starts[v]);

    std::size_t capacity = 8;
    while (capacity < 2 * views_.size()) capacity *= 2;
    slots_.resize(capacity);
    for (std::size_t i = 0; i < views_.size(); ++i) {
        const auto hash = hash_of(views_[i].name);
        auto at = hash & (capacity - 1);
        while (slots_[at].position != 0) at = (at + 1) & (capacity - 1);
        slots_[at] = {static_cast<std::uint32_t>(i + 1), tag_of(hash)};
    }

    // The first Secret of a name is the cluster's identity.
    for (const auto& c : observed.clusters)
        if (auto* view = find(c.name); view && !view->identity) view->identity = &c;
    for (auto& view : views_) {
        // An Application whose cluster has no Secret (in-cluster, or not registered yet).
        if (!view.identity) view.identity = &unregistered_.emplace_back(cluster{std::string(view.name), {}, {}});
        view.labels = &view.identity->labels;
        std::size_t pending = 0;
        const application_observation* last = nullptr;
        for (const auto* a : view.apps) {
            if (!a->pending_hash.empty() || (track_revisions && !change_key(*a, true).empty())) {
                ++pending;
                last = a;
            }
            if (!a->hold_refused.empty()) view.hold_refused = a;
        }
        any_hold_refused_ = any_hold_refused_ || view.hold_refused;
        if (pending == 1) {
            view.pending_hash = change_key(*last, track_revisions);
        } else if (pending > 1) {
            std::vector<std::pair<std::string, std::string>> hashes;
            for (const auto* a : view.apps)
                if (auto key = change_key(*a, track_revisions); !key.empty())
                    hashes.emplace_back(a->name, std::move(key));
            view.pending_hash = combine_hashes(hashes);
        }
    }
}

std::size_t observed_fleet::index_of(std::string_view name) const {
    if (views_.empty()) return views_.size();
    const auto hash = hash_of(name);
    const auto tag = tag_of(hash);
    const auto mask = slots_.size() - 1;
    for (auto at = hash & mask; slots_[at].position != 0; at = (at + 1) & mask) {
        const auto& s = slots_[at];
        if (s.hash == tag && views_[s.position - 1].name == name) return s.position - 1;
    }
    return views_.size();
}

cluster_view* observed_fleet::find(std::string_view name) {
    auto i = index_of(name);
    return i == views_.size() ? nullptr : &views_[i];
}

const cluster_view* observed_fleet::find(std::string_view name) const {
    auto i = index_of(name);
    return i == views_.size() ? nullptr : &views_[i];
}

}  // namespace apr::core
