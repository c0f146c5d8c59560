#pragma once
// The admission model's world: one ApplicationSet over three clusters, its template versions and
// what a desired state runs once Argo CD syncs it.

#include "model/json_doc.hpp"

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

namespace apr::model {

// ---------------------------------------------------------------------------------------------
// The world

inline const std::string ns = "argocd";
inline const std::string appset = "guestbook";
inline const std::string appset_user = "system:serviceaccount:argocd:argocd-applicationset-controller";
inline const std::string app_controller_user = "system:serviceaccount:argocd:argocd-application-controller";
inline const std::string self_user = "system:serviceaccount:argocd:argocd-progressive-rollout";
inline const std::string human_user = "alice";
inline const std::string ui_user = "system:serviceaccount:argocd:argocd-server";
inline const std::string repo = "https://git.example.com/guestbook.git";
inline const std::string values_repo = "https://git.example.com/values.git";

inline core::admission_identities identities() {
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
inline const std::vector<app_slot> slots = {
    {"guestbook-c1", "c1", "guestbook"},
    {"guestbook-c2", "c2", "guestbook"},
    {"guestbook-c3", "c3", "guestbook"},
    {"metrics-c3", "c3", "metrics"},
};

inline std::string server_of(const std::string& cluster) {
    return "https://" + cluster + ".example.com";
}

inline std::vector<core::cluster> fleet_clusters() {
    return {{"c1", server_of("c1"), {{"env", "canary"}}},
            {"c2", server_of("c2"), {{"env", "prod"}}},
            {"c3", server_of("c3"), {{"env", "prod"}}}};
}

inline core::rollout initial_rollout() {
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
inline std::string template_spec_fields(const template_state& t, const app_slot& slot) {
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

inline std::string commit_of(const std::string& revision) {
    if (revision.size() == 40 && revision.find_first_not_of("0123456789abcdef") == std::string::npos) return revision;
    const std::string r = revision.empty() ? "HEAD" : revision;
    std::string h =
        codec::content_hash("commit:" + r) + codec::content_hash("again:" + r) + codec::content_hash("more:" + r);
    return h.substr(0, 40);
}

inline value resolved_source(const value& source, const std::string& revision_override, json::AllocatorType& a) {
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
inline std::string run_identity(const value& spec, const value* sync) {
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

inline std::string short_id(const std::string& identity) {
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
inline coverage totals;

}  // namespace apr::model
