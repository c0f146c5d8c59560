#include "harness.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace apr::e2e {

namespace {
// The test process talks to servers that get killed mid-conversation: EPIPE, not death.
const bool ignore_sigpipe = [] {
    std::signal(SIGPIPE, SIG_IGN);
    return true;
}();
}  // namespace

std::string env(const std::string& key) {
    return kube::test::testenv::get().value(key);
}

std::string read_source(const std::string& relative_path) {
    std::ifstream in(std::string(APR_SOURCE_DIR) + "/" + relative_path);
    if (!in) throw std::runtime_error("cannot read " + relative_path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

command_result run(const std::string& command, const std::string& input) {
    char path[] = "/tmp/apr-e2e-in-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) throw std::runtime_error("mkstemp failed");
    if (!input.empty() && write(fd, input.data(), input.size()) != static_cast<ssize_t>(input.size()))
        throw std::runtime_error("writing stdin file failed");
    close(fd);
    command_result r;
    if (FILE* p = popen(("(" + command + ") < " + path + " 2>&1").c_str(), "r")) {
        char buf[4096];
        std::size_t n;
        while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
        const int status = pclose(p);
        r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    unlink(path);
    return r;
}

command_result kubectl(const std::string& who, const std::string& args, const std::string& input) {
    return run("kubectl --kubeconfig " + env("KUBECONFIG_" + who) + " -n " + env("ARGOCD_NAMESPACE") + " " + args,
               input);
}

command_result cli(const std::string& who, const std::string& args) {
    return run(std::string(APR_BINARY) + " " + args + " -n " + env("ARGOCD_NAMESPACE") + " --kubeconfig " +
               env("KUBECONFIG_" + who) + " 2>&1");
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

namespace {

// APR_E2E_WEBHOOK_BINARY runs the server through another program taking the same arguments
// (tests/image/serve_from_image.sh: the container image's root filesystem).
std::string binary() {
    const char* other = std::getenv("APR_E2E_WEBHOOK_BINARY");
    return other && *other ? other : APR_BINARY;
}

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

int spawn(const std::vector<std::string>& args, const std::string& log_path) {
    const int pid = fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        setpgid(0, 0);  // helpers it starts (chromium's) go with it when the group is killed
        int out = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(out, 1);
        dup2(out, 2);
        int in = open("/dev/null", O_RDONLY);
        dup2(in, 0);
        // Nothing of the test's (API server connections, pipes) leaks into the child: chromium in
        // particular stalled loading a page with the test's descriptors open.
        for (int fd = static_cast<int>(sysconf(_SC_OPEN_MAX)); fd > 2; --fd) close(fd);
        std::vector<std::string> copy = args;
        std::vector<char*> argv;
        for (auto& a : copy) argv.push_back(a.data());
        argv.push_back(nullptr);
        execvp(argv[0], argv.data());
        _exit(127);
    }
    return pid;
}

unsigned short read_port(const std::string& path) {
    std::ifstream in(path);
    unsigned port = 0;
    return in >> port ? static_cast<unsigned short>(port) : 0;
}

child_process::child_process(const std::vector<std::string>& args, std::string log_path)
    : pid_(spawn(args, log_path)), log_path_(std::move(log_path)) {}

child_process::~child_process() {
    if (pid_ <= 0) return;
    ::kill(-pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
}

bool child_process::running() const {
    int status = 0;
    return pid_ > 0 && waitpid(pid_, &status, WNOHANG) == 0;
}

std::string child_process::log() const {
    return slurp(log_path_);
}

webhook_process::webhook_process(options opts) {
    log_path_ = env("TESTENV_DIR") + "/webhook-" + opts.identity + "-" + kube::test::unique_suffix() + ".log";
    const std::string port_file = log_path_ + ".port";
    // Short Lease timings so a handover fits in a test; a test may override any flag.
    std::vector<std::pair<std::string, std::string>> flags = {
        {"--listen", "127.0.0.1:0"},
        {"--port-file", port_file},
        {"--tls-cert", env("WEBHOOK_CERT")},
        {"--tls-key", env("WEBHOOK_KEY")},
        {"--kubeconfig", env("KUBECONFIG_WEBHOOK")},
        {"--self-user", env("USER_WEBHOOK")},
        {"--identity", opts.identity},
        {"--bypass-groups", "system:masters,rollout-admins"},
        {"--lease-duration", "4"},
        {"--renew-deadline", "3"},
        {"--retry-period", "1"},
    };
    for (std::size_t i = 0; i + 1 < opts.extra_args.size(); i += 2) {
        auto it =
            std::find_if(flags.begin(), flags.end(), [&](const auto& f) { return f.first == opts.extra_args[i]; });
        if (it != flags.end())
            it->second = opts.extra_args[i + 1];
        else
            flags.emplace_back(opts.extra_args[i], opts.extra_args[i + 1]);
    }
    std::vector<std::string> args = {binary(), "serve"};
    for (auto& [flag, value] : flags) {
        args.push_back(flag);
        args.push_back(value);
    }
    pid_ = spawn(args, log_path_);
    if (!eventually([&] { return (port_ = read_port(port_file)) != 0 || !running(); }, std::chrono::seconds(30)) ||
        !running())
        throw std::runtime_error("webhook did not start: " + log());
}

webhook_process::~webhook_process() {
    if (running()) kill_hard();
}

bool webhook_process::running() const {
    if (pid_ <= 0) return false;
    int status = 0;
    return waitpid(pid_, &status, WNOHANG) == 0;
}

void webhook_process::kill_hard() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
}

int webhook_process::terminate() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string webhook_process::log() const {
    return slurp(log_path_);
}

bool webhook_process::log_contains(const std::string& text) const {
    return log().find(text) != std::string::npos;
}

bool webhook_process::ready() const {
    auto r = run("curl -s -o /dev/null -w '%{http_code}' --cacert " + env("WEBHOOK_CA") +
                 " https://127.0.0.1:" + std::to_string(port_) + "/readyz");
    return r.out == "200";
}

std::string webhook_process::metrics() const {
    return run("curl -s --cacert " + env("WEBHOOK_CA") + " https://127.0.0.1:" + std::to_string(port_) + "/metrics")
        .out;
}

void register_webhooks(unsigned short port) {
    // The configurations an install uses (manifests/webhook/), pointed at this process.
    auto manifest =
        run(std::string(APR_SOURCE_DIR) + "/scripts/local-webhooks.sh https://127.0.0.1:" + std::to_string(port) + " " +
            env("WEBHOOK_CA_BUNDLE") + " argocd-progressive-rollout-e2e");
    if (manifest.status != 0) throw std::runtime_error("rendering webhook configurations failed: " + manifest.out);
    auto r = kubectl("ADMIN", "apply -f -", manifest.out);
    if (r.status != 0) throw std::runtime_error("registering webhooks failed: " + r.out);
}

void unregister_webhooks() {
    kubectl("ADMIN", "delete mutatingwebhookconfiguration argocd-progressive-rollout-e2e --ignore-not-found");
    kubectl("ADMIN", "delete validatingwebhookconfiguration argocd-progressive-rollout-e2e --ignore-not-found");
}

}  // namespace apr::e2e
