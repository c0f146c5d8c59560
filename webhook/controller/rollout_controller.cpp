#include "controller/rollout_controller.hpp"

#include "codec/admission_review.hpp"
#include "codec/json_reader.hpp"
#include "codec/kube_objects.hpp"
#include "codec/operator_request_codec.hpp"
#include "codec/rollout_codec.hpp"
#include "codec/sync_operation.hpp"
#include "core/admission.hpp"
#include "core/json_string.hpp"
#include "core/time_budget.hpp"
#include "core/validation.hpp"
#include "kube/api_paths.hpp"
#include "kube/log.hpp"
#include "prometheus/text_format.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <array>
#include <thread>

namespace apr::controller {

namespace {

void log_info(const std::string& message) {
    kube::log(kube::log_level::info, message);
}
void log_warning(const std::string& message) {
    kube::log(kube::log_level::warning, message);
}

std::string key_of(const core::rollout& r) {
    return r.namespace_ + "/" + r.name;
}

constexpr auto hold_refusal_memory = std::chrono::minutes(10);

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

void write_string(json_writer& w, std::string_view s) {
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

// JSON Patch adding our finalizer: a new list when there is none (`/-` needs an array to exist).
std::string add_finalizer_patch(bool list_exists) {
    rapidjson::StringBuffer buffer;
    json_writer w(buffer);
    w.StartArray();
    w.StartObject();
    w.Key("op");
    w.String("add");
    w.Key("path");
    w.String(list_exists ? "/metadata/finalizers/-" : "/metadata/finalizers");
    w.Key("value");
    if (list_exists) {
        write_string(w, finalizer_name);
    } else {
        w.StartArray();
        write_string(w, finalizer_name);
        w.EndArray();
    }
    w.EndObject();
    w.EndArray();
    return buffer.GetString();
}

// Merge patch asking the ApplicationSet controller to write its Applications again.
std::string refresh_patch() {
    rapidjson::StringBuffer buffer;
    json_writer w(buffer);
    w.StartObject();
    w.Key("metadata");
    w.StartObject();
    w.Key("annotations");
    w.StartObject();
    write_string(w, refresh_annotation);
    w.String("true");
    w.EndObject();
    w.EndObject();
    w.EndObject();
    return buffer.GetString();
}

// Merge patch setting the finalizers to all but ours, if the object is still at `resource_version`.
std::string remove_finalizer_patch(const std::vector<std::string>& finalizers, std::string_view resource_version) {
    rapidjson::StringBuffer buffer;
    json_writer w(buffer);
    w.StartObject();
    w.Key("metadata");
    w.StartObject();
    w.Key("finalizers");
    w.StartArray();
    for (const auto& f : finalizers)
        if (f != finalizer_name) write_string(w, f);
    w.EndArray();
    w.Key("resourceVersion");
    write_string(w, resource_version);
    w.EndObject();
    w.EndObject();
    return buffer.GetString();
}

}  // namespace

rollout_controller::rollout_controller(rollout_api& api, const fleet_view& cache, controller_options options)
    : api_(api), cache_(cache), options_(std::move(options)) {}

core::time_point rollout_controller::now() const {
    if (options_.clock) return options_.clock();
    return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
}

void rollout_controller::wait_before_retry(std::chrono::milliseconds wait) const {
    if (options_.sleep)
        options_.sleep(wait);
    else
        std::this_thread::sleep_for(wait);
}

void rollout_controller::wake() {
    {
        std::lock_guard lock(mutex_);
        woken_ = true;
    }
    wake_cv_.notify_all();
}

void rollout_controller::run(std::stop_token stop) {
    log_info("controller: leading; reconciling rollouts");
    while (!stop.stop_requested()) {
        const auto next = reconcile_all();
        std::unique_lock lock(mutex_);
        wake_cv_.wait_for(lock, stop, next, [&] { return woken_; });
        woken_ = false;
        lock.unlock();
        // Let a burst of watch events (the ApplicationSet controller rewriting every
        // Application) land before reconciling again.
        std::unique_lock pause(mutex_);
        wake_cv_.wait_for(pause, stop, options_.debounce, [] { return false; });
    }
    log_info("controller: stopped");
}

std::chrono::milliseconds rollout_controller::reconcile_all() {
    auto next = options_.resync;
    if (!cache_.synced()) return std::chrono::milliseconds(200);
    for (const auto& r : cache_.rollouts()) {
        try {
            if (auto after = reconcile(*r))
                next = std::min(next, std::chrono::duration_cast<std::chrono::milliseconds>(*after));
        } catch (const std::exception& e) {
            // One bad rollout must not stop the others.
            log_warning("controller: " + key_of(r->rollout) + ": " + e.what());
            next = std::min(next, std::chrono::milliseconds(5000));
        }
    }
    ++reconciles_;
    return std::max(next, std::chrono::milliseconds(100));
}

std::string rollout_controller::rollout_path(const core::rollout& r) const {
    return kube::rollout_path(r.namespace_, r.name);
}

core::observations rollout_controller::observe(const core::rollout& r) {
    core::observations obs;
    obs.clusters = cache_.clusters();
    const auto state = cache_.state();
    obs.source = state->application_set_presence(r.namespace_, r.spec.source.name);
    if (options_.measurements) obs.measurements = options_.measurements->results(r);
    obs.app_projects = cache_.app_projects();
    const auto refusals = cache_.hold_refusals();
    const auto observed_at = now();
    const auto recent = observed_at - hold_refusal_memory;
    auto& seen = pending_seen_[key_of(r)];
    std::map<std::string, std::pair<std::string, core::time_point>> still_pending;
    for (const auto& app : cache_.applications_of(r.spec.source.name)) {
        if (app->namespace_ != r.namespace_) continue;
        auto o = app->observation;
        if (auto change = core::change_key(o, r.spec.track_revisions); !change.empty()) {
            auto it = seen.find(app->name);
            const auto since = it != seen.end() && it->second.first == change ? it->second.second : observed_at;
            still_pending.emplace(app->name, std::make_pair(std::move(change), since));
            o.pending_since = since;
        }
        o.cluster = state->admission.resolve_cluster(app->destination_server, app->destination_name);
        // The ApplicationSet controller retries a refused write within minutes, and every retry
        // renews the Event: one not seen for a while means the template no longer asks for it.
        if (auto it = refusals.find(app->name);
            it != refusals.end() && it->second.last_seen && *it->second.last_seen >= recent)
            o.hold_refused = it->second.message;
        obs.applications.push_back(std::move(o));
    }
    seen = std::move(still_pending);
    return obs;
}

std::optional<core::duration> rollout_controller::reconcile(const cached_rollout& cr) {
    const auto& r = cr.rollout;
    if (!core::references_application_set(r.spec.source)) return std::nullopt;
    if (r.deleting) {
        pending_seen_.erase(key_of(r));
        release(cr);
        return std::nullopt;
    }
    if (ensure_finalizer(cr)) return std::chrono::milliseconds(200);  // the watch brings the new version

    const auto context = cache_.state()->validation_context_for(r.namespace_, r.name);
    const auto errors = core::validate(r.spec, cr.spec_errors, context).errors;
    if (!errors.empty()) {
        // Created before the validating webhook was installed: say why nothing moves.
        auto status = r.status;
        status.observed_generation = r.generation;
        status.phase = core::rollout_phase::failed;
        status.message = "invalid spec: " + errors.front().to_string() +
                         (errors.size() > 1 ? " (and " + std::to_string(errors.size() - 1) + " more)" : "");
        if (status != r.status) write_status(cr, status);
        return std::nullopt;
    }

    // An operator request is carried out on the status the step starts from, so its effect and
    // the step's are one status write; the annotation goes only after that write (restart safety:
    // status records the request's id, and a request already recorded is not carried out again).
    std::vector<core::rollout_event> events;
    const auto* working = &r;
    core::rollout with_request;
    auto observed = observe(r);
    if (cr.request) {
        with_request = r;
        auto outcome = carry_out_request(r, *cr.request);
        with_request.status = std::move(outcome.status);
        events = std::move(outcome.events);
        // A promote's gates are passed by the step (docs/api.md#stage-gates).
        observed.promotion = std::move(outcome.promotion);
        working = &with_request;
    }
    auto result = core::step(*working, observed, now(), options_.step);
    if (result.status != r.status && !write_status(cr, result.status))
        return std::chrono::milliseconds(500);  // conflict: the watch brings the newer object first
    if (options_.measurements) {
        // Results status now holds are forgotten; then the measurements due are started (a
        // measurement already running or done is not started twice).
        options_.measurements->recorded(r, result.status);
        for (const auto& m : result.measurements) options_.measurements->start(r, m);
    }
    if (cr.request) remove_request(cr);
    // Status says who is admitted before any Application changes: a crash in between leaves a
    // cluster Updating with its change still held, which the state machine admits again.
    for (const auto& action : result.admissions) admit(r, action);
    for (const auto& action : result.restorations) restore(r, action);
    for (const auto& action : result.heals) sync(r, action, true);
    if (r.spec.track_revisions) turn_auto_sync_off(r);
    events.insert(events.end(), std::make_move_iterator(result.events.begin()),
                  std::make_move_iterator(result.events.end()));
    emit(cr, events);
    return result.requeue_after;
}

core::request_outcome rollout_controller::carry_out_request(const core::rollout& r, const std::string& text) const {
    auto decoded = codec::decode_request(text);
    auto errors = std::move(decoded.errors);
    for (auto& e : core::check_request_fields(decoded.request, codec::request_field_path, true))
        errors.push_back(std::move(e));
    if (errors.empty()) return core::apply_request(r, decoded.request, now());
    // The validating webhook refuses these; one written while it was not installed is dropped.
    log_warning("controller: " + key_of(r) + ": ignoring a malformed operator request: " + errors.front().to_string());
    return {r.status, {{true, "RequestRefused", "malformed operator request ignored: " + errors.front().to_string()}}};
}

void rollout_controller::remove_request(const cached_rollout& cr) {
    const auto path = "/metadata/annotations/" + core::escape_pointer_token(core::request_annotation);
    // Only the request carried out: a newer one written meanwhile stays for the next reconcile.
    const auto patch = codec::render_patch({{"test", path, core::quote_json(*cr.request)}, {"remove", path, {}}});
    auto res = api_.json_patch(rollout_path(cr.rollout), patch);
    if (!res && res.error().code != 422 && !res.error().is_not_found())
        log_warning("controller: " + key_of(cr.rollout) +
                    ": removing the carried-out request: " + res.error().describe());
}

bool rollout_controller::ensure_finalizer(const cached_rollout& cr) {
    if (std::find(cr.finalizers.begin(), cr.finalizers.end(), finalizer_name) != cr.finalizers.end()) return false;
    if (auto res = api_.json_patch(rollout_path(cr.rollout), add_finalizer_patch(!cr.finalizers.empty())); !res)
        log_warning("controller: " + key_of(cr.rollout) + ": adding finalizer: " + res.error().describe());
    return true;
}

bool rollout_controller::write_status(const cached_rollout& cr, const core::rollout_status& status) {
    auto rollout = cr.rollout;
    rollout.status = status;
    const auto body = codec::encode_status_object(rollout, cr.resource_version);
    auto res = api_.put(kube::rollout_status_path(rollout.namespace_, rollout.name), body);
    if (res) return true;
    if (res.error().is_conflict()) {
        log_info("controller: " + key_of(rollout) + ": status conflict; recomputing from the newer object");
    } else {
        log_warning("controller: " + key_of(rollout) + ": writing status: " + res.error().describe());
    }
    return false;
}

void rollout_controller::for_each_application(
    const core::rollout& r, const core::admit_action& action,
    const std::function<void(const codec::application_record&, const std::string&)>& f) const {
    const auto apps = cache_.applications_of(r.spec.source.name);
    for (const auto& name : action.applications) {
        auto it = std::find_if(apps.begin(), apps.end(),
                               [&](const auto& a) { return a->name == name && a->namespace_ == r.namespace_; });
        if (it != apps.end()) f(**it, name);
    }
}

void rollout_controller::admit(const core::rollout& r, const core::admit_action& action) {
    if (!action.sync_revisions.empty()) sync(r, action, false);
    for_each_application(r, action, [&](const codec::application_record& app, const std::string& name) {
        if (action.sync_revisions.contains(name)) return;
        // Auto-sync is off on a rollout that tracks revisions: the applied change is synced by
        // the same write (docs/controller.md, "Moving revisions").
        std::optional<std::string> operation;
        if (r.spec.track_revisions) operation = codec::sync_operation_json(app, std::nullopt, options_.self_user);
        auto patch = codec::admit_patch(app, app.observation.pending_hash, operation ? &*operation : nullptr);
        if (!patch) {
            log_warning("controller: " + key_of(r) + ": Application " + name + " has an unreadable pending spec");
            return;
        }
        auto res = patch_application(kube::application_path(r.namespace_, name), *patch);
        if (res) {
            ++admissions_;
            log_info("controller: " + key_of(r) + ": admitted cluster " + action.cluster + " (Application " + name +
                     ")");
        } else if (res.error().code == 422) {
            // The `test` on the pending hash failed: the Application changed; the next step sees it.
            log_info("controller: " + key_of(r) + ": Application " + name + " changed before admission; re-evaluating");
        } else {
            log_warning("controller: " + key_of(r) + ": admitting Application " + name + ": " + res.error().describe());
        }
    });
}

// A sync operation per Application the action names with a revision: a new commit's admission
// (status already says Updating at "rev:R": a crash before this write is made good by the state
// machine admitting the cluster again), or a self-heal at the running revision.
void rollout_controller::sync(const core::rollout& r, const core::admit_action& action, bool heal) {
    for_each_application(r, action, [&](const codec::application_record& app, const std::string& name) {
        auto revision = action.sync_revisions.find(name);
        if (revision == action.sync_revisions.end()) return;
        const auto patch = codec::sync_patch(app, revision->second, options_.self_user);
        auto res = patch_application(kube::application_path(r.namespace_, name), patch, true);
        if (res) {
            if (!heal) ++admissions_;
            log_info("controller: " + key_of(r) + ": " + (heal ? "healed drift of" : "admitted") + " cluster " +
                     action.cluster + ": sync of Application " + name + " at " + revision->second);
        } else {
            log_warning("controller: " + key_of(r) + ": syncing Application " + name + " at " + revision->second +
                        ": " + res.error().describe());
        }
    });
}

void rollout_controller::turn_auto_sync_off(const core::rollout& r) {
    const auto at = now();
    for (const auto& app : cache_.applications_of(r.spec.source.name)) {
        if (app->namespace_ != r.namespace_ || !app->observation.automated_sync) continue;
        auto& last = auto_sync_touched_[r.namespace_ + "/" + app->name];
        if (last != core::time_point{} && at - last < std::chrono::seconds(30)) continue;
        last = at;
        // A write that changes nothing: the webhook's answer to it turns auto-sync off.
        const auto patch = codec::render_patch({{"test", "/metadata/name", core::quote_json(app->name)}});
        if (auto res = api_.json_patch(kube::application_path(r.namespace_, app->name), patch); res)
            log_info("controller: " + key_of(r) + ": Application " + app->name +
                     " synced by itself; asked the webhook to turn its auto-sync off");
        else if (!res.error().is_not_found())
            log_warning("controller: " + key_of(r) + ": turning auto-sync off on Application " + app->name + ": " +
                        res.error().describe());
    }
}

kube::api_result<void> rollout_controller::patch_application(const std::string& path, const std::string& patch,
                                                             bool merge) {
    auto send = [&] { return merge ? api_.merge_patch(path, patch) : api_.json_patch(path, patch); };
    auto res = send();
    // The webhook lets this write through only for a cluster the status admitted (or rolled
    // back); a replica whose cache has not seen the status just written denies it (403). That is
    // lag, not failure: try again shortly, and the step asks again later if the cache is still behind.
    for (auto wait = std::chrono::milliseconds(100);
         !res && res.error().code == 403 && wait <= std::chrono::milliseconds(1600); wait *= 2) {
        wait_before_retry(wait);
        res = send();
    }
    return res;
}

void rollout_controller::restore(const core::rollout& r, const core::admit_action& action) {
    for_each_application(r, action, [&](const codec::application_record& app, const std::string& name) {
        auto patch = codec::restore_patch(app, app.observation.previous_for);
        if (!patch) {
            log_warning("controller: " + key_of(r) + ": Application " + name + " has no readable previous state");
            return;
        }
        auto res = patch_application(kube::application_path(r.namespace_, name), *patch);
        if (res)
            log_info("controller: " + key_of(r) + ": rolled back cluster " + action.cluster + " (Application " + name +
                     ")");
        else if (res.error().code != 422)  // 422: restored already, or changed meanwhile; the next step sees it
            log_warning("controller: " + key_of(r) + ": rolling back Application " + name + ": " +
                        res.error().describe());
    });
}

void rollout_controller::emit(const cached_rollout& cr, const std::vector<core::rollout_event>& events) {
    const kube::object_reference ref{std::string(core::api_version), std::string(core::rollout_kind),
                                     cr.rollout.namespace_, cr.rollout.name, cr.uid};
    for (const auto& e : events) {
        log_info("controller: " + key_of(cr.rollout) + ": " + e.reason + ": " + e.message);
        api_.record(ref, e.warning ? kube::event_type::warning : kube::event_type::normal, e.reason, e.message);
    }
}

void rollout_controller::release(const cached_rollout& cr) {
    const auto& r = cr.rollout;
    for (const auto& app : cache_.applications_of(r.spec.source.name)) {
        if (app->namespace_ != r.namespace_ || app->observation.pending_hash.empty()) continue;
        auto res = api_.json_patch(kube::application_path(r.namespace_, app->name), codec::release_patch(*app));
        if (!res && res.error().code != 422 && !res.error().is_not_found()) {
            log_warning("controller: " + key_of(r) + ": releasing Application " + app->name + ": " +
                        res.error().describe());
            return;  // keep the finalizer; try again
        }
    }
    // Ask the ApplicationSet controller to write its template again, now without us in the way.
    auto res = api_.merge_patch(kube::application_set_path(r.namespace_, r.spec.source.name), refresh_patch());
    if (!res && !res.error().is_not_found())
        log_warning("controller: " + key_of(r) + ": refreshing ApplicationSet: " + res.error().describe());

    if (std::find(cr.finalizers.begin(), cr.finalizers.end(), finalizer_name) == cr.finalizers.end()) return;
    if (auto done = api_.merge_patch(rollout_path(r), remove_finalizer_patch(cr.finalizers, cr.resource_version));
        done) {
        log_info("controller: " + key_of(r) + ": released its Applications; finalizer removed");
        api_.record(
            {std::string(core::api_version), std::string(core::rollout_kind), r.namespace_, r.name, cr.uid},
            kube::event_type::normal, "Released",
            "rollout deleted: held Applications released and ApplicationSet " + r.spec.source.name + " refreshed");
    } else if (!done.error().is_conflict() && !done.error().is_not_found()) {
        log_warning("controller: " + key_of(r) + ": removing finalizer: " + done.error().describe());
    }
}

namespace {

// Per gate of the current pass: measurements by outcome (scope Cluster: summed over clusters),
// and gates by phase (dry-run gates included: that is how their failures show).
void write_gate_metrics(const fleet_view& cache, std::string& out) {
    std::string gates;
    prometheus::append_header(out, "argocd_progressive_rollout_gate_measurements",
                              "Gate measurements of the current pass by outcome.", "gauge");
    for (const auto& cr : cache.rollouts()) {
        const auto& r = cr->rollout;
        for (const auto& s : r.status.stages) {
            std::map<std::string, std::array<long long, 4>> counts;
            std::map<std::string, std::map<core::gate_phase, long long>> phases;
            auto add = [&](const core::gate_status& g) {
                auto& c = counts[g.name];
                c[0] += g.successful;
                c[1] += g.failed;
                c[2] += g.inconclusive;
                c[3] += g.errors;
                ++phases[g.name][g.phase];
            };
            for (const auto& g : s.gates) add(g);
            for (const auto& c : s.clusters)
                for (const auto& g : c.gates) add(g);
            const prometheus::label ns{"namespace", r.namespace_}, name{"name", r.name}, stage{"stage", s.name};
            for (const auto& [gate, c] : counts) {
                const prometheus::label gl{"gate", gate};
                for (auto p : {core::measurement_phase::successful, core::measurement_phase::failed,
                               core::measurement_phase::inconclusive, core::measurement_phase::error})
                    prometheus::append_sample(out, "argocd_progressive_rollout_gate_measurements",
                                              {ns, name, stage, gl, {"phase", core::to_string(p)}},
                                              static_cast<double>(c[static_cast<std::size_t>(p)]));
                for (const auto& [phase, n] : phases[gate])
                    prometheus::append_sample(gates, "argocd_progressive_rollout_gates",
                                              {ns, name, stage, gl, {"phase", core::to_string(phase)}},
                                              static_cast<double>(n));
            }
        }
    }
    prometheus::append_header(out, "argocd_progressive_rollout_gates",
                              "Gates of the current pass by phase (scope Cluster: one per cluster).", "gauge");
    out += gates;
}

}  // namespace

void write_rollout_metrics(const fleet_view& cache, std::string& out) {
    using prometheus::append_sample;
    prometheus::append_header(out, "argocd_progressive_rollout_phase", "The rollout's phase (1 for the current one).",
                              "gauge");
    std::string stage_lines, cluster_lines, start_lines, budget_lines;
    for (const auto& cr : cache.rollouts()) {
        const auto& r = cr->rollout;
        const prometheus::label ns{"namespace", r.namespace_}, name{"name", r.name};
        for (auto phase : {core::rollout_phase::pending, core::rollout_phase::progressing, core::rollout_phase::paused,
                           core::rollout_phase::completed, core::rollout_phase::failed, core::rollout_phase::aborted,
                           core::rollout_phase::rolled_back})
            append_sample(out, "argocd_progressive_rollout_phase", {ns, name, {"phase", core::to_string(phase)}},
                          r.status.phase == phase ? 1 : 0);
        long long index = 0;
        for (std::size_t i = 0; i < r.status.stages.size(); ++i)
            if (r.status.stages[i].name == r.status.current_stage) index = static_cast<long long>(i) + 1;
        append_sample(stage_lines, "argocd_progressive_rollout_current_stage", {ns, name}, static_cast<double>(index));
        if (const auto started = core::pass_started_at(r.status)) {  // docs/operations.md#alerts
            append_sample(start_lines, "argocd_progressive_rollout_pass_start_time_seconds", {ns, name},
                          static_cast<double>(started->time_since_epoch().count()));
            append_sample(budget_lines, "argocd_progressive_rollout_pass_deadline_seconds", {ns, name},
                          std::chrono::duration<double>(core::pass_time_budget(r)).count());
        }
        std::map<core::cluster_phase, long long> counts;
        for (const auto& s : r.status.stages)
            for (const auto& c : s.clusters) ++counts[c.phase];
        for (auto phase : {core::cluster_phase::pending, core::cluster_phase::requeued, core::cluster_phase::updating,
                           core::cluster_phase::done, core::cluster_phase::failed, core::cluster_phase::held,
                           core::cluster_phase::rolled_back})
            append_sample(cluster_lines, "argocd_progressive_rollout_clusters",
                          {ns, name, {"state", core::to_string(phase)}}, static_cast<double>(counts[phase]));
        append_sample(cluster_lines, "argocd_progressive_rollout_clusters", {ns, name, {"state", "Unstaged"}},
                      static_cast<double>(r.status.unstaged_clusters.size()));
    }
    write_gate_metrics(cache, out);
    prometheus::append_header(out, "argocd_progressive_rollout_current_stage",
                              "1-based index of the current stage (0: none).", "gauge");
    out += stage_lines;
    prometheus::append_header(out, "argocd_progressive_rollout_clusters", "Clusters per state in the current pass.",
                              "gauge");
    out += cluster_lines;
    prometheus::append_header(out, "argocd_progressive_rollout_pass_start_time_seconds",
                              "Unix time the current pass's first stage started.", "gauge");
    out += start_lines;
    prometheus::append_header(out, "argocd_progressive_rollout_pass_deadline_seconds",
                              "Seconds the current pass may take when its stages use their deadlines, bake times, "
                              "requeues and gate measurements to the full.",
                              "gauge");
    out += budget_lines;
}

}  // namespace apr::controller
