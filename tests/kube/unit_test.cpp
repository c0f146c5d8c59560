// Pure tests of the kube layer: no sockets, no API server.
#define BOOST_TEST_MODULE kube_unit
#include <boost/test/unit_test.hpp>

#include "kube/backoff.hpp"
#include "kube/client.hpp"
#include "codec/canonical_json.hpp"
#include "codec/kube_objects.hpp"
#include "kube/config.hpp"
#include "kube/leader_election.hpp"
#include "kube/line_framer.hpp"
#include "codec/time_format.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

using namespace apr::kube;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> frame(const std::vector<std::string_view>& chunks, line_framer& f) {
    std::vector<std::string> out;
    for (auto c : chunks) BOOST_REQUIRE(f.feed(c, [&](std::string& line) { out.push_back(line); }));
    return out;
}

std::string const stream_text =
    "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}\n"
    "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\",\"x\":\"\\n\"}}}\r\n"
    "\n"
    "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}\n";

const std::vector<std::string> expected_lines = {
    "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}",
    "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\",\"x\":\"\\n\"}}}",
    "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}",
};

struct temp_dir {
    fs::path path;
    temp_dir() {
        path = fs::temp_directory_path() / ("apr-kube-unit-" + std::to_string(std::random_device{}()));
        fs::create_directories(path);
    }
    ~temp_dir() { fs::remove_all(path); }
    std::string write(const std::string& name, const std::string& text) const {
        std::ofstream(path / name) << text;
        return (path / name).string();
    }
};

std::string b64(std::string_view s) {
    return apr::codec::base64_encode(s);
}

bool message_has(const std::runtime_error& e, const std::vector<std::string>& parts) {
    std::string m = e.what();
    for (const auto& p : parts)
        if (m.find(p) == std::string::npos) return false;
    return true;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(watch_stream_framing)

BOOST_AUTO_TEST_CASE(events_split_byte_by_byte_come_out_whole) {
    line_framer f;
    std::vector<std::string_view> chunks;
    for (std::size_t i = 0; i < stream_text.size(); ++i) chunks.push_back(std::string_view(stream_text).substr(i, 1));
    BOOST_TEST(frame(chunks, f) == expected_lines, boost::test_tools::per_element());
    BOOST_TEST(f.pending() == 0u);
}

BOOST_AUTO_TEST_CASE(events_split_at_random_points_come_out_whole) {
    std::mt19937 rng(42);
    for (int round = 0; round < 500; ++round) {
        line_framer f;
        std::vector<std::string_view> chunks;
        std::string_view rest = stream_text;
        while (!rest.empty()) {
            std::size_t n = std::uniform_int_distribution<std::size_t>(1, 40)(rng);
            n = std::min(n, rest.size());
            chunks.push_back(rest.substr(0, n));
            rest.remove_prefix(n);
        }
        BOOST_TEST(frame(chunks, f) == expected_lines, boost::test_tools::per_element());
    }
}

BOOST_AUTO_TEST_CASE(many_events_in_one_chunk_all_come_out) {
    line_framer f;
    BOOST_TEST(frame({stream_text}, f).size() == 3u);
}

BOOST_AUTO_TEST_CASE(truncated_stream_leaves_the_partial_event_pending) {
    line_framer f;
    auto lines = frame({std::string_view(stream_text).substr(0, stream_text.size() - 10)}, f);
    BOOST_TEST(lines.size() == 2u);
    BOOST_TEST(f.pending() > 0u);
    f.reset();
    BOOST_TEST(f.pending() == 0u);
}

BOOST_AUTO_TEST_CASE(oversized_event_is_rejected_not_buffered_forever) {
    line_framer f(16);
    std::vector<std::string> out;
    BOOST_TEST(f.feed(std::string(10, 'x'), [&](std::string& l) { out.push_back(l); }));
    BOOST_TEST(!f.feed(std::string(10, 'x'), [&](std::string& l) { out.push_back(l); }));
    BOOST_TEST(f.pending() == 0u);
    BOOST_TEST(out.empty());
    BOOST_TEST(f.feed("ok\n", [&](std::string& l) { out.push_back(l); }));
    BOOST_TEST(out.size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(kubeconfig_loading)

BOOST_AUTO_TEST_CASE(current_context_selects_cluster_and_token_user) {
    temp_dir d;
    auto path = d.write("config", R"(apiVersion: v1
kind: Config
current-context: b
clusters:
- name: ca
  cluster: {server: "https://10.0.0.1:6443"}
- name: cb
  cluster:
    server: https://api.example.com:8443/prefix/
    certificate-authority-data: )" + b64("CA-PEM") +
                                      R"(
    tls-server-name: kubernetes.default.svc
contexts:
- name: a
  context: {cluster: ca, user: ua}
- name: b
  context: {cluster: cb, user: ub}
users:
- name: ua
  user: {token: wrong}
- name: ub
  user: {token: " the-token "}
)");
    auto cfg = load_kubeconfig(path);
    BOOST_TEST(cfg.host == "api.example.com");
    BOOST_TEST(cfg.port == "8443");
    BOOST_TEST(cfg.base_path == "/prefix");
    BOOST_TEST(cfg.ca_pem == "CA-PEM");
    BOOST_TEST(cfg.tls_server_name == "kubernetes.default.svc");
    BOOST_TEST(cfg.token == "the-token");
    BOOST_TEST(!cfg.insecure_skip_tls_verify);
    BOOST_TEST(cfg.source.find(path) != std::string::npos);

    auto other = load_kubeconfig(path, "a");
    BOOST_TEST(other.host == "10.0.0.1");
    BOOST_TEST(other.token == "wrong");
}

BOOST_AUTO_TEST_CASE(relative_files_resolve_against_the_kubeconfig_directory) {
    temp_dir d;
    d.write("ca.pem", "CA");
    d.write("client.crt", "CERT");
    d.write("client.key", "KEY");
    d.write("tok", "file-token\n");
    auto path = d.write("config", R"(current-context: x
clusters: [{name: c, cluster: {server: "https://[::1]:6443", certificate-authority: ca.pem}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
users: [{name: u, user: {client-certificate: client.crt, client-key: client.key, tokenFile: tok}}]
)");
    auto old = fs::current_path();
    fs::current_path(fs::temp_directory_path());
    auto cfg = load_kubeconfig(path);
    fs::current_path(old);
    BOOST_TEST(cfg.host == "::1");
    BOOST_TEST(cfg.port == "6443");
    BOOST_TEST(cfg.ca_pem == "CA");
    BOOST_TEST(cfg.client_cert_pem == "CERT");
    BOOST_TEST(cfg.client_key_pem == "KEY");
    BOOST_TEST(cfg.token_file == (d.path / "tok").string());
    token_source ts(cfg);
    BOOST_TEST(ts.current() == "file-token");
}

BOOST_AUTO_TEST_CASE(insecure_skip_tls_verify_only_when_the_file_says_so) {
    temp_dir d;
    auto path = d.write("config", R"(current-context: x
clusters: [{name: c, cluster: {server: "https://h", insecure-skip-tls-verify: true}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
users: [{name: u, user: {token: t}}]
)");
    auto cfg = load_kubeconfig(path);
    BOOST_TEST(cfg.insecure_skip_tls_verify);
    BOOST_TEST(cfg.port == "443");
}

BOOST_AUTO_TEST_CASE(errors_name_the_file_and_the_field) {
    temp_dir d;
    auto no_ctx = d.write("a", "clusters: []\n");
    BOOST_CHECK_EXCEPTION(load_kubeconfig(no_ctx), std::runtime_error, [&](const auto& e) {
        return message_has(e, {no_ctx, "current-context"});
    });

    auto bad_b64 = d.write("b", R"(current-context: x
clusters: [{name: c, cluster: {server: "https://h", certificate-authority-data: "@@@"}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
users: [{name: u, user: {token: t}}]
)");
    BOOST_CHECK_EXCEPTION(load_kubeconfig(bad_b64), std::runtime_error, [&](const auto& e) {
        return message_has(e, {bad_b64, "certificate-authority-data"});
    });

    auto plain_http = d.write("c", R"(current-context: x
clusters: [{name: c, cluster: {server: "http://h:80"}}]
contexts: [{name: x, context: {cluster: c}}]
)");
    BOOST_CHECK_EXCEPTION(load_kubeconfig(plain_http), std::runtime_error, [&](const auto& e) {
        return message_has(e, {plain_http, "https://"});
    });

    auto missing_user = d.write("d", R"(current-context: x
clusters: [{name: c, cluster: {server: "https://h"}}]
contexts: [{name: x, context: {cluster: c, user: nobody}}]
users: []
)");
    BOOST_CHECK_EXCEPTION(load_kubeconfig(missing_user), std::runtime_error, [&](const auto& e) {
        return message_has(e, {missing_user, "nobody"});
    });

    auto missing_file = d.write("e", R"(current-context: x
clusters: [{name: c, cluster: {server: "https://h", certificate-authority: /nonexistent/ca.pem}}]
contexts: [{name: x, context: {cluster: c}}]
)");
    BOOST_CHECK_EXCEPTION(load_kubeconfig(missing_file), std::runtime_error,
                          [&](const auto& e) { return message_has(e, {"/nonexistent/ca.pem"}); });

    BOOST_CHECK_EXCEPTION(load_kubeconfig((d.path / "absent").string()), std::runtime_error,
                          [&](const auto& e) { return message_has(e, {"absent"}); });
}

// A KUBECONFIG list is merged as kubectl merges it: current-context from the first file that sets
// it; each cluster, context and user from the first file that defines that name; relative paths
// against the directory of the file the entry comes from.
BOOST_AUTO_TEST_CASE(a_kubeconfig_list_is_merged_as_kubectl_merges_it) {
    temp_dir d;
    fs::create_directories(d.path / "one");
    fs::create_directories(d.path / "two");
    const auto one = d.write("one/config", R"(current-context: work
contexts:
- name: work
  context: {cluster: prod, user: ops}
clusters:
- name: prod
  cluster: {server: "https://first.example.com:6443"}
)");
    d.write("two/tok", "second-token\n");
    const auto two = d.write("two/config", R"(current-context: other
contexts:
- name: work
  context: {cluster: nowhere, user: nobody}
- name: other
  context: {cluster: prod, user: ops}
clusters:
- name: prod
  cluster: {server: "https://second.example.com"}
users:
- name: ops
  user: {tokenFile: tok}
)");
    auto cfg = load_kubeconfigs({one, two});
    BOOST_TEST(cfg.host == "first.example.com");  // context and cluster of the first file
    BOOST_TEST(cfg.port == "6443");
    BOOST_TEST(cfg.token_file == (d.path / "two" / "tok").string());  // the user only the second has
    token_source ts(cfg);
    BOOST_TEST(ts.current() == "second-token");
    BOOST_TEST(load_kubeconfigs({one, two}, "other").host == "first.example.com");
    BOOST_TEST(load_kubeconfigs({two, one}).host == "second.example.com");

    // Through $KUBECONFIG, as kubectl reads it: missing files are skipped.
    const char* saved = std::getenv("KUBECONFIG");
    const std::string before = saved ? saved : "";
    setenv("KUBECONFIG", (one + ":" + (d.path / "absent").string() + ":" + two).c_str(), 1);
    cfg = load_config();
    BOOST_TEST(cfg.host == "first.example.com");
    BOOST_TEST(cfg.token_file == (d.path / "two" / "tok").string());
    // Neither file alone would do: the first has no user, the second another cluster.
    BOOST_CHECK_EXCEPTION(load_kubeconfig(one), std::runtime_error, [&](const auto& e) {
        return message_has(e, {one, "users has no entry named 'ops'"});
    });
    setenv("KUBECONFIG", (d.path / "absent").string().c_str(), 1);
    BOOST_CHECK_EXCEPTION(load_config(), std::runtime_error, [&](const auto& e) { return message_has(e, {"absent"}); });
    if (saved)
        setenv("KUBECONFIG", before.c_str(), 1);
    else
        unsetenv("KUBECONFIG");
}

BOOST_AUTO_TEST_CASE(deeply_nested_or_self_referencing_kubeconfig_is_refused_clearly) {
    temp_dir d;
    auto deep = d.write(
        "deep", "current-context: x\nextensions: " + std::string(100000, '[') + std::string(100000, ']') + "\n");
    BOOST_CHECK_EXCEPTION(load_kubeconfig(deep), std::runtime_error, [&](const auto& e) {
        return message_has(e, {deep, "nesting deeper than 256 levels"});
    });
    std::string blocks = "current-context: x\nextensions:\n";
    for (int i = 0; i < 300; ++i) blocks += "- ";
    auto block = d.write("block", blocks + "x\n");
    BOOST_CHECK_EXCEPTION(load_kubeconfig(block), std::runtime_error, [&](const auto& e) {
        return message_has(e, {block, "nesting deeper than 256 levels"});
    });
    auto loop = d.write("loop", "current-context: x\nclusters: &c [*c]\n");
    BOOST_CHECK_EXCEPTION(load_kubeconfig(loop), std::runtime_error, [&](const auto& e) {
        return message_has(e, {loop, "nesting deeper than 256 levels"});
    });
}

BOOST_AUTO_TEST_CASE(in_cluster_reads_service_env_and_mounted_files) {
    temp_dir d;
    d.write("ca.crt", "CA");
    auto token_path = d.write("token", "t1\n");
    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    auto cfg = load_in_cluster(d.path.string());
    BOOST_TEST(cfg.host == "10.96.0.1");
    BOOST_TEST(cfg.port == "443");
    BOOST_TEST(cfg.ca_pem == "CA");

    // Projected tokens rotate: a refresh interval of 0 re-reads on every request.
    token_source ts(cfg, 0s);
    BOOST_TEST(ts.current() == "t1");
    std::ofstream(token_path) << "t2\n";
    BOOST_TEST(ts.current() == "t2");
    // A token file that vanishes mid-rotation keeps the last good token.
    fs::remove(token_path);
    BOOST_TEST(ts.current() == "t2");

    // With the default one-minute refresh, a fresh rotation is not seen yet.
    std::ofstream(token_path) << "t3\n";
    token_source cached(cfg);
    BOOST_TEST(cached.current() == "t3");
    std::ofstream(token_path) << "t4\n";
    BOOST_TEST(cached.current() == "t3");

    unsetenv("KUBERNETES_SERVICE_HOST");
    BOOST_CHECK_THROW(load_in_cluster(d.path.string()), std::runtime_error);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(reconnect_backoff)

BOOST_AUTO_TEST_CASE(delays_double_from_800ms_to_30s_with_jitter_up_to_100_percent) {
    backoff b({}, 7);
    auto t0 = std::chrono::steady_clock::now();
    std::chrono::milliseconds base{800};
    for (int i = 0; i < 12; ++i) {
        auto d = b.next(t0, t0);
        BOOST_TEST(d.count() >= base.count());
        BOOST_TEST(d.count() <= 2 * base.count());
        base = std::min(std::chrono::milliseconds(30'000), base * 2);
    }
    BOOST_TEST(b.current_base().count() == 30'000);
}

BOOST_AUTO_TEST_CASE(two_minutes_healthy_resets_to_the_initial_delay) {
    backoff b({}, 1);
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 6; ++i) b.next(t0, t0);
    BOOST_TEST(b.current_base().count() > 800);
    auto d = b.next(t0 + 121s, t0);
    BOOST_TEST(d.count() <= 1600);
}

BOOST_AUTO_TEST_CASE(jitter_spreads_replicas) {
    backoff a({}, 1), b({}, 2);
    auto t0 = std::chrono::steady_clock::now();
    BOOST_TEST(a.next(t0, t0) != b.next(t0, t0));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(lease_decisions)

using steady = std::chrono::steady_clock;
const auto wall0 = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
const auto t0 = steady::time_point(std::chrono::hours(1000));
const lease_timings timings{15s, 10s, 2s};

lease_record held_by(std::string holder, int transitions = 3) {
    lease_record r;
    r.holder = std::move(holder);
    r.lease_duration_seconds = 15;
    r.acquire_time = wall0 - 100s;
    r.renew_time = wall0 - 1s;
    r.transitions = transitions;
    r.resource_version = "42";
    return r;
}

BOOST_AUTO_TEST_CASE(absent_lease_is_created_by_us) {
    auto d = decide_lease(std::nullopt, t0, t0, wall0, "me", timings);
    BOOST_TEST((d.action == lease_action::create));
    BOOST_TEST(d.next.holder == "me");
    BOOST_TEST(d.next.lease_duration_seconds == 15);
    BOOST_TEST(d.next.transitions == 0);
    BOOST_TEST((d.next.acquire_time == wall0));
}

BOOST_AUTO_TEST_CASE(valid_lease_of_another_holder_is_waited_for) {
    auto d = decide_lease(held_by("other"), t0, t0 + 14s, wall0, "me", timings);
    BOOST_TEST((d.action == lease_action::wait));
}

BOOST_AUTO_TEST_CASE(expiry_is_judged_by_the_local_observation_time_not_renew_time) {
    // The holder's renewTime is far in the past by our wall clock (clock skew), but we only
    // saw the record change 1 s ago: still valid.
    auto rec = held_by("other");
    rec.renew_time = wall0 - std::chrono::hours(5);
    BOOST_TEST((decide_lease(rec, t0, t0 + 1s, wall0, "me", timings).action == lease_action::wait));
    auto d = decide_lease(rec, t0, t0 + 15s, wall0, "me", timings);
    BOOST_TEST((d.action == lease_action::acquire));
    BOOST_TEST(d.next.transitions == 4);
    BOOST_TEST(d.next.holder == "me");
    BOOST_TEST(d.next.resource_version == "42");
    BOOST_TEST((d.next.acquire_time == wall0));
}

BOOST_AUTO_TEST_CASE(record_duration_wins_over_local_configuration) {
    auto rec = held_by("other");
    rec.lease_duration_seconds = 60;
    BOOST_TEST((decide_lease(rec, t0, t0 + 30s, wall0, "me", timings).action == lease_action::wait));
}

BOOST_AUTO_TEST_CASE(our_own_lease_is_renewed_keeping_acquire_time_and_transitions) {
    auto rec = held_by("me");
    auto d = decide_lease(rec, t0, t0 + 100s, wall0, "me", timings);
    BOOST_TEST((d.action == lease_action::renew));
    BOOST_TEST(d.next.transitions == 3);
    BOOST_TEST((d.next.acquire_time == rec.acquire_time));
    BOOST_TEST((d.next.renew_time == wall0));
}

BOOST_AUTO_TEST_CASE(released_lease_is_taken_at_once) {
    auto rec = held_by("");
    rec.lease_duration_seconds = 1;
    auto d = decide_lease(rec, t0, t0, wall0, "me", timings);
    BOOST_TEST((d.action == lease_action::acquire));
    BOOST_TEST(d.next.transitions == 4);
}

BOOST_AUTO_TEST_CASE(lease_json_parses_micro_times) {
    rapidjson::Document doc;
    doc.Parse(R"({"metadata":{"resourceVersion":"7"},"spec":{"holderIdentity":"h",
        "leaseDurationSeconds":15,"acquireTime":"2026-11-27T10:00:00.000000Z",
        "renewTime":"2026-11-27T10:00:05.123456Z","leaseTransitions":2}})");
    auto r = parse_lease(doc);
    BOOST_REQUIRE(r);
    BOOST_TEST(r->holder == "h");
    BOOST_TEST(r->resource_version == "7");
    BOOST_TEST(r->transitions == 2);
    BOOST_REQUIRE(r->renew_time);
    BOOST_TEST(apr::codec::format_micro_time(*r->renew_time) == "2026-11-27T10:00:05.123456Z");
    rapidjson::Document bad;
    bad.Parse(R"({"spec":"oops"})");
    BOOST_TEST(!parse_lease(bad));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(decoding)

BOOST_AUTO_TEST_CASE(cluster_secret_keeps_name_server_labels_and_no_credentials) {
    rapidjson::Document doc;
    std::string const json = R"({"metadata":{"name":"prod-1","namespace":"argocd",
        "labels":{"argocd.argoproj.io/secret-type":"cluster","region":"eu-west-1"}},
        "data":{"server":")" +
                             b64("https://prod-1.example.com") + R"(","name":")" + b64("prod 1") + R"(","config":")" +
                             b64(R"({"bearerToken":"SUPERSECRET"})") + R"("}})";
    doc.Parse(json.c_str());
    auto s = apr::codec::decode_cluster_secret(doc);
    BOOST_REQUIRE(s);
    BOOST_TEST(s->name == "prod 1");  // data.name; the Secret's name only when that is absent
    BOOST_TEST(s->server == "https://prod-1.example.com");
    BOOST_TEST(s->labels.at("region") == "eu-west-1");
    BOOST_TEST(sizeof(apr::core::cluster) < 256u);
}

BOOST_AUTO_TEST_CASE(cluster_secret_with_unexpected_types_is_rejected) {
    for (const char* json : {R"({"metadata":{"name":"x","namespace":"n"},"data":{"server":"@@@@"}})",
                             R"({"metadata":{"name":"x","namespace":"n","labels":{"a":1}},"data":{"server":"aA=="}})",
                             R"({"metadata":{"name":7},"data":{"server":"aA=="}})",
                             R"({"metadata":{"name":"x","namespace":"n"},"data":{"server":42}})",
                             R"({"metadata":{"name":"x","namespace":"n"},"data":[]})",
                             R"({"metadata":{"name":"x","namespace":"n"}})", R"([])"}) {
        rapidjson::Document doc;
        doc.Parse(json);
        BOOST_TEST(!apr::codec::decode_cluster_secret(doc), json);
    }
}

BOOST_AUTO_TEST_CASE(status_bodies_become_typed_errors) {
    auto e = decode_status(409, R"({"kind":"Status","apiVersion":"v1","status":"Failure",
        "message":"the object has been modified","reason":"Conflict","code":409})");
    BOOST_TEST(e.code == 409);
    BOOST_TEST(e.reason == "Conflict");
    BOOST_TEST(e.is_conflict());
    BOOST_TEST(!e.is_already_exists());
    BOOST_TEST(e.message == "the object has been modified");

    auto gone = decode_status(200, R"({"kind":"Status","code":410,"reason":"Expired"})");
    BOOST_TEST(gone.is_gone());

    auto raw = decode_status(502, "<html>bad gateway</html>");
    BOOST_TEST(raw.code == 502);
    BOOST_TEST(raw.message == "<html>bad gateway</html>");
}

BOOST_AUTO_TEST_CASE(query_values_are_percent_encoded) {
    BOOST_TEST(query_escape("argocd.argoproj.io/secret-type=cluster,env!=prod") ==
               "argocd.argoproj.io%2Fsecret-type%3Dcluster%2Cenv%21%3Dprod");
}

BOOST_AUTO_TEST_CASE(base64_padding_is_not_returned_as_bytes) {
    BOOST_TEST(base64_decode("aA==") == "h");
    BOOST_TEST(base64_decode("aGk=") == "hi");
    BOOST_TEST(base64_decode("aGl4") == "hix");
    BOOST_CHECK_THROW(base64_decode("abc"), std::runtime_error);
}

BOOST_AUTO_TEST_SUITE_END()
