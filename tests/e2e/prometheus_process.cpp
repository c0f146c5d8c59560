#include "prometheus_process.hpp"

#include "harness.hpp"

#include "codec/gate_codec.hpp"
#include "http/client.hpp"

#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sys/wait.h>
#include <unistd.h>

namespace apr::e2e {

using namespace std::chrono_literals;

namespace {

// A port free right now on loopback (Prometheus has no port-file of its own).
unsigned short free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

}  // namespace

prometheus_process::prometheus_process(const std::string& target) {
    dir_ = std::filesystem::temp_directory_path() /
           ("apr-prometheus-" + std::to_string(::getpid()) + "-" + kube::test::unique_suffix());
    std::filesystem::create_directories(dir_ + "/data");
    std::ofstream(dir_ + "/prometheus.yml") << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                                               "scrape_configs:\n  - job_name: fleet\n    static_configs:\n"
                                               "      - targets: ['"
                                            << target << "']\n";
    port_ = free_port();
    pid_ = ::fork();
    if (pid_ == 0) {
        const auto log = dir_ + "/prometheus.log";
        std::freopen(log.c_str(), "w", stdout);
        std::freopen(log.c_str(), "a", stderr);
        const auto config = "--config.file=" + dir_ + "/prometheus.yml";
        const auto data = "--storage.tsdb.path=" + dir_ + "/data";
        const auto listen = "--web.listen-address=127.0.0.1:" + std::to_string(port_);
        ::execlp("prometheus", "prometheus", config.c_str(), data.c_str(), listen.c_str(), "--log.level=warn",
                 static_cast<char*>(nullptr));
        ::_exit(127);
    }
    const bool ready = eventually(
        [&] {
            http::client c(http::parse_url(url()).where);
            auto r = c.send({http::method::get, "/-/ready", {}, {}, {}, 2s});
            return r && r->status == 200;
        },
        60s, 200ms);
    BOOST_REQUIRE_MESSAGE(ready, "Prometheus did not become ready; see " << dir_ << "/prometheus.log");
}

prometheus_process::~prometheus_process() {
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
}

std::string prometheus_process::query(const std::string& promql) const {
    http::client c(http::parse_url(url()).where);
    auto r = c.send({http::method::get, "/api/v1/query?query=" + http::query_escape(promql), {}, {}, {}, 5s});
    if (!r || r->status != 200) return {};
    auto samples = codec::parse_prometheus_answer(r->body);
    if (!samples.error.empty() || samples.values.empty()) return {};
    return std::to_string(samples.values.front());
}

}  // namespace apr::e2e
