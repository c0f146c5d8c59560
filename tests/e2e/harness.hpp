#pragma once
// End-to-end plumbing: the real webhook process (`argocd-progressive-rollout serve` in real mode)
// against the test control plane, its webhook configurations registered with the API server
// (clientConfig.url on loopback + caBundle), and kubectl as each test user.

#include "../kube/testenv.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace apr::e2e {

struct command_result {
    int status = -1;
    std::string out;  // stdout and stderr together
};

// Runs a shell command; `input` goes to its stdin.
command_result run(const std::string& command, const std::string& input = {});

// kubectl with the kubeconfig of a test user: ADMIN, WEBHOOK, APPSET, APPCTRL, ALICE, OPS.
command_result kubectl(const std::string& who, const std::string& args, const std::string& input = {});

// The project's binary as a test user runs it (their kubeconfig, the test namespace, as kubectl
// above): `args` is the command and its arguments; stdout and stderr together.
command_result cli(const std::string& who, const std::string& args);

bool contains(const std::string& text, const std::string& part);

// Starts `args` (argv[0] a path, or a name looked up in PATH) in a process group of its own, with
// stdout and stderr to `log_path` and stdin from /dev/null; returns its pid. Throws if fork fails.
int spawn(const std::vector<std::string>& args, const std::string& log_path);

// The port a server wrote to its --port-file once listening; 0 until then.
unsigned short read_port(const std::string& path);

// A process the test started; the destructor kills it (SIGKILL) if it still runs.
class child_process {
public:
    child_process(const std::vector<std::string>& args, std::string log_path);
    ~child_process();
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;

    bool running() const;
    std::string log() const;  // what it wrote so far

private:
    int pid_ = -1;
    std::string log_path_;
};

// One webhook server process. Starts on a free port and waits until it listens; the destructor
// kills it (SIGKILL) if it still runs.
class webhook_process {
public:
    struct options {
        std::string identity = "replica-a";
        std::vector<std::string> extra_args;  // flag, value pairs; they override the defaults
    };
    explicit webhook_process(options opts);
    webhook_process() : webhook_process(options{}) {}
    ~webhook_process();
    webhook_process(const webhook_process&) = delete;
    webhook_process& operator=(const webhook_process&) = delete;

    unsigned short port() const { return port_; }
    bool running() const;
    void kill_hard();         // SIGKILL: a crash, the Lease is not released
    int terminate();          // SIGTERM and wait; returns the exit status
    std::string log() const;  // what it wrote so far
    bool log_contains(const std::string& text) const;
    bool ready() const;  // GET /readyz over TLS answers 200
    std::string metrics() const;

private:
    int pid_ = -1;
    unsigned short port_ = 0;
    std::string log_path_;
};

// Mutating (applications) and validating (progressiverollouts) webhook configurations pointing
// at https://127.0.0.1:<port>, as the manifests declare them (failurePolicy Fail, v1, None).
void register_webhooks(unsigned short port);
void unregister_webhooks();

std::string env(const std::string& key);
// A file of the source tree, e.g. "manifests/samples/progressiverollout.yaml".
std::string read_source(const std::string& relative_path);
using kube::test::eventually;

}  // namespace apr::e2e
