// certs/generate.sh: what it makes is what the API server needs — served by this server and
// verified for the Service's DNS names against the printed caBundle.
#include "test_support.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>

using namespace apr::server;
using namespace apr::server::test;

namespace {

struct script_run {
    int status = -1;
    std::string out;
};

script_run run_script(const std::string& args) {
    std::string const cmd = std::string(APR_SOURCE_DIR) + "/certs/generate.sh " + args + " 2>/dev/null";
    script_run r;
    FILE* p = ::popen(cmd.c_str(), "r");
    BOOST_REQUIRE(p != nullptr);
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) {
        r.out.append(buf, n);
    }
    r.status = ::pclose(p);
    return r;
}

std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string base64(const std::string& in) {
    static const char* const table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8 | (unsigned char)in[i + 2];
        out += table[v >> 18 & 63];
        out += table[v >> 12 & 63];
        out += table[v >> 6 & 63];
        out += table[v & 63];
    }
    if (i + 1 == in.size()) {
        unsigned v = (unsigned char)in[i] << 16;
        out += table[v >> 18 & 63];
        out += table[v >> 12 & 63];
        out += "==";
    } else if (i + 2 == in.size()) {
        unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8;
        out += table[v >> 18 & 63];
        out += table[v >> 12 & 63];
        out += table[v >> 6 & 63];
        out += '=';
    }
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(certs_script)

BOOST_AUTO_TEST_CASE(generated_certificate_is_served_and_verifies_for_every_service_name) {
    temp_dir dir;
    const auto out = dir.path() / "out";
    const auto r = run_script("--service apr --namespace rollouts --out " + out.string());
    BOOST_REQUIRE(r.status == 0);
    // stdout is exactly the one-line base64 caBundle.
    BOOST_TEST(r.out == base64(slurp(out / "ca.crt")) + "\n");
    const auto key_perms = std::filesystem::status(out / "tls.key").permissions();
    BOOST_TEST(((key_perms & std::filesystem::perms::group_read) == std::filesystem::perms::none));

    metrics_registry metrics;
    server_options o;
    o.listen = "127.0.0.1:0";
    o.cert_file = out / "tls.crt";
    o.key_file = out / "tls.key";
    o.threads = 1;
    o.log = [](log_level, std::string_view) {};
    https_server server(o, metrics);
    auto running = std::async(std::launch::async, [&] { server.run(); });
    for (std::string name :
         {"apr.rollouts.svc", "apr.rollouts.svc.cluster.local", "apr", "apr.rollouts", "localhost"}) {
        client_options co;
        co.server_name = name;
        tls_client c(server.port(), out / "ca.crt", co);
        BOOST_CHECK_NO_THROW(c.connect());
        BOOST_TEST(c.request("GET", "/healthz").status == 200u);
    }
    client_options wrong;
    wrong.server_name = "other.rollouts.svc";
    tls_client c(server.port(), out / "ca.crt", wrong);
    BOOST_CHECK_THROW(c.connect(), std::runtime_error);
    server.stop();
    BOOST_TEST((running.wait_for(std::chrono::seconds(10)) == std::future_status::ready));
}

BOOST_AUTO_TEST_CASE(rerun_keeps_the_ca_and_renews_the_serving_certificate) {
    temp_dir dir;
    const auto out = dir.path() / "out";
    const auto first = run_script("--out " + out.string());
    BOOST_REQUIRE(first.status == 0);
    const auto first_cert = slurp(out / "tls.crt");
    const auto second = run_script("--out " + out.string());
    BOOST_REQUIRE(second.status == 0);
    BOOST_TEST(second.out == first.out);
    BOOST_TEST(slurp(out / "tls.crt") != first_cert);
    const auto forced = run_script("--force --out " + out.string());
    BOOST_TEST(forced.out != first.out);
}

BOOST_AUTO_TEST_CASE(invalid_names_are_refused) {
    temp_dir dir;
    BOOST_TEST(run_script("--service Bad_Name --out " + (dir.path() / "o").string()).status != 0);
    BOOST_TEST(run_script("--namespace '' --out " + (dir.path() / "o").string()).status != 0);
    BOOST_TEST(run_script("--bogus").status != 0);
}

BOOST_AUTO_TEST_SUITE_END()
