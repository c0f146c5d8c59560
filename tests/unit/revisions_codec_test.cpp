#define BOOST_TEST_MODULE revisions_codec
#include <boost/test/unit_test.hpp>

#include "codec/application_revisions.hpp"
#include "codec/kube_objects.hpp"
#include "codec/rollout_codec.hpp"
#include "test_fleet.hpp"

#include <string>
#include <vector>

using namespace apr;
using apr::test::messages;

namespace {

using list = core::revision_list;

codec::application_revisions revisions_of(const std::string& yaml) {
    auto docs = codec::parse_objects(yaml);
    BOOST_REQUIRE_EQUAL(docs.size(), 1u);
    return codec::decode_application_revisions(docs.front());
}

codec::decoded_rollout rollout(const std::string& spec_lines) {
    auto docs = codec::parse_objects(R"(apiVersion: deployment.skyscanner.net/v1alpha1
kind: ProgressiveRollout
metadata: {name: r, namespace: argocd}
spec:
  sourceRef: {apiGroup: argoproj.io, kind: ApplicationSet, name: set}
  stages:
  - name: all
    clusters: {selector: {}}
)" + spec_lines);
    BOOST_REQUIRE_EQUAL(docs.size(), 1u);
    return codec::decode_rollout(docs.front());
}

}  // namespace

BOOST_AUTO_TEST_CASE(track_revisions_decodes_and_defaults_to_false) {
    BOOST_TEST(!rollout("").rollout.spec.track_revisions);
    auto on = rollout("  trackRevisions: true\n");
    BOOST_TEST(on.errors.empty());
    BOOST_TEST(on.rollout.spec.track_revisions);
    BOOST_TEST(!rollout("  trackRevisions: false\n").rollout.spec.track_revisions);
}

BOOST_AUTO_TEST_CASE(track_revisions_of_the_wrong_type_is_an_error_with_its_path) {
    auto wrong = rollout("  trackRevisions: \"yes\"\n");
    BOOST_TEST(messages(wrong.errors) ==
                   std::vector<std::string>{"spec.trackRevisions: Invalid value: \"string\": must be of type boolean"},
               boost::test_tools::per_element());
    BOOST_TEST(!wrong.rollout.spec.track_revisions);
    BOOST_TEST(messages(rollout("  trackRevision: true\n").errors) ==
                   std::vector<std::string>{"unknown field \"spec.trackRevision\""},
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(running_revision_is_the_last_sync_result_and_resolved_the_compared_commit) {
    auto r = revisions_of(R"(status:
  sync: {status: OutOfSync, revision: bbb}
  operationState:
    phase: Succeeded
    syncResult: {revision: aaa, resources: [{name: x}]}
  history:
  - {id: 1, revision: old}
  - {id: 2, revision: older-than-the-operation}
)");
    BOOST_TEST((r.running == list{"aaa"}), boost::test_tools::per_element());
    BOOST_TEST((r.resolved == list{"bbb"}), boost::test_tools::per_element());
    BOOST_TEST(core::revision_change_key(r.resolved) == "rev:bbb");
}

BOOST_AUTO_TEST_CASE(without_an_operation_state_the_last_history_entry_runs) {
    auto r = revisions_of(R"(status:
  sync: {revision: ccc}
  history:
  - {id: 1, revision: aaa}
  - {id: 2, revision: bbb}
)");
    BOOST_TEST((r.running == list{"bbb"}), boost::test_tools::per_element());
    // An operation state without a sync result (a sync that never got one) falls back too.
    auto s = revisions_of("status:\n  operationState: {phase: Error}\n  history: [{revision: x}]\n");
    BOOST_TEST((s.running == list{"x"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(multi_source_revisions_keep_their_positions_and_join_with_commas) {
    auto r = revisions_of(R"(status:
  sync: {revisions: [c1, c2]}
  operationState:
    syncResult: {revision: "", revisions: [a1, a2]}
  history:
  - {revisions: [h1, h2]}
)");
    BOOST_TEST((r.running == list{"a1", "a2"}), boost::test_tools::per_element());
    BOOST_TEST((r.resolved == list{"c1", "c2"}), boost::test_tools::per_element());
    BOOST_TEST(core::join_revisions(r.running) == "a1,a2");
    BOOST_TEST(core::revision_change_key(r.resolved) == "rev:c1,c2");
    auto h = revisions_of("status:\n  history:\n  - {revisions: [h1, h2]}\n  - {revisions: [h3, h4]}\n");
    BOOST_TEST((h.running == list{"h3", "h4"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(absent_or_wrongly_typed_status_reads_as_no_revision) {
    auto none = revisions_of("metadata: {name: a}\n");
    BOOST_TEST(none.running.empty());
    BOOST_TEST(none.resolved.empty());
    BOOST_TEST(core::revision_change_key(none.resolved).empty());
    auto wrong = revisions_of(R"(status:
  sync: {revision: 5}
  operationState: {syncResult: {revision: [x]}}
  history: {revision: y}
)");
    BOOST_TEST(wrong.running.empty());
    BOOST_TEST(wrong.resolved.empty());
    BOOST_TEST(revisions_of("status: []\n").running.empty());
    // A non-string element keeps its place: position i stays source i.
    auto holes = revisions_of("status:\n  sync: {revisions: [a, 1, c]}\n");
    BOOST_TEST((holes.resolved == list{"a", "", "c"}), boost::test_tools::per_element());
}
