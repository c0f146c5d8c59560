// The operator commands (docs/operations.md, "Operator commands"): pause, resume, promote, abort,
// retry, hold, release. Each is one write to the ProgressiveRollout: `spec.paused` for pause and
// resume, and for every command the annotation deployment.skyscanner.net/request, which the
// webhook stamps with the writer's identity and checks, and the controller carries out and
// records in status. The command then waits until the controller has recorded it.

#include "cli/commands.hpp"
#include "cli/flags.hpp"
#include "cli/operator_write.hpp"
#include "codec/time_format.hpp"
#include "kube/client.hpp"
#include "kube/config.hpp"

#include <chrono>
#include <iostream>
#include <optional>

namespace apr::cli {

namespace {

using namespace std::chrono_literals;

core::time_point now() {
    return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
}

struct request_options {
    cluster_flags cluster;
    std::string name;
    std::string timeout_text = "30s";
};

// The write and the wait for the controller's record (operator_write.hpp). Exit code.
int send(const std::string& command, const request_options& o, core::operator_request request) {
    const auto timeout = core::parse_duration(o.timeout_text);
    if (!timeout || *timeout < core::duration::zero()) {
        std::cerr << command << ": --timeout: expected a duration such as 30s or 2m\n";
        return 2;
    }
    std::unique_ptr<kube::client> client;
    try {
        client = std::make_unique<kube::client>(kube::load_config(o.cluster.kubeconfig));
    } catch (const std::exception& e) {
        std::cerr << command << ": " << e.what() << "\n";
        return 1;
    }
    const auto where = "ProgressiveRollout " + o.cluster.namespace_ + "/" + o.name;
    const auto out = write_request(*client, o.cluster.namespace_, o.name, std::move(request), *timeout);
    switch (out.what) {
        case write_outcome::result::not_written:
            std::cerr << command << ": " << out.message << "\n";
            return 1;
        case write_outcome::result::refused:
            std::cerr << command << ": refused: " << out.message << "\n";
            return 1;
        case write_outcome::result::recorded:
            std::cout << where << ": " << command << " by " << out.user
                      << (out.message.empty() ? "" : ": " + out.message) << "\n";
            return 0;
        case write_outcome::result::written:
            break;
    }
    if (*timeout == core::duration::zero()) {
        std::cout << where << ": " << command << " requested (id " << out.id << ")\n";
        return 0;
    }
    std::cerr << command << ": " << where << ": request " << out.id << " written, but the controller has not "
              << "recorded it within " << o.timeout_text << " (is argocd-progressive-rollout serve running?)\n";
    return 1;
}

// The flags every operator command has: NAME, -n, --kubeconfig, --timeout, --help.
struct operator_command {
    command_line line;
    request_options options;
    po::variables_map vm;

    operator_command(std::string command, std::string usage, std::string summary)
        : line(std::move(command), std::move(usage), std::move(summary)) {
        add_cluster_flags(line.options, options.cluster);
        line.options.add_options()("timeout", po::value(&options.timeout_text)->default_value("30s"),
                                   "wait this long for the controller to record the request (0: do not wait)");
        line.hidden.add_options()("name", po::value(&options.name)->required(), "the ProgressiveRollout");
        line.positional.add("name", 1);
    }
};

}  // namespace

int run_pause(const arguments& args) {
    operator_command c("pause", "pause NAME [-n NAMESPACE] [--reason R]",
                       "Stops admitting new clusters (spec.paused: true); clusters already updating finish.\n"
                       "The rollout's phase becomes Paused; resume continues.");
    core::operator_request q;
    q.verb = core::request_verb::pause;
    c.line.options.add_options()("reason", po::value(&q.reason), "why (recorded in status and the Event)");
    if (int code = c.line.parse(args, c.vm); code >= 0) return code;
    return send("pause", c.options, q);
}

int run_resume(const arguments& args) {
    operator_command c("resume", "resume NAME [-n NAMESPACE] [--reason R]",
                       "Admits clusters again after pause (spec.paused: false).");
    core::operator_request q;
    q.verb = core::request_verb::resume;
    c.line.options.add_options()("reason", po::value(&q.reason), "why (recorded in status and the Event)");
    if (int code = c.line.parse(args, c.vm); code >= 0) return code;
    return send("resume", c.options, q);
}

int run_promote(const arguments& args) {
    operator_command c("promote", "promote NAME [--stage S] [--skip-bake] [-n NAMESPACE] [--reason R]",
                       "Lets the current stage go on past what waits for a person: an approval or an Inconclusive\n"
                       "gate, or with --skip-bake its bake time. Fails (exit 1) when nothing waits for promote.");
    core::operator_request q;
    q.verb = core::request_verb::promote;
    c.line.options.add_options()("stage", po::value(&q.stage), "the stage to promote (default: the current one)")(
        "skip-bake", po::bool_switch(&q.skip_bake), "end the stage's bake time now")(
        "reason", po::value(&q.reason), "why (recorded in status and the Event)");
    if (int code = c.line.parse(args, c.vm); code >= 0) return code;
    return send("promote", c.options, q);
}

int run_abort(const arguments& args) {
    operator_command c("abort", "abort NAME [--rollback] [-n NAMESPACE] [--reason R]",
                       "Stops the current pass: no further cluster is admitted (phase Aborted). With --rollback,\n"
                       "every cluster updated in the pass gets its previous desired state back, all at once, and\n"
                       "the new change stays held (phase RolledBack). retry runs the pass again.");
    core::operator_request q;
    q.verb = core::request_verb::abort;
    c.line.options.add_options()("rollback", po::bool_switch(&q.rollback),
                                 "restore the previous desired state on every cluster updated in the pass")(
        "reason", po::value(&q.reason), "why (recorded in status and the Event)");
    if (int code = c.line.parse(args, c.vm); code >= 0) return code;
    return send("abort", c.options, q);
}

int run_retry(const arguments& args) {
    operator_command c("retry", "retry NAME [-n NAMESPACE] [--reason R]",
                       "Runs a Failed, Aborted or RolledBack pass again: failed clusters get a fresh deadline,\n"
                       "rolled-back clusters are admitted again, and the pass continues.");
    core::operator_request q;
    q.verb = core::request_verb::retry;
    c.line.options.add_options()("reason", po::value(&q.reason), "why (recorded in status and the Event)");
    if (int code = c.line.parse(args, c.vm); code >= 0) return code;
    return send("retry", c.options, q);
}

int run_hold(const arguments& args) {
    operator_command c("hold", "hold NAME CLUSTER --reason R [--until T] [-n NAMESPACE]",
                       "Keeps one cluster out of admission, for a reason, until T (RFC 3339, e.g.\n"
                       "2026-12-01T09:00:00Z, or a duration from now such as 2h) or until release. A held cluster\n"
                       "counts neither done nor failed and does not block later stages.");
    core::operator_request q;
    q.verb = core::request_verb::hold;
    std::string until;
    c.line.options.add_options()("reason", po::value(&q.reason)->required(), "why (required)")(
        "until", po::value(&until), "when the hold ends by itself: an RFC 3339 time or a duration from now");
    c.line.hidden.add_options()("cluster", po::value(&q.cluster)->required(), "the cluster");
    c.line.positional.add("cluster", 1);
    if (int code = c.line.parse(args, c.vm); code >= 0) return code;
    if (!until.empty()) {
        if (auto t = codec::parse_time(until)) {
            q.until = *t;
        } else if (auto d = core::parse_duration(until); d && *d > core::duration::zero()) {
            q.until = now() + std::chrono::ceil<std::chrono::seconds>(*d);
        } else {
            std::cerr << "hold: --until: expected an RFC 3339 time (2026-12-01T09:00:00Z) or a duration (2h)\n";
            return 2;
        }
    }
    return send("hold", c.options, q);
}

int run_release(const arguments& args) {
    operator_command c("release", "release NAME CLUSTER [-n NAMESPACE] [--reason R]",
                       "Ends a hold early: the cluster gets its turn again.");
    core::operator_request q;
    q.verb = core::request_verb::release;
    c.line.options.add_options()("reason", po::value(&q.reason), "why (recorded in status and the Event)");
    c.line.hidden.add_options()("cluster", po::value(&q.cluster)->required(), "the cluster");
    c.line.positional.add("cluster", 1);
    if (int code = c.line.parse(args, c.vm); code >= 0) return code;
    return send("release", c.options, q);
}

}  // namespace apr::cli
