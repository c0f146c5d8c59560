#include "sim/fleet_simulator.hpp"
#include "sim/sim_json.hpp"

#include "codec/json_reader.hpp"
#include "codec/kube_objects.hpp"
#include "core/admission.hpp"
#include "codec/time_format.hpp"
#include "kube/update.hpp"

#include <algorithm>
#include <optional>
#include <tuple>
#include <stdexcept>
#include <thread>

namespace apr::sim {

using namespace detail;

namespace {

std::string base64_encode(std::string_view in) {
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        const unsigned n = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8 | (unsigned char)in[i + 2];
        for (int shift : {18, 12, 6, 0}) out += alphabet[(n >> shift) & 63];
    }
    if (i + 1 == in.size()) {
        const unsigned n = (unsigned char)in[i] << 16;
        out += alphabet[(n >> 18) & 63];
        out += alphabet[(n >> 12) & 63];
        out += "==";
    } else if (i + 2 == in.size()) {
        const unsigned n = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8;
        out += alphabet[(n >> 18) & 63];
        out += alphabet[(n >> 12) & 63];
        out += alphabet[(n >> 6) & 63];
        out += '=';
    }
    return out;
}

// Argo CD's fasttemplate parameters of the cluster generator that the sample uses.
void substitute(Value& v, const std::string& name, const std::string& server, allocator& a) {
    if (v.IsString()) {
        std::string s(v.GetString(), v.GetStringLength());
        for (const auto& [param, value] : {std::pair{std::string("{{name}}"), name}, {"{{server}}", server}}) {
            for (auto pos = s.find(param); pos != std::string::npos; pos = s.find(param, pos + value.size()))
                s.replace(pos, param.size(), value);
        }
        v.SetString(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
    } else if (v.IsObject()) {
        for (auto& m : v.GetObject()) substitute(m.value, name, server, a);
    } else if (v.IsArray()) {
        for (auto& e : v.GetArray()) substitute(e, name, server, a);
    }
}

std::string label_selector_of(const Value& appset) {
    std::string selector = std::string(cluster_secret_label) + "=cluster";
    const Value* generators = codec::find_path(appset, {"spec", "generators"});
    if (!generators || !generators->IsArray() || generators->Empty()) return selector;
    const Value* labels = codec::find_path((*generators)[0], {"clusters", "selector", "matchLabels"});
    if (!labels || !labels->IsObject()) return selector;
    for (const auto& m : labels->GetObject()) {
        std::string key(m.name.GetString(), m.name.GetStringLength());
        if (key == cluster_secret_label || !m.value.IsString()) continue;
        selector += "," + key + "=" + m.value.GetString();
    }
    return selector;
}

std::string application_name_prefix(std::string appset) {
    if (appset.size() > 4 && appset.ends_with("-set")) appset.resize(appset.size() - 4);
    return appset;
}

}  // namespace

std::string cluster_server(std::string_view cluster_name) {
    return "https://" + std::string(cluster_name) + ".clusters.fleet.test:6443";
}

std::vector<fleet_cluster> demo_fleet(int count) {
    struct slot {
        std::string zone, region, area;
    };
    static const std::vector<slot> pattern = {
        {"eu-west-1a", "eu-west-1", "emea"},       {"eu-west-1b", "eu-west-1", "emea"},
        {"eu-west-1c", "eu-west-1", "emea"},       {"eu-central-1a", "eu-central-1", "emea"},
        {"eu-central-1b", "eu-central-1", "emea"}, {"eu-central-1c", "eu-central-1", "emea"},
        {"us-east-1a", "us-east-1", "amer"},       {"ap-southeast-1a", "ap-southeast-1", "apac"},
    };
    std::vector<fleet_cluster> fleet;
    for (int i = 0; i < std::max(count, 8); ++i) {
        const auto& s = pattern[i % pattern.size()];
        fleet_cluster c{s.zone + "-" + std::to_string(i / pattern.size() + 1),
                        {{"area", s.area}, {"region", s.region}}};
        if (i == 2) c.labels["drained"] = "true";
        fleet.push_back(std::move(c));
    }
    return fleet;
}

argocd_simulator::argocd_simulator(kube::client& admin, kube::client& appset_controller, kube::client& app_controller,
                                   std::string ns)
    : admin_(admin), appset_controller_(appset_controller), app_controller_(app_controller), ns_(std::move(ns)) {}

std::string argocd_simulator::applications_path() const {
    return "/apis/argoproj.io/v1alpha1/namespaces/" + ns_ + "/applications";
}

std::string argocd_simulator::application_set_path() const {
    return "/apis/argoproj.io/v1alpha1/namespaces/" + ns_ + "/applicationsets/" + appset_;
}

void argocd_simulator::create_clusters(const std::vector<fleet_cluster>& clusters) {
    const std::string secrets = "/api/v1/namespaces/" + ns_ + "/secrets";
    for (const auto& c : clusters) {
        rapidjson::Document s(rapidjson::kObjectType);
        auto& a = s.GetAllocator();
        s.AddMember("apiVersion", "v1", a);
        s.AddMember("kind", "Secret", a);
        Value& meta = object_member(s, "metadata", a);
        meta.AddMember("name", text("cluster-" + c.name, a), a);
        meta.AddMember("namespace", text(ns_, a), a);
        Value& labels = object_member(meta, "labels", a);
        set_member(labels, cluster_secret_label, text("cluster", a), a);
        for (const auto& [k, v] : c.labels) set_member(labels, k, text(v, a), a);
        s.AddMember("type", "Opaque", a);
        // A fake credential, shaped like Argo CD's: the webhook must never need or log it.
        const std::string config =
            R"({"bearerToken":"simulated-token-)" + c.name + R"(","tlsClientConfig":{"insecure":false}})";
        Value& data = object_member(s, "data", a);
        data.AddMember("name", text(base64_encode(c.name), a), a);
        data.AddMember("server", text(base64_encode(cluster_server(c.name)), a), a);
        data.AddMember("config", text(base64_encode(config), a), a);

        auto created = admin_.create(secrets, kube::to_json(s));
        if (created) continue;
        if (!created.error().is_already_exists())
            throw std::runtime_error("create Secret cluster-" + c.name + ": " + created.error().describe());
        must(kube::update_with_retry(admin_, secrets + "/cluster-" + c.name,
                                     [&](rapidjson::Document& live) {
                                         auto& la = live.GetAllocator();
                                         set_member(object_member(live, "metadata", la), "labels", copy_of(&labels, la),
                                                    la);
                                         set_member(live, "data", copy_of(&data, la), la);
                                         return true;
                                     }),
             "replace Secret cluster-" + c.name);
    }
}

void argocd_simulator::set_cluster_labels(const std::string& cluster, std::map<std::string, std::string> labels) {
    labels[std::string(cluster_secret_label)] = "cluster";
    must(kube::update_with_retry(admin_, "/api/v1/namespaces/" + ns_ + "/secrets/cluster-" + cluster,
                                 [&](rapidjson::Document& live) {
                                     auto& a = live.GetAllocator();
                                     Value l(rapidjson::kObjectType);
                                     for (const auto& [k, v] : labels) l.AddMember(text(k, a), text(v, a), a);
                                     set_member(object_member(live, "metadata", a), "labels", std::move(l), a);
                                     return true;
                                 }),
         "label cluster " + cluster);
}

void argocd_simulator::create_application_set(const std::string& name, const std::string& revision,
                                              const std::map<std::string, std::string>& cluster_labels) {
    appset_ = name;
    // The same ApplicationSet as manifests/samples/applicationset.yaml, with the revision given.
    const std::string spec = R"({"generators":[{"clusters":{"selector":{"matchLabels":{")" +
                             std::string(cluster_secret_label) + R"(":"cluster"}}}}],
        "template":{"metadata":{"name":")" +
                             application_name_prefix(name) + R"(-{{name}}"},
        "spec":{"project":"default",
          "source":{"repoURL":"https://github.com/argoproj/argocd-example-apps.git","targetRevision":")" +
                             revision +
                             R"(","path":"guestbook"},
          "destination":{"server":"{{server}}","namespace":"guestbook"},
          "syncPolicy":{"automated":{"prune":true,"selfHeal":true},"syncOptions":["CreateNamespace=true"]}}}})";
    rapidjson::Document spec_doc;
    spec_doc.Parse(spec.c_str());
    if (spec_doc.HasParseError()) throw std::logic_error("ApplicationSet template is not JSON");
    {
        auto& sa = spec_doc.GetAllocator();
        Value& match =
            const_cast<Value&>(*codec::find_path(spec_doc["generators"][0], {"clusters", "selector", "matchLabels"}));
        for (const auto& [k, v] : cluster_labels) set_member(match, k, text(v, sa), sa);
    }

    rapidjson::Document appset(rapidjson::kObjectType);
    auto& a = appset.GetAllocator();
    appset.AddMember("apiVersion", "argoproj.io/v1alpha1", a);
    appset.AddMember("kind", "ApplicationSet", a);
    Value& meta = object_member(appset, "metadata", a);
    meta.AddMember("name", text(name, a), a);
    meta.AddMember("namespace", text(ns_, a), a);
    appset.AddMember("spec", copy_of(&spec_doc, a), a);
    const std::string collection = "/apis/argoproj.io/v1alpha1/namespaces/" + ns_ + "/applicationsets";
    auto created = admin_.create(collection, kube::to_json(appset));
    if (!created) {
        if (!created.error().is_already_exists())
            throw std::runtime_error("create ApplicationSet " + name + ": " + created.error().describe());
        must(kube::update_with_retry(admin_, application_set_path(),
                                     [&](rapidjson::Document& live) {
                                         set_member(live, "spec", copy_of(&spec_doc, live.GetAllocator()),
                                                    live.GetAllocator());
                                         return true;
                                     }),
             "replace ApplicationSet " + name);
    }
    refresh();
}

void argocd_simulator::attach_application_set(const std::string& name) {
    appset_ = name;
}

void argocd_simulator::set_template_revision(const std::string& revision) {
    must(kube::update_with_retry(
             admin_, application_set_path(),
             [&](rapidjson::Document& live) {
                 Value* source = const_cast<Value*>(codec::find_path(live, {"spec", "template", "spec", "source"}));
                 if (!source || !source->IsObject())
                     throw std::runtime_error("ApplicationSet " + appset_ + " has no template source");
                 set_member(*source, "targetRevision", text(revision, live.GetAllocator()), live.GetAllocator());
                 return true;
             }),
         "set template revision of " + appset_);
    refresh();
}

void argocd_simulator::set_template_helm_values(const std::string& values) {
    must(kube::update_with_retry(
             admin_, application_set_path(),
             [&](rapidjson::Document& live) {
                 Value* source = const_cast<Value*>(codec::find_path(live, {"spec", "template", "spec", "source"}));
                 if (!source || !source->IsObject())
                     throw std::runtime_error("ApplicationSet " + appset_ + " has no template source");
                 auto& a = live.GetAllocator();
                 Value helm(rapidjson::kObjectType);
                 helm.AddMember("values", text(values, a), a);
                 set_member(*source, "helm", std::move(helm), a);
                 return true;
             }),
         "set template helm values of " + appset_);
    refresh();
}

int argocd_simulator::refresh() {
    if (appset_.empty()) throw std::logic_error("refresh: no ApplicationSet (create or attach one first)");
    const auto appset = must(appset_controller_.get(application_set_path()), "get ApplicationSet " + appset_);
    const std::string uid = codec::string_at(appset, {"metadata", "uid"});
    const Value* templ = codec::find_path(appset, {"spec", "template"});
    if (!templ || !templ->IsObject()) throw std::runtime_error("ApplicationSet " + appset_ + " has no template");

    // Argo CD's cluster generator reads the Secrets with the ApplicationSet controller's own
    // access; the test RBAC gives that actor none, so the simulator reads them as admin.
    auto secrets = list_all(
        admin_, "/api/v1/namespaces/" + ns_ + "/secrets?labelSelector=" + kube::query_escape(label_selector_of(appset)),
        "list cluster Secrets");
    std::vector<core::cluster> clusters;
    for (const auto& s : secrets) {
        if (auto c = codec::decode_cluster_secret(s)) clusters.push_back(std::move(*c));
    }
    std::sort(clusters.begin(), clusters.end(), [](const auto& x, const auto& y) { return x.name < y.name; });

    int writes = 0;
    for (const auto& c : clusters) {
        rapidjson::Document app(rapidjson::kObjectType);
        auto& a = app.GetAllocator();
        Value generated;
        generated.CopyFrom(*templ, a);
        substitute(generated, c.name, c.server, a);
        app.AddMember("apiVersion", "argoproj.io/v1alpha1", a);
        app.AddMember("kind", "Application", a);
        Value& meta = object_member(app, "metadata", a);
        if (const Value* m = codec::find_path(generated, {"metadata"}); m && m->IsObject()) meta.CopyFrom(*m, a);
        set_member(meta, "namespace", text(ns_, a), a);
        Value owner(rapidjson::kObjectType);
        owner.AddMember("apiVersion", "argoproj.io/v1alpha1", a);
        owner.AddMember("kind", "ApplicationSet", a);
        owner.AddMember("name", text(appset_, a), a);
        owner.AddMember("uid", text(uid, a), a);
        owner.AddMember("controller", true, a);
        Value owners(rapidjson::kArrayType);
        owners.PushBack(owner, a);
        set_member(meta, "ownerReferences", std::move(owners), a);
        Value spec = copy_of(codec::find_path(generated, {"spec"}), a);
        app.AddMember("spec", spec, a);
        const std::string name = codec::string_at(app, {"metadata", "name"});

        auto created = appset_controller_.create(applications_path(), kube::to_json(app));
        if (created) {
            ++writes;
            continue;
        }
        if (!created.error().is_already_exists())
            throw std::runtime_error("create Application " + name + ": " + created.error().describe());
        // As Argo CD's ApplicationSet controller: the spec is the template's, wholesale; the
        // webhook turns this write into a hold, and the next reconcile writes it again.
        const Value& desired = app["spec"];
        bool wrote = false;
        must(kube::update_with_retry(appset_controller_, applications_path() + "/" + name,
                                     [&](rapidjson::Document& live) {
                                         const Value* live_spec = codec::find_path(live, {"spec"});
                                         wrote = !same(live_spec, &desired);
                                         if (wrote)
                                             set_member(live, "spec", copy_of(&desired, live.GetAllocator()),
                                                        live.GetAllocator());
                                         return wrote;
                                     }),
             "update Application " + name);
        writes += wrote ? 1 : 0;
    }

    if (const Value* annotations = codec::find_path(appset, {"metadata", "annotations"});
        annotations && annotations->IsObject() && annotations->HasMember(appset_refresh_annotation.data())) {
        must(appset_controller_.merge_patch(
                 application_set_path(),
                 R"({"metadata":{"annotations":{")" + std::string(appset_refresh_annotation) + R"(":null}}})"),
             "clear the refresh annotation of " + appset_);
    }
    return writes;
}

std::map<std::string, std::string> argocd_simulator::clusters_by_server() {
    std::map<std::string, std::string> out;
    for (const auto& s : list_all(admin_,
                                  "/api/v1/namespaces/" + ns_ + "/secrets?labelSelector=" +
                                      kube::query_escape(std::string(cluster_secret_label) + "=cluster"),
                                  "list cluster Secrets")) {
        if (auto c = codec::decode_cluster_secret(s)) out[c->server] = c->name;
    }
    return out;
}

bool argocd_simulator::play_until(const std::function<bool()>& done, std::chrono::milliseconds timeout,
                                  play_options options) {
    const auto start = std::chrono::steady_clock::now();
    auto last_refresh = start;
    for (auto next = start;; next += options.tick) {
        step_application_controller(std::chrono::system_clock::now());
        if (options.refresh_every > std::chrono::milliseconds::zero() &&
            std::chrono::steady_clock::now() - last_refresh >= options.refresh_every) {
            refresh();
            last_refresh = std::chrono::steady_clock::now();
        }
        if (done()) return true;
        if (std::chrono::steady_clock::now() - start >= timeout) return false;
        // Pacing of the simulated controllers' reconcile loop, not a wait for a result: the
        // condition above is what the caller waits on.
        std::this_thread::sleep_until(next + options.tick);
    }
}

std::vector<application_view> argocd_simulator::applications() {
    const auto servers = clusters_by_server();
    std::vector<application_view> views;
    for (const auto& app : list_all(app_controller_, applications_path(), "list Applications")) {
        if (!appset_.empty() && !owned_by(app, appset_)) continue;
        application_view v;
        v.name = codec::string_at(app, {"metadata", "name"});
        const std::string server = codec::string_at(app, {"spec", "destination", "server"});
        v.cluster = servers.contains(server) ? servers.at(server) : server;
        v.target_revision = codec::string_at(app, {"spec", "source", "targetRevision"});
        v.helm_values = codec::string_at(app, {"spec", "source", "helm", "values"});
        v.sync = codec::string_at(app, {"status", "sync", "status"});
        if (v.sync == "Synced")
            v.synced_revision = codec::string_at(app, {"status", "sync", "comparedTo", "source", "targetRevision"});
        v.resolved_revision = codec::string_at(app, {"status", "sync", "revision"});
        v.running_revision = codec::string_at(app, {"status", "operationState", "syncResult", "revision"});
        v.health = codec::string_at(app, {"status", "health", "status"});
        v.operation_phase = codec::string_at(app, {"status", "operationState", "phase"});
        v.auto_sync = auto_sync_on(app);
        const Value* annotations = codec::find_path(app, {"metadata", "annotations"});
        if (annotations && annotations->IsObject()) {
            v.pending_hash = codec::string_at(*annotations, {core::pending_hash_annotation});
            v.held = !v.pending_hash.empty() || annotations->HasMember(core::pending_spec_annotation.data());
        }
        views.push_back(std::move(v));
    }
    std::sort(views.begin(), views.end(),
              [](const auto& x, const auto& y) { return std::tie(x.cluster, x.name) < std::tie(y.cluster, y.name); });
    return views;
}

std::vector<std::string> argocd_simulator::updates(const std::string& revision) const {
    auto it = updates_.find(revision);
    return it == updates_.end() ? std::vector<std::string>{} : it->second;
}

}  // namespace apr::sim
