#define BOOST_TEST_MODULE observed_fleet
#include <boost/test/unit_test.hpp>

#include "core/observed_fleet.hpp"
#include "core/stage_machine.hpp"

#include <algorithm>
#include <string>
#include <vector>

using namespace apr::core;

namespace {

application_observation app(std::string name, std::string cluster, std::string pending_hash = "") {
    application_observation a;
    a.name = std::move(name);
    a.cluster = std::move(cluster);
    a.pending_hash = std::move(pending_hash);
    return a;
}

std::vector<std::string> names_of(const observed_fleet& fleet) {
    std::vector<std::string> out;
    for (const auto& v : fleet.views()) out.emplace_back(v.name);
    return out;
}

}  // namespace

// Names sharing their first 8 bytes, shorter than 8 bytes, prefixes of each other: the order is
// plain string order, which the planner's stage assignment depends on.
BOOST_AUTO_TEST_CASE(clusters_come_in_name_order_with_their_applications_in_observed_order) {
    observations o;
    for (const auto* cluster : {"eu-west-1a-2", "eu-west-1a-10", "b", "eu-west-1a-1", "eu-west-1a", "a"})
        o.applications.push_back(app(std::string("web-") + cluster, cluster));
    o.applications.push_back(app("api-eu-west-1a-2", "eu-west-1a-2"));
    o.applications.push_back(app("db-b", "b"));
    const observed_fleet fleet(o);
    BOOST_TEST(names_of(fleet) ==
                   (std::vector<std::string>{"a", "b", "eu-west-1a", "eu-west-1a-1", "eu-west-1a-10", "eu-west-1a-2"}),
               boost::test_tools::per_element());
    const auto* view = fleet.find("eu-west-1a-2");
    BOOST_TEST_REQUIRE(view);
    BOOST_TEST(view->apps.size() == 2u);
    BOOST_TEST(view->apps[0]->name == "web-eu-west-1a-2");
    BOOST_TEST(view->apps[1]->name == "api-eu-west-1a-2");
    BOOST_TEST(fleet.find("b")->apps.size() == 2u);
    BOOST_TEST(fleet.find("eu-west-1a")->apps.size() == 1u);
}

BOOST_AUTO_TEST_CASE(find_answers_only_for_clusters_with_applications) {
    observations o;
    o.clusters.push_back({"idle", "https://idle", {}});  // a Secret, but nothing of the rollout runs there
    for (int i = 0; i < 3000; ++i) o.applications.push_back(app("app-" + std::to_string(i), "c-" + std::to_string(i)));
    const observed_fleet fleet(o);
    BOOST_TEST(fleet.views().size() == 3000u);
    for (int i = 0; i < 3000; ++i) {
        const auto name = "c-" + std::to_string(i);
        const auto* view = fleet.find(name);
        BOOST_TEST_REQUIRE(view);
        BOOST_TEST(view->name == name);
        BOOST_TEST(view->apps.front()->name == "app-" + std::to_string(i));
    }
    BOOST_TEST(!fleet.find("idle"));
    BOOST_TEST(!fleet.find("c-"));
    BOOST_TEST(!fleet.find("c-30000"));
    BOOST_TEST(!fleet.find(""));
}

BOOST_AUTO_TEST_CASE(the_first_secret_of_a_name_gives_labels_and_an_unknown_cluster_gets_none) {
    observations o;
    o.clusters.push_back({"prod", "https://one", {{"region", "eu"}}});
    o.clusters.push_back({"prod", "https://two", {{"region", "us"}}});
    o.applications.push_back(app("a", "prod"));
    o.applications.push_back(app("b", "in-cluster"));
    const observed_fleet fleet(o);
    const auto* prod = fleet.find("prod");
    BOOST_TEST_REQUIRE(prod);
    BOOST_TEST(prod->identity->server == "https://one");
    BOOST_TEST(prod->labels->at("region") == "eu");
    const auto* local = fleet.find("in-cluster");
    BOOST_TEST_REQUIRE(local);
    BOOST_TEST(local->identity->name == "in-cluster");
    BOOST_TEST(local->labels->empty());
}

BOOST_AUTO_TEST_CASE(a_cluster_pending_change_combines_its_applications_and_refusals_are_kept) {
    observations o;
    o.applications.push_back(app("one", "single", "h1"));
    o.applications.push_back(app("x", "pair", "hx"));
    o.applications.push_back(app("idle", "pair"));
    o.applications.push_back(app("y", "pair", "hy"));
    o.applications.push_back(app("quiet", "none"));
    o.applications.back().hold_refused = "too large";
    const observed_fleet fleet(o);
    BOOST_TEST(fleet.find("single")->pending_hash == "h1");
    BOOST_TEST(fleet.find("pair")->pending_hash == combine_hashes({{"x", "hx"}, {"y", "hy"}}));
    BOOST_TEST(!fleet.find("none")->has_pending());
    BOOST_TEST(fleet.any_hold_refused());
    BOOST_TEST(fleet.find("none")->hold_refused->name == "quiet");
    BOOST_TEST(!fleet.find("pair")->hold_refused);

    const observed_fleet empty(observations{});
    BOOST_TEST(empty.views().empty());
    BOOST_TEST(!empty.find("anything"));
    BOOST_TEST(!empty.any_hold_refused());
}
