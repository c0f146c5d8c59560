#define BOOST_TEST_MODULE cli
#include <boost/test/unit_test.hpp>

// The commands the README shows, run as a user would run them.

#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

namespace {

struct result {
    int status;
    std::string out;
};

result run(const std::string& args) {
    const std::string command = std::string(APR_BINARY) + " " + args + " 2>&1";
    result r{-1, {}};
    if (FILE* p = popen(command.c_str(), "r")) {
        char buf[4096];
        std::size_t n;
        while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
        int status = pclose(p);
        r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    return r;
}

std::string source(const std::string& path) {
    return std::string(APR_SOURCE_DIR) + "/" + path;
}

std::string read(const std::string& path) {
    std::ifstream in(source(path));
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(commands_in_the_readme)

BOOST_AUTO_TEST_CASE(validate_accepts_the_seed_example) {
    auto r = run("validate " + source("manifests/samples/progressiverollout.yaml"));
    BOOST_TEST(r.status == 0, r.out);
    BOOST_TEST(r.out.find("ProgressiveRollout \"progressiverollout-sample\" is valid") != std::string::npos, r.out);
}

BOOST_AUTO_TEST_CASE(validate_reports_every_error_with_file_name_and_path) {
    auto r = run("validate " + source("tests/data/invalid-rollout.yaml"));
    BOOST_TEST(r.status == 1);
    const std::string where = source("tests/data/invalid-rollout.yaml") + ": ProgressiveRollout \"broken\": ";
    for (const char* e : {
             "spec.stages[0].maxUnavailable: Invalid value: \"125%\": must be an integer or a percentage between 0% "
             "and 100%",
             "spec.stages[0].requeue.interval: Invalid value: \"half an hour\": must be a duration such as \"90s\", "
             "\"30m\" or \"1h30m\"",
             "spec.stages[1].name: Duplicate value: \"canary\"",
             "unknown field \"spec.stages[1].maxUnavailble\"",
         })
        BOOST_TEST(r.out.find(where + e) != std::string::npos, e << "\n" << r.out);
}

BOOST_AUTO_TEST_CASE(validate_exits_2_on_unreadable_input) {
    BOOST_TEST(run("validate /nonexistent.yaml").status == 2);
    auto r = run("validate " + source("tests/data/unparsable.yaml"));
    BOOST_TEST(r.status == 2);
    BOOST_TEST(r.out.find("invalid YAML at line") != std::string::npos, r.out);
}

BOOST_AUTO_TEST_CASE(plan_json_matches_the_reviewed_golden_file) {
    auto r = run("plan --rollout " + source("manifests/samples/progressiverollout.yaml") + " --clusters " +
                 source("tests/data/fleet-secrets.yaml") + " -o json");
    BOOST_TEST(r.status == 0, r.out);
    BOOST_TEST(r.out == read("tests/data/seed-plan.json"));
}

BOOST_AUTO_TEST_CASE(plan_text_shows_stages_waves_requeued_and_unstaged) {
    auto r = run("plan --rollout " + source("manifests/samples/progressiverollout.yaml") + " --clusters " +
                 source("tests/data/fleet-secrets.yaml"));
    BOOST_TEST(r.status == 0, r.out);
    for (const char* line :
         {"stage 1: canary in EMEA  (2 clusters, 2 at a time)", "  wave 1: eu-central-1a-1, eu-north-1a-1",
          "  requeued now (matching the requeue selector, moved last): eu-west-1b-1",
          "unstaged (held, never updated): us-east-1a-1"})
        BOOST_TEST(r.out.find(line) != std::string::npos, line << "\n" << r.out);
    BOOST_TEST(r.out.find("not-a-real-token") == std::string::npos);  // credentials are never read out
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(dashboard_serves_loopback_only_unless_asked) {
    const auto help = run("dashboard --help");
    BOOST_TEST(help.status == 0);
    BOOST_TEST(help.out.find("127.0.0.1:8080") != std::string::npos, help.out);
    // Off loopback: refused with the reason, before any cluster is contacted.
    for (const std::string listen : {"0.0.0.0:0", ":0", "[::]:0"}) {
        const auto r = run("dashboard --listen " + listen + " --kubeconfig /nonexistent");
        BOOST_TEST(r.status == 2, listen);
        BOOST_TEST(r.out.find("refusing to listen on " + listen) != std::string::npos, r.out);
        BOOST_TEST(r.out.find("--allow-remote") != std::string::npos, r.out);
    }
    // Actions never off loopback, flag or not.
    const auto actions = run("dashboard --listen 0.0.0.0:0 --allow-remote --allow-actions --kubeconfig /nonexistent");
    BOOST_TEST(actions.status == 2);
    BOOST_TEST(actions.out.find("--allow-actions is for loopback only") != std::string::npos, actions.out);
    // Asked for: it gets past the check (and then stops at the missing kubeconfig).
    const auto remote = run("dashboard --listen 0.0.0.0:0 --allow-remote --kubeconfig /nonexistent");
    BOOST_TEST(remote.status == 1);
    BOOST_TEST(remote.out.find("/nonexistent") != std::string::npos, remote.out);
}
