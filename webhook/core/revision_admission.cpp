#include "core/revision_admission.hpp"

#include "core/json_string.hpp"

#include <algorithm>

namespace apr::core::detail {

std::string annotation_path(std::string_view key) {
    return "/metadata/annotations/" + escape_pointer_token(key);
}

application_facts with_intended_sync_policy(const application_facts& facts, const admission_identities& ids) {
    application_facts out = facts;
    auto& old_policy = out.old_desired[sync_policy_field];
    if (facts.recorded_sync_policy) old_policy = facts.recorded_sync_policy;
    const bool stored_policy_kept = facts.new_desired[sync_policy_field] == facts.old_desired[sync_policy_field];
    // The rollout controller applying a held change or restoring a replaced state writes the
    // recorded state itself: what it wrote is what is intended, even when it equals what is stored.
    const bool writes_a_record =
        facts.username == ids.self && !facts.new_pending.hash.empty() &&
        (facts.new_pending.hash == facts.old_pending_hash || facts.new_pending.hash == facts.old_previous_hash);
    if (facts.operation == operation_kind::update && facts.username != ids.application_set_controller &&
        stored_policy_kept && !writes_a_record)
        out.new_desired[sync_policy_field] = old_policy;
    if (facts.recorded_changes) out.changes = facts.recorded_changes;
    return out;
}

namespace {

bool is_policy_write(const patch_operation& op) {
    return op.path == "/spec/syncPolicy";
}

}  // namespace

void keep_auto_sync_off(const application_facts& facts, const application_facts& intended,
                        const admission_identities& ids, const std::string& rollout, admission_verdict& v) {
    if (v.kind == verdict_kind::deny) return;
    auto& patch = v.patch;
    // A hold puts the stored syncPolicy back: without `automated`, whatever the object had.
    auto restore = std::find_if(patch.begin(), patch.end(), is_policy_write);
    const bool restored = restore != patch.end();
    if (restored) {
        if (facts.old_sync_policy_without_automated)
            *restore = {"add", "/spec/syncPolicy", facts.old_sync_policy_without_automated};
        else
            *restore = {"remove", "/spec/syncPolicy", std::nullopt};
    } else if (facts.new_sync_automated) {
        const patch_operation strip{"remove", "/spec/syncPolicy/automated", std::nullopt};
        if (std::find(patch.begin(), patch.end(), strip) == patch.end()) patch.push_back(strip);
        if (facts.username != ids.application_set_controller && facts.username != ids.self &&
            facts.username != ids.application_controller)
            v.warnings.push_back("auto-sync stays off: ProgressiveRollout " + rollout +
                                 " tracks revisions and syncs each cluster in its turn");
    }
    // The record follows the state the object ends up with: the old one restored, else the new one.
    const auto& policy = restored ? intended.old_desired[sync_policy_field] : intended.new_desired[sync_policy_field];
    const std::string path = annotation_path(sync_policy_annotation);
    std::erase_if(patch, [&](const patch_operation& op) { return op.path == path; });
    auto written = facts.new_protected.find(std::string(sync_policy_annotation));
    const bool has_record = written != facts.new_protected.end();
    if (!policy) {
        if (has_record) patch.push_back({"remove", path, std::nullopt});
        return;
    }
    if (has_record && written->second == *policy) return;
    const bool annotations_exist =
        facts.new_has_annotations || std::any_of(patch.begin(), patch.end(), [](const patch_operation& op) {
            return op.op == "add" && op.path == "/metadata/annotations";
        });
    if (annotations_exist)
        patch.push_back({"add", path, quote_json(*policy)});
    else
        // Appended in place: g++ 12 -O3 warns (-Wrestrict, falsely) on "literal" + string temporaries.
        patch.push_back({"add", "/metadata/annotations",
                         std::string("{")
                             .append(quote_json(sync_policy_annotation))
                             .append(":")
                             .append(quote_json(*policy))
                             .append("}")});
}

namespace {

// One revision per source position of the new spec, with the targetRevision each names.
struct positions {
    bool multi_source = false;
    std::vector<std::string> targets;
};

positions positions_of(const application_facts& facts) {
    positions p;
    p.multi_source = facts.new_desired[sources_field].has_value() && !facts.new_revisions.sources.empty();
    if (p.multi_source)
        p.targets = facts.new_revisions.sources;
    else
        p.targets = {facts.new_revisions.source};
    return p;
}

// Whether every revision the operation names passes `ok(revision, position)`. A multi-source sync
// names one per source in `revisions` (all of them, or none: each source then syncs its spec's);
// `revision` counts for the first source. A single-source sync names `revision`, and every entry of
// `revisions` too.
template <class Ok>
bool every_named(const sync_operation& op, const positions& p, Ok ok) {
    if (!ok(op.revision, 0)) return false;
    if (p.multi_source) {
        if (op.revisions.empty()) {
            for (std::size_t i = 1; i < p.targets.size(); ++i)
                if (!ok(std::string(), i)) return false;
            return true;
        }
        if (op.revisions.size() != p.targets.size()) return false;
        for (std::size_t i = 0; i < op.revisions.size(); ++i)
            if (!ok(op.revisions[i], i)) return false;
        return true;
    }
    return std::all_of(op.revisions.begin(), op.revisions.end(), [&](const std::string& r) { return ok(r, 0); });
}

}  // namespace

revision_list resolved_revisions(const application_facts& facts) {
    if (!facts.resolved_revisions.empty()) return facts.resolved_revisions;
    if (!facts.resolved_revision.empty()) return {facts.resolved_revision};
    return {};
}

bool names_running_revisions(const sync_operation& op, const application_facts& facts) {
    const auto p = positions_of(facts);
    const auto& running = facts.running_revisions;
    if (running.size() != p.targets.size()) return false;
    // An empty revision in a single-source sync, or for the first source, leaves the spec's: not a commit.
    return every_named(op, p, [&](const std::string& r, std::size_t i) {
        if (p.multi_source && i == 0 && r.empty() && !op.revisions.empty()) return true;  // `revisions` names it
        return !r.empty() && r == running[i];
    });
}

bool names_resolved_or_symbolic(const sync_operation& op, const application_facts& facts) {
    const auto p = positions_of(facts);
    const auto resolved = resolved_revisions(facts);
    return every_named(op, p, [&](const std::string& r, std::size_t i) {
        const std::string& target = p.targets[i];
        auto is_head = [](const std::string& s) { return s.empty() || s == "HEAD"; };
        return r.empty() || r == target || (is_head(r) && is_head(target)) ||
               (i < resolved.size() && !resolved[i].empty() && r == resolved[i]);
    });
}

std::string revision_sync_remedy(const application_facts& facts) {
    std::string s = "A new commit reaches it only through the rollout (trackRevisions); ";
    if (facts.running_revisions.empty()) return s + "it runs no recorded revision yet";
    const bool multi = facts.running_revisions.size() > 1;
    return s + "sync revision" + (multi ? "s " : " ") + join_revisions(facts.running_revisions) +
           " to re-sync what runs";
}

}  // namespace apr::core::detail
