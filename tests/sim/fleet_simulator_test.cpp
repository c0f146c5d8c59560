// The fleet simulator against the REAL kube-apiserver of scripts/testenv.sh (CTest fixture
// "kube"), with no webhook registered: it must generate Applications the way Argo CD's
// ApplicationSet controller does (owned, one per cluster Secret) and write status the way the
// application controller does, or the e2e tests built on it would prove nothing.
#define BOOST_TEST_MODULE fleet_simulator
#include <boost/test/unit_test.hpp>

#include "testenv.hpp"

#include "sim/fleet_simulator.hpp"

#include "codec/json_reader.hpp"
#include "kube/config.hpp"

using namespace apr;
using namespace std::chrono_literals;

namespace {

struct fleet_fixture {
    kube::test::testenv& env = kube::test::testenv::get();
    std::unique_ptr<kube::client> admin = env.admin();
    kube::client appset{kube::load_kubeconfig(env.value("KUBECONFIG_APPSET"))};
    kube::client appctrl{kube::load_kubeconfig(env.value("KUBECONFIG_APPCTRL"))};
    sim::argocd_simulator sim{*admin, appset, appctrl, env.ns()};
    const std::string suffix = kube::test::unique_suffix();
    const std::string appset_name = "sim-" + suffix + "-set";
    std::vector<sim::fleet_cluster> fleet{
        {"sim-" + suffix + "-a", {{"region", "eu-west-1"}, {"sim-test", suffix}}},
        {"sim-" + suffix + "-b", {{"region", "eu-west-1"}, {"sim-test", suffix}}},
        {"sim-" + suffix + "-c", {{"region", "us-east-1"}, {"sim-test", suffix}, {"drained", "true"}}},
    };

    fleet_fixture() {
        sim.create_clusters(fleet);
        sim.create_application_set(appset_name, "v1", {{"sim-test", suffix}});
    }

    // The namespace is shared by every kube test: leave nothing behind.
    ~fleet_fixture() {
        const std::string apps = "/apis/argoproj.io/v1alpha1/namespaces/" + env.ns() + "/applications/";
        for (const auto& c : fleet) {
            (void)admin->remove(apps + "sim-" + suffix + "-" + c.name);
            (void)admin->remove("/api/v1/namespaces/" + env.ns() + "/secrets/cluster-" + c.name);
        }
        (void)admin->remove("/apis/argoproj.io/v1alpha1/namespaces/" + env.ns() + "/applicationsets/" + appset_name);
    }

    rapidjson::Document application(const std::string& cluster) {
        return admin
            ->get("/apis/argoproj.io/v1alpha1/namespaces/" + env.ns() + "/applications/sim-" + suffix + "-" + cluster)
            .value();
    }

    std::map<std::string, sim::application_view> by_cluster() {
        std::map<std::string, sim::application_view> out;
        for (auto& a : sim.applications()) out[a.cluster] = a;
        return out;
    }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(fleet_simulator, fleet_fixture)

BOOST_AUTO_TEST_CASE(application_set_generates_one_owned_application_per_cluster) {
    const auto appset_object =
        admin->get("/apis/argoproj.io/v1alpha1/namespaces/" + env.ns() + "/applicationsets/" + appset_name).value();
    const auto apps = sim.applications();
    BOOST_TEST_REQUIRE(apps.size() == 3u);  // only this test's clusters: the generator's selector
    for (const auto& c : fleet) {
        const auto app = application(c.name);
        const auto& owner = app["metadata"]["ownerReferences"][0];
        BOOST_TEST(codec::string_at(owner, {"kind"}) == "ApplicationSet");
        BOOST_TEST(codec::string_at(owner, {"name"}) == appset_name);
        BOOST_TEST(codec::string_at(owner, {"uid"}) == codec::string_at(appset_object, {"metadata", "uid"}));
        BOOST_TEST(codec::string_at(app, {"spec", "destination", "server"}) == sim::cluster_server(c.name));
        BOOST_TEST(codec::string_at(app, {"spec", "source", "targetRevision"}) == "v1");
        BOOST_TEST(codec::find_path(app, {"spec", "syncPolicy", "automated", "selfHeal"})->GetBool());
    }
    // A second reconcile with nothing changed writes nothing.
    BOOST_TEST(sim.refresh() == 0);
}

BOOST_AUTO_TEST_CASE(new_applications_get_synced_healthy_status_from_the_application_controller) {
    BOOST_TEST(sim.step_application_controller(std::chrono::system_clock::now()) == 3);
    for (const auto& [cluster, a] : by_cluster()) {
        BOOST_TEST(a.sync == "Synced");
        BOOST_TEST(a.health == "Healthy");
        BOOST_TEST(a.synced_revision == "v1");
        BOOST_TEST(!a.held);
    }
    BOOST_TEST(sim.updates("v1").size() == 3u);
    // Nothing changed: the next pass writes nothing.
    BOOST_TEST(sim.step_application_controller(std::chrono::system_clock::now()) == 0);
}

BOOST_AUTO_TEST_CASE(template_change_syncs_after_the_delay_and_degraded_clusters_go_degraded) {
    const auto t0 = std::chrono::system_clock::now();
    sim.step_application_controller(t0);
    sim.sync_delay = 5s;
    sim.degraded.insert(fleet[1].name);
    sim.set_template_revision("v2");  // no webhook in this test: the rewrite lands directly
    for (const auto& [cluster, a] : by_cluster()) BOOST_TEST(a.target_revision == "v2");

    BOOST_TEST(sim.step_application_controller(t0 + 1s) == 3);  // sees the change: operation Running
    for (const auto& [cluster, a] : by_cluster()) {
        BOOST_TEST(a.sync == "OutOfSync");
        BOOST_TEST(a.operation_phase == "Running");
        BOOST_TEST(a.synced_revision.empty());
    }
    BOOST_TEST(sim.step_application_controller(t0 + 3s) == 0);  // delay not over yet
    BOOST_TEST(sim.step_application_controller(t0 + 6s) == 3);
    auto apps = by_cluster();
    BOOST_TEST(apps[fleet[0].name].sync == "Synced");
    BOOST_TEST(apps[fleet[0].name].health == "Healthy");
    BOOST_TEST(apps[fleet[0].name].synced_revision == "v2");
    BOOST_TEST(apps[fleet[0].name].operation_phase == "Succeeded");
    BOOST_TEST(apps[fleet[1].name].health == "Degraded");
    const auto app = application(fleet[0].name);
    BOOST_TEST(codec::string_at(app, {"status", "operationState", "syncResult", "revision"}) == "v2");
    BOOST_TEST(codec::string_at(app, {"status", "sync", "comparedTo", "destination", "server"}) ==
               sim::cluster_server(fleet[0].name));
    const std::vector<std::string> order{fleet[0].name, fleet[1].name, fleet[2].name};
    BOOST_TEST(sim.updates("v2") == order, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(without_auto_sync_the_application_goes_out_of_sync_until_refresh_restores_the_template) {
    sim.step_application_controller(std::chrono::system_clock::now());
    // Someone turns auto-sync off and points one Application elsewhere.
    const std::string path =
        "/apis/argoproj.io/v1alpha1/namespaces/" + env.ns() + "/applications/sim-" + suffix + "-" + fleet[0].name;
    BOOST_TEST_REQUIRE(
        admin->merge_patch(path, R"({"spec":{"source":{"targetRevision":"hotfix"},"syncPolicy":{"automated":null}}})")
            .has_value());
    BOOST_TEST(sim.step_application_controller(std::chrono::system_clock::now()) == 1);
    auto a = by_cluster()[fleet[0].name];
    BOOST_TEST(a.sync == "OutOfSync");
    BOOST_TEST(!a.auto_sync);
    BOOST_TEST(codec::string_at(application(fleet[0].name),
                                {"status", "sync", "comparedTo", "source", "targetRevision"}) == "hotfix");

    // The ApplicationSet controller's reconcile puts the template back; auto-sync then syncs v1.
    BOOST_TEST(sim.refresh() == 1);
    BOOST_TEST(sim.step_application_controller(std::chrono::system_clock::now()) == 1);
    a = by_cluster()[fleet[0].name];
    BOOST_TEST(a.sync == "Synced");
    BOOST_TEST(a.synced_revision == "v1");
}

BOOST_AUTO_TEST_CASE(refresh_annotation_is_removed_and_cluster_labels_can_be_changed) {
    const std::string appset_path =
        "/apis/argoproj.io/v1alpha1/namespaces/" + env.ns() + "/applicationsets/" + appset_name;
    BOOST_TEST_REQUIRE(
        admin
            ->merge_patch(appset_path,
                          R"({"metadata":{"annotations":{"argocd.argoproj.io/application-set-refresh":"true"}}})")
            .has_value());
    sim.refresh();
    const auto appset_object = admin->get(appset_path).value();
    const auto* annotations = codec::find_path(appset_object, {"metadata", "annotations"});
    BOOST_TEST((!annotations || !annotations->HasMember("argocd.argoproj.io/application-set-refresh")));

    sim.set_cluster_labels(fleet[2].name, {{"region", "us-east-1"}, {"sim-test", suffix}});
    const auto secret = admin->get("/api/v1/namespaces/" + env.ns() + "/secrets/cluster-" + fleet[2].name).value();
    BOOST_TEST(!secret["metadata"]["labels"].HasMember("drained"));
    BOOST_TEST(codec::string_at(secret, {"metadata", "labels", "argocd.argoproj.io/secret-type"}) == "cluster");
    // Still generated: the cluster generator selects it by the labels that remain.
    BOOST_TEST(sim.applications().size() == 3u);
}

BOOST_AUTO_TEST_CASE(play_until_runs_the_controllers_until_the_condition_holds) {
    sim.step_application_controller(std::chrono::system_clock::now());  // everything on v1 first
    sim.sync_delay = 300ms;
    sim.set_template_revision("v3");
    const auto started = std::chrono::steady_clock::now();
    auto all_on_v3 = [&] {
        for (const auto& a : sim.applications())
            if (a.synced_revision != "v3") return false;
        return true;
    };
    BOOST_TEST(sim.play_until(all_on_v3, 30s, {.tick = 100ms, .refresh_every = 1s}));
    BOOST_TEST(sim.updates("v3").size() == 3u);
    BOOST_TEST((std::chrono::steady_clock::now() - started >= 300ms));  // the sync delay was honoured
    // A condition that never holds ends at the deadline with false.
    BOOST_TEST(!sim.play_until([] { return false; }, 300ms));
}

BOOST_AUTO_TEST_CASE(a_branch_resolves_to_its_commit_and_auto_sync_follows_it_when_it_moves) {
    sim.set_branch("main", "c0ffee1");
    sim.set_template_revision("main");
    const auto t0 = std::chrono::system_clock::now();
    BOOST_TEST(sim.step_application_controller(t0) == 3);
    for (const auto& [cluster, a] : by_cluster()) {
        BOOST_TEST(a.sync == "Synced");
        BOOST_TEST(a.resolved_revision == "c0ffee1");
        BOOST_TEST(a.running_revision == "c0ffee1");
    }
    BOOST_TEST(sim.step_application_controller(t0) == 0);  // nothing moved

    // A new commit on main: auto-sync (on in this template) deploys it at the next pass, and
    // history keeps both deployments.
    sim.set_branch("main", "c0ffee2");
    BOOST_TEST(sim.step_application_controller(t0 + 1s) == 3);
    for (const auto& [cluster, a] : by_cluster()) {
        BOOST_TEST(a.sync == "Synced");
        BOOST_TEST(a.resolved_revision == "c0ffee2");
        BOOST_TEST(a.running_revision == "c0ffee2");
    }
    BOOST_TEST(sim.updates("c0ffee2").size() == 3u);
    const auto app = application(fleet[0].name);
    const auto& history = app["status"]["history"];
    BOOST_TEST_REQUIRE(history.Size() >= 2u);
    BOOST_TEST(codec::string_at(history[history.Size() - 1], {"revision"}) == "c0ffee2");
    BOOST_TEST(codec::string_at(history[history.Size() - 2], {"revision"}) == "c0ffee1");
}

BOOST_AUTO_TEST_CASE(without_auto_sync_a_moved_branch_waits_out_of_sync_for_a_sync_operation) {
    sim.set_branch("main", "aaa111");
    sim.set_template_revision("main");
    sim.step_application_controller(std::chrono::system_clock::now());
    const std::string apps = "/apis/argoproj.io/v1alpha1/namespaces/" + env.ns() + "/applications/sim-" + suffix + "-";
    for (const auto& c : fleet)
        BOOST_TEST_REQUIRE(
            admin->merge_patch(apps + c.name, R"({"spec":{"syncPolicy":{"automated":null}}})").has_value());

    sim.set_branch("main", "bbb222");
    sim.sync_delay = 5s;
    const auto t0 = std::chrono::system_clock::now();
    BOOST_TEST(sim.step_application_controller(t0) == 3);
    for (const auto& [cluster, a] : by_cluster()) {
        BOOST_TEST(a.sync == "OutOfSync");
        BOOST_TEST(a.resolved_revision == "bbb222");
        BOOST_TEST(a.running_revision == "aaa111");
    }
    BOOST_TEST(sim.step_application_controller(t0 + 1s) == 0);  // nobody syncs it by itself

    // A sync operation naming the commit: Running first, then deployed; `operation` is cleared.
    BOOST_TEST_REQUIRE(admin
                           ->merge_patch(apps + fleet[0].name,
                                         R"({"operation":{"sync":{"revision":"bbb222","prune":true},)"
                                         R"("initiatedBy":{"username":"alice"}}})")
                           .has_value());
    // A symbolic one (no revision) deploys what the branch points to when it runs.
    BOOST_TEST_REQUIRE(
        admin->merge_patch(apps + fleet[1].name, R"({"operation":{"sync":{},"initiatedBy":{"username":"bob"}}})")
            .has_value());
    sim.set_branch("main", "ccc333");                           // moves before the syncs run
    BOOST_TEST(sim.step_application_controller(t0 + 2s) == 3);  // two syncs start, fleet[2] sees ccc333
    BOOST_TEST(by_cluster()[fleet[0].name].operation_phase == "Running");
    BOOST_TEST(codec::find_path(application(fleet[0].name), {"operation"}) != nullptr);
    BOOST_TEST(sim.step_application_controller(t0 + 8s) == 2);
    auto a = by_cluster();
    // fleet[0] runs the commit it asked for, now behind the branch: OutOfSync at ccc333.
    BOOST_TEST(a[fleet[0].name].running_revision == "bbb222");
    BOOST_TEST(a[fleet[0].name].resolved_revision == "ccc333");
    BOOST_TEST(a[fleet[0].name].sync == "OutOfSync");
    BOOST_TEST(a[fleet[0].name].operation_phase == "Succeeded");
    BOOST_TEST(codec::find_path(application(fleet[0].name), {"operation"}) == nullptr);
    // fleet[1]'s symbolic sync deployed the branch head at the time it ran.
    BOOST_TEST(a[fleet[1].name].running_revision == "ccc333");
    BOOST_TEST(a[fleet[1].name].sync == "Synced");
    BOOST_TEST(a[fleet[2].name].running_revision == "aaa111");  // never asked
    BOOST_TEST_REQUIRE(sim.operations().size() == 2u);
    BOOST_TEST(sim.operations()[0].initiated_by == "alice");
    BOOST_TEST(sim.operations()[0].deployed == "bbb222");
    BOOST_TEST(sim.operations()[0].prune);
    BOOST_TEST(sim.operations()[1].revision.empty());
    BOOST_TEST((sim.updates("bbb222") == std::vector<std::string>{fleet[0].name}));

    // Drift at the running revision stays OutOfSync without auto-sync, and a sync at the running
    // revision heals it.
    sim.drift(fleet[1].name);
    BOOST_TEST(sim.step_application_controller(t0 + 9s) == 0);
    BOOST_TEST(by_cluster()[fleet[1].name].sync == "OutOfSync");
    sim.sync_delay = 0s;
    BOOST_TEST_REQUIRE(
        admin->merge_patch(apps + fleet[1].name, R"({"operation":{"sync":{"revision":"ccc333"}}})").has_value());
    BOOST_TEST(sim.step_application_controller(t0 + 10s) >= 1);
    BOOST_TEST(by_cluster()[fleet[1].name].sync == "Synced");
}

BOOST_AUTO_TEST_CASE(demo_fleet_has_emea_regions_a_drained_cluster_and_others) {
    const auto demo = sim::demo_fleet(8);
    BOOST_TEST(demo.size() == 8u);
    int emea = 0, drained = 0;
    for (const auto& c : demo) {
        emea += c.labels.contains("area") && c.labels.at("area") == "emea";
        drained += c.labels.contains("drained");
    }
    BOOST_TEST(emea == 6);
    BOOST_TEST(drained == 1);
    BOOST_TEST(sim::demo_fleet(20).size() == 20u);
}

BOOST_AUTO_TEST_SUITE_END()
