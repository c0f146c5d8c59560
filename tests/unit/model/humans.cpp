// What people do in the admission model: edits with random fields, syncs, recreated Applications.

#include "model/world.hpp"

namespace apr::model {

std::string world::pick_revision(std::mt19937_64& rng, const json& app) {
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
json world::template_spec(std::mt19937_64& rng, const app_slot& slot) {
    const auto& t = templates_[rng() % templates_.size()];
    return parse(application_json(slot, t));
}

// One random mutation of a human's write; returns what it did.
std::string world::mutate(std::mt19937_64& rng, json& app, const app_slot& slot) {
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

void world::human(std::mt19937_64& rng) {
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
    say((user == human_user ? "alice" : "argocd-server") + std::string(" edits ") + slot.name + ": " + what + " -> " +
        verdict(o));
}

void world::human_recreate(std::mt19937_64& rng) {
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

}  // namespace apr::model
