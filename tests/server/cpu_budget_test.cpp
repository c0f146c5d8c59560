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
  row const table[] = {
      {"max 100000", 4, 4},          // no quota: the affinity mask decides
      {"max 100000\n", 1, 1},        // as the file reads, with its newline
      {"150000 100000", 4, 2},       // 1.5 CPUs, rounded up
      {"150000 100000\n", 32, 2},    // a pod with limits.cpu 1500m on a 32-core node
      {"50000 100000", 4, 1},        // half a CPU: still one thread
      {"100000 100000", 32, 1},      // limits.cpu: 1
      {"400000 100000", 2, 2},       // a quota above the mask does not add CPUs
      {"1000 1000", 8, 1},           //
      {"250000 50000", 8, 5},        // another period
      {"garbage", 3, 3},             // unreadable: the affinity mask
      {"", 3, 3},                    //
      {"100000", 3, 3},              // one field
      {"-1 100000", 3, 3},           // negative quota
      {"0 100000", 3, 3},            //
      {"100000 0", 3, 3},            // zero period
      {"abc 100000", 3, 3},          //
      {"150000 100000 7", 3, 3},     // trailing junk
      {"150000x 100000", 3, 3},      //
      {"max 100000", 0, 1},          // at least one thread whatever the mask says
  };
  for (auto const& r : table) {
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

BOOST_AUTO_TEST_CASE(this_process_has_a_budget) {
  // Whatever the machine: at least one CPU, never more than the affinity mask allows, and a
  // quota, when there is one, named with the file it came from.
  auto const budget = read_cpu_budget();
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
  for (auto const& line : logs()) {
    found = found || line.starts_with("info " + expected);
  }
  BOOST_TEST(found);
}

BOOST_AUTO_TEST_SUITE_END()
