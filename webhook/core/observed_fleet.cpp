#include "core/observed_fleet.hpp"

#include "core/stage_machine.hpp"

#include <algorithm>
#include <cstdio>

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

observed_fleet::observed_fleet(const observations& observed, bool track_revisions) {
    std::unordered_map<std::string_view, const cluster*> known;
    known.reserve(observed.clusters.size());
    for (const auto& c : observed.clusters) known.emplace(c.name, &c);
    for (const auto& app : observed.applications) {
        auto& view = views_[std::string_view(app.cluster)];
        view.apps.push_back(&app);
        if (view.identity) continue;
        if (auto it = known.find(app.cluster); it != known.end()) {
            view.identity = it->second;
        } else {
            // An Application whose cluster has no Secret (in-cluster, or not registered yet).
            view.identity = &unregistered_.emplace_back(cluster{app.cluster, {}, {}});
        }
        view.labels = &view.identity->labels;
    }
    for (auto& [name, view] : views_) {
        std::vector<std::pair<std::string, std::string>> hashes;
        for (const auto* a : view.apps)
            if (auto key = change_key(*a, track_revisions); !key.empty()) hashes.emplace_back(a->name, std::move(key));
        view.pending_hash = combine_hashes(hashes);
    }
}

cluster_view* observed_fleet::find(std::string_view name) {
    auto it = views_.find(name);
    return it == views_.end() ? nullptr : &it->second;
}

const cluster_view* observed_fleet::find(std::string_view name) const {
    auto it = views_.find(name);
    return it == views_.end() ? nullptr : &it->second;
}

}  // namespace apr::core
