#include "codec/application_facts.hpp"

#include "codec/application_revisions.hpp"
#include "codec/canonical_json.hpp"
#include "codec/desired_changes.hpp"
#include "codec/input_limits.hpp"
#include "codec/json_reader.hpp"
#include "codec/kube_objects.hpp"
#include "codec/pending_record.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <vector>

namespace apr::codec {

namespace {

void collect_strings(const rapidjson::Value* v, std::vector<std::string>& out) {
    if (!v) return;
    if (v->IsString()) out.emplace_back(v->GetString(), v->GetStringLength());
    if (v->IsArray())
        for (const auto& item : v->GetArray())
            if (item.IsString()) out.emplace_back(item.GetString(), item.GetStringLength());
}

std::optional<std::string> canonical_if_present(const rapidjson::Value* v) {
    if (!v || v->IsNull()) return std::nullopt;
    return canonical_json(*v);
}

// desired_state(spec), taking a field's text from `other_fields` (desired_state(other)) where the
// two specs surely hold the same value: an unchanged field is written once, not twice.
std::array<std::optional<std::string>, 4> desired_state_like(
    const rapidjson::Value& spec, const rapidjson::Value& other,
    const std::array<std::optional<std::string>, 4>& other_fields) {
    std::array<std::optional<std::string>, 4> out;
    if (!spec.IsObject()) return out;
    for (std::size_t i = 0; i < core::desired_state_fields.size(); ++i) {
        const auto key =
            rapidjson::StringRef(core::desired_state_fields[i].data(), core::desired_state_fields[i].size());
        const auto it = spec.FindMember(key);
        if (it == spec.MemberEnd() || it->value.IsNull()) continue;
        if (other_fields[i] && other.IsObject())
            if (const auto o = other.FindMember(key); o != other.MemberEnd() && surely_same_json(it->value, o->value)) {
                out[i] = other_fields[i];
                continue;
            }
        out[i] = canonical_json(it->value);
    }
    return out;
}

core::spec_revisions revisions_of(const rapidjson::Value* spec) {
    core::spec_revisions out;
    if (!spec) return out;
    out.source = string_at(*spec, {"source", "targetRevision"});
    if (const auto* sources = find_path(*spec, {"sources"}); sources && sources->IsArray())
        for (const auto& s : sources->GetArray()) out.sources.push_back(string_at(s, {"targetRevision"}));
    return out;
}

std::map<std::string, std::string> protected_annotations(const rapidjson::Value& object) {
    std::map<std::string, std::string> out;
    const auto* annotations = find_path(object, {"metadata", "annotations"});
    if (!annotations || !annotations->IsObject()) return out;
    for (auto it = annotations->MemberBegin(); it != annotations->MemberEnd(); ++it) {
        const std::string_view key(it->name.GetString(), it->name.GetStringLength());
        if (core::is_protected_annotation(key) && it->value.IsString())
            out.emplace(key, std::string(it->value.GetString(), it->value.GetStringLength()));
    }
    return out;
}

// Keys plus values of every annotation but the two a hold writes, as Kubernetes counts them.
std::size_t other_annotations_bytes(const rapidjson::Value& object) {
    std::size_t total = 0;
    const auto* annotations = find_path(object, {"metadata", "annotations"});
    if (!annotations || !annotations->IsObject()) return total;
    for (auto it = annotations->MemberBegin(); it != annotations->MemberEnd(); ++it) {
        const std::string_view key(it->name.GetString(), it->name.GetStringLength());
        if (key == core::pending_spec_annotation || key == core::pending_hash_annotation) continue;
        total += key.size() + (it->value.IsString() ? it->value.GetStringLength() : 0);
    }
    return total;
}

// Canonical JSON of spec.source/sources with every targetRevision left out.
std::string sources_but_revisions(const rapidjson::Value* spec) {
    rapidjson::Document out(rapidjson::kObjectType);
    auto& a = out.GetAllocator();
    auto strip = [](rapidjson::Value& source) {
        if (source.IsObject()) source.RemoveMember("targetRevision");
    };
    for (const char* field : {"source", "sources"}) {
        const auto* v = spec ? find_path(*spec, {field}) : nullptr;
        if (!v || v->IsNull()) continue;
        rapidjson::Value copy(*v, a);
        if (copy.IsArray())
            for (auto& s : copy.GetArray()) strip(s);
        else
            strip(copy);
        out.AddMember(rapidjson::StringRef(field), copy, a);
    }
    return canonical_json(out);
}

// Canonical JSON of spec.syncPolicy without `automated`; nullopt when there is no syncPolicy.
std::optional<std::string> sync_policy_without_automated(const rapidjson::Value* spec) {
    const auto* policy = spec ? find_path(*spec, {"syncPolicy"}) : nullptr;
    if (!policy || policy->IsNull()) return std::nullopt;
    if (!policy->IsObject() || !policy->HasMember("automated")) return canonical_json(*policy);
    rapidjson::Document copy;
    copy.CopyFrom(*policy, copy.GetAllocator());
    copy.RemoveMember("automated");
    return canonical_json(copy);
}

// A copy of `spec` whose syncPolicy is the recorded one (canonical JSON of an object).
rapidjson::Document with_sync_policy(const rapidjson::Value& spec, const std::string& recorded) {
    rapidjson::Document out;
    out.CopyFrom(spec, out.GetAllocator());
    rapidjson::Document policy;
    if (!out.IsObject() || parse_json(policy, recorded) || !policy.IsObject()) return out;
    out.RemoveMember("syncPolicy");
    out.AddMember("syncPolicy", rapidjson::Value(policy, out.GetAllocator()), out.GetAllocator());
    return out;
}

}  // namespace

// Type-checks every field the decision reads, in the new and the old object; the first problem
// found is reported. A decision computed from a field of the wrong type would be a decision about
// absent data (a hold for cluster "", say), so the review is refused instead.
std::string check_application_request(const rapidjson::Value& request) {
    using is_fn = bool (rapidjson::Value::*)() const;
    // "request.<root>.<sub>.<path...>": built only for a problem found.
    auto name_of = [](std::string_view root, std::string_view sub, std::initializer_list<std::string_view> path) {
        std::string name = "request";
        // Appended in place: g++ 12 -O3 warns (-Wrestrict, falsely) on "." + string temporaries.
        for (auto part : {root, sub})
            if (!part.empty()) name.append(".").append(part);
        for (auto p : path) name.append(".").append(p);
        return name;
    };
    auto wrong = [](const std::string& name, const rapidjson::Value& v, std::string_view type) {
        return name + ": Invalid value: " + core::quote(json_type_name(v)) + ": must be of type " + std::string(type);
    };
    // `base` is request.<root>.<sub> (null: absent, nothing to check) and `path` is read below it:
    // each sub-object is looked up once per review, not once per field.
    auto check = [&](const rapidjson::Value* base, std::string_view root, std::string_view sub,
                     std::initializer_list<std::string_view> path, is_fn is, std::string_view type) -> std::string {
        const auto* v = base ? find_path(*base, path) : nullptr;
        if (!v || v->IsNull() || (v->*is)()) return {};
        return wrong(name_of(root, sub, path), *v, type);
    };
    // Each element of an array at `path` must be of one type.
    auto check_items = [&](const rapidjson::Value* base, std::string_view root, std::string_view sub,
                           std::initializer_list<std::string_view> path, is_fn is,
                           std::string_view type) -> std::string {
        const auto* v = base ? find_path(*base, path) : nullptr;
        if (!v || !v->IsArray()) return {};
        for (rapidjson::SizeType i = 0; i < v->Size(); ++i)
            if (!((*v)[i].*is)()) return wrong(name_of(root, sub, path) + "[" + std::to_string(i) + "]", (*v)[i], type);
        return {};
    };
    // The object at `path` below `base`, or null when it is absent or not an object (a wrong type
    // is reported by its own check).
    auto object_at = [](const rapidjson::Value* base, std::initializer_list<std::string_view> path) {
        const auto* v = base ? find_path(*base, path) : nullptr;
        return v && v->IsObject() ? v : nullptr;
    };
    constexpr is_fn is_string = &rapidjson::Value::IsString;
    constexpr is_fn is_object = &rapidjson::Value::IsObject;
    constexpr is_fn is_array = &rapidjson::Value::IsArray;
    const auto* user = object_at(&request, {"userInfo"});
    for (auto problem : {
             check(&request, "", "", {"operation"}, is_string, "string"),
             check(&request, "", "", {"userInfo"}, is_object, "object"),
             check(user, "userInfo", "", {"username"}, is_string, "string"),
             check(user, "userInfo", "", {"groups"}, is_array, "array"),
             check_items(user, "userInfo", "", {"groups"}, is_string, "string"),
             check(&request, "", "", {"dryRun"}, &rapidjson::Value::IsBool, "boolean"),
             check(&request, "", "", {"name"}, is_string, "string"),
             check(&request, "", "", {"namespace"}, is_string, "string"),
             check(&request, "", "", {"object"}, is_object, "object"),
             check(&request, "", "", {"oldObject"}, is_object, "object"),
         })
        if (!problem.empty()) return problem;
    for (std::string_view root : {"object", "oldObject"}) {
        const auto* o = object_at(&request, {root});
        if (!o) continue;
        const auto* metadata = object_at(o, {"metadata"});
        const auto* spec = object_at(o, {"spec"});
        const auto* destination = object_at(spec, {"destination"});
        const auto* source = object_at(spec, {"source"});
        const auto* operation = object_at(o, {"operation"});
        const auto* sync = object_at(operation, {"sync"});
        const auto* status = object_at(o, {"status"});
        const auto* status_sync = object_at(status, {"sync"});
        const auto* operation_state = object_at(status, {"operationState"});
        const auto* sync_result = object_at(operation_state, {"syncResult"});
        for (auto problem : {
                 check(o, root, "", {"metadata"}, is_object, "object"),
                 check(metadata, root, "metadata", {"name"}, is_string, "string"),
                 check(metadata, root, "metadata", {"namespace"}, is_string, "string"),
                 check(metadata, root, "metadata", {"annotations"}, is_object, "object"),
                 check(metadata, root, "metadata", {"ownerReferences"}, is_array, "array"),
                 check_items(metadata, root, "metadata", {"ownerReferences"}, is_object, "object"),
                 check(o, root, "", {"spec"}, is_object, "object"),
                 check(spec, root, "spec", {"destination"}, is_object, "object"),
                 check(destination, root, "spec.destination", {"server"}, is_string, "string"),
                 check(destination, root, "spec.destination", {"name"}, is_string, "string"),
                 check(spec, root, "spec", {"source"}, is_object, "object"),
                 check(source, root, "spec.source", {"targetRevision"}, is_string, "string"),
                 check(spec, root, "spec", {"sources"}, is_array, "array"),
                 check_items(spec, root, "spec", {"sources"}, is_object, "object"),
                 check(spec, root, "spec", {"syncPolicy"}, is_object, "object"),
                 check(o, root, "", {"operation"}, is_object, "object"),
                 check(operation, root, "operation", {"sync"}, is_object, "object"),
                 check(sync, root, "operation.sync", {"revision"}, is_string, "string"),
                 check(sync, root, "operation.sync", {"revisions"}, is_array, "array"),
                 check_items(sync, root, "operation.sync", {"revisions"}, is_string, "string"),
                 check(sync, root, "operation.sync", {"manifests"}, is_array, "array"),
                 check(o, root, "", {"status"}, is_object, "object"),
                 check(status, root, "status", {"sync"}, is_object, "object"),
                 check(status_sync, root, "status.sync", {"revision"}, is_string, "string"),
                 check(status_sync, root, "status.sync", {"revisions"}, is_array, "array"),
                 check_items(status_sync, root, "status.sync", {"revisions"}, is_string, "string"),
                 check(status, root, "status", {"operationState"}, is_object, "object"),
                 check(operation_state, root, "status.operationState", {"syncResult"}, is_object, "object"),
                 check(sync_result, root, "status.operationState.syncResult", {"revision"}, is_string, "string"),
                 check(sync_result, root, "status.operationState.syncResult", {"revisions"}, is_array, "array"),
                 check_items(sync_result, root, "status.operationState.syncResult", {"revisions"}, is_string, "string"),
                 check(status, root, "status", {"history"}, is_array, "array"),
                 check_items(status, root, "status", {"history"}, is_object, "object"),
             })
            if (!problem.empty()) return problem;
        if (const auto* owners = metadata ? find_path(*metadata, {"ownerReferences"}) : nullptr;
            owners && owners->IsArray())
            for (rapidjson::SizeType i = 0; i < owners->Size(); ++i)
                for (std::string_view field : {"kind", "name"})
                    if (const auto* v = find_path((*owners)[i], {field}); v && !v->IsString())
                        return name_of(root, "metadata", {"ownerReferences"}) + "[" + std::to_string(i) + "]." +
                               std::string(field) + ": Invalid value: " + core::quote(json_type_name(*v)) +
                               ": must be of type string";
        if (const auto* annotations = object_at(metadata, {"annotations"}))
            for (auto it = annotations->MemberBegin(); it != annotations->MemberEnd(); ++it)
                if (!it->value.IsString())
                    return name_of(root, "metadata", {"annotations"}) + "[" +
                           core::quote(std::string_view(it->name.GetString(), it->name.GetStringLength())) +
                           "]: Invalid value: " + core::quote(json_type_name(it->value)) + ": must be of type string";
        if (const auto* sources = spec ? find_path(*spec, {"sources"}) : nullptr; sources && sources->IsArray())
            for (rapidjson::SizeType i = 0; i < sources->Size(); ++i)
                if (const auto* v = find_path((*sources)[i], {"targetRevision"}); v && !v->IsNull() && !v->IsString())
                    return name_of(root, "spec", {"sources"}) + "[" + std::to_string(i) +
                           "].targetRevision: Invalid value: " + core::quote(json_type_name(*v)) +
                           ": must be of type string";
    }
    // An UPDATE is judged against the stored object: without it there is nothing to hold back to.
    const auto operation = string_at(request, {"operation"});
    const auto* old_object = find_path(request, {"oldObject"});
    if (operation == "UPDATE" && (!old_object || !old_object->IsObject()))
        return "request.oldObject: Required value: an UPDATE review must carry the stored object";
    const auto* object = find_path(request, {"object"});
    if ((operation == "UPDATE" || operation == "CREATE") && (!object || !object->IsObject()))
        return "request.object: Required value: a " + operation + " review must carry the object";
    return {};
}

core::application_facts extract_facts(const rapidjson::Value& request, const core::admission_identities& identities) {
    static const rapidjson::Value empty_object(rapidjson::kObjectType);
    core::application_facts f;
    const auto op = string_at(request, {"operation"});
    f.operation = op == "CREATE"   ? core::operation_kind::create
                  : op == "UPDATE" ? core::operation_kind::update
                                   : core::operation_kind::other;
    f.username = string_at(request, {"userInfo", "username"});
    collect_strings(find_path(request, {"userInfo", "groups"}), f.groups);
    if (const auto* dry = find_path(request, {"dryRun"}); dry && dry->IsBool()) f.dry_run = dry->GetBool();
    const auto* object = find_path(request, {"object"});
    const auto* old_object = find_path(request, {"oldObject"});
    if (!object || !object->IsObject()) object = &empty_object;
    if (!old_object || !old_object->IsObject()) old_object = &empty_object;

    f.namespace_ = string_at(request, {"namespace"});
    if (f.namespace_.empty()) f.namespace_ = string_at(*object, {"metadata", "namespace"});
    f.name = string_at(request, {"name"});
    if (f.name.empty()) f.name = string_at(*object, {"metadata", "name"});
    f.application_sets = application_set_owners(*object);
    for (auto& set : application_set_owners(*old_object))
        if (std::find(f.application_sets.begin(), f.application_sets.end(), set) == f.application_sets.end()) {
            if (f.operation == core::operation_kind::update) f.removed_application_sets.push_back(set);
            f.application_sets.push_back(std::move(set));
        }
    f.destination_server = string_at(*object, {"spec", "destination", "server"});
    f.destination_name = string_at(*object, {"spec", "destination", "name"});
    f.old_destination_server = string_at(*old_object, {"spec", "destination", "server"});
    f.old_destination_name = string_at(*old_object, {"spec", "destination", "name"});
    if (f.operation == core::operation_kind::create) {
        f.old_destination_server = f.destination_server;
        f.old_destination_name = f.destination_name;
    }
    f.bypass_reason = string_at(*object, {"metadata", "annotations", core::bypass_annotation});

    const auto* spec = find_path(*object, {"spec"});
    const auto* old_spec = find_path(*old_object, {"spec"});
    f.new_desired = desired_state(spec ? *spec : empty_object);
    f.old_desired = desired_state_like(old_spec ? *old_spec : empty_object, spec ? *spec : empty_object, f.new_desired);
    f.new_revisions = revisions_of(spec);
    f.old_revisions = revisions_of(old_spec);
    // The change scope (rule 3) is about template writes: the places are listed for those only.
    if (f.username == identities.application_set_controller && f.operation == core::operation_kind::update &&
        f.desired_changed())
        f.changes = list_desired_changes(old_spec ? *old_spec : empty_object, spec ? *spec : empty_object);
    // What the decision holds or checks a change against: an unchanged desired state (the status
    // writes of Argo CD's application controller, the hot path) needs neither the text nor the hash.
    if (f.desired_changed() || f.operation != core::operation_kind::update) {
        const auto canonical = desired_state_canonical(f.new_desired);
        f.new_pending.hash = content_hash(canonical);
        // Only the ApplicationSet controller's writes are held: others skip the compression.
        if (f.username == identities.application_set_controller) f.new_pending.value = encode_pending_record(canonical);
    }
    f.other_annotations_bytes = other_annotations_bytes(*object);
    f.old_pending_hash = string_at(*old_object, {"metadata", "annotations", core::pending_hash_annotation});
    f.old_previous_for = string_at(*old_object, {"metadata", "annotations", core::previous_for_annotation});
    // Decoded only for the rollout controller's writes, the only ones that may restore it.
    if (!f.old_previous_for.empty() && f.username == identities.self)
        if (auto previous = decode_pending_record(
                string_at(*old_object, {"metadata", "annotations", core::previous_spec_annotation})))
            f.old_previous_hash = content_hash(*previous);
    f.old_protected = protected_annotations(*old_object);
    f.new_protected = protected_annotations(*object);
    const auto* annotations = find_path(*object, {"metadata", "annotations"});
    f.new_has_annotations = annotations && annotations->IsObject();
    const auto* automated = find_path(*object, {"spec", "syncPolicy", "automated"});
    f.new_sync_automated = automated && !automated->IsNull();

    const auto* operation = find_path(*object, {"operation"});
    const auto* old_operation = find_path(*old_object, {"operation"});
    if (operation && !operation->IsNull()) {
        f.operation_changed =
            !old_operation || old_operation->IsNull() || canonical_json(*operation) != canonical_json(*old_operation);
        core::sync_operation sync;
        if (const auto* s = find_path(*operation, {"sync"}); s && s->IsObject()) {
            sync.revision = string_at(*s, {"revision"});
            collect_strings(find_path(*s, {"revisions"}), sync.revisions);
            sync.source = canonical_if_present(find_path(*s, {"source"}));
            sync.sources = canonical_if_present(find_path(*s, {"sources"}));
            const auto* manifests = find_path(*s, {"manifests"});
            sync.manifests = manifests && manifests->IsArray() && !manifests->Empty();
        }
        f.operation_sync = std::move(sync);
    }
    // What a sync on a cluster admitted for the held change may deploy: read only for a sync by
    // someone other than Argo CD's application controller (its status writes are the hot path).
    if (f.operation_sync && f.username != identities.application_controller && !f.old_pending_hash.empty())
        if (auto held = decode_pending_record(
                string_at(*old_object, {"metadata", "annotations", core::pending_spec_annotation}));
            held && content_hash(*held) == f.old_pending_hash) {
            rapidjson::Document held_spec;
            if (!parse_json(held_spec, *held) && held_spec.IsObject()) {
                f.held_desired = desired_state(held_spec);
                f.held_revisions = revisions_of(&held_spec);
                f.held_differs_only_in_revisions = sources_but_revisions(&held_spec) == sources_but_revisions(spec);
            }
        }
    // For rollouts with trackRevisions (docs/admission.md#moving-revisions): the sync policy
    // recorded on the stored object, and what the cluster runs. Argo CD's application controller
    // only writes status: its writes skip the revisions.
    f.recorded_sync_policy = recorded_sync_policy_json(*old_object);
    // What a hold puts back (only the ApplicationSet controller's writes are held).
    if (f.username == identities.application_set_controller)
        f.old_sync_policy_without_automated = sync_policy_without_automated(old_spec);
    if (f.recorded_sync_policy && f.changes && old_spec && spec)
        f.recorded_changes = list_desired_changes(with_sync_policy(*old_spec, *f.recorded_sync_policy), *spec);
    // Read only for a sync by someone other than Argo CD's application controller (its writes are the hot path).
    if (f.operation_sync && f.username != identities.application_controller) {
        f.intended_hash = f.new_pending.hash;
        if (f.recorded_sync_policy && spec &&
            f.old_desired[core::sync_policy_field] == f.new_desired[core::sync_policy_field])
            f.intended_hash = content_hash(desired_state_canonical(with_sync_policy(*spec, *f.recorded_sync_policy)));
        else if (f.intended_hash.empty())
            f.intended_hash = content_hash(desired_state_canonical(f.new_desired));
    }
    if (f.username != identities.application_controller) {
        f.running_revisions = decode_application_revisions(*old_object).running;
        const auto new_running = decode_application_revisions(*object).running;
        f.running_revision_changed = !new_running.empty() && new_running != f.running_revisions;
    }
    // The stored status says what Argo CD resolved the spec to; a request may not rewrite it.
    f.resolved_revision = string_at(*old_object, {"status", "sync", "revision"});
    collect_strings(find_path(*old_object, {"status", "sync", "revisions"}), f.resolved_revisions);
    const auto new_resolved = string_at(*object, {"status", "sync", "revision"});
    std::vector<std::string> new_resolved_revisions;
    collect_strings(find_path(*object, {"status", "sync", "revisions"}), new_resolved_revisions);
    f.resolved_revision_changed = (!new_resolved.empty() && new_resolved != f.resolved_revision) ||
                                  (!new_resolved_revisions.empty() && new_resolved_revisions != f.resolved_revisions);
    // The resolved commit is that of the spec Argo CD last compared (status.sync.comparedTo). Right
    // after the rollout applied a change it is still the old spec's: a sync naming it would run the
    // new spec at the old revision, a state never admitted. Until Argo CD compares again, only the
    // spec's own revisions count.
    if (!compared_to_spec(*old_object)) {
        f.resolved_revision.clear();
        f.resolved_revisions.clear();
    }
    return f;
}

}  // namespace apr::codec
