#pragma once
// AdmissionReviews shaped like the ones kube-apiserver sends for Argo CD Applications, built in
// code so each test states exactly what differs. Shared by the codec tests and the TLS tests.

#include "core/fleet_state.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>
#include <vector>

namespace apr::test {

struct app_spec {
    std::string name = "guestbook-eu-west-1a-1";
    std::string server = "https://eu-west-1a-1.example.com";
    std::string revision = "v1";
    bool owned = true;
    bool automated = true;
    bool annotations = true;         // metadata.annotations present
    std::string extra_annotations;   // JSON members to add, e.g. "\"a\":\"b\""
    std::string operation;           // JSON of `operation`, empty = none
    std::size_t status_padding = 0;  // bytes of realistic status resources
    std::string health = "Healthy";
};

inline std::string application_json(const app_spec& a) {
    std::string annotations;
    if (a.annotations) {
        annotations = "\"annotations\":{\"seen-by\":\"wh\"";
        if (!a.extra_annotations.empty()) annotations += "," + a.extra_annotations;
        annotations += "},";
    }
    std::string owner =
        a.owned
            ? R"("ownerReferences":[{"apiVersion":"argoproj.io/v1alpha1","kind":"ApplicationSet","name":"guestbook","uid":"6d6a8c3e-0000-0000-0000-000000000001","controller":true,"blockOwnerDeletion":true}],)"
            : "";
    std::string sync =
        a.automated
            ? R"("syncPolicy":{"automated":{"prune":true,"selfHeal":true},"syncOptions":["CreateNamespace=true"]})"
            : R"("syncPolicy":{"syncOptions":["CreateNamespace=true"]})";
    std::string resources;
    for (std::size_t i = 0; resources.size() < a.status_padding; ++i)
        resources +=
            std::string(i ? "," : "") +
            R"({"group":"apps","version":"v1","kind":"Deployment","namespace":"guestbook","name":"guestbook-ui-)" +
            std::to_string(i) + R"(","status":"Synced","health":{"status":"Healthy"}})";
    std::string json =
        R"({"apiVersion":"argoproj.io/v1alpha1","kind":"Application","metadata":{)" + annotations +
        R"("labels":{"app.kubernetes.io/instance":"guestbook"},"name":")" + a.name + R"(","namespace":"argocd",)" +
        owner +
        R"("resourceVersion":"206","uid":"0a1b2c3d-0000-0000-0000-000000000002","generation":3},"spec":{"destination":{"namespace":"guestbook","server":")" +
        a.server +
        R"("},"project":"default","source":{"path":"guestbook","repoURL":"https://github.com/argoproj/argocd-example-apps.git","targetRevision":")" +
        a.revision + "\"}," + sync + "}";
    if (!a.operation.empty()) json += ",\"operation\":" + a.operation;
    json +=
        R"(,"status":{"health":{"status":")" + a.health +
        R"("},"sync":{"status":"Synced","revision":"53e28ff20cc530b9ada2173fbbd64d48338583ba","comparedTo":{"destination":{"server":")" +
        a.server +
        R"("},"source":{"path":"guestbook","repoURL":"https://github.com/argoproj/argocd-example-apps.git","targetRevision":")" +
        a.revision + R"("}}},"resources":[)" + resources + "]}}";
    return json;
}

struct review_spec {
    std::string uid = "705ab4f5-6393-11e8-b7cc-42010a800002";
    std::string operation = "UPDATE";
    std::string username = "system:serviceaccount:argocd:argocd-applicationset-controller";
    std::vector<std::string> groups = {"system:serviceaccounts", "system:serviceaccounts:argocd",
                                       "system:authenticated"};
    bool dry_run = false;
    std::string object;
    std::string old_object;  // empty for CREATE
};

inline std::string review_json(const review_spec& r) {
    std::string groups;
    for (const auto& g : r.groups) groups += (groups.empty() ? "\"" : ",\"") + g + "\"";
    std::string json =
        R"({"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":")" + r.uid +
        R"(","kind":{"group":"argoproj.io","version":"v1alpha1","kind":"Application"},"resource":{"group":"argoproj.io","version":"v1alpha1","resource":"applications"},"name":"guestbook-eu-west-1a-1","namespace":"argocd","operation":")" +
        r.operation + R"(","userInfo":{"username":")" + r.username + R"(","groups":[)" + groups +
        "]},\"object\":" + r.object;
    if (!r.old_object.empty()) json += ",\"oldObject\":" + r.old_object;
    json += std::string(",\"dryRun\":") + (r.dry_run ? "true" : "false") + "}}";
    return json;
}

// A fleet where ApplicationSet "guestbook" is rolled out by "guestbook-rollout": the canary stage
// is in progress; eu-west-1a-1 waits in stage eu-west-1; eu-central-1a-1 is admitted.
inline core::fleet_state guestbook_fleet(std::optional<core::scope_spec> scope = std::nullopt) {
    core::rollout r;
    r.namespace_ = "argocd";
    r.name = "guestbook-rollout";
    r.spec.source = {"argoproj.io/v1alpha1", "ApplicationSet", "guestbook"};
    r.spec.scope = std::move(scope);
    r.status.phase = core::rollout_phase::progressing;
    r.status.current_stage = "canary in EMEA";
    core::stage_status canary{"canary in EMEA", core::stage_phase::progressing};
    canary.clusters.push_back({"eu-central-1a-1", core::cluster_phase::updating, "1111222233334444"});
    core::stage_status west{"eu-west-1", core::stage_phase::pending};
    west.clusters.push_back({"eu-west-1a-1", core::cluster_phase::pending});
    r.status.stages = {canary, west};
    r.status.unstaged_clusters = {"us-east-1a-1"};
    std::vector<core::cluster> clusters = {
        {"eu-west-1a-1", "https://eu-west-1a-1.example.com", {{"region", "eu-west-1"}}},
        {"eu-central-1a-1", "https://eu-central-1a-1.example.com/", {{"region", "eu-central-1"}}},
        {"us-east-1a-1", "https://us-east-1a-1.example.com", {{"region", "us-east-1"}}},
    };
    return core::build_fleet_state({r}, clusters);
}

inline core::admission_identities test_identities() {
    core::admission_identities ids;
    ids.self = "system:serviceaccount:argocd:argocd-progressive-rollout";
    ids.bypass_groups = {"system:masters", "rollout-admins"};
    return ids;
}

}  // namespace apr::test
