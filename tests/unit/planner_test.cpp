#define BOOST_TEST_MODULE planner
#include <boost/test/unit_test.hpp>

#include "core/planner.hpp"
#include "test_fleet.hpp"

#include <algorithm>
#include <random>

using namespace apr::core;
using namespace apr::test;
using names = std::vector<std::string>;

BOOST_AUTO_TEST_SUITE(planning)

BOOST_AUTO_TEST_CASE(seed_example_on_an_emea_fleet_matches_the_hand_worked_plan) {
    auto fleet = emea_fleet();
    fleet[2].labels["drained"] = "true";  // eu-west-1b-1 is under maintenance
    auto plan = make_plan(seed_spec(), fleet);
    BOOST_REQUIRE_EQUAL(plan.stages.size(), 3u);
    // Canary: one per region, regions in sorted order, 2 clusters.
    BOOST_TEST(plan.stages[0].clusters == (names{"eu-central-1a-1", "eu-north-1a-1"}),
               boost::test_tools::per_element());
    BOOST_TEST(plan.stages[0].waves.size() == 1u);
    // eu-west-1: the rest of the region, 25% of 4 = 1 at a time, the drained cluster last.
    BOOST_TEST(plan.stages[1].clusters == (names{"eu-west-1a-1", "eu-west-1a-2", "eu-west-1c-1", "eu-west-1b-1"}),
               boost::test_tools::per_element());
    BOOST_TEST(plan.stages[1].requeued == (names{"eu-west-1b-1"}), boost::test_tools::per_element());
    BOOST_TEST(plan.stages[1].max_unavailable == 1);
    BOOST_TEST(plan.stages[1].waves.size() == 4u);
    // eu-central-1 without the canary.
    BOOST_TEST(plan.stages[2].clusters == (names{"eu-central-1b-1", "eu-central-1c-1"}),
               boost::test_tools::per_element());
    // Outside every stage: eu-north-1 beyond the canary is not selected by any later stage either.
    BOOST_TEST(plan.unstaged == (names{"us-east-1a-1"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(same_input_in_any_order_gives_the_same_plan) {
    auto fleet = emea_fleet();
    auto reference = make_plan(seed_spec(), fleet);
    std::mt19937 rng(42);
    for (int i = 0; i < 20; ++i) {
        std::shuffle(fleet.begin(), fleet.end(), rng);
        auto plan = make_plan(seed_spec(), fleet);
        for (std::size_t s = 0; s < plan.stages.size(); ++s)
            BOOST_TEST(plan.stages[s].clusters == reference.stages[s].clusters, boost::test_tools::per_element());
        BOOST_TEST(plan.unstaged == reference.unstaged, boost::test_tools::per_element());
    }
}

BOOST_AUTO_TEST_CASE(topology_round_robin_with_unequal_domains_and_unlabelled_last) {
    std::vector<cluster> fleet = {
        make_cluster("a1", {{"zone", "a"}}),
        make_cluster("a2", {{"zone", "a"}}),
        make_cluster("a3", {{"zone", "a"}}),
        make_cluster("b1", {{"zone", "b"}}),
        make_cluster("n1", {}),
        make_cluster("n2", {}),
        make_cluster("c1", {{"zone", "c"}}),
        make_cluster("c2", {{"zone", "c"}}),
    };
    rollout_spec spec;
    auto s = stage("all", label_selector{}, int_or_percent::integer(1));
    s.topology_key = "zone";
    spec.stages = {s};
    auto plan = make_plan(spec, fleet);
    BOOST_TEST(plan.stages[0].clusters == (names{"a1", "b1", "c1", "n1", "a2", "c2", "n2", "a3"}),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_cluster_goes_to_the_first_stage_that_selects_it) {
    std::vector<cluster> fleet = {make_cluster("x", {{"env", "prod"}}), make_cluster("y", {{"env", "prod"}})};
    rollout_spec spec;
    spec.stages = {stage("first", match({{"env", "prod"}}), int_or_percent::integer(1), int_or_percent::integer(1)),
                   stage("second", match({{"env", "prod"}}), int_or_percent::integer(1))};
    auto plan = make_plan(spec, fleet);
    BOOST_TEST(plan.stages[0].clusters == (names{"x"}), boost::test_tools::per_element());
    BOOST_TEST(plan.stages[1].clusters == (names{"y"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(max_clusters_percentage_is_of_all_clusters_the_selector_matches) {
    std::vector<cluster> fleet;
    for (int i = 0; i < 10; ++i) fleet.push_back(make_cluster("c" + std::to_string(i), {{"region", "r"}}));
    rollout_spec spec;
    spec.stages = {stage("canary", match({{"region", "r"}}), int_or_percent::integer(1), int_or_percent::integer(2)),
                   stage("half", match({{"region", "r"}}), int_or_percent::integer(1), int_or_percent::percent(50)),
                   stage("rest", match({{"region", "r"}}), int_or_percent::integer(1))};
    auto plan = make_plan(spec, fleet);
    BOOST_TEST(plan.stages[0].clusters.size() == 2u);
    BOOST_TEST(plan.stages[1].clusters.size() == 5u);  // 50% of the 10 the selector matches
    BOOST_TEST(plan.stages[2].clusters.size() == 3u);
}

BOOST_AUTO_TEST_CASE(empty_stages_and_empty_fleets) {
    rollout_spec spec;
    spec.stages = {stage("nobody", match({{"region", "mars"}}), int_or_percent::percent(25)),
                   stage("all", label_selector{}, int_or_percent::percent(25))};
    auto empty = make_plan(spec, std::vector<cluster>{});
    BOOST_TEST(empty.stages[0].clusters.empty());
    BOOST_TEST(empty.stages[0].waves.empty());
    BOOST_TEST(empty.stages[1].max_unavailable == 1);  // never zero, even of nothing
    auto one = make_plan(spec, std::vector<cluster>{make_cluster("solo", {})});
    BOOST_TEST(one.stages[1].clusters == (names{"solo"}), boost::test_tools::per_element());
    BOOST_TEST(one.stages[1].max_unavailable == 1);
}

BOOST_AUTO_TEST_CASE(waves_cut_the_order_by_max_unavailable) {
    std::vector<cluster> fleet;
    for (int i = 0; i < 7; ++i) fleet.push_back(make_cluster("c" + std::to_string(i), {}));
    rollout_spec spec;
    spec.stages = {stage("all", label_selector{}, int_or_percent::integer(3))};
    auto plan = make_plan(spec, fleet);
    BOOST_REQUIRE_EQUAL(plan.stages[0].waves.size(), 3u);
    BOOST_TEST(plan.stages[0].waves[2] == (names{"c6"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
