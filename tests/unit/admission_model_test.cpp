#define BOOST_TEST_MODULE admission_model
#include <boost/test/unit_test.hpp>

// Model-based randomized test of the hold (docs/admission.md, docs/controller.md).
//
// Seeded, reproducible sequences of writes to the Applications of one ApplicationSet: template
// changes written by the ApplicationSet controller, humans editing and syncing with random fields
// and ownerReferences, Argo CD's application controller resolving revisions, running operations
// and auto-syncing, the rollout controller's steps (status first, then its admission patches,
// sometimes "crashing" in between), and time passing. Every write goes through the real decision:
// an AdmissionReview is built and answered by codec::review_application, and the answer is applied
// as the API server would (denied: nothing changes; allowed: the object with the JSON Patch).
//
// After every step the invariant is checked against a simple model, per Application: the states
// allowed to run on its cluster are its initial state plus every template state whose hash the
// rollout's status listed Updating/Done for it. What the simulated application controller deployed
// must be one of them, and so must what any `operation` on the Application would deploy (unless
// the application controller itself wrote it as the auto-sync of the current spec, which then
// must be allowed). Sequences without humans must also finish: the template reaches every cluster.
// A quarter of the sequences give the rollout spec.scope.paths on the revisions, and half their
// template changes keep the revision: there what runs must match an admitted state in its
// revisions (and shape), whatever else the template changed.
//
//   APR_MODEL_SEQUENCES=N   number of sequences (default 2000)
//   APR_MODEL_STEPS=N       steps per sequence (default 60)
//   APR_MODEL_SEED=S        replay the one sequence S (printed on failure)

#include "codec/admission_review.hpp"
#include "codec/canonical_json.hpp"
#include "codec/json_reader.hpp"
#include "codec/kube_objects.hpp"
#include "core/admission.hpp"
#include "core/fleet_state.hpp"
#include "core/stage_machine.hpp"

#include <rapidjson/document.h>
#include <rapidjson/pointer.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace apr;

namespace {

using json = rapidjson::Document;
using value = rapidjson::Value;

// ---------------------------------------------------------------------------------------------
// JSON helpers

json parse(const std::string& text) {
    json d;
    d.Parse(text.c_str(), text.size());
    if (d.HasParseError()) throw std::runtime_error("model: not JSON: " + text.substr(0, 200));
    return d;
}

std::string dump(const value& v) {
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    v.Accept(w);
    return {b.GetString(), b.GetSize()};
}

json copy_of(const value& v) {
    json d;
    d.CopyFrom(v, d.GetAllocator());
    return d;
}

value* at(value& root, std::initializer_list<std::string_view> path) {
    value* v = &root;
    for (auto key : path) {
        if (!v->IsObject()) return nullptr;
        auto it = v->FindMember(rapidjson::StringRef(key.data(), key.size()));
        if (it == v->MemberEnd()) return nullptr;
        v = &it->value;
    }
    return v;
}

// Sets root[path...] = v, creating objects on the way.
void set(json& doc, std::initializer_list<std::string_view> path, const value& v) {
    value* cur = &doc;
    auto& a = doc.GetAllocator();
    std::size_t i = 0;
    for (auto key : path) {
        if (!cur->IsObject()) cur->SetObject();
        auto it = cur->FindMember(rapidjson::StringRef(key.data(), key.size()));
        if (it == cur->MemberEnd()) {
            cur->AddMember(value(key.data(), static_cast<rapidjson::SizeType>(key.size()), a),
                           value(rapidjson::kObjectType), a);
            it = cur->FindMember(rapidjson::StringRef(key.data(), key.size()));
        }
        cur = &it->value;
        if (++i == path.size()) cur->CopyFrom(v, a);
    }
}

void set_string(json& doc, std::initializer_list<std::string_view> path, const std::string& s) {
    value v(s.c_str(), static_cast<rapidjson::SizeType>(s.size()), doc.GetAllocator());
    set(doc, path, v);
}

void erase(json& doc, std::initializer_list<std::string_view> path) {
    std::vector<std::string_view> p(path);
    if (p.empty()) return;
    value* parent = &doc;
    for (std::size_t i = 0; i + 1 < p.size(); ++i) {
        if (!parent->IsObject()) return;
        auto it = parent->FindMember(rapidjson::StringRef(p[i].data(), p[i].size()));
        if (it == parent->MemberEnd()) return;
        parent = &it->value;
    }
    if (parent->IsObject()) parent->RemoveMember(rapidjson::StringRef(p.back().data(), p.back().size()));
}

std::string str(const value& root, std::initializer_list<std::string_view> path) {
    return codec::string_at(root, path);
}

// ---------------------------------------------------------------------------------------------
// RFC 6902 as the API server applies it: add/remove/replace/test. A remove of a missing path or a
// failed test fails the whole patch (HTTP 422) and leaves the object as it was.

bool apply_patch(json& doc, const std::string& patch_text, std::string& error) {
    json patch = parse(patch_text);
    if (!patch.IsArray()) return error = "patch is not an array", false;
    json work = copy_of(doc);
    auto& a = work.GetAllocator();
    for (const auto& op : patch.GetArray()) {
        const std::string kind = str(op, {"op"});
        const std::string path = str(op, {"path"});
        const value* v = codec::find_path(op, {"value"});
        rapidjson::Pointer pointer(path.c_str(), path.size());
        if (!pointer.IsValid()) return error = "invalid path " + path, false;
        const auto* tokens = pointer.GetTokens();
        const auto count = pointer.GetTokenCount();
        if (count == 0) return error = "whole-document operations are not used", false;
        rapidjson::Pointer parent_pointer(tokens, count - 1);
        value* parent = parent_pointer.Get(work);
        if (!parent) return error = kind + " " + path + ": parent missing", false;
        const auto& last = tokens[count - 1];
        const std::string name(last.name, last.length);
        value* target = nullptr;
        if (parent->IsObject()) {
            auto it = parent->FindMember(rapidjson::StringRef(last.name, last.length));
            if (it != parent->MemberEnd()) target = &it->value;
        } else if (parent->IsArray()) {
            if (last.index != rapidjson::kPointerInvalidIndex && last.index < parent->Size())
                target = &(*parent)[last.index];
        } else {
            return error = kind + " " + path + ": parent is not a container", false;
        }
        if (kind == "test") {
            if (!v || !target || !(*target == *v)) return error = "test " + path + " failed", false;
        } else if (kind == "remove") {
            if (!target) return error = "remove " + path + ": missing", false;
            if (parent->IsObject())
                parent->RemoveMember(rapidjson::StringRef(last.name, last.length));
            else
                parent->Erase(parent->Begin() + last.index);
        } else if (kind == "replace") {
            if (!target || !v) return error = "replace " + path + ": missing", false;
            target->CopyFrom(*v, a);
        } else if (kind == "add") {
            if (!v) return error = "add " + path + ": no value", false;
            value copy;
            copy.CopyFrom(*v, a);
            if (parent->IsObject()) {
                if (target)
                    *target = std::move(copy);
                else
                    parent->AddMember(value(name.c_str(), static_cast<rapidjson::SizeType>(name.size()), a), copy, a);
            } else if (name == "-") {
                parent->PushBack(copy, a);
            } else {
                if (last.index == rapidjson::kPointerInvalidIndex || last.index > parent->Size())
                    return error = "add " + path + ": index out of range", false;
                parent->PushBack(copy, a);
                for (auto i = parent->Size() - 1; i > last.index; --i) std::swap((*parent)[i], (*parent)[i - 1]);
            }
        } else {
            return error = "unsupported op " + kind, false;
        }
    }
    doc.Swap(work);
    return true;
}

// ---------------------------------------------------------------------------------------------
// The world

const std::string ns = "argocd";
const std::string appset = "guestbook";
const std::string appset_user = "system:serviceaccount:argocd:argocd-applicationset-controller";
const std::string app_controller_user = "system:serviceaccount:argocd:argocd-application-controller";
const std::string self_user = "system:serviceaccount:argocd:argocd-progressive-rollout";
const std::string human_user = "alice";
const std::string ui_user = "system:serviceaccount:argocd:argocd-server";
const std::string repo = "https://git.example.com/guestbook.git";
const std::string values_repo = "https://git.example.com/values.git";

core::admission_identities identities() {
    core::admission_identities ids;
    ids.self = self_user;
    ids.bypass_groups = {"rollout-admins"};  // nobody in the model is a member: a bypass may break the invariant
    return ids;
}

struct app_slot {
    std::string name;
    std::string cluster;
    std::string component;
};

// Three clusters, two stages; c3 hosts two Applications of the ApplicationSet.
const std::vector<app_slot> slots = {
    {"guestbook-c1", "c1", "guestbook"},
    {"guestbook-c2", "c2", "guestbook"},
    {"guestbook-c3", "c3", "guestbook"},
    {"metrics-c3", "c3", "metrics"},
};

std::string server_of(const std::string& cluster) {
    return "https://" + cluster + ".example.com";
}

std::vector<core::cluster> fleet_clusters() {
    return {{"c1", server_of("c1"), {{"env", "canary"}}},
            {"c2", server_of("c2"), {{"env", "prod"}}},
            {"c3", server_of("c3"), {{"env", "prod"}}}};
}

core::rollout initial_rollout() {
    core::rollout r;
    r.namespace_ = ns;
    r.name = "guestbook-rollout";
    r.generation = 1;
    r.spec.source = {"argoproj.io", "ApplicationSet", appset};
    auto stage = [](std::string name, std::string env) {
        core::stage_spec s;
        s.name = std::move(name);
        core::label_selector sel;
        sel.match_labels.emplace("env", std::move(env));
        s.selector = std::move(sel);
        s.max_unavailable = core::int_or_percent::integer(1);
        s.progress_deadline = core::duration_field::of("24h");
        return s;
    };
    r.spec.stages = {stage("canary", "canary"), stage("prod", "prod")};
    return r;
}

// A template version: what the ApplicationSet's template says, per Application.
struct template_state {
    int version = 1;
    int revision = 1;  // targetRevision "v<revision>"; with a scope, some changes keep it
    int values = 1;
    bool multi_source = false;
    bool automated = true;
};

std::string commit_of(const std::string& revision);

// The template's desired state for one Application (spec.source/sources + syncPolicy), as JSON.
std::string template_spec_fields(const template_state& t, const app_slot& slot) {
    const std::string rev = "v" + std::to_string(t.revision);
    std::string out;
    if (t.multi_source)
        out = R"("sources":[{"repoURL":")" + repo + R"(","path":")" + slot.component + R"(","targetRevision":")" + rev +
              R"(","helm":{"valueFiles":["$values/)" + slot.cluster + R"(.yaml"]}},{"repoURL":")" + values_repo +
              R"(","targetRevision":")" + rev + R"(","ref":"values"}])";
    else
        out = R"("source":{"repoURL":")" + repo + R"(","path":")" + slot.component + R"(","targetRevision":")" + rev +
              R"(","helm":{"values":"replicas: )" + std::to_string(t.values) + "\\ncluster: " + slot.cluster + R"("}})";
    out += std::string(R"(,"syncPolicy":{)") + (t.automated ? R"("automated":{"prune":true},)" : "") +
           R"("syncOptions":["CreateNamespace=true"]})";
    return out;
}

// ---------------------------------------------------------------------------------------------
// What runs: the identity of a deployed state is its source(s) with each revision resolved to the
// commit the application controller would deploy, or the manifests of a local sync. syncPolicy is
// not part of it (the hold removes `automated`; what runs is the same).

std::string commit_of(const std::string& revision) {
    if (revision.size() == 40 && revision.find_first_not_of("0123456789abcdef") == std::string::npos) return revision;
    const std::string r = revision.empty() ? "HEAD" : revision;
    std::string h =
        codec::content_hash("commit:" + r) + codec::content_hash("again:" + r) + codec::content_hash("more:" + r);
    return h.substr(0, 40);
}

value resolved_source(const value& source, const std::string& revision_override, json::AllocatorType& a) {
    value out;
    out.CopyFrom(source, a);
    std::string rev = revision_override.empty() ? str(source, {"targetRevision"}) : revision_override;
    const std::string commit = commit_of(rev);
    if (out.IsObject()) {
        out.RemoveMember("targetRevision");
        out.AddMember("commit", value(commit.c_str(), a), a);
    }
    return out;
}

// What syncing `spec` with the given `operation.sync` (overrides, revisions; null for the spec as it
// is) deploys, as Argo CD would run it.
std::string run_identity(const value& spec, const value* sync) {
    json out(rapidjson::kObjectType);
    auto& a = out.GetAllocator();
    if (sync) {
        if (const auto* m = codec::find_path(*sync, {"manifests"}); m && m->IsArray() && !m->Empty()) {
            value copy;
            copy.CopyFrom(*m, a);
            out.AddMember("manifests", copy, a);
            return codec::canonical_json(out);
        }
    }
    const std::string op_revision = sync ? str(*sync, {"revision"}) : "";
    std::vector<std::string> op_revisions;
    if (sync)
        if (const auto* rs = codec::find_path(*sync, {"revisions"}); rs && rs->IsArray())
            for (const auto& r : rs->GetArray()) op_revisions.push_back(r.IsString() ? r.GetString() : "");
    const value* source = sync ? codec::find_path(*sync, {"source"}) : nullptr;
    const value* sources = sync ? codec::find_path(*sync, {"sources"}) : nullptr;
    if (!source && !sources) {
        source = codec::find_path(spec, {"source"});
        sources = codec::find_path(spec, {"sources"});
        if (source && source->IsNull()) source = nullptr;
        if (sources && sources->IsNull()) sources = nullptr;
        if (source && sources) source = nullptr;  // Argo CD uses sources when both are set
    }
    if (sources && sources->IsArray() && !sources->Empty()) {
        value list(rapidjson::kArrayType);
        for (rapidjson::SizeType i = 0; i < sources->Size(); ++i) {
            std::string rev = i < op_revisions.size() ? op_revisions[i] : (i == 0 ? op_revision : "");
            list.PushBack(resolved_source((*sources)[i], rev, a), a);
        }
        out.AddMember("sources", list, a);
    } else if (source && source->IsObject()) {
        std::string rev = op_revision.empty() && !op_revisions.empty() ? op_revisions.front() : op_revision;
        out.AddMember("source", resolved_source(*source, rev, a), a);
    } else {
        out.AddMember("nothing", true, a);
    }
    return codec::canonical_json(out);
}

std::string short_id(const std::string& identity) {
    return codec::content_hash(identity).substr(0, 8);
}

// ---------------------------------------------------------------------------------------------
// Actions. Each carries its own seed for its random choices, so deleting other steps (shrinking)
// keeps what this one does as close as possible.

enum class action_kind { template_change, appset_sync, controller_step, app_controller, tick, human, human_recreate };

struct action {
    action_kind kind;
    std::uint64_t seed;
};

struct failure {
    std::string message;
};

// What the sequences exercised, summed over a run (printed, so a generator that stops reaching
// some path shows).
struct coverage {
    std::map<std::string, long> counts;
    void add(const std::string& what) { ++counts[what]; }
};
coverage totals;

class world {
public:
    world() : rollout_(initial_rollout()), clusters_(fleet_clusters()) {
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

    std::vector<std::string> log;

    std::optional<failure> run(const action& act) {
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
    std::optional<failure> drain(int rounds) {
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

private:
    // ---- objects ------------------------------------------------------------------------------

    // Only one ownerReference may be the controller (the API server refuses two): a decoy is not.
    std::string owner_json(const std::string& set_name) const {
        return R"({"apiVersion":"argoproj.io/v1alpha1","kind":"ApplicationSet","name":")" + set_name +
               R"(","uid":"uid-)" + set_name + R"(","controller":)" + (set_name == appset ? "true" : "false") +
               R"(,"blockOwnerDeletion":true})";
    }

    std::string application_json(const app_slot& slot, const template_state& t) const {
        return R"({"apiVersion":"argoproj.io/v1alpha1","kind":"Application","metadata":{"name":")" + slot.name +
               R"(","namespace":")" + ns +
               R"(","labels":{"team":"web"},"annotations":{"team":"web"},"ownerReferences":[)" + owner_json(appset) +
               R"(]},"spec":{"project":"default","destination":{"server":")" + server_of(slot.cluster) +
               R"(","namespace":")" + slot.component + R"("},)" + template_spec_fields(t, slot) + "}}";
    }

    std::string template_identity(const app_slot& slot) const {
        json app = parse(application_json(slot, templates_.back()));
        return run_identity(*at(app, {"spec"}), nullptr);
    }

    void record_template(const template_state& t) {
        for (const auto& slot : slots) {
            json app = parse(application_json(slot, t));
            const auto hash = codec::content_hash(codec::desired_state_canonical(*at(app, {"spec"})));
            template_hashes_[slot.name][hash] = run_identity(*at(app, {"spec"}), nullptr);
        }
    }

    const app_slot& slot_of(const std::string& name) const {
        return *std::find_if(slots.begin(), slots.end(), [&](const app_slot& s) { return s.name == name; });
    }

    // ---- the API server -------------------------------------------------------------------------

    struct outcome {
        bool written = false;
        int code = 200;
        std::string message;
        bool patched = false;
    };

    // One CREATE or UPDATE through the webhook, applied as the API server would.
    outcome write(const std::string& user, const std::string& name, const std::optional<std::string>& old_object,
                  json next) {
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
                fail("the webhook refused a well-formed review with 400: " + out.message +
                     "\n    object: " + dump(next));
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

    static std::string actor(const std::string& user) {
        if (user == appset_user) return "applicationset-controller";
        if (user == app_controller_user) return "application-controller";
        if (user == self_user) return "rollout-controller";
        if (user == ui_user) return "argocd-server";
        return user;
    }

    void fail(std::string message) {
        if (!failure_) failure_ = failure{std::move(message)};
    }

    void say(const std::string& s) {
        if (!line_.empty()) line_ += "; ";
        line_ += s;
    }

    static std::string verdict(const outcome& o) {
        if (o.written) return o.patched ? "allowed+patch" : "allowed";
        return "denied " + std::to_string(o.code);
    }

    // ---- the ApplicationSet controller ------------------------------------------------------

    // mode 0: keeps the object's annotations; 1: replaces them with the template's (drops the
    // hold's record); 2: writes them back from a stale cache (an older record of template j).
    void appset_write(const app_slot& slot, int mode, std::size_t stale = 0) {
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
            set_string(next, {"metadata", "annotations", core::pending_hash_annotation},
                       codec::content_hash(canonical));
            how = "stale record v" + std::to_string(templates_[stale % templates_.size()].version);
        }
        auto o = write(appset_user, slot.name, old, std::move(next));
        say("appset UPDATE " + slot.name + " (annotations " + how + ") " + verdict(o));
    }

    void template_change(std::mt19937_64& rng) {
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

    void appset_sync(std::mt19937_64& rng) {
        const auto& slot = slots[rng() % slots.size()];
        const int mode = static_cast<int>(rng() % 4 == 0 ? 1 : rng() % 6 == 0 ? 2 : 0);
        appset_write(slot, mode, rng() % templates_.size());
    }

    // ---- Argo CD's application controller ----------------------------------------------------

    void refresh_status(const std::string& name, json& app) {
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
    void app_controller_once(const std::string& name) {
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

    void app_controller(std::mt19937_64& rng) {
        if (rng() % 2) {
            for (const auto& slot : slots) app_controller_once(slot.name);
        } else {
            app_controller_once(slots[rng() % slots.size()].name);
        }
        if (line_.empty()) say("argocd: nothing to do");
    }

    void ui_sync_if_needed(const std::string& name) {
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

    // ---- the rollout controller (as rollout_controller.cpp reconcile()) -----------------------

    core::observations observe() const {
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
    void record_admitted() {
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

    void controller_step_once(bool crash, bool lag = false) {
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

    void controller_step(std::mt19937_64& rng) {
        const auto roll = rng() % 10;
        controller_step_once(roll == 0, roll == 1);
    }

    void tick(std::mt19937_64& rng) {
        const auto seconds = 1 + static_cast<int>(rng() % 45);
        now_ += std::chrono::seconds(seconds);
        say("time +" + std::to_string(seconds) + "s");
    }

    static bool owned_by_appset(const json& app) {
        const auto owners = codec::application_set_owners(app);
        return std::find(owners.begin(), owners.end(), appset) != owners.end();
    }

    // ---- humans -------------------------------------------------------------------------------

    std::string pick_revision(std::mt19937_64& rng, const json& app) {
        switch (rng() % 8) {
            case 0:
                return "v" + std::to_string(templates_.size() + 1 + rng() % 3);  // a revision no template named
            case 1:
                return "v" + std::to_string(1 + rng() % templates_.size());  // some template's
            case 2:
                return commit_of("v" + std::to_string(1 + rng() % templates_.size()));
            case 3:
                return str(app, {"status", "sync", "revision"});  // the resolved commit (UI)
            case 4:
                return str(app, {"spec", "source", "targetRevision"});
            case 5:
                return "HEAD";
            case 6:
                return "";
            default:
                return commit_of(str(app, {"spec", "source", "targetRevision"}));
        }
    }

    // A template state j's fields for this Application, e.g. the newest one not admitted yet.
    json template_spec(std::mt19937_64& rng, const app_slot& slot) {
        const auto& t = templates_[rng() % templates_.size()];
        return parse(application_json(slot, t));
    }

    // One random mutation of a human's write; returns what it did.
    std::string mutate(std::mt19937_64& rng, json& app, const app_slot& slot) {
        auto& a = app.GetAllocator();
        switch (rng() % 16) {
            case 0: {
                const auto rev = pick_revision(rng, app);
                if (auto* s = at(app, {"spec", "sources"}); s && s->IsArray() && !s->Empty() && (*s)[0].IsObject()) {
                    (*s)[0].RemoveMember("targetRevision");
                    (*s)[0].AddMember("targetRevision", value(rev.c_str(), a), a);
                } else {
                    set_string(app, {"spec", "source", "targetRevision"}, rev);
                }
                return "targetRevision=" + rev;
            }
            case 1:
                set_string(app, {"spec", "source", "helm", "values"}, "replicas: " + std::to_string(10 + rng() % 5));
                return "helm values";
            case 2: {
                json t = template_spec(rng, slot);
                erase(app, {"spec", "source"});
                erase(app, {"spec", "sources"});
                for (const char* f : {"source", "sources"})
                    if (auto it = t["spec"].FindMember(f); it != t["spec"].MemberEnd()) {
                        value copy;
                        copy.CopyFrom(it->value, a);
                        app["spec"].AddMember(value(f, a), copy, a);
                    }
                return "source of template " + str(t, {"spec", "source", "targetRevision"}) +
                       str(t, {"spec", "sources", "0", "targetRevision"});
            }
            case 3:
                if (at(app, {"spec", "syncPolicy", "automated"})) {
                    erase(app, {"spec", "syncPolicy", "automated"});
                    return "auto-sync off";
                }
                set(app, {"spec", "syncPolicy", "automated"}, parse(R"({"prune":true})"));
                return "auto-sync on";
            case 4: {
                const auto& c = clusters_[rng() % clusters_.size()];
                if (rng() % 2) {
                    set_string(app, {"spec", "destination", "server"}, c.server);
                    return "destination.server=" + c.name;
                }
                erase(app, {"spec", "destination", "server"});
                set_string(app, {"spec", "destination", "name"}, c.name);
                return "destination.name=" + c.name;
            }
            case 5: {
                auto* owners = at(app, {"metadata", "ownerReferences"});
                if (!owners || !owners->IsArray()) {
                    set(app, {"metadata", "ownerReferences"}, parse("[]"));
                    owners = at(app, {"metadata", "ownerReferences"});
                }
                const auto pos = rng() % (owners->Size() + 1);
                owners->PushBack(value().CopyFrom(parse(owner_json("decoy")), a), a);
                for (auto i = owners->Size() - 1; i > pos; --i) std::swap((*owners)[i], (*owners)[i - 1]);
                return "decoy owner at " + std::to_string(pos);
            }
            case 6:
                if (rng() % 2) {
                    erase(app, {"metadata", "ownerReferences"});
                    return "no ownerReferences";
                }
                if (auto* owners = at(app, {"metadata", "ownerReferences"}); owners && owners->IsArray()) {
                    value kept(rapidjson::kArrayType);
                    for (auto& o : owners->GetArray())
                        if (str(o, {"name"}) != appset) kept.PushBack(value().CopyFrom(o, a), a);
                    *owners = std::move(kept);
                }
                return "owner removed";
            case 7: {
                // A record of some template state (or of an invented one), as the hold would write it.
                std::string canonical;
                std::string what;
                if (rng() % 3) {
                    json t = template_spec(rng, slot);
                    canonical = codec::desired_state_canonical(t["spec"]);
                    what = "template " + str(t, {"spec", "source", "targetRevision"}) +
                           str(t, {"spec", "sources", "0", "targetRevision"});
                } else {
                    canonical = R"({"source":{"path":"evil","repoURL":")" + repo + R"(","targetRevision":"evil"}})";
                    what = "invented";
                }
                set_string(app, {"metadata", "annotations", core::pending_spec_annotation}, canonical);
                if (rng() % 4)
                    set_string(app, {"metadata", "annotations", core::pending_hash_annotation},
                               codec::content_hash(canonical));
                return "pending record of " + what;
            }
            case 8:
                erase(app, {"metadata", "annotations", core::pending_spec_annotation});
                if (rng() % 3) erase(app, {"metadata", "annotations", core::pending_hash_annotation});
                return "cancel pending";
            case 9:
                if (rng() % 2) {
                    erase(app, {"metadata", "annotations", core::created_held_annotation});
                    return "remove created-held";
                }
                set_string(app, {"metadata", "annotations", "deployment.skyscanner.net/previous-spec"}, "{}");
                return "add deployment.skyscanner.net/previous-spec";
            case 10:
            case 11:
            case 12: {
                // A sync operation.
                json op = parse(R"({"initiatedBy":{"username":"alice"},"sync":{}})");
                auto& oa = op.GetAllocator();
                std::string what;
                switch (rng() % 6) {
                    case 0:
                    case 1: {
                        const auto rev = pick_revision(rng, app);
                        set_string(op, {"sync", "revision"}, rev);
                        what = "revision=" + (rev.empty() ? std::string("\"\"") : rev);
                        break;
                    }
                    case 2: {
                        value revisions(rapidjson::kArrayType);
                        const int n = 1 + static_cast<int>(rng() % 2);
                        what = "revisions=[";
                        for (int i = 0; i < n; ++i) {
                            const auto rev = pick_revision(rng, app);
                            revisions.PushBack(value(rev.c_str(), oa), oa);
                            what += (i ? "," : "") + rev;
                        }
                        op["sync"].AddMember("revisions", revisions, oa);
                        what += "]";
                        break;
                    }
                    case 3: {
                        json t = template_spec(rng, slot);
                        if (auto it = t["spec"].FindMember("source"); it != t["spec"].MemberEnd()) {
                            op["sync"].AddMember("source", value().CopyFrom(it->value, oa), oa);
                            what = "sync.source of template " + str(it->value, {"targetRevision"});
                        } else {
                            op["sync"].AddMember("sources", value().CopyFrom(t["spec"]["sources"], oa), oa);
                            what = "sync.sources of a template";
                        }
                        break;
                    }
                    case 4:
                        if (auto* s = at(app, {"spec", "source"})) {
                            op["sync"].AddMember("source", value().CopyFrom(*s, oa), oa);
                            what = "sync.source = spec.source";
                        } else {
                            what = "sync {}";
                        }
                        break;
                    default:
                        op["sync"].AddMember("manifests", value().CopyFrom(parse(R"(["kind: ConfigMap"])"), oa), oa);
                        what = "sync.manifests";
                }
                set(app, {"operation"}, op);
                return "operation " + what;
            }
            case 13:
                set_string(app, {"status", "sync", "revision"}, pick_revision(rng, app));
                return "status.sync.revision=" + str(app, {"status", "sync", "revision"});
            case 14:
                set_string(app, {"metadata", "annotations", core::bypass_annotation}, "because");
                return "bypass annotation (not in a bypass group)";
            default:
                set_string(app, {"metadata", "labels", "touched"}, std::to_string(rng() % 100));
                return "label";
        }
    }

    void human(std::mt19937_64& rng) {
        const auto& slot = slots[rng() % slots.size()];
        auto it = apps_.find(slot.name);
        if (it == apps_.end()) {
            say("human: " + slot.name + " is gone");
            return;
        }
        const std::string old = it->second;
        json app = parse(old);
        const int n = 1 + static_cast<int>(rng() % 3);
        std::string what;
        for (int i = 0; i < n; ++i) what += (i ? ", " : "") + mutate(rng, app, slot);
        const std::string& user = rng() % 3 ? human_user : ui_user;
        auto o = write(user, slot.name, old, std::move(app));
        say((user == human_user ? "alice" : "argocd-server") + std::string(" edits ") + slot.name + ": " + what +
            " -> " + verdict(o));
    }

    void human_recreate(std::mt19937_64& rng) {
        const auto& slot = slots[rng() % slots.size()];
        auto it = apps_.find(slot.name);
        if (it == apps_.end()) {
            say("human: " + slot.name + " is gone");
            return;
        }
        json app = parse(it->second);
        erase(app, {"status"});
        erase(app, {"operation"});
        apps_.erase(slot.name);
        autosync_op_.erase(slot.name);
        std::string what;
        const int n = static_cast<int>(rng() % 3);
        for (int i = 0; i < n; ++i) what += (i ? ", " : "") + mutate(rng, app, slot);
        // Created without the ApplicationSet's ownerReference it would be another, unmanaged
        // Application (outside the promise, and the same gap as above): a re-creation keeps it.
        if (!owned_by_appset(app)) {
            auto& a = app.GetAllocator();
            if (auto* owners = at(app, {"metadata", "ownerReferences"}); owners && owners->IsArray())
                owners->PushBack(value().CopyFrom(parse(owner_json(appset)), a), a);
            else
                set(app, {"metadata", "ownerReferences"}, parse("[" + owner_json(appset) + "]"));
        }
        const bool by_appset = rng() % 3 == 0;
        if (by_appset) {
            // The ApplicationSet controller notices and re-creates it from the template.
            say("human deletes " + slot.name);
            appset_write(slot, 0);
            return;
        }
        auto o = write(human_user, slot.name, std::nullopt, std::move(app));
        say("alice deletes and re-creates " + slot.name + (what.empty() ? "" : " with " + what) + " -> " + verdict(o));
    }

    // ---- the invariant ----------------------------------------------------------------------

    // Whether `identity` may run given the states admitted: exactly one of them or, with a scope,
    // one that differs from an admitted state only outside the scope (the revisions and the shape).
    bool admitted(const std::set<std::string>& allowed, const std::string& identity) const {
        if (allowed.contains(identity)) return true;
        if (!scoped_) return false;
        const auto staged = scoped_part(identity);
        return std::any_of(allowed.begin(), allowed.end(),
                           [&](const std::string& a) { return scoped_part(a) == staged; });
    }

    // The part of a run identity that scope {source.targetRevision, sources[*].targetRevision}
    // stages: the shape and each resolved commit (or the manifests of a local sync).
    static std::string scoped_part(const std::string& identity) {
        json id = parse(identity);
        if (id.HasMember("manifests") || id.HasMember("nothing")) return identity;
        std::string out;
        if (const auto* sources = at(id, {"sources"}); sources && sources->IsArray()) {
            out = "sources:";
            for (const auto& src : sources->GetArray()) out += str(src, {"commit"}) + ",";
        } else {
            out = "source:" + str(id, {"source", "commit"});
        }
        return out;
    }

    std::optional<failure> check() {
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

    bool converged() const {
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

public:
    bool human_mode_ = true;

    // The rollout stages only revisions (spec.scope.paths): other template changes pass at once.
    void scope_revisions() {
        scoped_ = true;
        rollout_.spec.scope = core::scope_spec{{"source.targetRevision", "sources[*].targetRevision"}};
    }

private:
    core::rollout rollout_;
    std::vector<core::cluster> clusters_;
    const core::admission_identities ids_ = identities();
    core::step_options step_options_{};
    core::time_point now_ = core::time_point{std::chrono::sys_days{std::chrono::year{2026} / 11 / 30}};
    std::vector<template_state> templates_;
    std::map<std::string, std::map<std::string, std::string>> template_hashes_;  // app -> hash -> run identity
    std::map<std::string, std::string> apps_;                                    // stored objects, JSON
    std::map<std::string, std::string> deployed_;                                // app -> what runs
    std::map<std::string, std::set<std::string>> allowed_;                       // app -> what may run
    std::map<std::string, std::string> autosync_op_;  // app -> the operation the application controller wrote
    std::optional<failure> failure_;
    std::optional<core::rollout> lagging_;  // the rollout as a lagging replica still sees it
    bool scoped_ = false;
    std::string line_;
    std::uint64_t uid_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Sequences, running and shrinking

struct sequence {
    std::uint64_t seed = 0;
    bool humans = true;
    bool scoped = false;  // the rollout has spec.scope.paths on the revisions
    std::vector<action> actions;
};

sequence generate(std::uint64_t seed, int steps) {
    std::mt19937_64 rng(seed * 0x9e3779b97f4a7c15ull + 17);
    sequence s;
    s.seed = seed;
    s.humans = seed % 3 != 0;  // a third of the sequences have no human: they must also complete
    s.scoped = seed % 4 == 1;  // a quarter stage only revision changes
    for (int i = 0; i < steps; ++i) {
        const auto roll = rng() % 100;
        action_kind k;
        if (s.humans && roll < 22)
            k = action_kind::human;
        else if (s.humans && roll < 25)
            k = action_kind::human_recreate;
        else if (roll < 35)
            k = action_kind::template_change;
        else if (roll < 45)
            k = action_kind::appset_sync;
        else if (roll < 68)
            k = action_kind::controller_step;
        else if (roll < 90)
            k = action_kind::app_controller;
        else
            k = action_kind::tick;
        s.actions.push_back({k, rng()});
    }
    return s;
}

struct result {
    std::optional<failure> failed;
    std::vector<std::string> log;
    std::size_t failed_at = 0;
};

constexpr int drain_rounds = 120;

result execute(const sequence& s) {
    world w;
    w.human_mode_ = s.humans;
    if (s.scoped) w.scope_revisions();
    result r;
    for (std::size_t i = 0; i < s.actions.size(); ++i) {
        if (auto f = w.run(s.actions[i])) {
            r.failed = f;
            r.failed_at = i;
            r.log = std::move(w.log);
            return r;
        }
    }
    if (!s.humans) {
        r.failed = w.drain(drain_rounds);
        r.failed_at = s.actions.size();
    }
    r.log = std::move(w.log);
    return r;
}

// Delta debugging over the steps: drop chunks while the sequence still fails.
sequence shrink(sequence s) {
    auto fails = [](const sequence& c) { return execute(c).failed.has_value(); };
    // Steps after the failure never matter.
    if (auto r = execute(s); r.failed && s.humans) s.actions.resize(r.failed_at + 1);
    for (std::size_t chunk = std::max<std::size_t>(1, s.actions.size() / 2);; chunk = chunk / 2) {
        bool progress = true;
        while (progress) {
            progress = false;
            for (std::size_t start = 0; start < s.actions.size();) {
                sequence c = s;
                c.actions.erase(
                    c.actions.begin() + static_cast<std::ptrdiff_t>(start),
                    c.actions.begin() + static_cast<std::ptrdiff_t>(std::min(s.actions.size(), start + chunk)));
                if (fails(c)) {
                    s = std::move(c);
                    progress = true;
                } else {
                    start += chunk;
                }
            }
        }
        if (chunk == 1) break;
    }
    return s;
}

std::string describe(const sequence& s, int steps) {
    const auto r = execute(s);
    std::ostringstream out;
    out << "seed " << s.seed << (s.humans ? " (with humans)" : " (no humans: must complete)")
        << (s.scoped ? " (scope: revisions)" : "") << ", shortest failing sequence (" << s.actions.size()
        << " steps; replay the whole sequence with APR_MODEL_SEED=" << s.seed << " APR_MODEL_STEPS=" << steps << "):\n";
    std::size_t drained = 0;
    for (std::size_t i = 0; i < r.log.size(); ++i) {
        // Of a drain that never converges, the last rounds say why.
        if (r.log[i].starts_with("drain round ") && ++drained > 2 && i + 4 < r.log.size()) continue;
        out << "  " << (i + 1) << ". " << r.log[i] << "\n";
    }
    out << "  => " << (r.failed ? r.failed->message : std::string("(no longer fails)")) << "\n";
    return out.str();
}

long env_number(const char* name, long fallback) {
    const char* v = std::getenv(name);
    return v && *v ? std::strtol(v, nullptr, 10) : fallback;
}

}  // namespace

BOOST_AUTO_TEST_CASE(patch_applier_is_rfc6902) {
    json doc = parse(R"({"a":{"b":1},"l":[1,2]})");
    std::string error;
    BOOST_TEST(apply_patch(doc,
                           R"([{"op":"add","path":"/a/c","value":2},{"op":"add","path":"/l/1","value":9},)"
                           R"({"op":"add","path":"/l/-","value":3},{"op":"replace","path":"/a/b","value":5},)"
                           R"({"op":"test","path":"/a/c","value":2},{"op":"remove","path":"/l/0"}])",
                           error));
    BOOST_TEST(dump(doc) == R"({"a":{"b":5,"c":2},"l":[9,2,3]})");
    const std::string before = dump(doc);
    BOOST_TEST(!apply_patch(doc, R"([{"op":"remove","path":"/a/b"},{"op":"remove","path":"/x"}])", error));
    BOOST_TEST(!apply_patch(doc, R"([{"op":"test","path":"/a/c","value":3}])", error));
    BOOST_TEST(dump(doc) == before);  // a failed patch changes nothing
}

BOOST_AUTO_TEST_CASE(random_sequences_keep_every_cluster_on_admitted_states) {
    const long sequences = env_number("APR_MODEL_SEQUENCES", 2000);
    const int steps = static_cast<int>(env_number("APR_MODEL_STEPS", 60));
    const char* one = std::getenv("APR_MODEL_SEED");
    std::vector<std::uint64_t> seeds;
    if (one && *one)
        seeds.push_back(std::strtoull(one, nullptr, 10));
    else
        for (long i = 0; i < sequences; ++i) seeds.push_back(static_cast<std::uint64_t>(i + 1));

    const auto started = std::chrono::steady_clock::now();
    std::size_t failures = 0;
    for (auto seed : seeds) {
        const auto s = generate(seed, steps);
        const auto r = execute(s);
        if (seeds.size() == 1) {
            std::ostringstream out;
            for (std::size_t i = 0; i < r.log.size(); ++i) out << "  " << (i + 1) << ". " << r.log[i] << "\n";
            BOOST_TEST_MESSAGE("seed " << seed << ":\n" << out.str());
        }
        if (!r.failed) continue;
        BOOST_ERROR(describe(shrink(s), steps));
        if (++failures >= 3) break;  // the first few are enough to read
    }
    const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    BOOST_TEST(failures == 0u);
    std::ostringstream covered;
    for (const auto& [what, n] : totals.counts) covered << "\n  " << n << " " << what;
    BOOST_TEST_MESSAGE(seeds.size() << " sequences of " << steps << " steps in " << seconds
                                    << " s; covered:" << covered.str());
}
