// The simulator's Argo CD application controller (fleet_simulator.hpp): compares each
// Application with its spec and the repository, performs sync operations and auto-sync, and
// writes status the way Argo CD does.
#include "sim/fleet_simulator.hpp"
#include "sim/sim_json.hpp"

#include "codec/json_reader.hpp"
#include "codec/time_format.hpp"
#include "kube/update.hpp"

namespace apr::sim {

using namespace detail;

namespace {

enum class outcome { none, started, synced, failed, out_of_sync };

// What one look at an Application decided, and what the write needs.
struct verdict {
    outcome result = outcome::none;
    std::string deployed;    // the revision a sync deploys
    std::string key;         // what the sync is of (spec, destination, revision, who asked)
    bool requested = false;  // a sync operation found in `operation`, not auto-sync
};

std::int64_t next_history_id(const Value& history) {
    std::int64_t last = 0;
    for (const auto& h : history.GetArray())
        if (const auto* id = codec::find_path(h, {"id"}); id && id->IsInt64()) last = std::max(last, id->GetInt64());
    return last + 1;
}

// What the sync result and the history record of a source: where it came from, not its Helm
// values. The whole source in up to eleven places would take an Application with large values
// (the 400 KiB hold case of admission_e2e_test) past etcd's request size limit.
Value source_identity(const Value* source, allocator& a) {
    Value out(rapidjson::kObjectType);
    if (!source || !source->IsObject()) return out;
    for (const char* key : {"repoURL", "path", "chart", "targetRevision"})
        if (const auto it = source->FindMember(key); it != source->MemberEnd())
            out.AddMember(rapidjson::StringRef(key), Value(it->value, a), a);
    return out;
}

}  // namespace

std::string argocd_simulator::resolve(const std::string& revision) const {
    auto it = branches_.find(revision);
    return it == branches_.end() ? revision : it->second;
}

void argocd_simulator::drift(const std::string& cluster) {
    const auto servers = clusters_by_server();
    for (const auto& listed : list_all(app_controller_, applications_path(), "list Applications")) {
        if (!appset_.empty() && !owned_by(listed, appset_)) continue;
        const std::string server = codec::string_at(listed, {"spec", "destination", "server"});
        if ((servers.contains(server) ? servers.at(server) : server) != cluster) continue;
        const std::string name = codec::string_at(listed, {"metadata", "name"});
        must(kube::update_with_retry(app_controller_, applications_path() + "/" + name,
                                     [&](rapidjson::Document& app) {
                                         auto& a = app.GetAllocator();
                                         Value& sync = object_member(object_member(app, "status", a), "sync", a);
                                         set_member(sync, "status", text("OutOfSync", a), a);
                                         return true;
                                     }),
             "drift Application " + name);
    }
}

int argocd_simulator::step_application_controller(std::chrono::system_clock::time_point now) {
    const auto servers = clusters_by_server();
    int writes = 0;
    for (const auto& listed : list_all(app_controller_, applications_path(), "list Applications")) {
        if (!appset_.empty() && !owned_by(listed, appset_)) continue;
        const std::string name = codec::string_at(listed, {"metadata", "name"});

        verdict v;
        std::string cluster;
        operation_record record;
        auto written =
            kube::update_with_retry(app_controller_, applications_path() + "/" + name, [&](rapidjson::Document& app) {
                auto& a = app.GetAllocator();
                v = verdict{};
                const Value* source = codec::find_path(app, {"spec", "source"});
                const Value* destination = codec::find_path(app, {"spec", "destination"});
                const std::string server = codec::string_at(app, {"spec", "destination", "server"});
                cluster = servers.contains(server) ? servers.at(server) : server;
                const std::string target = source ? codec::string_at(*source, {"targetRevision"}) : "";
                const std::string resolved = resolve(target);
                const std::string spec_key =
                    (source ? kube::to_json(*source) : "") + (destination ? kube::to_json(*destination) : "");
                const std::string sync_status = codec::string_at(app, {"status", "sync", "status"});
                const std::string op_phase = codec::string_at(app, {"status", "operationState", "phase"});
                const std::string running =
                    codec::string_at(app, {"status", "operationState", "syncResult", "revision"});
                const bool compared_current =
                    same(codec::find_path(app, {"status", "sync", "comparedTo", "source"}), source) &&
                    same(codec::find_path(app, {"status", "sync", "comparedTo", "destination"}), destination) &&
                    codec::string_at(app, {"status", "sync", "revision"}) == resolved;
                const Value* operation = codec::find_path(app, {"operation"});
                if (operation && !operation->IsObject()) operation = nullptr;
                const bool automated = auto_sync_on(app);

                // Whether a sync of `key` starts now (sync_delay), finishes now, or waits.
                auto sync_now = [&](const std::string& key) {
                    v.key = key;
                    auto seen = syncing_.find(name);
                    const bool first_sight = seen == syncing_.end() || seen->second.first != key;
                    if (first_sight && sync_delay > std::chrono::milliseconds::zero())
                        v.result = outcome::started;
                    else if (first_sight || now - seen->second.second >= sync_delay)
                        v.result = failing_sync.contains(cluster) ? outcome::failed : outcome::synced;
                };
                if (operation) {
                    // Anyone's sync operation: a branch, HEAD or no revision deploys what the branch
                    // points to now; a commit or tag deploys itself.
                    record.revision = codec::string_at(*operation, {"sync", "revision"});
                    const bool symbolic = record.revision.empty() || record.revision == "HEAD";
                    v.deployed = symbolic ? resolved : resolve(record.revision);
                    v.requested = true;
                    record.application = name;
                    record.cluster = cluster;
                    record.deployed = v.deployed;
                    record.initiated_by = codec::string_at(*operation, {"initiatedBy", "username"});
                    const auto* prune = codec::find_path(*operation, {"sync", "prune"});
                    record.prune = prune && prune->IsBool() && prune->GetBool();
                    sync_now("op:" + v.deployed + ":" + kube::to_json(*operation) + spec_key);
                } else if (sync_status.empty()) {
                    // The first reconcile of a new Application.
                    v.deployed = resolved;
                    v.result = automated ? outcome::synced : outcome::out_of_sync;
                } else if (!automated) {
                    // Nothing is deployed by itself: the spec or the branch moved, or it was just
                    // created; a drifted Application (OutOfSync at what it runs) stays so.
                    if (!compared_current || (sync_status != "Synced" && sync_status != "OutOfSync"))
                        v.result = outcome::out_of_sync;
                } else if (!(sync_status == "Synced" && compared_current)) {
                    // Auto-sync does not retry a revision whose sync failed (no retry policy here).
                    if (op_phase == "Failed" && compared_current && running == resolved) return false;
                    v.deployed = resolved;
                    sync_now(spec_key + resolved);
                }
                if (v.result == outcome::none) return false;

                const bool was_tracked = syncing_.contains(name) && syncing_.at(name).first == v.key;
                const auto started_at = was_tracked ? syncing_.at(name).second : now;
                const bool deployed_now = v.result == outcome::synced;
                Value& status = object_member(app, "status", a);
                Value& sync = object_member(status, "sync", a);
                set_member(sync, "status", text(deployed_now && v.deployed == resolved ? "Synced" : "OutOfSync", a), a);
                Value& compared = object_member(sync, "comparedTo", a);
                set_member(compared, "source", copy_of(source, a), a);
                set_member(compared, "destination", copy_of(destination, a), a);
                set_member(sync, "revision", text(resolved, a), a);
                Value& health = object_member(status, "health", a);
                if (deployed_now) {
                    const bool bad = degraded.contains(cluster);
                    set_member(health, "status", text(bad ? "Degraded" : "Healthy", a), a);
                    if (bad)
                        set_member(health, "message",
                                   text("simulated: " + cluster + " runs " + v.deployed + " degraded", a), a);
                    else
                        health.RemoveMember("message");
                } else if (!codec::find_path(health, {"status"})) {
                    set_member(health, "status", text("Missing", a), a);
                }
                if (v.result != outcome::out_of_sync) {
                    Value op(rapidjson::kObjectType);
                    if (v.requested) {
                        op.AddMember("operation", copy_of(operation, a), a);
                    } else {
                        Value sync_op(rapidjson::kObjectType);
                        sync_op.AddMember("revision", text(v.deployed, a), a);
                        Value auto_operation(rapidjson::kObjectType);
                        auto_operation.AddMember("sync", sync_op, a);
                        Value by(rapidjson::kObjectType);
                        by.AddMember("automated", true, a);
                        auto_operation.AddMember("initiatedBy", by, a);
                        op.AddMember("operation", auto_operation, a);
                    }
                    const char* phase = v.result == outcome::started  ? "Running"
                                        : v.result == outcome::failed ? "Failed"
                                                                      : "Succeeded";
                    op.AddMember("phase", Value(phase, a), a);
                    op.AddMember("message",
                                 text(v.result == outcome::failed    ? "simulated: one or more objects failed to apply"
                                      : v.result == outcome::started ? "waiting for completion of hook and sync"
                                                                     : "successfully synced (all tasks run)",
                                      a),
                                 a);
                    op.AddMember("startedAt", text(codec::format_time(started_at), a), a);
                    if (v.result != outcome::started) {
                        op.AddMember("finishedAt", text(codec::format_time(now), a), a);
                        Value sync_result(rapidjson::kObjectType);
                        sync_result.AddMember("revision", text(v.deployed, a), a);
                        sync_result.AddMember("source", source_identity(source, a), a);
                        op.AddMember("syncResult", sync_result, a);
                    }
                    set_member(status, "operationState", std::move(op), a);
                    if (deployed_now) {
                        if (!status.HasMember("history") || !status["history"].IsArray())
                            set_member(status, "history", Value(rapidjson::kArrayType), a);
                        Value& history = status["history"];
                        Value entry(rapidjson::kObjectType);
                        entry.AddMember("id", next_history_id(history), a);
                        entry.AddMember("revision", text(v.deployed, a), a);
                        entry.AddMember("deployedAt", text(codec::format_time(now), a), a);
                        entry.AddMember("source", source_identity(source, a), a);
                        history.PushBack(entry, a);
                        // Argo CD keeps the last 10 (spec.revisionHistoryLimit).
                        while (history.Size() > 10) history.Erase(history.Begin());
                    }
                }
                set_member(status, "reconciledAt", text(codec::format_time(now), a), a);
                // A finished operation is cleared, as Argo CD does. Last: removing a member moves
                // another into its place, and `status` refers into the object.
                if (v.requested && v.result != outcome::started) app.RemoveMember("operation");
                return true;
            });
        if (!written) {
            // Deleted meanwhile: nothing to reconcile.
            if (written.error().is_not_found()) continue;
            throw std::runtime_error("write status of Application " + name + ": " + written.error().describe());
        }
        if (v.result == outcome::none) continue;
        ++writes;
        if (v.requested && !(syncing_.contains(name) && syncing_.at(name).first == v.key))
            operations_.push_back(record);
        if (v.result == outcome::started) {
            if (!(syncing_.contains(name) && syncing_.at(name).first == v.key)) syncing_[name] = {v.key, now};
        } else if (v.result == outcome::synced || v.result == outcome::failed) {
            syncing_.erase(name);
            if (v.result == outcome::synced) updates_[v.deployed].push_back(cluster);
        }
    }
    return writes;
}

}  // namespace apr::sim
