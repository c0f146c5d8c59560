// Lease leader election against the REAL kube-apiserver: one leader, hand-over after an unclean
// stop, release at once after a clean one.
#include <boost/test/unit_test.hpp>

#include "api_support.hpp"

#include <rapidjson/pointer.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include <unistd.h>

using namespace apr::kube;
using namespace apr::kube::test;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(leader_election)

// The RBAC of the webhook only allows this lease name; the tests use the real identity.
std::string const lease_name = "argocd-progressive-rollout";
const lease_timings fast{.lease_duration = 3s, .renew_deadline = 2s, .retry_period = 500ms};

struct candidate {
    std::unique_ptr<client> c = testenv::get().webhook();
    leader_elector elector;
    std::atomic<int> started{0};
    std::atomic<int> stopped{0};
    std::jthread thread;

    explicit candidate(std::string identity) : elector(*c, ns(), lease_name, std::move(identity), fast) {
        thread = std::jthread([this](std::stop_token st) {
            elector.run(
                st, [this] { ++started; }, [this] { ++stopped; });
        });
    }
    void stop() {
        thread.request_stop();
        thread.join();
    }
};

std::optional<lease_record> read_lease(client& c) {
    auto r = c.get("/apis/coordination.k8s.io/v1/namespaces/" + ns() + "/leases/" + lease_name);
    if (!r) return std::nullopt;
    return parse_lease(*r);
}

BOOST_AUTO_TEST_CASE(one_leader_unclean_stop_hands_over_after_expiry_clean_stop_at_once) {
    auto admin = testenv::get().admin();
    (void)admin->remove("/apis/coordination.k8s.io/v1/namespaces/" + ns() + "/leases/" + lease_name);
    run_scope scope;
    const auto& run = scope.id;

    auto a = std::make_unique<candidate>("a-" + run);
    auto b = std::make_unique<candidate>("b-" + run);
    BOOST_REQUIRE(eventually([&] { return a->elector.is_leader() || b->elector.is_leader(); }, 15s));
    // Over several renew periods, never two leaders and no flapping.
    bool two = false;
    eventually(
        [&] {
            two = two || (a->elector.is_leader() && b->elector.is_leader());
            return false;
        },
        3s, 20ms);
    BOOST_TEST(!two);
    BOOST_TEST(a->started + b->started == 1);
    auto& leader = a->elector.is_leader() ? a : b;
    auto& standby = a->elector.is_leader() ? b : a;
    auto rec = read_lease(*admin);
    BOOST_REQUIRE(rec);
    BOOST_TEST(rec->holder == leader->elector.identity());
    BOOST_TEST(rec->lease_duration_seconds == 3);

    // Unclean stop: the lease is not released, so the standby must wait for it to expire
    // (judged by its own clock since it last saw the record change), then take over.
    leader->elector.set_release_on_stop(false);
    auto t0 = std::chrono::steady_clock::now();
    leader->stop();
    BOOST_REQUIRE(eventually([&] { return standby->elector.is_leader(); }, 10s, 20ms));
    auto handover = std::chrono::steady_clock::now() - t0;
    BOOST_TEST_MESSAGE("unclean handover took "
                       << std::chrono::duration_cast<std::chrono::milliseconds>(handover).count() << " ms");
    const auto handover_ms = std::chrono::duration_cast<std::chrono::milliseconds>(handover).count();
    BOOST_TEST(handover_ms >= 2000);  // it did wait for expiry (lease 3 s, last renew <= 0.5 s before)
    BOOST_TEST(handover_ms <= (fast.lease_duration + 3 * fast.retry_period).count());
    auto after = read_lease(*admin);
    BOOST_REQUIRE(after);
    BOOST_TEST(after->holder == standby->elector.identity());
    BOOST_TEST(after->transitions == rec->transitions + 1);

    // Clean stop: released at once, a fresh candidate takes over well within a lease duration.
    auto c = std::make_unique<candidate>("c-" + run);
    BOOST_TEST(!c->elector.is_leader());  // the standby-turned-leader still holds a valid lease
    auto t1 = std::chrono::steady_clock::now();
    standby->stop();
    BOOST_TEST(standby->stopped == 1);
    BOOST_REQUIRE(eventually([&] { return c->elector.is_leader(); }, 10s, 20ms));
    auto clean = std::chrono::steady_clock::now() - t1;
    BOOST_TEST_MESSAGE("clean handover took " << std::chrono::duration_cast<std::chrono::milliseconds>(clean).count()
                                              << " ms");
    const auto clean_ms = std::chrono::duration_cast<std::chrono::milliseconds>(clean).count();
    BOOST_TEST(clean_ms < fast.lease_duration.count());
    BOOST_TEST(clean_ms <= (3 * fast.retry_period).count());
    c->stop();
    auto final_rec = read_lease(*admin);
    BOOST_REQUIRE(final_rec);
    BOOST_TEST(final_rec->holder == "");
}

BOOST_AUTO_TEST_SUITE_END()
