#define BOOST_TEST_MODULE decide
#include <boost/test/unit_test.hpp>

// core::decide on its own, one case per way around the hold (docs/admission.md): the facts are
// written out by hand, so each case states exactly what the request claims.

#include "core/admission.hpp"
#include "core/fleet_state.hpp"

#include <algorithm>

using namespace apr;
using namespace apr::core;

namespace {

const std::string appset_user = "system:serviceaccount:argocd:argocd-applicationset-controller";
const std::string app_controller = "system:serviceaccount:argocd:argocd-application-controller";
const std::string self = "system:serviceaccount:argocd:argocd-progressive-rollout";
const std::string human = "alice";
const std::string argocd_server = "system:serviceaccount:argocd:argocd-server";

std::string source_json(const std::string& revision, const std::string& repo = "https://git.example.com/app.git") {
    return R"({"path":"app","repoURL":")" + repo + R"(","targetRevision":")" + revision + "\"}";
}
std::string hash_of(const std::string& revision) {
    return "hash-" + revision;
}

// Rollout "guestbook-rollout" of ApplicationSet "guestbook":
//   stage canary: c-canary Updating for the v2 change, c-done Done for an older change (v2-old)
//   stage rest:   c-later Pending, c-multi (two Applications) Updating per Application
// Rollout "decoy-rollout" of ApplicationSet "decoy" admits c-later for the v2 change.
admission_snapshot fleet() {
    rollout r;
    r.namespace_ = "argocd";
    r.name = "guestbook-rollout";
    r.spec.source = {"argoproj.io", "ApplicationSet", "guestbook"};
    r.status.phase = rollout_phase::progressing;
    r.status.current_stage = "canary";
    stage_status canary{"canary", stage_phase::progressing};
    canary.clusters.push_back({"c-canary", cluster_phase::updating, hash_of("v2")});
    canary.clusters.push_back({"c-done", cluster_phase::done, hash_of("v2-old")});
    stage_status rest{"rest", stage_phase::pending};
    rest.clusters.push_back({"c-later", cluster_phase::pending});
    cluster_status multi{"c-multi", cluster_phase::updating, "combined"};
    multi.application_hashes = {{"app-a", hash_of("v2")}, {"app-b", hash_of("v3")}};
    rest.clusters.push_back(multi);
    r.status.stages = {canary, rest};

    rollout decoy;
    decoy.namespace_ = "argocd";
    decoy.name = "decoy-rollout";
    decoy.spec.source = {"argoproj.io", "ApplicationSet", "decoy"};
    stage_status all{"all", stage_phase::progressing};
    all.clusters.push_back({"c-later", cluster_phase::updating, hash_of("v2")});
    decoy.status.stages = {all};

    std::vector<cluster> clusters;
    for (std::string name : {"c-canary", "c-done", "c-later", "c-multi"})
        clusters.push_back({name, "https://" + name + ".example.com", {}});
    return build_fleet_state({r, decoy}, clusters).admission;
}

const admission_snapshot state = fleet();

admission_identities identities() {
    admission_identities ids;
    ids.self = self;
    ids.bypass_groups = {"rollout-admins"};
    return ids;
}
const admission_identities ids = identities();

// An UPDATE of a managed Application on `cluster` that changes nothing yet: spec at v1.
application_facts update(const std::string& user, const std::string& cluster = "c-later") {
    application_facts f;
    f.operation = operation_kind::update;
    f.username = user;
    f.groups = {"system:authenticated"};
    f.namespace_ = "argocd";
    f.name = "guestbook-" + cluster;
    f.application_sets = {"guestbook"};
    f.destination_server = f.old_destination_server = "https://" + cluster + ".example.com";
    f.old_desired = f.new_desired = {source_json("v1"), std::nullopt, std::nullopt, R"({"automated":{}})"};
    f.old_revisions = f.new_revisions = {"v1", {}};
    f.new_pending = {source_json("v1"), hash_of("v1")};
    f.new_has_annotations = true;
    f.new_sync_automated = true;
    f.resolved_revision = "53e28ff20cc530b9ada2173fbbd64d48338583ba";
    return f;
}

// The same write, now asking for `revision`.
application_facts& to(application_facts& f, const std::string& revision) {
    f.new_desired[source_field] = source_json(revision);
    f.new_revisions.source = revision;
    f.new_pending = {"{\"source\":" + source_json(revision) + "}", hash_of(revision)};
    return f;
}

// The object holds the change to `revision` (the hold's annotations, old and new alike).
application_facts& holding(application_facts& f, const std::string& revision) {
    f.old_pending_hash = hash_of(revision);
    f.old_protected = {{std::string(pending_spec_annotation), "{\"source\":" + source_json(revision) + "}"},
                       {std::string(pending_hash_annotation), hash_of(revision)}};
    f.new_protected = f.old_protected;
    f.held_desired =
        std::array<std::optional<std::string>, 4>{source_json(revision), std::nullopt, std::nullopt, std::nullopt};
    f.held_revisions = {revision, {}};
    f.held_differs_only_in_revisions = true;  // source_json() differs only in targetRevision
    return f;
}

application_facts& syncing(application_facts& f, sync_operation op) {
    f.operation_sync = std::move(op);
    f.operation_changed = true;
    return f;
}

bool denied(const admission_verdict& v) {
    return v.kind == verdict_kind::deny && v.code == 403;
}

bool has_op(const admission_verdict& v, const std::string& op, const std::string& path) {
    return std::any_of(v.patch.begin(), v.patch.end(),
                       [&](const patch_operation& p) { return p.op == op && p.path == path; });
}

const std::string pending_spec_path = "/metadata/annotations/deployment.skyscanner.net~1pending-spec";
const std::string pending_hash_path = "/metadata/annotations/deployment.skyscanner.net~1pending-hash";

}  // namespace

BOOST_AUTO_TEST_SUITE(managed_is_decided_from_every_owner_reference)

BOOST_AUTO_TEST_CASE(a_decoy_owner_reference_put_first_does_not_make_it_unmanaged) {
    auto f = update(human);
    f.application_sets = {"unrelated", "guestbook"};
    BOOST_TEST(denied(decide(to(f, "v2"), state, ids)));
}

BOOST_AUTO_TEST_CASE(a_decoy_owner_whose_rollout_admits_the_cluster_does_not_admit_it_for_this_rollout) {
    auto f = update(self);
    holding(to(f, "v2"), "v2");
    f.application_sets = {"decoy", "guestbook"};  // decoy-rollout admitted c-later for v2; guestbook did not
    BOOST_TEST(denied(decide(f, state, ids)));
    f.application_sets = {"decoy"};
    BOOST_TEST(!denied(decide(f, state, ids)));  // the decoy's own rollout alone would admit it
}

BOOST_AUTO_TEST_CASE(removing_the_owner_reference_in_the_same_write_still_counts_the_old_owner) {
    // The codec merges the owners of old and new object; a write that drops the owner still
    // lists the old one, so the change is judged as managed.
    auto f = update(human);
    f.application_sets = {"guestbook"};  // from the old object only
    const auto v = decide(to(f, "v2"), state, ids);
    BOOST_TEST(denied(v));
    BOOST_TEST(v.message.find("ProgressiveRollout argocd/guestbook-rollout") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_write_that_only_changes_owner_references_is_allowed) {
    auto f = update("system:serviceaccount:kube-system:generic-garbage-collector");
    f.application_sets = {"guestbook"};
    const auto v = decide(f, state, ids);
    BOOST_TEST((v.kind == verdict_kind::allow));
    BOOST_TEST(v.patch.empty());
}

BOOST_AUTO_TEST_CASE(only_the_application_set_controller_and_the_garbage_collector_orphan_it) {
    // Orphaning first and editing next would make the edit unmanaged.
    auto f = update(human);
    f.removed_application_sets = {"guestbook"};
    const auto v = decide(f, state, ids);
    BOOST_TEST(denied(v));
    BOOST_TEST(v.message.find("removal of the ownerReference to ApplicationSet \"guestbook\"") != std::string::npos);
    for (const auto& user : {std::string("system:serviceaccount:kube-system:generic-garbage-collector"), appset_user}) {
        auto g = update(user);
        g.removed_application_sets = {"guestbook"};
        BOOST_TEST((decide(g, state, ids).kind != verdict_kind::deny), user);
    }
    auto unrelated = update(human);  // an owner no rollout follows may go
    unrelated.application_sets = {"guestbook", "unrelated"};
    unrelated.removed_application_sets = {"unrelated"};
    BOOST_TEST((decide(unrelated, state, ids).kind == verdict_kind::allow));
}

BOOST_AUTO_TEST_CASE(no_owner_with_a_rollout_is_unmanaged) {
    auto f = update(human);
    f.application_sets = {"unrelated"};
    const auto v = decide(to(f, "v2"), state, ids);
    BOOST_TEST((v.kind == verdict_kind::allow));
    BOOST_TEST(v.reason == "unmanaged");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(protected_annotations)

BOOST_AUTO_TEST_CASE(a_human_cannot_queue_a_change_through_the_pending_annotations) {
    auto f = update(human);
    f.new_protected = {{std::string(pending_spec_annotation), "{\"source\":" + source_json("evil") + "}"},
                       {std::string(pending_hash_annotation), hash_of("evil")}};
    const auto v = decide(f, state, ids);
    BOOST_TEST(denied(v));
    BOOST_TEST(v.message.find("annotation deployment.skyscanner.net/pending") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_human_cannot_rewrite_a_held_change) {
    auto f = update(human);
    holding(f, "v2");
    f.new_protected[std::string(pending_spec_annotation)] = "{\"source\":" + source_json("evil") + "}";
    BOOST_TEST(denied(decide(f, state, ids)));
    auto g = update(human);
    holding(g, "v2");
    g.new_protected[std::string(pending_hash_annotation)] = hash_of("evil");
    BOOST_TEST(denied(decide(g, state, ids)));
}

BOOST_AUTO_TEST_CASE(any_annotation_under_the_product_prefix_is_protected_but_bypass) {
    auto f = update(human);
    f.new_protected = {{"deployment.skyscanner.net/previous-spec", "{}"}};
    BOOST_TEST(denied(decide(f, state, ids)));
    BOOST_TEST(is_protected_annotation("deployment.skyscanner.net/pending-spec"));
    BOOST_TEST(!is_protected_annotation("deployment.skyscanner.net/bypass"));
    BOOST_TEST(!is_protected_annotation("example.com/pending-spec"));
}

BOOST_AUTO_TEST_CASE(removing_the_hold_cancels_it_and_is_allowed) {
    auto f = update(human);
    holding(f, "v2");
    f.new_protected.clear();
    BOOST_TEST((decide(f, state, ids).kind == verdict_kind::allow));
}

BOOST_AUTO_TEST_CASE(the_bypass_group_may_change_them) {
    auto f = update(human);
    f.groups = {"rollout-admins"};
    f.bypass_reason = "INC-1";
    f.new_protected = {{std::string(pending_hash_annotation), "x"}};
    const auto v = decide(f, state, ids);
    BOOST_TEST((v.kind == verdict_kind::allow));
    BOOST_TEST(v.reason == "bypass");
}

BOOST_AUTO_TEST_CASE(the_application_set_controller_cannot_set_them_either_its_write_is_put_back) {
    auto f = update(appset_user);
    holding(f, "v2");
    to(f, "v1");                                                              // desired state unchanged...
    f.new_protected[std::string(pending_hash_annotation)] = hash_of("evil");  // ...but the template rewrote the hash
    f.new_protected["deployment.skyscanner.net/previous-spec"] = "{}";
    // The template asks for what runs, so the held change is cancelled, and nothing of its own stays.
    const auto v = decide(f, state, ids);
    BOOST_TEST((v.kind == verdict_kind::allow));
    BOOST_TEST(has_op(v, "remove", pending_hash_path));
    BOOST_TEST(has_op(v, "remove", pending_spec_path));
    BOOST_TEST(has_op(v, "remove", "/metadata/annotations/deployment.skyscanner.net~1previous-spec"));
}

BOOST_AUTO_TEST_CASE(a_template_change_overwrites_whatever_pending_record_came_with_it) {
    auto f = update(appset_user);
    holding(f, "v2");
    to(f, "v3");
    f.new_protected[std::string(pending_hash_annotation)] = hash_of("evil");
    const auto v = decide(f, state, ids);
    BOOST_TEST((v.kind == verdict_kind::hold));
    auto hash_op =
        std::find_if(v.patch.begin(), v.patch.end(), [](const auto& p) { return p.path == pending_hash_path; });
    BOOST_REQUIRE(hash_op != v.patch.end());
    BOOST_TEST(*hash_op->value_json == "\"" + hash_of("v3") + "\"");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(moving_and_recreating)

BOOST_AUTO_TEST_CASE(a_human_cannot_move_an_application_to_another_cluster) {
    auto f = update(human, "c-canary");
    f.destination_server = "https://c-later.example.com";
    const auto v = decide(f, state, ids);
    BOOST_TEST(denied(v));
    BOOST_TEST(v.message.find("spec.destination") != std::string::npos);
    auto by_name = update(human, "c-canary");
    by_name.destination_server.clear();
    by_name.destination_name = "c-later";
    BOOST_TEST(denied(decide(by_name, state, ids)));
}

BOOST_AUTO_TEST_CASE(the_application_set_controller_may_move_it) {
    auto f = update(appset_user, "c-canary");
    f.destination_server = "https://c-later.example.com";
    BOOST_TEST((decide(f, state, ids).kind == verdict_kind::allow));
}

BOOST_AUTO_TEST_CASE(a_human_cannot_recreate_a_managed_application) {
    auto f = update(human);
    f.operation = operation_kind::create;
    to(f, "v2");
    f.old_desired = {};
    const auto v = decide(f, state, ids);
    BOOST_TEST(denied(v));
    BOOST_TEST(v.message.find("created only by the ApplicationSet controller") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_application_set_controller_creates_with_auto_sync_held) {
    auto f = update(appset_user);
    f.operation = operation_kind::create;
    f.old_desired = {};
    const auto v = decide(f, state, ids);
    BOOST_TEST((v.kind == verdict_kind::hold));
    BOOST_TEST(has_op(v, "remove", "/spec/syncPolicy/automated"));
    BOOST_TEST(has_op(v, "add", "/metadata/annotations/deployment.skyscanner.net~1created-held"));
}

// Found by the model test: a created Application without auto-sync carries a state no rollout
// admitted just the same, and the Sync button would deploy it.
BOOST_AUTO_TEST_CASE(the_application_set_controller_creates_without_auto_sync_held_too) {
    auto f = update(appset_user);
    f.operation = operation_kind::create;
    f.old_desired = {};
    f.new_sync_automated = false;
    const auto v = decide(f, state, ids);
    BOOST_TEST((v.kind == verdict_kind::hold));
    BOOST_TEST(!has_op(v, "remove", "/spec/syncPolicy/automated"));  // absent: removing it would fail
    BOOST_TEST(has_op(v, "add", "/metadata/annotations/deployment.skyscanner.net~1created-held"));
    BOOST_TEST(has_op(v, "add", pending_hash_path));
}

// A created Application carries the template's state, which no rollout admitted: there was no
// earlier state to keep. Until its cluster's turn, not even a sync of that state may run.
application_facts created_and_held(const std::string& user) {
    auto f = update(user);
    holding(f, "v1");
    f.old_protected[std::string(created_held_annotation)] = hash_of("v1");
    f.new_protected = f.old_protected;
    return f;
}

BOOST_AUTO_TEST_CASE(a_sync_of_a_created_application_waits_for_its_turn) {
    auto f = created_and_held(argocd_server);
    syncing(f, {.revision = ""});  // exactly its current state
    BOOST_TEST(denied(decide(f, state, ids)));
    auto cancelled = created_and_held(human);  // cancelling the hold does not open the way
    cancelled.new_protected.erase(std::string(pending_spec_annotation));
    cancelled.new_protected.erase(std::string(pending_hash_annotation));
    BOOST_TEST((decide(cancelled, state, ids).kind == verdict_kind::allow));
    cancelled.new_protected.erase(std::string(created_held_annotation));
    BOOST_TEST(denied(decide(cancelled, state, ids)));
    auto template_drops_it = created_and_held(appset_user);
    template_drops_it.new_protected.erase(std::string(created_held_annotation));
    to(template_drops_it, "v2");
    BOOST_TEST(has_op(decide(template_drops_it, state, ids), "add",
                      "/metadata/annotations/deployment.skyscanner.net~1created-held"));
}

// Found by the model test: created at v2 (never admitted), then the template moved to v3; the
// cluster is admitted for v3, but a sync of the created state would still deploy v2.
BOOST_AUTO_TEST_CASE(a_created_application_admitted_for_a_later_change_may_not_sync_its_created_state) {
    auto f = update(argocd_server, "c-canary");  // admitted for v2
    holding(f, "v2");
    f.old_protected[std::string(created_held_annotation)] = hash_of("v1");  // created at v1
    f.new_protected = f.old_protected;
    syncing(f, {.revision = "v1"});
    BOOST_TEST(denied(decide(f, state, ids)));
    syncing(f, {.revision = "v2"});  // the admitted change itself may be synced
    BOOST_TEST((decide(f, state, ids).kind == verdict_kind::allow));
    syncing(f, {.revision = ""});  // an empty revision is the spec's (v1), not the held change's
    BOOST_TEST(denied(decide(f, state, ids)));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(sync_operations)

BOOST_AUTO_TEST_CASE(a_rollback_style_source_override_is_denied) {
    auto f = update(argocd_server);
    syncing(f, {.source = source_json("v0")});
    BOOST_TEST(denied(decide(f, state, ids)));
    auto same = update(argocd_server);
    syncing(same, {.source = source_json("v1")});
    BOOST_TEST((decide(same, state, ids).kind == verdict_kind::allow));
}

BOOST_AUTO_TEST_CASE(a_sources_override_is_denied) {
    auto f = update(argocd_server);
    syncing(f, {.sources = "[" + source_json("v9") + "]"});
    BOOST_TEST(denied(decide(f, state, ids)));
}

BOOST_AUTO_TEST_CASE(a_local_sync_with_manifests_is_denied) {
    auto f = update(argocd_server);
    syncing(f, {.manifests = true});
    BOOST_TEST(denied(decide(f, state, ids)));
}

BOOST_AUTO_TEST_CASE(multi_source_revisions_are_compared_position_by_position) {
    auto f = update(argocd_server);
    const std::string sources = "[" + source_json("v1", "https://a") + "," + source_json("v2", "https://b") + "]";
    f.old_desired[source_field].reset();
    f.new_desired[source_field].reset();
    f.old_desired[sources_field].emplace(sources);
    f.new_desired[sources_field].emplace(sources);
    f.old_revisions = f.new_revisions = {"", {"v1", "v2"}};
    f.resolved_revision.clear();
    f.resolved_revisions = {"sha-a", "sha-b"};
    auto swapped = f;
    syncing(swapped, {.revisions = {"v2", "v1"}});
    BOOST_TEST(denied(decide(swapped, state, ids)));
    auto in_order = f;
    syncing(in_order, {.revisions = {"v1", "v2"}});
    BOOST_TEST((decide(in_order, state, ids).kind == verdict_kind::allow));
    auto resolved = f;
    syncing(resolved, {.revisions = {"sha-a", ""}});
    BOOST_TEST((decide(resolved, state, ids).kind == verdict_kind::allow));
    auto resolved_swapped = f;
    syncing(resolved_swapped, {.revisions = {"sha-b", "sha-a"}});
    BOOST_TEST(denied(decide(resolved_swapped, state, ids)));
    auto too_few = f;
    syncing(too_few, {.revisions = {"v1"}});
    BOOST_TEST(denied(decide(too_few, state, ids)));
}

BOOST_AUTO_TEST_CASE(a_cluster_done_for_an_older_change_is_not_admitted_for_the_new_one) {
    auto f = update(argocd_server, "c-done");  // Done at v2-old; now holds v2
    holding(f, "v2");
    syncing(f, {.revision = "v2"});
    BOOST_TEST(denied(decide(f, state, ids)));
    auto older = update(argocd_server, "c-done");
    holding(older, "v2-old");
    syncing(older, {.revision = "v2-old"});
    BOOST_TEST((decide(older, state, ids).kind == verdict_kind::allow));  // admitted for exactly that change
}

BOOST_AUTO_TEST_CASE(a_sync_to_the_held_revision_on_a_cluster_with_nothing_admitted_is_denied) {
    auto f = update(argocd_server, "c-canary");  // admitted for v2, but this Application holds nothing
    syncing(f, {.revision = "v2"});
    BOOST_TEST(denied(decide(f, state, ids)));
    auto admitted = update(argocd_server, "c-canary");
    holding(admitted, "v2");
    syncing(admitted, {.revision = "v2"});
    BOOST_TEST((decide(admitted, state, ids).kind == verdict_kind::allow));
}

// Found by the model test (admission_model_test): on a cluster admitted for the held change, a
// sync may deploy that change or the current state, not anything at all.
BOOST_AUTO_TEST_CASE(a_sync_on_an_admitted_cluster_deploys_only_the_held_change_or_the_current_state) {
    for (const auto& op : {sync_operation{.revision = "v9"}, sync_operation{.manifests = true},
                           sync_operation{.source = source_json("v9")}}) {
        auto f = update(argocd_server, "c-canary");  // admitted for v2, holds v2
        holding(f, "v2");
        syncing(f, op);
        BOOST_TEST(denied(decide(f, state, ids)));
    }
    auto current = update(argocd_server, "c-canary");
    holding(current, "v2");
    syncing(current, {.revision = "v1"});
    BOOST_TEST((decide(current, state, ids).kind == verdict_kind::allow));
    auto held = update(argocd_server, "c-canary");
    holding(held, "v2");
    syncing(held, {.source = source_json("v2")});
    BOOST_TEST((decide(held, state, ids).kind == verdict_kind::allow));
    // When the held change also changes the source (a new path, new Helm values), a sync naming
    // only its revision would deploy the spec's old source at the new revision: never admitted.
    auto mixed = update(argocd_server, "c-canary");
    holding(mixed, "v2");
    mixed.held_differs_only_in_revisions = false;
    syncing(mixed, {.revision = "v2"});
    BOOST_TEST(denied(decide(mixed, state, ids)));
    syncing(mixed, {.revision = "v2", .source = source_json("v2")});  // the held source itself: fine
    BOOST_TEST((decide(mixed, state, ids).kind == verdict_kind::allow));
}

BOOST_AUTO_TEST_CASE(a_hold_drops_an_operation_that_names_the_held_revision) {
    auto f = update(appset_user);
    to(f, "v2");
    f.operation_sync = sync_operation{.revision = "v2"};
    const auto v = decide(f, state, ids);
    BOOST_TEST((v.kind == verdict_kind::hold));
    BOOST_TEST(has_op(v, "remove", "/operation"));
    auto g = update(appset_user);
    to(g, "v2");
    g.operation_sync = sync_operation{.revision = "v1"};  // the state the hold keeps: it stays
    BOOST_TEST(!has_op(decide(g, state, ids), "remove", "/operation"));
}

BOOST_AUTO_TEST_CASE(argo_cds_own_auto_sync_is_never_blocked) {
    auto f = update(app_controller);
    syncing(f, {.revision = "v7"});
    BOOST_TEST((decide(f, state, ids).kind == verdict_kind::allow));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(argo_cd_workflows_are_not_denied)

BOOST_AUTO_TEST_CASE(the_ui_sync_button_on_a_held_cluster_writes_the_resolved_commit_and_is_allowed) {
    auto f = update(argocd_server);
    holding(f, "v2");
    syncing(f, {.revision = f.resolved_revision});
    BOOST_TEST((decide(f, state, ids).kind == verdict_kind::allow));
}

BOOST_AUTO_TEST_CASE(head_and_an_empty_target_revision_are_the_same) {
    for (auto [spec, op] :
         {std::pair{"", "HEAD"}, std::pair{"HEAD", ""}, std::pair{"HEAD", "HEAD"}, std::pair{"", ""}}) {
        auto f = update(argocd_server);
        f.old_desired[source_field] = f.new_desired[source_field] = source_json(spec);
        f.old_revisions.source = f.new_revisions.source = spec;
        syncing(f, {.revision = op});
        BOOST_TEST((decide(f, state, ids).kind == verdict_kind::allow), "spec " << spec << " op " << op);
    }
    auto f = update(argocd_server);
    syncing(f, {.revision = "HEAD"});  // the spec says v1: HEAD is something else
    BOOST_TEST(denied(decide(f, state, ids)));
}

BOOST_AUTO_TEST_CASE(only_argo_cd_records_the_resolved_revision) {
    auto f = update(human);
    f.resolved_revision_changed = true;  // set to a commit of the attacker's choosing
    BOOST_TEST(denied(decide(f, state, ids)));
    auto g = update(app_controller);
    g.resolved_revision_changed = true;
    BOOST_TEST((decide(g, state, ids).kind == verdict_kind::allow));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(hold_size)

BOOST_AUTO_TEST_CASE(a_hold_that_would_exceed_the_annotation_limit_is_denied_with_an_event) {
    auto f = update(appset_user);
    to(f, "v2");
    f.new_pending.value = std::string(200 * 1024, 'x');
    f.other_annotations_bytes = 60 * 1024;
    const auto v = decide(f, state, ids);
    BOOST_TEST(denied(v));
    BOOST_TEST(v.message.find("262144 bytes") != std::string::npos, v.message);
    BOOST_TEST(v.message.find("cluster \"c-later\"") != std::string::npos, v.message);
    BOOST_REQUIRE(v.event.has_value());
    BOOST_TEST(v.event->warning);
    BOOST_TEST(v.event->reason == "PendingSpecTooLarge");
    f.other_annotations_bytes = 1024;
    BOOST_TEST((decide(f, state, ids).kind == verdict_kind::hold));
    f.dry_run = true;
    f.other_annotations_bytes = 60 * 1024;
    BOOST_TEST(!decide(f, state, ids).event.has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(the_rollout_controllers_own_write)

BOOST_AUTO_TEST_CASE(is_allowed_only_for_a_cluster_admitted_at_that_hash) {
    auto admitted = update(self, "c-canary");
    holding(to(admitted, "v2"), "v2");
    BOOST_TEST((decide(admitted, state, ids).kind == verdict_kind::allow));

    auto not_yet = update(self, "c-later");  // Pending: the hash matches, but status did not admit it
    holding(to(not_yet, "v2"), "v2");
    BOOST_TEST(denied(decide(not_yet, state, ids)));

    auto older = update(self, "c-done");  // Done for v2-old, not for v2
    holding(to(older, "v2"), "v2");
    BOOST_TEST(denied(decide(older, state, ids)));

    auto other_change = update(self, "c-canary");  // admitted for v2, but writes v3
    holding(to(other_change, "v3"), "v2");
    BOOST_TEST(denied(decide(other_change, state, ids)));
}

// Found by the model test: an operation still waiting on the object when the controller applies
// the held change (Argo CD's auto-sync of the old state, naming its commit) would run the new spec
// at the old revision. The admission removes it; one that deploys the new state stays.
BOOST_AUTO_TEST_CASE(removes_an_operation_that_would_run_the_new_spec_at_the_old_revision) {
    auto f = update(self, "c-canary");
    holding(to(f, "v2"), "v2");
    f.operation_sync = sync_operation{.revision = f.resolved_revision};  // the old spec's commit
    auto v = decide(f, state, ids);
    BOOST_TEST((v.kind == verdict_kind::allow));
    BOOST_TEST(has_op(v, "remove", "/operation"));
    f.operation_sync = sync_operation{.revision = "v2"};
    BOOST_TEST(!has_op(decide(f, state, ids), "remove", "/operation"));
}

BOOST_AUTO_TEST_CASE(a_cluster_with_several_applications_is_admitted_per_application) {
    auto a = update(self, "c-multi");
    a.name = "app-a";
    holding(to(a, "v2"), "v2");
    BOOST_TEST((decide(a, state, ids).kind == verdict_kind::allow));
    auto b = update(self, "c-multi");
    b.name = "app-b";
    holding(to(b, "v2"), "v2");  // app-b was admitted for v3
    BOOST_TEST(denied(decide(b, state, ids)));
}

BOOST_AUTO_TEST_SUITE_END()
