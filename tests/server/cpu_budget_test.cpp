// Sizing the serving threads from the CPUs the process may use, on fixed inputs.
#include "server/cpu_budget.hpp"
#include "test_support.hpp"

#include <boost/test/unit_test.hpp>

#include <optional>
#include <string_view>

using namespace apr::server;

BOOST_AUTO_TEST_SUITE(cpu_budget_sizing)

BOOST_AUTO_TEST_CASE(cgroup_v2_cpu_max_limits_the_affinity_count) {
    struct row {
        std::string_view cpu_max;
        unsigned affinity;
        unsigned expected;
    };
    const row table[] = {
        {"max 100000", 4, 4},        // no quota: the affinity mask decides
        {"max 100000\n", 1, 1},      // as the file reads, with its newline
        {"150000 100000", 4, 2},     // 1.5 CPUs, rounded up
        {"150000 100000\n", 32, 2},  // a pod with limits.cpu 1500m on a 32-core node
        {"50000 100000", 4, 1},      // half a CPU: still one thread
        {"100000 100000", 32, 1},    // limits.cpu: 1
        {"400000 100000", 2, 2},     // a quota above the mask does not add CPUs
        {"1000 1000", 8, 1},         //
        {"250000 50000", 8, 5},      // another period
        {"garbage", 3, 3},           // unreadable: the affinity mask
        {"", 3, 3},                  //
        {"100000", 3, 3},            // one field
        {"-1 100000", 3, 3},         // negative quota
        {"0 100000", 3, 3},          //
        {"100000 0", 3, 3},          // zero period
        {"abc 100000", 3, 3},        //
        {"150000 100000 7", 3, 3},   // trailing junk
        {"150000x 100000", 3, 3},    //
        {"max 100000", 0, 1},        // at least one thread whatever the mask says
    };
    for (const auto& r : table) {
        BOOST_TEST_CONTEXT("cpu.max=\"" << r.cpu_max << "\" affinity=" << r.affinity) {
            BOOST_TEST(usable_cpus_for_cpu_max(r.cpu_max, r.affinity) == r.expected);
        }
    }
}

BOOST_AUTO_TEST_CASE(quota_parsing) {
    BOOST_TEST(!quota_cpus_of_cpu_max("max 100000"));
    BOOST_TEST(quota_cpus_of_cpu_max("150000 100000").value_or(0) == 2u);
    BOOST_TEST(quota_cpus_of_cpu_max("  200000   100000 \n").value_or(0) == 2u);
    BOOST_TEST(quota_cpus_of_cpu_max("200001 100000").value_or(0) == 3u);
    // cgroup v1
    BOOST_TEST(!quota_cpus_of_cfs("-1\n", "100000\n"));
    BOOST_TEST(quota_cpus_of_cfs("150000\n", "100000\n").value_or(0) == 2u);
    BOOST_TEST(quota_cpus_of_cfs("50000", "100000").value_or(0) == 1u);
    BOOST_TEST(!quota_cpus_of_cfs("x", "100000"));
    BOOST_TEST(!quota_cpus_of_cfs("50000", "0"));
}

BOOST_AUTO_TEST_CASE(usable_is_the_smaller_and_at_least_one) {
    BOOST_TEST(usable_cpus(4, std::nullopt) == 4u);
    BOOST_TEST(usable_cpus(4, 2u) == 2u);
    BOOST_TEST(usable_cpus(2, 8u) == 2u);
    BOOST_TEST(usable_cpus(0, std::nullopt) == 1u);
    BOOST_TEST(usable_cpus(4, 0u) == 1u);
}

namespace {

void put(const std::filesystem::path& file, const std::string& text) {
    std::filesystem::create_directories(file.parent_path());
    apr::server::test::write_file_atomically(file, text);
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_tightest_quota_on_the_way_up_the_cgroup_tree) {
    apr::server::test::temp_dir tmp;
    const auto root = tmp.path();
    // A pod's cgroup limited to 1.5 CPUs, its container unlimited, the parent unlimited.
    put(root / "kubepods/cpu.max", "max 100000\n");
    put(root / "kubepods/pod1/cpu.max", "150000 100000\n");
    put(root / "kubepods/pod1/ctr/cpu.max", "max 100000\n");
    const auto nested = find_cgroup_quota(root, "0::/kubepods/pod1/ctr\n");
    BOOST_TEST(nested.cpus.value_or(0) == 2u);
    BOOST_TEST(nested.file == (root / "kubepods/pod1/cpu.max").string());

    // A tighter limit further up wins.
    put(root / "kubepods/cpu.max", "50000 100000\n");
    BOOST_TEST(find_cgroup_quota(root, "0::/kubepods/pod1/ctr\n").cpus.value_or(0) == 1u);
}

BOOST_AUTO_TEST_CASE(a_container_sees_its_own_cgroup_at_the_mount_point) {
    apr::server::test::temp_dir tmp;
    const auto root = tmp.path();
    put(root / "cpu.max", "250000 100000\n");
    // With a cgroup namespace the path is "/"; without one it names a host path the mount lacks.
    BOOST_TEST(find_cgroup_quota(root, "0::/\n").cpus.value_or(0) == 3u);
    BOOST_TEST(find_cgroup_quota(root, "0::/kubepods/pod1/ctr\n").cpus.value_or(0) == 3u);
    BOOST_TEST(find_cgroup_quota(root, "0::/../../elsewhere\n").cpus.value_or(0) == 3u);
    BOOST_TEST(find_cgroup_quota(root, "").cpus.value_or(0) == 3u);
}

BOOST_AUTO_TEST_CASE(cgroup_v1_cfs_quota) {
    apr::server::test::temp_dir tmp;
    const auto root = tmp.path();
    put(root / "cpu,cpuacct/cpu.cfs_quota_us", "-1\n");
    put(root / "cpu,cpuacct/cpu.cfs_period_us", "100000\n");
    put(root / "cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "200000\n");
    put(root / "cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
    const auto found = find_cgroup_quota(root, "5:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n0::/\n");
    BOOST_TEST(found.cpus.value_or(0) == 2u);
    BOOST_TEST(found.file == (root / "cpu,cpuacct/docker/abc/cpu.cfs_quota_us").string());
}

BOOST_AUTO_TEST_CASE(no_cgroup_files_no_quota) {
    apr::server::test::temp_dir tmp;
    BOOST_TEST(!find_cgroup_quota(tmp.path(), "0::/\n").cpus);
    BOOST_TEST(!find_cgroup_quota(tmp.path() / "absent", "0::/a/b\n").cpus);
    put(tmp.path() / "cpu.max", "max 100000\n");
    BOOST_TEST(!find_cgroup_quota(tmp.path(), "0::/\n").cpus);
}

BOOST_AUTO_TEST_CASE(this_process_has_a_budget) {
    // Whatever the machine: at least one CPU, never more than the affinity mask allows, and a
    // quota, when there is one, named with the file it came from.
    const auto budget = read_cpu_budget();
    BOOST_TEST(budget.affinity >= 1u);
    BOOST_TEST(budget.usable >= 1u);
    BOOST_TEST(budget.usable <= budget.affinity);
    BOOST_TEST(budget.quota.has_value() == !budget.quota_file.empty());
    BOOST_TEST_MESSAGE("affinity " << budget.affinity << ", usable " << budget.usable
                                   << (budget.quota ? ", quota from " + budget.quota_file : ""));
}

BOOST_FIXTURE_TEST_CASE(threads_zero_serves_on_the_usable_cpus, apr::server::test::server_fixture) {
    auto o = default_options();
    o.threads = 0;
    create(o);
    std::string const expected = "serving threads: " + std::to_string(read_cpu_budget().usable) + " (";
    bool found = false;
    for (const auto& line : logs()) {
        found = found || line.starts_with("info " + expected);
    }
    BOOST_TEST(found);
}

BOOST_AUTO_TEST_SUITE_END()
