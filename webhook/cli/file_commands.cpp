// `validate` and `plan`: offline commands over files, using exactly the webhook's rules.

#include "cli/commands.hpp"
#include "cli/flags.hpp"
#include "codec/json_reader.hpp"
#include "codec/kube_objects.hpp"
#include "codec/rollout_codec.hpp"
#include "core/fleet_state.hpp"
#include "kube/api_paths.hpp"
#include "kube/client.hpp"
#include "kube/config.hpp"
#include "core/planner.hpp"
#include "core/validation.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <set>
#include <iostream>
#include <map>

namespace apr::cli {

namespace {

struct loaded_rollout {
    std::string file;
    codec::decoded_rollout decoded;
};

// Reads every ProgressiveRollout from the files; nullopt (after printing why) when a file is unreadable.
std::optional<std::vector<loaded_rollout>> load_rollouts(const arguments& files) {
    std::vector<loaded_rollout> out;
    for (const auto& file : files) {
        try {
            auto objects = codec::parse_objects(read_file(file));
            for (const auto& object : objects) {
                const auto kind = codec::string_at(object, {"kind"});
                if (kind != core::rollout_kind) {
                    std::cerr << file << ": skipping " << (kind.empty() ? "an object without kind" : kind)
                              << ": not a ProgressiveRollout\n";
                    continue;
                }
                out.push_back({file, codec::decode_rollout(object)});
            }
        } catch (const std::exception& e) {
            std::cerr << "error: " << (std::string_view(e.what()).starts_with(file) ? "" : file + ": ") << e.what()
                      << "\n";
            return std::nullopt;
        }
    }
    return out;
}

std::vector<core::rollout_reference> references(const std::vector<loaded_rollout>& all, const std::string& namespace_) {
    std::vector<core::rollout_reference> refs;
    for (const auto& r : all)
        if (r.decoded.rollout.namespace_ == namespace_)
            refs.push_back({r.decoded.rollout.name, r.decoded.rollout.spec.source.name});
    return refs;
}

// Validates one decoded rollout against the others given; returns the errors (decode + rules).
core::validation_result check(const loaded_rollout& r, const std::vector<loaded_rollout>& all,
                              const std::vector<core::cluster>* clusters) {
    core::validation_context context;
    context.name = r.decoded.rollout.name;
    context.others = references(all, r.decoded.rollout.namespace_);
    if (clusters) {
        context.clusters_known = true;
        context.clusters = *clusters;
    }
    return core::validate(r.decoded.rollout.spec, r.decoded.errors, context);
}

std::string label(const loaded_rollout& r) {
    return r.file + ": ProgressiveRollout " + core::quote(r.decoded.rollout.name);
}

}  // namespace

int run_validate(const arguments& args) {
    command_line line("validate", "validate FILE...",
                      "Validates ProgressiveRollout objects (YAML, multi-document YAML, JSON or a List) with the\n"
                      "validating webhook's rules, including one ApplicationSet per rollout across the files.\n"
                      "Exit status: 0 valid, 1 invalid, 2 unreadable input.");
    arguments files;
    line.hidden.add_options()("file", po::value(&files)->required(), "files");
    line.positional.add("file", -1);
    po::variables_map vm;
    if (int code = line.parse(args, vm); code >= 0) return code;
    auto rollouts = load_rollouts(files);
    if (!rollouts) return 2;
    bool valid = true;
    for (const auto& r : *rollouts) {
        auto result = check(r, *rollouts, nullptr);
        for (const auto& w : result.warnings) std::cout << label(r) << ": warning: " << w << "\n";
        for (const auto& e : result.errors) std::cout << label(r) << ": " << e.to_string() << "\n";
        if (result.ok())
            std::cout << label(r) << " is valid\n";
        else
            valid = false;
    }
    if (rollouts->empty()) std::cerr << "warning: no ProgressiveRollout found\n";
    return valid ? 0 : 1;
}

namespace {

void write_names(rapidjson::Writer<rapidjson::StringBuffer>& w, const std::vector<std::string>& names) {
    w.StartArray();
    for (const auto& n : names) w.String(n.data(), static_cast<rapidjson::SizeType>(n.size()));
    w.EndArray();
}

// trackRevisions, `plan --live`: per cluster, the commit Argo CD resolved its Application(s) to and
// the one it runs (several Applications: joined with ';').
struct cluster_revisions {
    std::string resolved, running;
};
using fleet_revisions = std::map<std::string, cluster_revisions>;

std::string plan_json(const core::rollout_plan& plan, const fleet_revisions& revisions) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    w.Key("stages");
    w.StartArray();
    for (const auto& s : plan.stages) {
        w.StartObject();
        w.Key("name");
        w.String(s.name.data(), static_cast<rapidjson::SizeType>(s.name.size()));
        w.Key("clusters");
        write_names(w, s.clusters);
        w.Key("waves");
        w.StartArray();
        for (const auto& wave : s.waves) write_names(w, wave);
        w.EndArray();
        w.Key("requeued");
        write_names(w, s.requeued);
        w.EndObject();
    }
    w.EndArray();
    w.Key("unstaged");
    write_names(w, plan.unstaged);
    if (!revisions.empty()) {
        w.Key("revisions");
        w.StartObject();
        for (const auto& [cluster, r] : revisions) {
            w.Key(cluster.data(), static_cast<rapidjson::SizeType>(cluster.size()));
            w.StartObject();
            w.Key("resolved");
            w.String(r.resolved.data(), static_cast<rapidjson::SizeType>(r.resolved.size()));
            w.Key("running");
            w.String(r.running.data(), static_cast<rapidjson::SizeType>(r.running.size()));
            w.EndObject();
        }
        w.EndObject();
    }
    w.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

std::string join(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
    return out;
}

// "error-rate: During, per cluster, Prometheus, every 1m" for the plan.
std::string describe_gate(const core::gate_spec& g) {
    std::string out = g.name + ": " + std::string(core::to_string(g.when));
    out += g.scope == core::gate_scope::cluster ? ", per cluster" : ", per stage";
    if (g.prometheus) out += ", Prometheus query, thresholdRange";
    if (g.prometheus && g.prometheus->threshold.min) out += " min " + std::to_string(*g.prometheus->threshold.min);
    if (g.prometheus && g.prometheus->threshold.max) out += " max " + std::to_string(*g.prometheus->threshold.max);
    if (g.webhook) out += ", webhook " + g.webhook->url;
    if (g.approval)
        out += ", approval" + (g.approval->groups.empty() ? std::string() : " by " + join(g.approval->groups));
    if (!g.approval) {
        out += ", every " + g.interval.text;
        if (g.when != core::gate_timing::during) out += ", " + std::to_string(g.count) + " measurement(s)";
    }
    if (g.dry_run) out += " (dryRun)";
    return out;
}

void print_plan_text(std::ostream& out, const core::rollout& r, const core::rollout_plan& plan, std::size_t fleet) {
    out << "ProgressiveRollout " << (r.namespace_.empty() ? "" : r.namespace_ + "/") << r.name << " -> ApplicationSet "
        << r.spec.source.name << " (" << fleet << " clusters)\n";
    for (std::size_t i = 0; i < plan.stages.size(); ++i) {
        const auto& s = plan.stages[i];
        out << "\nstage " << i + 1 << ": " << s.name << "  (" << s.clusters.size() << " cluster"
            << (s.clusters.size() == 1 ? "" : "s") << ", " << s.max_unavailable << " at a time)\n";
        if (s.clusters.empty()) out << "  (no cluster)\n";
        for (std::size_t k = 0; k < s.waves.size(); ++k) out << "  wave " << k + 1 << ": " << join(s.waves[k]) << "\n";
        if (!s.requeued.empty())
            out << "  requeued now (matching the requeue selector, moved last): " << join(s.requeued) << "\n";
        if (i < r.spec.stages.size())
            for (const auto& g : r.spec.stages[i].gates) out << "  gate " << describe_gate(g) << "\n";
    }
    out << "\nunstaged (held, never updated): " << (plan.unstaged.empty() ? "none" : join(plan.unstaged)) << "\n";
}

// "c0ffee2 (resolved on 8 clusters, rolling out): runs on a, b": each commit, newest resolved first.
void print_revisions_text(std::ostream& out, const fleet_revisions& revisions) {
    if (revisions.empty()) return;
    std::map<std::string, std::pair<std::size_t, std::vector<std::string>>> by_commit;
    for (const auto& [cluster, r] : revisions) {
        if (!r.resolved.empty()) ++by_commit[r.resolved].first;
        if (!r.running.empty()) by_commit[r.running].second.push_back(cluster);
    }
    out << "\nrevisions (trackRevisions):\n";
    for (const auto& [commit, seen] : by_commit) {
        const auto& [resolved, runs] = seen;
        out << "  " << commit;
        if (resolved)
            out << " (resolved on " << resolved << " cluster(s)" << (resolved > runs.size() ? ", rolling out" : "")
                << ")";
        out << ": runs on " << (runs.empty() ? "no cluster" : join(runs)) << "\n";
    }
}

}  // namespace

namespace {

// The rollout and the cluster Secrets as they are in the cluster now (`plan --live`).
std::optional<std::pair<loaded_rollout, std::vector<core::cluster>>> load_live(const std::string& name,
                                                                               const std::string& namespace_,
                                                                               const std::string& kubeconfig,
                                                                               fleet_revisions& revisions) {
    kube::client client(kube::load_config(kubeconfig));
    const std::string where = "ProgressiveRollout " + namespace_ + "/" + name;
    auto object = client.get(kube::rollout_path(namespace_, name));
    if (!object) {
        std::cerr << "error: " << where << ": " << object.error().describe() << "\n";
        return std::nullopt;
    }
    loaded_rollout rollout{namespace_ + " (live)", codec::decode_rollout(object.value())};
    std::vector<core::cluster> clusters;
    auto listed = client.list(kube::secrets_path(namespace_) +
                                  "?labelSelector=" + kube::query_escape(std::string(codec::cluster_secret_selector)),
                              500, [&](const rapidjson::Value& secret) {
                                  if (auto c = codec::decode_cluster_secret(secret)) clusters.push_back(std::move(*c));
                              });
    if (!listed) {
        std::cerr << "error: listing cluster Secrets in " << namespace_ << ": " << listed.error().describe() << "\n";
        return std::nullopt;
    }
    // Plan over the clusters that host the ApplicationSet's Applications, as the controller does;
    // before any exists, over every cluster Secret.
    const auto state = core::build_fleet_state({}, clusters);
    std::set<std::string> hosting;
    auto apps = client.list(kube::applications_path(namespace_), 500, [&](const rapidjson::Value& object) {
        auto app = codec::decode_application(object);
        const auto& source = rollout.decoded.rollout.spec.source.name;
        if (std::find(app.application_sets.begin(), app.application_sets.end(), source) == app.application_sets.end())
            return;
        const auto cluster = state.admission.resolve_cluster(app.destination_server, app.destination_name);
        hosting.insert(cluster);
        if (rollout.decoded.rollout.spec.track_revisions) {
            auto& r = revisions[cluster];
            auto add = [](std::string& to, const std::string& revision) { to += (to.empty() ? "" : ";") + revision; };
            add(r.resolved, app.observation.resolved_revision);
            add(r.running, app.observation.running_revision);
        }
    });
    if (!apps) {
        std::cerr << "error: listing Applications in " << namespace_ << ": " << apps.error().describe() << "\n";
        return std::nullopt;
    }
    if (!hosting.empty()) {
        std::erase_if(clusters, [&](const core::cluster& c) { return !hosting.contains(c.name); });
        for (const auto& name : hosting)
            if (std::none_of(clusters.begin(), clusters.end(), [&](const core::cluster& c) { return c.name == name; }))
                clusters.push_back({name, {}, {}});  // no Secret (in-cluster): no labels
    }
    return std::pair{std::move(rollout), std::move(clusters)};
}

}  // namespace

int run_plan(const arguments& args) {
    command_line line("plan",
                      "plan --rollout FILE --clusters FILE [-o text|json]\n"
                      "       " +
                          program_name() + " plan --live NAME [-n NAMESPACE] [--kubeconfig FILE] [-o text|json]",
                      "Shows which cluster goes in which stage and wave, before anything changes.");
    std::string rollout_file, clusters_file, live, output = "text";
    cluster_flags cluster;
    line.options.add_options()("rollout", po::value(&rollout_file), "a ProgressiveRollout (YAML or JSON)")(
        "clusters", po::value(&clusters_file),
        "Argo CD cluster Secrets (YAML/JSON, multi-document or a List, as `kubectl get secret -o yaml` prints "
        "them); only name, server and labels are read")(
        "live", po::value(&live),
        "read the ProgressiveRollout NAME and the cluster Secrets from the API server; the plan covers the "
        "clusters hosting its ApplicationSet's Applications")("output,o", po::value(&output)->default_value(output),
                                                              "text or json");
    add_cluster_flags(line.options, cluster);
    po::variables_map vm;
    if (int code = line.parse(args, vm); code >= 0) return code;
    const auto& namespace_ = cluster.namespace_;
    const auto& kubeconfig = cluster.kubeconfig;
    const bool offline = !rollout_file.empty() && !clusters_file.empty() && live.empty();
    if ((!offline && (live.empty() || !rollout_file.empty() || !clusters_file.empty())) ||
        (output != "text" && output != "json")) {
        std::cerr << "plan: needs --rollout FILE and --clusters FILE, or --live NAME; and -o text or json\n\n"
                  << line.help();
        return 2;
    }
    std::vector<loaded_rollout> rollouts;
    std::vector<core::cluster> clusters;
    fleet_revisions revisions;
    if (offline) {
        auto loaded = load_rollouts({rollout_file});
        if (!loaded) return 2;
        if (loaded->size() != 1) {
            std::cerr << "error: " << rollout_file << ": expected exactly one ProgressiveRollout, found "
                      << loaded->size() << "\n";
            return 2;
        }
        rollouts = std::move(*loaded);
        try {
            for (const auto& object : codec::parse_objects(read_file(clusters_file)))
                if (auto c = codec::decode_cluster_secret(object)) clusters.push_back(std::move(*c));
        } catch (const std::exception& e) {
            std::cerr << "error: " << clusters_file << ": " << e.what() << "\n";
            return 2;
        }
    } else {
        try {
            auto found = load_live(live, namespace_, kubeconfig, revisions);
            if (!found) return 1;
            rollouts.push_back(std::move(found->first));
            clusters = std::move(found->second);
        } catch (const std::exception& e) {  // configuration: no kubeconfig, bad file
            std::cerr << "error: " << e.what() << "\n";
            return 2;
        }
    }
    const auto& r = rollouts.front();
    auto result = check(r, rollouts, &clusters);
    for (const auto& e : result.errors) std::cerr << label(r) << ": " << e.to_string() << "\n";
    if (!result.ok()) return 1;
    for (const auto& w : result.warnings) std::cerr << label(r) << ": warning: " << w << "\n";
    const auto plan = core::make_plan(r.decoded.rollout.spec, clusters);
    if (output == "json")
        std::cout << plan_json(plan, revisions) << "\n";
    else {
        print_plan_text(std::cout, r.decoded.rollout, plan, clusters.size());
        print_revisions_text(std::cout, revisions);
    }
    return 0;
}

}  // namespace apr::cli
