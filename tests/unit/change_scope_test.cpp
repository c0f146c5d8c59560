#define BOOST_TEST_MODULE change_scope
#include <boost/test/unit_test.hpp>

// spec.scope.paths (docs/api.md#change-scope): the path syntax, and whether a write between two
// desired states touches a path, from the specs as JSON through codec::list_desired_changes.

#include "codec/desired_changes.hpp"
#include "core/change_scope.hpp"

#include <rapidjson/document.h>

using namespace apr;

namespace {

core::value_path path(const std::string& text) {
    std::string problem;
    auto p = core::parse_scope_path(text, problem);
    BOOST_TEST_REQUIRE(p.has_value(), text << ": " << problem);
    return *p;
}

std::string problem_of(const std::string& text) {
    std::string problem;
    auto p = core::parse_scope_path(text, problem);
    BOOST_TEST(!p.has_value(), text << " parsed");
    return problem;
}

// Whether a write from spec `before` to spec `after` (JSON) touches the scope path.
bool touches(const std::string& scope, const std::string& before, const std::string& after) {
    rapidjson::Document a, b;
    a.Parse(before.c_str());
    b.Parse(after.c_str());
    BOOST_TEST_REQUIRE(!a.HasParseError());
    BOOST_TEST_REQUIRE(!b.HasParseError());
    return core::touches(path(scope), codec::list_desired_changes(a, b));
}

const std::string helm_v1 =
    R"({"project":"p","source":{"repoURL":"r","targetRevision":"v1","helm":{"valuesObject":{"image":{"tag":"1"},"replicas":2}}}})";

std::string helm(const std::string& revision, const std::string& tag, int replicas) {
    return R"({"project":"p","source":{"repoURL":"r","targetRevision":")" + revision +
           R"(","helm":{"valuesObject":{"image":{"tag":")" + tag + R"("},"replicas":)" + std::to_string(replicas) +
           "}}}}";
}

std::string two_sources(const std::string& first, const std::string& second) {
    return R"({"sources":[{"repoURL":"a","targetRevision":")" + first + R"("},{"repoURL":"b","targetRevision":")" +
           second + R"("}]})";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(scope_path_syntax)

BOOST_AUTO_TEST_CASE(paths_name_members_indices_and_every_element) {
    for (std::string text : {"source.targetRevision", "source.helm.valuesObject.image", "sources[0].targetRevision",
                             "sources[*].chart", "syncPolicy", "sourceHydrator.drySource.targetRevision",
                             "source.helm.valuesObject[\"app.kubernetes.io/name\"]", "sources[12]", "sources"})
        BOOST_TEST(core::to_string(path(text)) == text);
}

BOOST_AUTO_TEST_CASE(paths_outside_the_desired_state_are_refused_with_the_reason) {
    BOOST_TEST(problem_of("destination.server").find("starting with source, sources, sourceHydrator or syncPolicy") !=
               std::string::npos);
    BOOST_TEST(problem_of("project").find("desired state") != std::string::npos);
    BOOST_TEST(problem_of("").find("desired state") != std::string::npos);
    BOOST_TEST(problem_of("spec.source.targetRevision") ==
               "paths are relative to the Application's spec: write \"source.targetRevision\"");
}

BOOST_AUTO_TEST_CASE(malformed_paths_are_refused) {
    BOOST_TEST(problem_of("sources.targetRevision") ==
               "sources is a list: name one source by index (sources[0].targetRevision) or every source "
               "(sources[*].targetRevision)");
    BOOST_TEST(problem_of("source[0]") == "source is an object, not a list");
    BOOST_TEST(problem_of("source..targetRevision") == "a member name must follow each \".\"");
    BOOST_TEST(problem_of("source.") == "a member name must follow each \".\"");
    BOOST_TEST(problem_of("sources[x]").find("an index must be a number or *") == 0);
    BOOST_TEST(problem_of("sources[-1]").find("an index must be a number or *") == 0);
    BOOST_TEST(problem_of("sources[0").find("closed") != std::string::npos);
    BOOST_TEST(problem_of("source.helm[\"a").find("quoted") != std::string::npos);
    BOOST_TEST(problem_of("source.helm[\"\"]") == "a member name must not be empty");
    BOOST_TEST(problem_of("source targetRevision").find("unexpected") == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(what_a_write_touches)

BOOST_AUTO_TEST_CASE(a_change_outside_the_path_does_not_touch_it) {
    BOOST_TEST(!touches("source.targetRevision", helm_v1, helm("v1", "2", 2)));
    BOOST_TEST(!touches("source.targetRevision", helm_v1, helm("v1", "1", 3)));
    BOOST_TEST(touches("source.targetRevision", helm_v1, helm("v2", "1", 2)));
}

BOOST_AUTO_TEST_CASE(a_change_touching_the_path_and_others_touches_it) {
    BOOST_TEST(touches("source.targetRevision", helm_v1, helm("v2", "2", 3)));
}

BOOST_AUTO_TEST_CASE(a_change_inside_the_path_touches_it) {
    BOOST_TEST(touches("source.helm.valuesObject.image", helm_v1, helm("v1", "2", 2)));
    BOOST_TEST(touches("source.helm", helm_v1, helm("v1", "1", 3)));
    BOOST_TEST(touches("source", helm_v1, helm("v1", "1", 3)));
    BOOST_TEST(!touches("source.helm.valuesObject.image", helm_v1, helm("v2", "1", 3)));
}

BOOST_AUTO_TEST_CASE(a_value_replaced_by_another_kind_touches_what_it_held) {
    const std::string as_string =
        R"({"source":{"repoURL":"r","targetRevision":"v1","helm":{"valuesObject":{"image":"nginx:1"}}}})";
    BOOST_TEST(touches("source.helm.valuesObject.image", helm_v1, as_string));
    BOOST_TEST(touches("source.helm.valuesObject.image.tag", helm_v1, as_string));
    BOOST_TEST(touches("source.helm.valuesObject.image.tag", as_string, helm_v1));
    BOOST_TEST(!touches("source.helm.valuesObject.image.registry", as_string, helm_v1));
}

BOOST_AUTO_TEST_CASE(absent_fields) {
    const std::string bare = R"({"source":{"repoURL":"r","targetRevision":"v1"}})";
    const std::string bare_v2 = R"({"source":{"repoURL":"r","targetRevision":"v2"}})";
    const std::string with_release = R"({"source":{"repoURL":"r","targetRevision":"v1","helm":{"releaseName":"x"}}})";
    const std::string with_image =
        R"({"source":{"repoURL":"r","targetRevision":"v1","helm":{"valuesObject":{"image":{}}}}})";
    // Absent before and after: untouched, whatever else changes.
    BOOST_TEST(!touches("source.helm.valuesObject.image", bare, bare_v2));
    BOOST_TEST(!touches("source.helm.valuesObject.image", bare, with_release));
    // Appearing or disappearing is a change, even as an empty object.
    BOOST_TEST(touches("source.helm.valuesObject.image", bare, with_image));
    BOOST_TEST(touches("source.helm.valuesObject.image", with_image, bare));
    BOOST_TEST(touches("source.helm", bare, with_release));
    // A desired-state field that is null is absent.
    BOOST_TEST(!touches("syncPolicy", R"({"syncPolicy":null,"source":{}})", R"({"source":{}})"));
    BOOST_TEST(touches("syncPolicy", R"({"source":{}})", R"({"syncPolicy":{},"source":{}})"));
    // Fields outside the desired state are not listed at all.
    BOOST_TEST(!touches("source", R"({"project":"a","source":{}})", R"({"project":"b","source":{}})"));
}

BOOST_AUTO_TEST_CASE(list_indices_are_compared_by_position) {
    BOOST_TEST(!touches("sources[0].targetRevision", two_sources("v1", "v1"), two_sources("v1", "v2")));
    BOOST_TEST(touches("sources[1].targetRevision", two_sources("v1", "v1"), two_sources("v1", "v2")));
    BOOST_TEST(touches("sources[0].targetRevision", two_sources("v1", "v1"), two_sources("v2", "v1")));
    BOOST_TEST(touches("sources[*].targetRevision", two_sources("v1", "v1"), two_sources("v1", "v2")));
    BOOST_TEST(
        !touches("sources[*].targetRevision", two_sources("v1", "v1"),
                 R"({"sources":[{"repoURL":"a2","targetRevision":"v1"},{"repoURL":"b","targetRevision":"v1"}]})"));
    // A source added at the end leaves sources[0] as it was; one added in front moves it.
    const std::string three_at_end =
        R"({"sources":[{"repoURL":"a","targetRevision":"v1"},{"repoURL":"b","targetRevision":"v1"},{"repoURL":"c","targetRevision":"v9"}]})";
    const std::string three_in_front =
        R"({"sources":[{"repoURL":"c","targetRevision":"v9"},{"repoURL":"a","targetRevision":"v1"},{"repoURL":"b","targetRevision":"v1"}]})";
    BOOST_TEST(!touches("sources[0].targetRevision", two_sources("v1", "v1"), three_at_end));
    BOOST_TEST(touches("sources[2].targetRevision", two_sources("v1", "v1"), three_at_end));
    BOOST_TEST(touches("sources[0].targetRevision", two_sources("v1", "v1"), three_in_front));
    BOOST_TEST(touches("sources", two_sources("v1", "v1"), three_at_end));
}

BOOST_AUTO_TEST_CASE(source_and_sources_are_one_thing_in_two_shapes) {
    const std::string single = R"({"source":{"repoURL":"a","targetRevision":"v1"}})";
    const std::string single_v2 = R"({"source":{"repoURL":"a","targetRevision":"v2"}})";
    // A template switching shape keeping the revision still changes source.targetRevision (absent now).
    BOOST_TEST(touches("source.targetRevision", single, two_sources("v1", "v1")));
    BOOST_TEST(touches("sources[0].targetRevision", two_sources("v1", "v1"), single));
    // A path written for one shape names the same place in the other.
    BOOST_TEST(touches("source.targetRevision", two_sources("v1", "v1"), two_sources("v1", "v2")));
    BOOST_TEST(touches("sources[0].targetRevision", single, single_v2));
    BOOST_TEST(touches("sources[*].targetRevision", single, single_v2));
    BOOST_TEST(touches("sources", single, single_v2));
    BOOST_TEST(
        !touches("source.targetRevision", two_sources("v1", "v1"),
                 R"({"sources":[{"repoURL":"a2","targetRevision":"v1"},{"repoURL":"b","targetRevision":"v1"}]})"));
}

BOOST_AUTO_TEST_CASE(a_listing_cut_short_touches_every_path) {
    rapidjson::Document a, b;
    a.Parse(helm_v1.c_str());
    b.Parse(helm("v1", "2", 3).c_str());
    auto changes = codec::list_desired_changes(a, b, 1);
    BOOST_TEST(!changes.complete);
    BOOST_TEST(core::touches(path("sourceHydrator"), changes));
    BOOST_TEST(codec::list_desired_changes(a, b).complete);
}

BOOST_AUTO_TEST_SUITE_END()
