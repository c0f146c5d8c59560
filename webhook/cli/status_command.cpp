// `status`: where every rollout stands, read from the API server. render_status() is the pure
// view (status_command.hpp); run_status() fetches, prints, and with --watch redraws until the
// rollout ends.

#include "cli/status_command.hpp"

#include "cli/commands.hpp"
#include "cli/flags.hpp"
#include "codec/rollout_codec.hpp"
#include "codec/time_format.hpp"
#include "core/revisions.hpp"
#include "kube/api_paths.hpp"
#include "kube/client.hpp"
#include "kube/config.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

namespace apr::cli {

namespace {

using namespace std::chrono_literals;

std::string age(core::duration d) {
    return core::format_duration(std::max(std::chrono::duration_cast<std::chrono::seconds>(d), 0s));
}

// "[######>>>>.........]": done clusters, then in-flight ones, then the rest.
std::string progress_bar(std::size_t done, std::size_t updating, std::size_t total, std::size_t width = 20) {
    std::string bar = "[";
    const std::size_t filled = total ? done * width / total : 0;
    const std::size_t busy = total ? std::min(width - filled, (done + updating) * width / total - filled) : 0;
    bar.append(filled, '#');
    bar.append(busy, '>');
    bar.append(width - filled - busy, '.');
    return bar + "]";
}

// Long stages would flood the terminal: name the first few, count the rest.
std::string name_list(const std::vector<std::string>& names, std::size_t limit = 8) {
    std::string out;
    for (std::size_t i = 0; i < names.size() && i < limit; ++i) out += (i ? ", " : "") + names[i];
    if (names.size() > limit) out += ", ... (+" + std::to_string(names.size() - limit) + " more)";
    return out;
}

const core::stage_spec* spec_of(const core::rollout& r, const std::string& stage) {
    for (const auto& s : r.spec.stages) {
        if (s.name == stage) return &s;
    }
    return nullptr;
}

// One gate of a stage: its phase, measurements, when the next is due, and why.
void render_gate(std::ostringstream& out, const core::gate_status& g, core::time_point now) {
    out << "      gate " << g.name << ": " << core::to_string(g.phase);
    if (g.taken) out << ", " << g.taken << " measurement(s)";
    if (g.next_at && (g.phase == core::gate_phase::running || g.phase == core::gate_phase::pending))
        out << ", next " << (*g.next_at > now ? "in " + age(*g.next_at - now) : std::string("due"));
    if (!g.decided_by.empty()) out << ", decided by " << g.decided_by;
    if (!g.message.empty()) out << ": " << g.message;
    out << "\n";
}

void render_stage(std::ostringstream& out, const core::rollout& r, std::size_t index, const core::stage_status& stage,
                  core::time_point now) {
    std::size_t done = 0, updating = 0;
    std::vector<std::string> done_names, pending_names;
    for (const auto& c : stage.clusters) {
        if (c.phase == core::cluster_phase::done) {
            ++done;
            done_names.push_back(c.name);
        } else if (c.phase == core::cluster_phase::updating) {
            ++updating;
        } else if (c.phase == core::cluster_phase::pending) {
            pending_names.push_back(c.name);
        }
    }
    std::string title = std::to_string(index + 1) + " " + stage.name;
    if (title.size() < 24) title.resize(24, ' ');
    out << "  " << title << " " << progress_bar(done, updating, stage.clusters.size()) << " " << done << "/"
        << stage.clusters.size() << "  " << core::to_string(stage.phase);
    if (stage.phase == core::stage_phase::baking && stage.bake_until)
        out << ", " << age(*stage.bake_until - now) << " bake time left";
    if (stage.started_at && stage.finished_at)
        out << " (took " << age(*stage.finished_at - *stage.started_at) << ")";
    else if (stage.started_at)
        out << " (started " << age(now - *stage.started_at) << " ago)";
    out << "\n";
    if (!stage.message.empty()) out << "      " << stage.message << "\n";
    for (const auto& g : stage.gates) render_gate(out, g, now);

    const auto* spec = spec_of(r, stage.name);
    for (const auto& c : stage.clusters) {
        switch (c.phase) {
            case core::cluster_phase::updating:
                out << "      Updating   " << c.name;
                if (c.admitted_at) out << " (admitted " << age(now - *c.admitted_at) << " ago)";
                if (!c.message.empty()) out << ": " << c.message;
                out << "\n";
                break;
            case core::cluster_phase::requeued: {
                out << "      Requeued   " << c.name << " (attempt " << c.attempts;
                if (spec && spec->requeue && spec->requeue->attempts) out << "/" << *spec->requeue->attempts;
                if (c.next_attempt_at) {
                    out << ", next try ";
                    out << (*c.next_attempt_at > now ? "in " + age(*c.next_attempt_at - now) : std::string("due"));
                    out << " at " << codec::format_time(*c.next_attempt_at);
                }
                out << ")";
                if (!c.message.empty()) out << ": " << c.message;
                out << "\n";
                break;
            }
            case core::cluster_phase::failed:
                out << "      Failed     " << c.name << (c.message.empty() ? "" : ": " + c.message) << "\n";
                break;
            case core::cluster_phase::held:
                out << "      Held       " << c.name << (c.message.empty() ? "" : ": " + c.message) << "\n";
                break;
            case core::cluster_phase::rolled_back:
                out << "      RolledBack " << c.name << "\n";
                break;
            default:
                break;
        }
    }
    if (!done_names.empty()) out << "      Done       " << name_list(done_names) << "\n";
    if (!pending_names.empty()) out << "      Pending    " << name_list(pending_names) << "\n";
}

// trackRevisions (docs/controller.md, "Moving revisions"): each commit the pass rolls out ("rev:R"
// records), the clusters that run it, and those syncing to it.
void render_revisions(std::ostringstream& out, const core::rollout_status& st) {
    std::map<std::string, std::pair<std::vector<std::string>, std::vector<std::string>>> by_revision;
    for (const auto& s : st.stages)
        for (const auto& c : s.clusters) {
            std::set<std::string> keys;
            if (c.application_hashes.empty()) keys.insert(c.hash);
            for (const auto& [app, key] : c.application_hashes) keys.insert(key);
            for (const auto& key : keys) {
                if (!key.starts_with(core::revision_key_prefix)) continue;
                auto& [runs, syncing] = by_revision[key.substr(core::revision_key_prefix.size())];
                if (c.phase == core::cluster_phase::done) runs.push_back(c.name);
                if (c.phase == core::cluster_phase::updating) syncing.push_back(c.name);
            }
        }
    for (const auto& [revision, clusters] : by_revision) {
        const auto& [runs, syncing] = clusters;
        out << "  Revision:  " << revision << ": runs on " << runs.size() << " cluster(s)"
            << (runs.empty() ? "" : " (" + name_list(runs) + ")");
        if (!syncing.empty()) out << "; syncing " << name_list(syncing);
        out << "\n";
    }
}

}  // namespace

std::string render_status(const core::rollout& r, core::time_point now) {
    const auto& st = r.status;
    std::ostringstream out;
    out << "ProgressiveRollout " << (r.namespace_.empty() ? "" : r.namespace_ + "/") << r.name << " (ApplicationSet "
        << (r.spec.source.name.empty() ? "?" : r.spec.source.name) << ")\n";
    out << "  Phase:     " << core::to_string(st.phase);
    if (st.pass) out << ", pass " << st.pass;
    if (r.spec.paused) out << " (spec.paused: no new cluster is admitted)";
    if (st.observed_generation && r.generation && st.observed_generation != r.generation)
        out << " (status is for generation " << st.observed_generation << " of " << r.generation << ")";
    out << "\n";
    if (!st.current_stage.empty()) {
        out << "  Stage:     " << st.current_stage;
        for (std::size_t i = 0; i < st.stages.size(); ++i) {
            if (st.stages[i].name != st.current_stage) continue;
            out << " (" << i + 1 << "/" << st.stages.size() << ")";
            if (st.stages[i].started_at) out << ", for " << age(now - *st.stages[i].started_at);
        }
        out << "\n";
    }
    out << "  Progress:  " << st.clusters_done() << "/" << st.clusters_total() << " clusters done\n";
    render_revisions(out, st);
    if (!st.message.empty()) out << "  Message:   " << st.message << "\n";
    if (st.window_opens_at)
        out << "  Window:    closed; the next window opens at " << codec::format_time(*st.window_opens_at) << " (in "
            << age(*st.window_opens_at - now) << ")\n";
    out << "\n";

    if (st.stages.empty()) {
        // Nothing planned yet (no status, or no pass started): show the stages the spec names.
        for (std::size_t i = 0; i < r.spec.stages.size(); ++i)
            out << "  " << i + 1 << " " << r.spec.stages[i].name << "  (not started)\n";
    }
    for (std::size_t i = 0; i < st.stages.size(); ++i) render_stage(out, r, i, st.stages[i], now);

    if (!st.unstaged_clusters.empty())
        out << "\n  Unstaged:  " << name_list(st.unstaged_clusters)
            << " (no stage selects them: held, never updated)\n";
    if (!st.holds.empty()) {
        out << "\n  Holds:\n";
        for (const auto& h : st.holds) {
            out << "    " << h.cluster << ": " << h.reason << " (by " << h.by;
            if (h.until) out << ", until " << codec::format_time(*h.until) << ", " << age(*h.until - now) << " left";
            out << ")\n";
        }
    }
    if (!st.requests.empty()) {
        out << "\n  Requests (latest last):\n";
        const auto first = st.requests.size() > 3 ? st.requests.size() - 3 : 0;
        for (auto i = first; i < st.requests.size(); ++i) {
            const auto& q = st.requests[i];
            out << "    " << codec::format_time(q.at) << " " << q.verb << " by " << q.user
                << (q.reason.empty() ? "" : " (" + q.reason + ")") << ": " << (q.refused ? "refused: " : "") << q.result
                << "\n";
        }
    }
    if (!st.conditions.empty()) {
        out << "\n  Conditions:\n";
        for (const auto& c : st.conditions) {
            std::string type = c.type;
            if (type.size() < 12) type.resize(12, ' ');
            out << "    " << type << " " << c.status;
            if (!c.reason.empty()) out << "  " << c.reason;
            if (!c.message.empty()) out << ": " << c.message;
            if (c.last_transition_time != core::time_point{})
                out << " (" << age(now - c.last_transition_time) << " ago)";
            out << "\n";
        }
    }
    return out.str();
}

namespace {

struct status_flags {
    std::string name;
    std::string ns = "argocd";
    std::string kubeconfig;
    bool watch = false;
    std::optional<core::duration> timeout;
};

struct fetch_result {
    std::vector<core::rollout> rollouts;
    std::string error;  // API or transport failure
    bool not_found = false;
};

fetch_result fetch(kube::client& client, const status_flags& f) {
    fetch_result out;
    if (!f.name.empty()) {
        auto object = client.get(kube::rollout_path(f.ns, f.name));
        if (!object) {
            out.not_found = object.error().is_not_found();
            out.error = object.error().describe();
            return out;
        }
        out.rollouts.push_back(codec::decode_rollout(*object).rollout);
        return out;
    }
    // Decoded inside the callback: LIST pages are parsed in situ and do not outlive it.
    auto listed = client.list(kube::rollouts_path(f.ns), 100, [&](const rapidjson::Value& item) {
        auto r = codec::decode_rollout(item).rollout;
        if (r.namespace_.empty()) r.namespace_ = f.ns;
        out.rollouts.push_back(std::move(r));
    });
    if (!listed) out.error = listed.error().describe();
    std::sort(out.rollouts.begin(), out.rollouts.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return out;
}

std::string render_all(const fetch_result& fetched, const status_flags& f, core::time_point now) {
    if (fetched.rollouts.empty()) return "No ProgressiveRollouts in namespace " + f.ns + ".\n";
    std::string text;
    for (const auto& r : fetched.rollouts) {
        if (!text.empty()) text += '\n';  // appended in place: g++ 12 -O3 warns -Wrestrict otherwise
        text += render_status(r, now);
    }
    return text;
}

// What --watch compares to decide that something changed (ages alone do not count off a TTY).
std::string fingerprint(const fetch_result& fetched) {
    std::string key = fetched.error;
    for (const auto& r : fetched.rollouts)
        key +=
            r.name + "\n" + std::to_string(r.generation) + (r.spec.paused ? "p" : "") + codec::encode_status(r.status);
    return key;
}

}  // namespace

int run_status(const arguments& args) {
    command_line line(
        "status", "status [NAME] [-n NAMESPACE] [--watch [--timeout D]] [--kubeconfig FILE]",
        "Shows where ProgressiveRollouts stand: every stage with its clusters, requeues, bake time,\n"
        "holds, unstaged clusters, the latest operator requests and the conditions. Without NAME:\n"
        "every rollout in the namespace.\n"
        "Exit codes: 0 shown (or Completed with --watch), 1 not found / stopped / API error, 2 bad usage.");
    cluster_flags cluster;
    status_flags parsed;
    std::string timeout;
    add_cluster_flags(line.options, cluster);
    line.options.add_options()("watch,w", po::bool_switch(&parsed.watch),
                               "redraw on change; exit 0 when Completed, 1 when Failed, Aborted or RolledBack")(
        "timeout", po::value(&timeout), "with --watch: give up after this long (e.g. 10m) with exit 1; default: never");
    line.hidden.add_options()("name", po::value(&parsed.name), "the ProgressiveRollout");
    line.positional.add("name", 1);
    po::variables_map vm;
    if (int code = line.parse(args, vm); code >= 0) return code;
    parsed.ns = cluster.namespace_;
    parsed.kubeconfig = cluster.kubeconfig;
    if (!timeout.empty()) {
        parsed.timeout = core::parse_duration(timeout);
        if (!parsed.timeout || *parsed.timeout <= core::duration::zero()) {
            std::cerr << "status: --timeout: expected a positive duration such as 90s or 10m\n";
            return 2;
        }
    }
    const auto flags = &parsed;
    std::unique_ptr<kube::client> client;
    try {
        client = std::make_unique<kube::client>(kube::load_config(flags->kubeconfig));
    } catch (const std::exception& e) {
        std::cerr << "status: " << e.what() << "\n";
        return 1;
    }
    auto now = [] { return std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now()); };

    if (!flags->watch) {
        const auto fetched = fetch(*client, *flags);
        if (!fetched.error.empty()) {
            std::cerr << "status: "
                      << (fetched.not_found ? "ProgressiveRollout " + flags->ns + "/" + flags->name + " not found"
                                            : fetched.error)
                      << "\n";
            return 1;
        }
        std::cout << render_all(fetched, *flags, now());
        return 0;
    }

    // --watch polls once a second: one GET is cheap, and unlike a watch it needs no resume
    // logic; a TTY is redrawn in place every second (ages move), a pipe gets a new block only
    // when the status changed.
    const bool tty = isatty(STDOUT_FILENO);
    std::string last;
    const auto started = std::chrono::steady_clock::now();
    for (auto next = started;; next += 1s) {
        const auto fetched = fetch(*client, *flags);
        const auto t = now();
        std::string text =
            fetched.error.empty() ? render_all(fetched, *flags, t) : "status: " + fetched.error + " (retrying)\n";
        const std::string key = fingerprint(fetched);
        if (tty) {
            std::cout << "\x1b[H\x1b[2J" << codec::format_time(t) << "  (watching; Ctrl-C to stop)\n\n"
                      << text << std::flush;
        } else if (key != last) {
            std::cout << "--- " << codec::format_time(t) << "\n" << text << std::flush;
        }
        last = key;
        if (fetched.error.empty() && !fetched.rollouts.empty()) {
            bool all_completed = true, any_failed = false;
            for (const auto& r : fetched.rollouts) {
                all_completed = all_completed && r.status.phase == core::rollout_phase::completed;
                any_failed = any_failed || core::stopped(r.status.phase);
            }
            if (any_failed) return 1;
            if (all_completed) return 0;
        }
        if (flags->timeout && std::chrono::steady_clock::now() - started >= *flags->timeout) {
            std::cerr << "status: not Completed after " << core::format_duration(*flags->timeout) << "\n";
            return 1;
        }
        std::this_thread::sleep_until(next + 1s);
    }
}

}  // namespace apr::cli
