// Certificate hot reload: new connections get the new certificate, live ones keep working, a bad
// pair is refused, and the Secret-volume `..data` symlink swap is seen.
#include "test_support.hpp"

#include <boost/test/unit_test.hpp>

using namespace apr::server;
using namespace apr::server::test;

namespace {

std::string serial_seen_by_new_connection(const server_fixture& f) {
    auto c = f.client();
    c.connect();
    return c.peer_certificate().serial_hex;
}

server_options watch_only(const server_fixture& f) {
    auto o = f.default_options();
    // An hour: any reload within the test deadline comes from inotify, not the poll.
    o.cert_poll_interval = std::chrono::hours(1);
    return o;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(certificate_rotation)

BOOST_FIXTURE_TEST_CASE(rewritten_files_reach_new_connections_and_old_ones_keep_working, server_fixture) {
    start(watch_only(*this));
    auto old_conn = client();
    old_conn.connect();
    BOOST_TEST(old_conn.peer_certificate().serial_hex == first.serial_hex);
    BOOST_TEST(old_conn.request("GET", "/healthz").status == 200u);

    auto next = ca.issue(2, "apr-test-serving-2", 60);
    // Key first, then certificate: in between the pair does not match and must be refused.
    write_file_atomically(key_file, next.key_pem);
    write_file_atomically(cert_file, next.cert_pem);

    BOOST_TEST(eventually([&] { return serial_seen_by_new_connection(*this) == next.serial_hex; }));
    BOOST_TEST(server().current_certificate().serial_hex == next.serial_hex);
    BOOST_TEST(server().current_certificate().subject == "CN=apr-test-serving-2");
    BOOST_TEST(metric("argocd_progressive_rollout_tls_certificate_reloads_total{result=\"success\"}") == 1);
    BOOST_TEST(metric("argocd_progressive_rollout_tls_certificate_not_after_seconds") ==
               static_cast<double>(server().current_certificate().not_after));

    // The connection made before the swap still serves, still on the old certificate.
    BOOST_TEST(old_conn.request("GET", "/healthz").status == 200u);
    BOOST_TEST(old_conn.peer_certificate().serial_hex == first.serial_hex);
}

BOOST_AUTO_TEST_CASE(secret_volume_symlink_swap_is_picked_up) {
    server_fixture f;
    secret_volume volume(f.dir.path() / "serving-certs");
    volume.swap(f.first);
    auto o = watch_only(f);
    o.cert_file = volume.cert_file();
    o.key_file = volume.key_file();
    f.start(o);
    auto old_conn = f.client();
    old_conn.connect();
    BOOST_TEST(old_conn.peer_certificate().serial_hex == f.first.serial_hex);

    auto next = f.ca.issue(3, "apr-test-serving-3");
    volume.swap(next);
    BOOST_TEST(eventually([&] { return serial_seen_by_new_connection(f) == next.serial_hex; }));
    BOOST_TEST(old_conn.request("GET", "/healthz").status == 200u);

    // And again: the watch survives the first swap (the old target directory is gone by now).
    auto after = f.ca.issue(4, "apr-test-serving-4");
    volume.swap(after);
    BOOST_TEST(eventually([&] { return serial_seen_by_new_connection(f) == after.serial_hex; }));
    BOOST_TEST(f.metric("argocd_progressive_rollout_tls_certificate_reloads_total{result=\"success\"}") == 2);
}

BOOST_FIXTURE_TEST_CASE(mismatched_pair_is_refused_and_the_old_certificate_kept, server_fixture) {
    start(watch_only(*this));
    auto a = ca.issue(5, "a");
    auto b = ca.issue(6, "b");
    write_file_atomically(cert_file, a.cert_pem);
    write_file_atomically(key_file, b.key_pem);
    BOOST_TEST(eventually(
        [&] { return metric("argocd_progressive_rollout_tls_certificate_reloads_total{result=\"error\"}") >= 1; }));
    BOOST_TEST(serial_seen_by_new_connection(*this) == first.serial_hex);
    bool warned = false;
    for (const auto& line : logs()) {
        warned = warned || (line.starts_with("warn certificate reload failed") &&
                            line.find("does not match") != std::string::npos);
        BOOST_TEST(line.find("PRIVATE KEY") == std::string::npos);
    }
    BOOST_TEST(warned);
    if (!warned) {
        for (const auto& line : logs()) {
            BOOST_TEST_MESSAGE(line);
        }
    }

    write_file_atomically(key_file, a.key_pem);
    BOOST_TEST(eventually([&] { return serial_seen_by_new_connection(*this) == a.serial_hex; }));
}

BOOST_FIXTURE_TEST_CASE(polling_finds_a_change_when_no_event_arrives, server_fixture) {
    // Files replaced behind a symlink that lives in another directory produce no event in the
    // watched one: only the poll sees it.
    auto real_dir = dir.path() / "elsewhere";
    std::filesystem::create_directories(real_dir);
    write_file_atomically(real_dir / "tls.crt", first.cert_pem);
    write_file_atomically(real_dir / "tls.key", first.key_pem);
    auto link_dir = dir.path() / "links";
    std::filesystem::create_directories(link_dir);
    std::filesystem::create_symlink(real_dir / "tls.crt", link_dir / "tls.crt");
    std::filesystem::create_symlink(real_dir / "tls.key", link_dir / "tls.key");
    auto o = default_options();
    o.cert_file = link_dir / "tls.crt";
    o.key_file = link_dir / "tls.key";
    o.cert_poll_interval = std::chrono::seconds(1);
    start(o);

    auto next = ca.issue(7, "polled");
    write_file_atomically(real_dir / "tls.key", next.key_pem);
    write_file_atomically(real_dir / "tls.crt", next.cert_pem);
    BOOST_TEST(eventually([&] { return serial_seen_by_new_connection(*this) == next.serial_hex; }));
}

BOOST_FIXTURE_TEST_CASE(explicit_reload_reports_whether_anything_changed, server_fixture) {
    start(watch_only(*this));
    BOOST_TEST(!server().reload_certificate());
    auto next = ca.issue(8, "explicit");
    write_file_atomically(key_file, next.key_pem);
    write_file_atomically(cert_file, next.cert_pem);
    // Either the watcher or this call wins the race; the result must be the new certificate.
    server().reload_certificate();
    BOOST_TEST(server().current_certificate().serial_hex == next.serial_hex);
}

BOOST_AUTO_TEST_SUITE_END()
