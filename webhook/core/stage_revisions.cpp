// The stage machine's moving revisions (docs/controller.md, "Moving revisions"): a new commit is a
// change keyed "rev:R", pinned per pass like a pending hash, and drift at the running revision is
// healed the way Argo CD's auto-sync would.
#include "core/revisions.hpp"
#include "core/stage_machine_impl.hpp"

#include <algorithm>
#include <unordered_set>

namespace apr::core::detail {

namespace {

bool is_revision_key(std::string_view key) {
    return key.starts_with(revision_key_prefix);
}

// The change `c` was admitted with for `app` in this pass.
const std::string& recorded_key(const cluster_status& c, const std::string& app) {
    static const std::string none;
    if (c.application_hashes.empty()) return c.hash;
    auto it = c.application_hashes.find(app);
    return it == c.application_hashes.end() ? none : it->second;
}

bool admitted_in_pass(const cluster_status& c) {
    return !c.hash.empty() &&
           (c.phase == cluster_phase::updating || c.phase == cluster_phase::done || c.phase == cluster_phase::failed);
}

}  // namespace

std::string machine::change_of(const application_observation& app) const {
    return change_key(app, track_revisions_);
}

bool machine::at_recorded_revisions(const cluster_status& c, const cluster_view& view) const {
    return std::all_of(view.apps.begin(), view.apps.end(), [&](const application_observation* app) {
        const auto& key = recorded_key(c, app->name);
        return !is_revision_key(key) || app->resolved_revision == key.substr(revision_key_prefix.size());
    });
}

// With auto-sync off, the template change an admission applied leaves the Application OutOfSync at
// the new spec's commit until the sync the admission wrote has run. A commit shown by an
// Application whose last sync started before the admission is that one; after it, a newer one.
bool machine::updating_for_template(const cluster_status& c, const cluster_view& view) const {
    if (!track_revisions_ || c.phase != cluster_phase::updating || c.hash.empty() || is_revision_key(c.hash) ||
        !c.admitted_at)
        return false;
    return std::all_of(view.apps.begin(), view.apps.end(), [&](const application_observation* app) {
        if (!app->pending_hash.empty()) return false;
        return !is_revision_key(change_of(*app)) || !app->operation_started_at ||
               *app->operation_started_at < *c.admitted_at;
    });
}

std::optional<std::string> machine::failed_revision_sync(const cluster_status& c, const cluster_view& view) const {
    if (!is_revision_key(c.hash) || !c.admitted_at) return std::nullopt;
    for (const auto* app : view.apps)
        if ((app->operation_phase == "Failed" || app->operation_phase == "Error") && app->operation_started_at &&
            *app->operation_started_at >= *c.admitted_at)
            return "Application " + app->name + ": sync operation " + app->operation_phase;
    return std::nullopt;
}

// A pass pins the commits it admitted clusters for: a cluster still waiting for its turn that shows
// another one starts a new pass from stage 1, so no cluster runs a commit before the earlier stages.
std::optional<std::string> machine::newer_revision_reason() {
    if (!track_revisions_) return std::nullopt;
    std::unordered_set<std::string> pinned;
    for (const auto& s : status().stages)
        for (const auto& c : s.clusters) {
            if (!admitted_in_pass(c)) continue;
            if (c.application_hashes.empty()) {
                if (is_revision_key(c.hash)) pinned.insert(c.hash);
            } else {
                for (const auto& [app, key] : c.application_hashes)
                    if (is_revision_key(key)) pinned.insert(key);
            }
        }
    if (pinned.empty()) return std::nullopt;
    for (const auto& s : status().stages)
        for (const auto& c : s.clusters) {
            const bool waiting = c.phase == cluster_phase::pending || c.phase == cluster_phase::requeued ||
                                 (c.phase == cluster_phase::done && c.hash.empty());
            const auto* view = waiting ? fleet_.find(c.name) : nullptr;
            if (!view) continue;
            for (const auto* app : view->apps)
                if (auto key = change_of(*app); is_revision_key(key) && !pinned.contains(key))
                    return "cluster " + c.name + " resolved a newer revision " +
                           key.substr(revision_key_prefix.size()) + " than this pass rolls out";
        }
    return std::nullopt;
}

// What auto-sync would have done at the running revision (needs_auto_sync): a sync at that
// revision, at most once per self_heal_backoff per Application, never while its cluster is being
// updated.
void machine::heal_drift() {
    std::unordered_set<std::string_view> updating;
    for (const auto& s : status().stages)
        for (const auto& c : s.clusters)
            if (c.phase == cluster_phase::updating) updating.insert(c.name);
    const auto backoff = std::chrono::ceil<std::chrono::seconds>(options_.self_heal_backoff);
    std::vector<admit_action> heals;
    for (const auto& view : fleet_.views()) {  // in name order
        if (updating.contains(view.name)) continue;
        admit_action a{std::string(view.name), {}, {}, {}};
        for (const auto* app : view.apps) {
            if (!needs_auto_sync(*app)) continue;
            if (app->operation_started_at && now_ - *app->operation_started_at < backoff) {
                look_again_at(*app->operation_started_at + backoff);
                continue;
            }
            a.applications.push_back(app->name);
            a.sync_revisions[app->name] = app->running_revision;
            if (app->spec_changed_since_sync)
                emit(false, "AutoSync",
                     "cluster " + a.cluster + ": Application " + app->name +
                         " changed outside the rollout's scope; syncing it at the revision it runs (" +
                         app->running_revision + ")");
            else
                emit(false, "SelfHeal",
                     "cluster " + a.cluster + ": Application " + app->name +
                         " drifted; syncing it at the revision it runs (" + app->running_revision + ")");
        }
        if (!a.applications.empty()) heals.push_back(std::move(a));
    }
    result_.heals = std::move(heals);
}

}  // namespace apr::core::detail
