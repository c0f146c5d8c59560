#include "controller/fleet_cache.hpp"

#include "codec/json_reader.hpp"
#include "codec/operator_request_codec.hpp"
#include "codec/rollout_codec.hpp"
#include "codec/windows_codec.hpp"
#include "kube/api_paths.hpp"
#include "prometheus/text_format.hpp"

#include <algorithm>

namespace apr::controller {

std::optional<cached_rollout> decode_cached_rollout(const rapidjson::Value& object) {
    auto decoded = codec::decode_rollout(object);
    if (decoded.rollout.name.empty()) return std::nullopt;
    cached_rollout out;
    out.rollout = std::move(decoded.rollout);
    out.spec_errors = std::move(decoded.errors);
    out.uid = codec::string_at(object, {"metadata", "uid"});
    out.resource_version = codec::string_at(object, {"metadata", "resourceVersion"});
    if (const auto* f = codec::find_path(object, {"metadata", "finalizers"}); f && f->IsArray())
        for (const auto& v : f->GetArray())
            if (v.IsString()) out.finalizers.emplace_back(v.GetString(), v.GetStringLength());
    out.request = codec::request_annotation_of(object);
    return out;
}

namespace {

kube::reflector_options watch_of(std::string path, std::string label_selector = {}) {
    kube::reflector_options o;
    o.path = std::move(path);
    o.label_selector = std::move(label_selector);
    return o;
}

}  // namespace

fleet_cache::fleet_cache(kube::client& client, std::string ns, std::function<void()> on_change)
    : namespace_(ns),
      on_change_(std::move(on_change)),
      rollouts_(client, watch_of(kube::rollouts_path(ns)), decode_cached_rollout, [this] { rebuild_state(); }),
      // Secrets hold credentials: the decoder keeps name, server and labels, nothing else.
      clusters_(client, watch_of(kube::secrets_path(ns), std::string(codec::cluster_secret_selector)),
                codec::decode_cluster_secret, [this] { rebuild_state(); }),
      applications_(
          client, watch_of(kube::applications_path(ns)),
          [](const rapidjson::Value& o) { return std::optional(codec::decode_application(o)); },
          [this] {
              if (on_change_) on_change_();
          }),
      application_sets_(client, watch_of(kube::application_sets_path(ns)), codec::decode_application_set,
                        [this] { application_sets_changed(); }),
      hold_refusals_(
          client,
          [&] {
              auto o = watch_of(kube::events_path(ns));
              o.field_selector = "reason=" + std::string(codec::hold_refused_reason);
              return o;
          }(),
          codec::decode_hold_refusal,
          [this] {
              if (on_change_) on_change_();
          }),
      app_projects_(client, watch_of(kube::app_projects_path(ns)), codec::decode_app_project,
                    [this] {
                        if (on_change_) on_change_();
                    }),
      state_(std::make_shared<const core::fleet_state>()) {}

fleet_cache::~fleet_cache() {
    stop();
}

void fleet_cache::start() {
    rollouts_.start();
    clusters_.start();
    applications_.start();
    application_sets_.start();
    hold_refusals_.start();
    app_projects_.start();
}

void fleet_cache::stop() {
    app_projects_.stop();
    hold_refusals_.stop();
    application_sets_.stop();
    applications_.stop();
    clusters_.stop();
    rollouts_.stop();
}

bool fleet_cache::synced() const {
    return rollouts_.synced() && clusters_.synced() && applications_.synced() && application_sets_.synced();
}

std::shared_ptr<const core::fleet_state> fleet_cache::state() const {
    std::lock_guard lock(state_mutex_);
    return state_;
}

std::vector<std::shared_ptr<const cached_rollout>> fleet_cache::rollouts() const {
    std::vector<std::shared_ptr<const cached_rollout>> out;
    const auto rollouts_snapshot = rollouts_.snapshot();  // alive for the whole loop
    for (const auto& [key, value] : *rollouts_snapshot) out.push_back(value);
    return out;
}

std::vector<core::cluster> fleet_cache::clusters() const {
    std::vector<core::cluster> out;
    const auto clusters_snapshot = clusters_.snapshot();  // alive for the whole loop
    for (const auto& [key, value] : *clusters_snapshot) out.push_back(*value);
    return out;
}

std::vector<std::shared_ptr<const codec::application_record>> fleet_cache::applications_of(
    const std::string& application_set) const {
    std::vector<std::shared_ptr<const codec::application_record>> out;
    const auto applications_snapshot = applications_.snapshot();  // alive for the whole loop
    for (const auto& [key, value] : *applications_snapshot)
        if (std::find(value->application_sets.begin(), value->application_sets.end(), application_set) !=
            value->application_sets.end())
            out.push_back(value);
    return out;
}

std::map<std::string, codec::hold_refusal> fleet_cache::hold_refusals() const {
    std::map<std::string, codec::hold_refusal> out;
    const auto hold_refusals_snapshot = hold_refusals_.snapshot();  // alive for the whole loop
    for (const auto& [key, value] : *hold_refusals_snapshot) {
        auto& slot = out[value->application];
        if (!slot.last_seen || (value->last_seen && *value->last_seen > *slot.last_seen)) slot = *value;
    }
    return out;
}

std::optional<std::map<std::string, core::app_project>> fleet_cache::app_projects() const {
    if (!app_projects_.synced()) return std::nullopt;
    std::map<std::string, core::app_project> out;
    const auto app_projects_snapshot = app_projects_.snapshot();  // alive for the whole loop
    for (const auto& [key, value] : *app_projects_snapshot) out.emplace(value->name, *value);
    return out;
}

void fleet_cache::rebuild_state() {
    {
        // Each informer calls this on its own watch thread right after publishing. One rebuild at
        // a time, so one that read older snapshots never swaps its state in after one that read
        // newer ones (the last rebuild to run has seen every publish before it).
        std::lock_guard rebuilding(rebuild_mutex_);
        std::vector<core::rollout> rollouts;
        const auto rollouts_snapshot = rollouts_.snapshot();  // alive for the whole loop
        for (const auto& [key, value] : *rollouts_snapshot) rollouts.push_back(value->rollout);
        std::optional<std::vector<core::application_set_ref>> application_sets;
        if (application_sets_listed_) {
            application_sets.emplace();
            const auto application_sets_snapshot = application_sets_.snapshot();  // alive for the whole loop
            for (const auto& [key, value] : *application_sets_snapshot) application_sets->push_back(*value);
        }
        auto state = core::build_fleet_state(rollouts, clusters(), std::move(application_sets));
        state.allowed_gate_urls = allowed_gate_urls_;
        auto next = std::make_shared<const core::fleet_state>(std::move(state));
        std::lock_guard lock(state_mutex_);
        state_ = std::move(next);
    }
    if (on_change_) on_change_();
}

// The ApplicationSet controller rewrites an ApplicationSet's status whenever one of its
// Applications changes sync or health: only a change in which ApplicationSets exist matters here.
void fleet_cache::application_sets_changed() {
    std::vector<std::string> keys;
    const auto application_sets_snapshot = application_sets_.snapshot();  // alive for the whole loop
    for (const auto& [key, value] : *application_sets_snapshot) keys.push_back(key);
    if (application_sets_listed_ && keys == application_set_keys_) return;
    application_set_keys_ = std::move(keys);
    application_sets_listed_ = true;
    rebuild_state();
}

void fleet_cache::write_metrics(std::string& out) const {
    const std::pair<const char*, const kube::reflector*> caches[] = {{"progressiverollouts", &rollouts_.watch()},
                                                                     {"secrets", &clusters_.watch()},
                                                                     {"applications", &applications_.watch()},
                                                                     {"applicationsets", &application_sets_.watch()},
                                                                     {"appprojects", &app_projects_.watch()}};
    auto family = [&](const char* name, const char* help, const char* type, auto value) {
        prometheus::append_header(out, name, help, type);
        for (const auto& [resource, r] : caches)
            prometheus::append_sample(out, name, {{"resource", resource}}, static_cast<double>(value(*r)));
    };
    family("argocd_progressive_rollout_cache_synced", "1 once the watch cache has listed.", "gauge",
           [](const kube::reflector& r) { return r.synced() ? 1 : 0; });
    family("argocd_progressive_rollout_cache_lists_total", "Completed LISTs, first sync included.", "counter",
           [](const kube::reflector& r) { return r.stats().lists.load(); });
    family("argocd_progressive_rollout_cache_relists_total", "LISTs after the first (410 Gone, errors).", "counter",
           [](const kube::reflector& r) { return r.stats().relists.load(); });
    family("argocd_progressive_rollout_cache_gone_total", "410 Gone answers seen.", "counter",
           [](const kube::reflector& r) { return r.stats().gone.load(); });
    family("argocd_progressive_rollout_cache_watch_restarts_total", "Watches re-opened.", "counter",
           [](const kube::reflector& r) { return r.stats().watch_restarts.load(); });
    family("argocd_progressive_rollout_cache_errors_total", "Failed requests, bad events, bad objects.", "counter",
           [](const kube::reflector& r) { return r.stats().errors.load(); });
}

}  // namespace apr::controller
