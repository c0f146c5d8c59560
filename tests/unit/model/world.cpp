#include "model/world.hpp"

namespace apr::model {

world::world() : rollout_(initial_rollout()), clusters_(fleet_clusters()) {
    templates_.push_back(template_state{});
    // Before the rollout existed: every Application runs template version 1, synced.
    for (std::size_t i = 0; i < slots.size(); ++i) {
        json app = parse(application_json(slots[i], templates_.front()));
        const std::string identity = run_identity(*at(app, {"spec"}), nullptr);
        deployed_[slots[i].name] = identity;
        allowed_[slots[i].name].insert(identity);
        apps_[slots[i].name] = dump(app);
        refresh_status(slots[i].name, app);
        apps_[slots[i].name] = dump(app);
    }
    record_template(templates_.front());
}

std::optional<failure> world::run(const action& act) {
    std::mt19937_64 rng(act.seed);
    line_.clear();
    switch (act.kind) {
        case action_kind::template_change:
            template_change(rng);
            break;
        case action_kind::appset_sync:
            appset_sync(rng);
            break;
        case action_kind::controller_step:
            controller_step(rng);
            break;
        case action_kind::app_controller:
            app_controller(rng);
            break;
        case action_kind::tick:
            tick(rng);
            break;
        case action_kind::human:
            human(rng);
            break;
        case action_kind::human_recreate:
            human_recreate(rng);
            break;
    }
    log.push_back(line_);
    if (failure_) return failure_;
    return check();
}

// With nobody interfering any more, the rollout must bring the template to every cluster.
std::optional<failure> world::drain(int rounds) {
    line_.clear();
    for (int i = 0; i < rounds && !failure_; ++i) {
        controller_step_once(false);
        for (const auto& slot : slots) {
            // The ApplicationSet controller reconciles every Application from the template again.
            appset_write(slot, 0);
            app_controller_once(slot.name);
            // Argo CD's Sync button, for a template without auto-sync.
            ui_sync_if_needed(slot.name);
        }
        now_ += std::chrono::seconds(5);
        log.push_back("drain round " + std::to_string(i + 1) + ": " + line_);
        line_.clear();
        if (auto f = check()) return f;
        if (converged()) {
            log.push_back("drain: converged after " + std::to_string(i + 1) + " rounds");
            return std::nullopt;
        }
    }
    if (failure_) return failure_;
    std::string why = "liveness: the template did not reach every cluster within " + std::to_string(rounds) +
                      " rounds; rollout phase " + std::string(core::to_string(rollout_.status.phase));
    for (const auto& slot : slots) {
        why += "\n    " + slot.name + ": ";
        if (!apps_.contains(slot.name)) {
            why += "missing";
            continue;
        }
        json app = parse(apps_[slot.name]);
        why += "pending=" + str(app, {"metadata", "annotations", core::pending_hash_annotation}) +
               " deployed=" + short_id(deployed_[slot.name]) + " template=" + short_id(template_identity(slot));
    }
    log.push_back("drain: did not converge");
    return failure{why};
}

// Only one ownerReference may be the controller (the API server refuses two): a decoy is not.
std::string world::owner_json(const std::string& set_name) const {
    return R"({"apiVersion":"argoproj.io/v1alpha1","kind":"ApplicationSet","name":")" + set_name + R"(","uid":"uid-)" +
           set_name + R"(","controller":)" + (set_name == appset ? "true" : "false") + R"(,"blockOwnerDeletion":true})";
}

std::string world::application_json(const app_slot& slot, const template_state& t) const {
    return R"({"apiVersion":"argoproj.io/v1alpha1","kind":"Application","metadata":{"name":")" + slot.name +
           R"(","namespace":")" + ns + R"(","labels":{"team":"web"},"annotations":{"team":"web"},"ownerReferences":[)" +
           owner_json(appset) + R"(]},"spec":{"project":"default","destination":{"server":")" +
           server_of(slot.cluster) + R"(","namespace":")" + slot.component + R"("},)" + template_spec_fields(t, slot) +
           "}}";
}

std::string world::template_identity(const app_slot& slot) const {
    json app = parse(application_json(slot, templates_.back()));
    return run_identity(*at(app, {"spec"}), nullptr);
}

void world::record_template(const template_state& t) {
    for (const auto& slot : slots) {
        json app = parse(application_json(slot, t));
        const auto hash = codec::content_hash(codec::desired_state_canonical(*at(app, {"spec"})));
        template_hashes_[slot.name][hash] = run_identity(*at(app, {"spec"}), nullptr);
    }
}

const app_slot& world::slot_of(const std::string& name) const {
    return *std::find_if(slots.begin(), slots.end(), [&](const app_slot& s) { return s.name == name; });
}

// One CREATE or UPDATE through the webhook, applied as the API server would.
world::outcome world::write(const std::string& user, const std::string& name,
                            const std::optional<std::string>& old_object, json next) {
    std::string review =
        R"({"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":"u-)" +
        std::to_string(++uid_) +
        R"(","kind":{"group":"argoproj.io","version":"v1alpha1","kind":"Application"},)"
        R"("resource":{"group":"argoproj.io","version":"v1alpha1","resource":"applications"},"name":")" +
        name + R"(","namespace":")" + ns + R"(","operation":")" + (old_object ? "UPDATE" : "CREATE") +
        R"(","userInfo":{"username":")" + user + R"(","groups":["system:authenticated"]},"object":)" + dump(next);
    if (old_object) review += ",\"oldObject\":" + *old_object;
    review += R"(,"dryRun":false}})";
    // A replica whose cache has not seen the last status write answers from the one before.
    const auto state = core::build_fleet_state({lagging_ ? *lagging_ : rollout_}, clusters_);
    const auto answer = codec::review_application("application/json", review, state, ids_);
    totals.add(actor(user) + (old_object ? " UPDATE " : " CREATE ") + answer.outcome +
               (answer.outcome == "allowed" ? " (" + answer.detail + ")" : ""));
    json doc = parse(answer.body);
    const value& response = doc["response"];
    outcome out;
    if (answer.http_status != 200 || !response["allowed"].GetBool()) {
        out.code = codec::find_path(response, {"status", "code"}) ? response["status"]["code"].GetInt() : 0;
        out.message = str(response, {"status", "message"});
        if (out.code == 400)
            fail("the webhook refused a well-formed review with 400: " + out.message + "\n    object: " + dump(next));
        return out;
    }
    if (const auto* p = codec::find_path(response, {"patch"})) {
        auto text = codec::base64_decode(std::string_view(p->GetString(), p->GetStringLength()));
        std::string error;
        if (!text || !apply_patch(next, *text, error)) {
            fail("the webhook's patch does not apply: " + error + "\n    patch: " + text.value_or("?") +
                 "\n    object: " + dump(next));
            return out;
        }
        out.patched = true;
    }
    apps_[name] = dump(next);
    out.written = true;
    return out;
}

std::string world::actor(const std::string& user) {
    if (user == appset_user) return "applicationset-controller";
    if (user == app_controller_user) return "application-controller";
    if (user == self_user) return "rollout-controller";
    if (user == ui_user) return "argocd-server";
    return user;
}

void world::fail(std::string message) {
    if (!failure_) failure_ = failure{std::move(message)};
}

void world::say(const std::string& s) {
    if (!line_.empty()) line_ += "; ";
    line_ += s;
}

std::string world::verdict(const outcome& o) {
    if (o.written) return o.patched ? "allowed+patch" : "allowed";
    return "denied " + std::to_string(o.code);
}

// mode 0: keeps the object's annotations; 1: replaces them with the template's (drops the
// hold's record); 2: writes them back from a stale cache (an older record of template j).
void world::appset_write(const app_slot& slot, int mode, std::size_t stale) {
    json generated = parse(application_json(slot, templates_.back()));
    auto it = apps_.find(slot.name);
    if (it == apps_.end()) {
        auto o = write(appset_user, slot.name, std::nullopt, std::move(generated));
        say("appset CREATE " + slot.name + " " + verdict(o));
        return;
    }
    const std::string old = it->second;
    json next = parse(old);
    auto& a = next.GetAllocator();
    value spec;
    spec.CopyFrom(generated["spec"], a);
    // The template's spec, but Argo CD's own fields (none here) stay.
    next["spec"] = std::move(spec);
    // The ApplicationSet controller sets itself as the controller owner; other owners stay.
    if (auto* owners = at(next, {"metadata", "ownerReferences"}); owners && owners->IsArray()) {
        bool found = false;
        for (const auto& o : owners->GetArray())
            found = found || (str(o, {"kind"}) == "ApplicationSet" && str(o, {"name"}) == appset);
        if (!found) owners->PushBack(value().CopyFrom(parse(owner_json(appset)), a), a);
    } else {
        json list = parse("[" + owner_json(appset) + "]");
        set(next, {"metadata", "ownerReferences"}, list);
    }
    std::string how = "keep";
    if (mode == 1) {
        set(next, {"metadata", "annotations"}, parse(R"({"team":"web"})"));
        how = "replace";
    } else if (mode == 2) {
        json past = parse(application_json(slot, templates_[stale % templates_.size()]));
        const std::string canonical = codec::desired_state_canonical(past["spec"]);
        set_string(next, {"metadata", "annotations", core::pending_spec_annotation}, canonical);
        set_string(next, {"metadata", "annotations", core::pending_hash_annotation}, codec::content_hash(canonical));
        how = "stale record v" + std::to_string(templates_[stale % templates_.size()].version);
    }
    auto o = write(appset_user, slot.name, old, std::move(next));
    say("appset UPDATE " + slot.name + " (annotations " + how + ") " + verdict(o));
}

void world::template_change(std::mt19937_64& rng) {
    template_state t = templates_.back();
    t.version = static_cast<int>(templates_.size()) + 1;
    // With a scope on the revisions, half the changes are values or sync policy only: they pass at once.
    if (!scoped_ || rng() % 2) t.revision = t.version;
    t.values = static_cast<int>(rng() % 5);
    t.multi_source = rng() % 5 == 0;
    t.automated = !human_mode_ || rng() % 8 != 0;
    templates_.push_back(t);
    record_template(t);
    say("template -> v" + std::to_string(t.version) + " (revision v" + std::to_string(t.revision) + ")" +
        (t.multi_source ? " (multi-source)" : "") + (t.automated ? "" : " (no auto-sync)"));
    // The ApplicationSet controller writes the Applications, sometimes only some (it lags).
    const bool all = rng() % 4 != 0;
    for (const auto& slot : slots) {
        const int mode = static_cast<int>(rng() % 6 == 0 ? 1 : rng() % 8 == 0 ? 2 : 0);
        const std::size_t stale = rng() % templates_.size();
        if (all || rng() % 2) appset_write(slot, mode, stale);
    }
}

void world::appset_sync(std::mt19937_64& rng) {
    const auto& slot = slots[rng() % slots.size()];
    const int mode = static_cast<int>(rng() % 4 == 0 ? 1 : rng() % 6 == 0 ? 2 : 0);
    appset_write(slot, mode, rng() % templates_.size());
}

void world::refresh_status(const std::string& name, json& app) {
    auto& a = app.GetAllocator();
    const value& spec = app["spec"];
    const std::string want = run_identity(spec, nullptr);
    json sync(rapidjson::kObjectType);
    sync.AddMember("status", value(deployed_[name] == want ? "Synced" : "OutOfSync", a), a);
    json compared(rapidjson::kObjectType);
    if (const auto* s = codec::find_path(spec, {"sources"}); s && s->IsArray()) {
        value revisions(rapidjson::kArrayType);
        for (const auto& src : s->GetArray())
            revisions.PushBack(value(commit_of(str(src, {"targetRevision"})).c_str(), a), a);
        sync.AddMember("revisions", revisions, a);
        value copy;
        copy.CopyFrom(*s, a);
        compared.AddMember("sources", copy, compared.GetAllocator());
    } else if (const auto* s1 = codec::find_path(spec, {"source"}); s1 && s1->IsObject()) {
        sync.AddMember("revision", value(commit_of(str(*s1, {"targetRevision"})).c_str(), a), a);
        value copy;
        copy.CopyFrom(*s1, compared.GetAllocator());
        compared.AddMember("source", copy, compared.GetAllocator());
    }
    sync.AddMember("comparedTo", value().CopyFrom(compared, a), a);
    set(app, {"status", "sync"}, sync);
    set_string(app, {"status", "health", "status"}, "Healthy");
}

// One thing the application controller does for an Application: run its operation, else
// auto-sync, else refresh its status.
void world::app_controller_once(const std::string& name) {
    auto it = apps_.find(name);
    if (it == apps_.end()) return;
    const std::string old = it->second;
    json app = parse(old);
    const value* op = at(app, {"operation"});
    if (op && !op->IsNull()) {
        const value* sync = codec::find_path(*op, {"sync"});
        const std::string identity = run_identity(app["spec"], sync);
        deployed_[name] = identity;
        totals.add("operations run");
        say("argocd runs the operation of " + name + " -> " + short_id(identity));
        erase(app, {"operation"});
        refresh_status(name, app);
        set_string(app, {"status", "operationState", "phase"}, "Succeeded");
        auto o = write(app_controller_user, name, old, std::move(app));
        if (!o.written) fail("the application controller's status write was denied: " + o.message);
        autosync_op_.erase(name);
        return;
    }
    const bool automated = at(app, {"spec", "syncPolicy", "automated"}) != nullptr;
    const std::string want = run_identity(app["spec"], nullptr);
    if (automated && want != deployed_[name]) {
        // Auto-sync names the commit it resolved for the spec.
        json operation = parse(R"({"initiatedBy":{"automated":true},"sync":{}})");
        if (const auto* s = at(app, {"spec", "sources"}); s && s->IsArray()) {
            value revisions(rapidjson::kArrayType);
            for (const auto& src : s->GetArray())
                revisions.PushBack(value(commit_of(str(src, {"targetRevision"})).c_str(), operation.GetAllocator()),
                                   operation.GetAllocator());
            operation["sync"].AddMember("revisions", revisions, operation.GetAllocator());
        } else {
            set_string(operation, {"sync", "revision"}, commit_of(str(app, {"spec", "source", "targetRevision"})));
        }
        set(app, {"operation"}, operation);
        // Auto-sync follows a comparison: the status it writes with it names the resolved commit.
        refresh_status(name, app);
        const std::string written = codec::canonical_json(app["operation"]);
        auto o = write(app_controller_user, name, old, std::move(app));
        if (!o.written) fail("the application controller's auto-sync was denied: " + o.message);
        autosync_op_[name] = written;
        say("argocd auto-syncs " + name);
        return;
    }
    refresh_status(name, app);
    if (dump(app) == old) return;
    auto o = write(app_controller_user, name, old, std::move(app));
    if (!o.written) fail("the application controller's status write was denied: " + o.message);
    say("argocd refreshes " + name);
}

void world::app_controller(std::mt19937_64& rng) {
    if (rng() % 2) {
        for (const auto& slot : slots) app_controller_once(slot.name);
    } else {
        app_controller_once(slots[rng() % slots.size()].name);
    }
    if (line_.empty()) say("argocd: nothing to do");
}

void world::ui_sync_if_needed(const std::string& name) {
    auto it = apps_.find(name);
    if (it == apps_.end()) return;
    json app = parse(it->second);
    if (at(app, {"operation"}) || at(app, {"spec", "syncPolicy", "automated"})) return;
    if (!str(app, {"metadata", "annotations", core::pending_hash_annotation}).empty()) return;
    if (run_identity(app["spec"], nullptr) == deployed_[name]) return;
    const std::string old = it->second;
    set(app, {"operation"}, parse(R"({"initiatedBy":{"username":"admin"},"sync":{}})"));
    auto o = write(ui_user, name, old, std::move(app));
    say("UI Sync of " + name + " " + verdict(o));
    if (!o.written) fail("the Sync button for the current state was denied: " + o.message);
}

core::observations world::observe() const {
    core::observations obs;
    obs.clusters = clusters_;
    obs.source = core::source_presence::exists;
    const auto state = core::build_fleet_state({rollout_}, clusters_);
    for (const auto& [name, text] : apps_) {
        json app = parse(text);
        auto record = codec::decode_application(app);
        if (std::find(record.application_sets.begin(), record.application_sets.end(), appset) ==
            record.application_sets.end())
            continue;
        auto o = record.observation;
        o.cluster = state.admission.resolve_cluster(record.destination_server, record.destination_name);
        obs.applications.push_back(std::move(o));
    }
    return obs;
}

// What the status admits becomes allowed: the template state of each listed hash.
void world::record_admitted() {
    for (const auto& s : rollout_.status.stages)
        for (const auto& c : s.clusters) {
            if (c.phase != core::cluster_phase::updating && c.phase != core::cluster_phase::done) continue;
            if (c.hash.empty()) continue;
            for (const auto& slot : slots) {
                if (slot.cluster != c.name) continue;
                std::string hash = c.hash;
                if (!c.application_hashes.empty()) {
                    auto it = c.application_hashes.find(slot.name);
                    if (it == c.application_hashes.end()) continue;
                    hash = it->second;
                }
                auto& known = template_hashes_[slot.name];
                if (auto t = known.find(hash); t != known.end()) allowed_[slot.name].insert(t->second);
            }
        }
}

void world::controller_step_once(bool crash, bool lag) {
    const auto result = core::step(rollout_, observe(), now_, step_options_);
    if (lag) lagging_ = rollout_;
    if (result.status != rollout_.status) {
        rollout_.status = result.status;
        record_admitted();
    }
    for (const auto& a : result.admissions) {
        (void)a;
        totals.add("rollout admissions");
    }
    if (rollout_.status.phase == core::rollout_phase::completed) totals.add("steps with the rollout Completed");
    std::string admitted;
    for (const auto& a : result.admissions) admitted += " " + a.cluster;
    say("controller step: " + std::string(core::to_string(rollout_.status.phase)) + " stage \"" +
        rollout_.status.current_stage + "\"" + (admitted.empty() ? "" : ", admits" + admitted));
    if (crash) {
        totals.add("controller crashes between status and patch");
        say("controller crashes before patching");
        return;
    }
    if (lag) say("its patches reach a replica that has not seen the status yet");
    for (const auto& action : result.admissions)
        for (const auto& name : action.applications) {
            auto it = apps_.find(name);
            if (it == apps_.end()) continue;
            const std::string old = it->second;
            json app = parse(old);
            const auto record = codec::decode_application(app);
            auto patch = codec::admit_patch(record, record.observation.pending_hash);
            if (!patch) {
                say(name + ": unreadable pending spec");
                continue;
            }
            std::string error;
            if (!apply_patch(app, *patch, error)) {
                say("admit " + name + ": 422 (" + error + ")");
                continue;
            }
            auto o = write(self_user, name, old, std::move(app));
            say("admit " + name + " " + verdict(o));
        }
    lagging_.reset();
}

void world::controller_step(std::mt19937_64& rng) {
    const auto roll = rng() % 10;
    controller_step_once(roll == 0, roll == 1);
}

void world::tick(std::mt19937_64& rng) {
    const auto seconds = 1 + static_cast<int>(rng() % 45);
    now_ += std::chrono::seconds(seconds);
    say("time +" + std::to_string(seconds) + "s");
}

bool world::owned_by_appset(const json& app) {
    const auto owners = codec::application_set_owners(app);
    return std::find(owners.begin(), owners.end(), appset) != owners.end();
}

// Exactly an admitted state or, with a scope, one that differs from an admitted state only
// outside the scope.
bool world::admitted(const std::set<std::string>& allowed, const std::string& identity) const {
    if (allowed.contains(identity)) return true;
    if (!scoped_) return false;
    const auto staged = scoped_part(identity);
    return std::any_of(allowed.begin(), allowed.end(), [&](const std::string& a) { return scoped_part(a) == staged; });
}

// The part of a run identity that scope {source.targetRevision, sources[*].targetRevision}
// stages: the shape and each resolved commit (or the manifests of a local sync).
std::string world::scoped_part(const std::string& identity) {
    json id = parse(identity);
    if (id.HasMember("manifests") || id.HasMember("nothing")) return identity;
    if (const auto* sources = at(id, {"sources"}); sources && sources->IsArray()) {
        std::string out = "sources:";
        for (const auto& src : sources->GetArray()) out += str(src, {"commit"}) + ",";
        return out;
    }
    return "source:" + str(id, {"source", "commit"});
}

std::optional<failure> world::check() {
    if (failure_) return failure_;
    for (const auto& slot : slots) {
        const auto& allowed = allowed_[slot.name];
        if (!admitted(allowed, deployed_[slot.name]))
            return failure{"cluster " + slot.cluster + " runs a state of " + slot.name +
                           " that the rollout never admitted for it: " + deployed_[slot.name]};
        auto it = apps_.find(slot.name);
        if (it == apps_.end()) continue;
        json app = parse(it->second);
        const value* op = at(app, {"operation"});
        if (!op || op->IsNull()) continue;
        const std::string identity = run_identity(app["spec"], codec::find_path(*op, {"sync"}));
        if (admitted(allowed, identity)) continue;
        // The application controller's own auto-sync of the current spec: the spec must be allowed.
        if (auto auto_op = autosync_op_.find(slot.name);
            auto_op != autosync_op_.end() && auto_op->second == codec::canonical_json(*op)) {
            const auto spec_identity = run_identity(app["spec"], nullptr);
            if (admitted(allowed, spec_identity)) continue;
            return failure{"Application " + slot.name + " auto-syncs a spec never admitted for cluster " +
                           slot.cluster + ": " + spec_identity};
        }
        return failure{"Application " + slot.name +
                       " carries an operation deploying a state never admitted for cluster " + slot.cluster + ": " +
                       identity + "\n    operation: " + dump(*op)};
    }
    return std::nullopt;
}

bool world::converged() const {
    // Completed, or never started because nothing was ever held.
    if (rollout_.status.phase != core::rollout_phase::completed &&
        rollout_.status.phase != core::rollout_phase::pending)
        return false;
    for (const auto& slot : slots) {
        auto it = apps_.find(slot.name);
        if (it == apps_.end()) return false;
        json app = parse(it->second);
        if (!str(app, {"metadata", "annotations", core::pending_hash_annotation}).empty()) return false;
        if (at(app, {"operation"})) return false;
        auto deployed = deployed_.find(slot.name);
        if (deployed == deployed_.end() || deployed->second != template_identity(slot)) return false;
    }
    return true;
}

}  // namespace apr::model
