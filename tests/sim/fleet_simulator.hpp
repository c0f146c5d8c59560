#pragma once
// A small, deterministic stand-in for Argo CD that plays its two controllers against a real
// API server, so the webhook and rollout controller meet the writes they meet in production:
//  - the ApplicationSet controller (cluster generator): generates one Application per cluster
//    Secret from the ApplicationSet's template and rewrites any Application whose spec differs;
//  - the application controller: resolves each Application's targetRevision against a
//    test-controlled repository (branch -> commit), marks it OutOfSync when its spec or the
//    branch moves, performs the sync operations it finds in `operation` and "syncs" by itself
//    when auto-sync is on, writing status the way Argo CD does (sync/health/operationState/
//    history), with an optional delay.
// Nothing runs in the background: every call is one pass, so tests decide when each actor acts
// and never sleep to wait for it. Used by the e2e tests and by `apr-fleet-sim` (scripts/demo.sh).
// Not here: deleting Applications of removed clusters, multi-source apps, retries.

#include "kube/client.hpp"

#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace apr::sim {

inline constexpr std::string_view cluster_secret_label = "argocd.argoproj.io/secret-type";
inline constexpr std::string_view appset_refresh_annotation = "argocd.argoproj.io/application-set-refresh";

struct fleet_cluster {
    std::string name;
    std::map<std::string, std::string> labels;  // without the secret-type label (always added)
};

// The server URL a simulated cluster's Secret names (reserved .test domain: never resolvable).
std::string cluster_server(std::string_view cluster_name);

// The demo fleet (`apr-fleet-sim setup`): `count` >= 8 clusters. The first eight are
// eu-west-1{a,b,c}-1 and eu-central-1{a,b,c}-1 (area=emea, region=...; eu-west-1c-1 is
// drained=true), us-east-1a-1 (area=amer) and ap-southeast-1a-1 (area=apac); larger fleets
// repeat the pattern with suffixes -2, -3, ... (never drained).
std::vector<fleet_cluster> demo_fleet(int count);

// An Application as the tests and the demo look at it.
struct application_view {
    std::string name;
    std::string cluster;            // resolved from spec.destination.server; the server if unknown
    std::string target_revision;    // spec.source.targetRevision
    std::string helm_values;        // spec.source.helm.values
    std::string synced_revision;    // status.sync.comparedTo.source.targetRevision when Synced
    std::string resolved_revision;  // status.sync.revision: what targetRevision resolved to
    std::string running_revision;   // status.operationState.syncResult.revision: what was deployed last
    std::string sync;               // status.sync.status: Synced / OutOfSync / "" (no status yet)
    std::string health;             // status.health.status
    std::string operation_phase;    // status.operationState.phase
    bool auto_sync = false;         // syncPolicy.automated present and not enabled:false
    bool held = false;              // the webhook's pending annotations are present
    std::string pending_hash;
};

class argocd_simulator {
public:
    // admin: cluster Secrets and the ApplicationSet; appset_controller: creates/updates
    // Applications (USER_APPSET); app_controller: writes Application status (USER_APPCTRL).
    // The clients must outlive the simulator.
    argocd_simulator(kube::client& admin, kube::client& appset_controller, kube::client& app_controller,
                     std::string ns = "argocd");

    // Argo CD cluster Secrets "cluster-<name>" (data.name, data.server, data.config with a fake
    // bearer token). Existing Secrets are replaced (labels and data).
    void create_clusters(const std::vector<fleet_cluster>& clusters);
    // Replaces the cluster's labels (the secret-type label is kept), e.g. to undrain it.
    void set_cluster_labels(const std::string& cluster, std::map<std::string, std::string> labels);

    // Creates the ApplicationSet (cluster generator; template like manifests/samples with
    // auto-sync prune+selfHeal, source.targetRevision = revision, Application names
    // "<name minus a trailing -set>-<cluster>") and generates its Applications (refresh()).
    // `cluster_labels` narrows the cluster generator (matchLabels besides the secret type), so
    // tests sharing a namespace each get only their own clusters.
    void create_application_set(const std::string& name, const std::string& revision,
                                const std::map<std::string, std::string>& cluster_labels = {});
    // Works on an ApplicationSet created earlier (e.g. by another process's setup).
    void attach_application_set(const std::string& name);
    const std::string& application_set() const { return appset_; }

    // Sets spec.template.spec.source.targetRevision, then refresh(): every Application is
    // rewritten as the ApplicationSet controller does, and the webhook holds those writes.
    void set_template_revision(const std::string& revision);
    // Sets spec.template.spec.source.helm.values, then refresh().
    void set_template_helm_values(const std::string& values);

    // One ApplicationSet controller reconcile: create missing Applications, rewrite those whose
    // spec differs from the template (held ones are rewritten, and held, again), and remove the
    // application-set-refresh annotation. Returns the number of Applications written.
    int refresh();

    // One pass of the application controller over the ApplicationSet's Applications:
    //  - no status yet: Synced/Healthy for the created spec (auto-sync) or OutOfSync/Missing;
    //  - spec differs from status.sync.comparedTo (or not Synced) with auto-sync: the first
    //    pass that sees it writes OutOfSync + a Running operation (when sync_delay > 0); once
    //    sync_delay has passed, Synced, comparedTo = spec, health Healthy (Degraded for clusters
    //    in `degraded`), operationState Succeeded (Failed and OutOfSync for `failing_sync`);
    //  - without auto-sync: OutOfSync with comparedTo = spec (nothing is deployed).
    // Returns the number of status writes.
    //  - a sync operation in `operation` (anyone's): performed at its revision (a branch, HEAD or
    //    empty resolve to the branch's commit now), Running first when sync_delay > 0, then
    //    operationState with syncResult.revision, a history entry, `operation` removed, and
    //    Synced only when the deployed revision is the one targetRevision resolves to;
    //  - a branch that moved: OutOfSync with status.sync.revision the new commit (auto-sync then
    //    deploys it, as Argo CD would).
    // Returns the number of status writes.
    int step_application_controller(std::chrono::system_clock::time_point now);

    // The repository: a targetRevision (or sync revision) naming `branch` resolves to `commit`;
    // any other revision (a tag, a commit) resolves to itself. Moving a branch takes effect at
    // the next application-controller pass.
    void set_branch(const std::string& branch, const std::string& commit) { branches_[branch] = commit; }
    std::string resolve(const std::string& revision) const;

    // Drift: the Applications on `cluster` go OutOfSync at the revision they run (someone edited
    // a live object), as the application controller reports it; without auto-sync it stays so.
    void drift(const std::string& cluster);

    // A sync operation the application controller found in `operation` and started.
    struct operation_record {
        std::string application;
        std::string cluster;
        std::string revision;      // operation.sync.revision as written
        std::string deployed;      // what it resolved to
        std::string initiated_by;  // operation.initiatedBy.username
        bool prune = false;
    };
    const std::vector<operation_record>& operations() const { return operations_; }

    std::set<std::string> degraded;      // clusters whose synced version goes Degraded
    std::set<std::string> failing_sync;  // clusters whose sync operation fails
    std::chrono::milliseconds sync_delay{0};

    // Both controllers on a clock, for tests: every `tick`, one application-controller pass
    // (with the wall clock) and, every `refresh_every` (0: never), an ApplicationSet refresh;
    // returns as soon as `done()` holds (checked after each pass) or false at `timeout`.
    struct play_options {
        std::chrono::milliseconds tick{200};
        std::chrono::milliseconds refresh_every{0};
    };
    bool play_until(const std::function<bool()>& done, std::chrono::milliseconds timeout, play_options options);
    bool play_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
        return play_until(done, timeout, play_options{});
    }

    std::vector<application_view> applications();  // sorted by cluster
    // Clusters in the order their Applications were synced to `revision` (the resolved one: a
    // commit for a branch; initial syncs of new Applications included), as recorded by
    // step_application_controller.
    std::vector<std::string> updates(const std::string& revision) const;

private:
    std::map<std::string, std::string> clusters_by_server();  // server -> name, from Secrets
    std::string applications_path() const;
    std::string application_set_path() const;

    kube::client& admin_;
    kube::client& appset_controller_;
    kube::client& app_controller_;
    std::string ns_;
    std::string appset_;
    // Application name -> (source it started syncing, when the controller first saw it).
    std::map<std::string, std::pair<std::string, std::chrono::system_clock::time_point>> syncing_;
    std::map<std::string, std::vector<std::string>> updates_;
    std::map<std::string, std::string> branches_;
    std::vector<operation_record> operations_;
};

}  // namespace apr::sim
