#define BOOST_TEST_MODULE validation
#include <boost/test/unit_test.hpp>

#include "core/validation.hpp"
#include "test_fleet.hpp"

#include <date/tz.h>

using namespace apr::core;
using namespace apr::test;

namespace {

std::vector<std::string> messages(const validation_result& r) {
    std::vector<std::string> out;
    for (const auto& e : r.errors) out.push_back(e.to_string());
    return out;
}

validation_result check(const rollout_spec& spec, validation_context context = {}) {
    context.name = "rollout";
    return validate(spec, context);
}

bool has(const validation_result& r, const std::string& message) {
    auto all = messages(r);
    return std::find(all.begin(), all.end(), message) != all.end();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(validation_rules)

BOOST_AUTO_TEST_CASE(seed_example_is_valid) {
    auto r = check(seed_spec());
    BOOST_TEST(r.ok());
    BOOST_TEST(r.warnings.empty());
}

BOOST_AUTO_TEST_CASE(stages_are_required) {
    auto spec = seed_spec();
    spec.stages.clear();
    BOOST_TEST(has(check(spec), "spec.stages: Required value: at least one stage is required"));
}

BOOST_AUTO_TEST_CASE(stage_names_are_required_and_unique) {
    auto spec = seed_spec();
    spec.stages[2].name = "eu-west-1";
    spec.stages[0].name = "";
    auto r = check(spec);
    BOOST_TEST(has(r, "spec.stages[2].name: Duplicate value: \"eu-west-1\""));
    BOOST_TEST(has(r, "spec.stages[0].name: Required value"));
}

BOOST_AUTO_TEST_CASE(percentages_over_100_are_rejected_in_the_api_servers_words) {
    auto spec = seed_spec();
    spec.stages[1].max_unavailable = int_or_percent::parse("125%");
    BOOST_TEST(
        messages(check(spec)) ==
            std::vector<std::string>{"spec.stages[1].maxUnavailable: Invalid value: \"125%\": must be an integer or a "
                                     "percentage between 0% and 100%"},
        boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(int_or_percent_format_and_sign) {
    auto spec = seed_spec();
    spec.stages[0].max_clusters = int_or_percent::parse("two");
    spec.stages[1].max_clusters = int_or_percent::integer(-1);
    auto r = check(spec);
    BOOST_TEST(has(
        r,
        "spec.stages[0].maxClusters: Invalid value: \"two\": must be an integer or a percentage between 0% and 100%"));
    BOOST_TEST(has(r, "spec.stages[1].maxClusters: Invalid value: -1: must be greater than or equal to 0"));
}

BOOST_AUTO_TEST_CASE(max_unavailable_of_zero_would_stall) {
    auto spec = seed_spec();
    spec.stages[0].max_unavailable = int_or_percent::integer(0);
    spec.stages[1].max_unavailable = int_or_percent::percent(0);
    auto r = check(spec);
    BOOST_TEST(has(r,
                   "spec.stages[0].maxUnavailable: Invalid value: 0: must be greater than 0, or the stage would never "
                   "admit a cluster"));
    BOOST_TEST(has(r,
                   "spec.stages[1].maxUnavailable: Invalid value: \"0%\": must be greater than 0, or the stage would "
                   "never admit a cluster"));
}

BOOST_AUTO_TEST_CASE(durations_must_parse_and_be_positive_where_it_matters) {
    auto spec = seed_spec();
    spec.stages[0].requeue->interval = duration_field::of("half an hour");
    spec.stages[1].requeue->interval = duration_field::of("0s");
    spec.stages[1].bake_time = duration_field::of("-1m");
    spec.stages[2].progress_deadline = duration_field::of("10");
    auto r = check(spec);
    BOOST_TEST(has(r,
                   "spec.stages[0].requeue.interval: Invalid value: \"half an hour\": must be a duration such as "
                   "\"90s\", \"30m\" or \"1h30m\""));
    BOOST_TEST(has(r, "spec.stages[1].requeue.interval: Invalid value: \"0s\": must be greater than 0"));
    BOOST_TEST(has(r, "spec.stages[1].bakeTime: Invalid value: \"-1m\": must not be negative"));
    BOOST_TEST(has(r,
                   "spec.stages[2].progressDeadline: Invalid value: \"10\": must be a duration such as \"90s\", "
                   "\"30m\" or \"1h30m\""));
}

BOOST_AUTO_TEST_CASE(windows_are_checked_field_by_field_all_at_once) {
    auto spec = seed_spec();
    const auto* london = date::locate_zone("Europe/London");
    spec.windows = {
        {"Deny", "0 9 * * 1-4", duration_field::of("8h"), {"Europe/London", london}},  // valid
        {"Allow", "0 22 * *", duration_field::of("2h"), {}},
        {"deny", "61 * * * *", duration_field::of("8 hours"), {"Europe/Londres", nullptr}},
        {"", "", {}, {}},
        {"Deny", "0 0 30 2 *", duration_field::of("0s"), {}},
        {"Deny", "CRON_TZ=Europe/London 0 9 * * *", duration_field::of("1h"), {}},
    };
    auto r = check(spec);
    std::vector<std::string> expected = {
        "spec.windows[1].schedule: Invalid value: \"0 22 * *\": cannot parse schedule: expected exactly 5 fields, "
        "found 4",
        "spec.windows[2].kind: Unsupported value: \"deny\": supported values: \"Allow\", \"Deny\"",
        "spec.windows[2].schedule: Invalid value: \"61 * * * *\": cannot parse schedule: end of range (61) above "
        "maximum (59): 61",
        "spec.windows[2].duration: Invalid value: \"8 hours\": must be a duration such as \"90s\", \"30m\" or "
        "\"1h30m\"",
        "spec.windows[2].timeZone: Invalid value: \"Europe/Londres\": unknown time zone: use an IANA name such as "
        "\"Europe/London\" or \"UTC\"",
        "spec.windows[3].kind: Required value",
        "spec.windows[3].schedule: Required value: a 5-field cron schedule such as \"0 9 * * 1-5\"",
        "spec.windows[3].duration: Required value",
        "spec.windows[4].schedule: Invalid value: \"0 0 30 2 *\": the window would never open",
        "spec.windows[4].duration: Invalid value: \"0s\": must be greater than 0",
        "spec.windows[5].schedule: Invalid value: \"CRON_TZ=Europe/London 0 9 * * *\": set the time zone in "
        "timeZone, not in the schedule",
    };
    BOOST_TEST(messages(r) == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(requeue_needs_selector_attempts_interval_and_non_negative_attempts) {
    auto spec = seed_spec();
    spec.stages[0].requeue = requeue_policy{};
    spec.stages[1].requeue->attempts = -2;
    auto r = check(spec);
    BOOST_TEST(has(r, "spec.stages[0].requeue.selector: Required value"));
    BOOST_TEST(has(r, "spec.stages[0].requeue.attempts: Required value"));
    BOOST_TEST(has(r, "spec.stages[0].requeue.interval: Required value"));
    BOOST_TEST(has(r, "spec.stages[1].requeue.attempts: Invalid value: -2: must be greater than or equal to 0"));
}

BOOST_AUTO_TEST_CASE(source_ref_must_name_an_application_set) {
    auto spec = seed_spec();
    spec.source.kind = "Deployment";
    spec.source.api_group = "apps";
    auto r = check(spec);
    BOOST_TEST(has(r, "spec.sourceRef.kind: Unsupported value: \"Deployment\": supported values: \"ApplicationSet\""));
    BOOST_TEST(has(r,
                   "spec.sourceRef.apiGroup: Unsupported value: \"apps\": supported values: \"argoproj.io\", "
                   "\"argoproj.io/v1alpha1\""));
}

BOOST_AUTO_TEST_CASE(both_accepted_api_group_spellings) {
    for (const char* group : {"argoproj.io", "argoproj.io/v1alpha1", ""}) {
        auto spec = seed_spec();
        spec.source.api_group = group;
        BOOST_TEST(check(spec).ok(), group);
    }
}

BOOST_AUTO_TEST_CASE(one_application_set_one_rollout) {
    validation_context context;
    context.others = {{"rollout", "my-app-set"}, {"other", "my-app-set"}, {"third", "another"}};
    auto r = check(seed_spec(), context);
    BOOST_TEST(
        messages(r) ==
            std::vector<std::string>{"spec.sourceRef.name: Invalid value: \"my-app-set\": ApplicationSet is already "
                                     "rolled out by ProgressiveRollout \"other\"; an ApplicationSet may be "
                                     "referenced by only one ProgressiveRollout"},
        boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(selector_errors_carry_the_stage_path) {
    auto spec = seed_spec();
    spec.stages[2].selector->match_expressions.push_back({"region", selector_operator::in, "In", {}});
    BOOST_TEST(has(check(spec),
                   "spec.stages[2].clusters.selector.matchExpressions[0].values: Required value: must be "
                   "specified when `operator` is 'In' or 'NotIn'"));
    spec.stages[1].selector.reset();
    BOOST_TEST(has(check(spec),
                   "spec.stages[1].clusters.selector: Required value: a stage must select its clusters ({} "
                   "selects every cluster)"));
}

BOOST_AUTO_TEST_CASE(every_error_is_reported_at_once) {
    auto spec = seed_spec();
    spec.source.kind = "";
    spec.stages[0].max_unavailable = int_or_percent::parse("125%");
    spec.stages[1].requeue->interval = duration_field::of("soon");
    spec.stages[2].max_failures = -1;
    BOOST_TEST(check(spec).errors.size() == 4u);
}

BOOST_AUTO_TEST_CASE(scope_paths_must_lie_in_the_desired_state) {
    auto spec = seed_spec();
    spec.scope = scope_spec{{"source.targetRevision", "sources[*].chart", "source.helm.valuesObject.image"}};
    BOOST_TEST(check(spec).ok());
    spec.scope = scope_spec{{"source.targetRevision", "destination.server", "spec.source.chart", "sources.chart"}};
    BOOST_TEST(messages(check(spec)) ==
                   std::vector<std::string>(
                       {"spec.scope.paths[1]: Invalid value: \"destination.server\": must be a path in the "
                        "Application's desired state, starting with source, sources, sourceHydrator or syncPolicy",
                        "spec.scope.paths[2]: Invalid value: \"spec.source.chart\": paths are relative to the "
                        "Application's spec: write \"source.chart\"",
                        "spec.scope.paths[3]: Invalid value: \"sources.chart\": sources is a list: name one source "
                        "by index (sources[0].chart) or every source (sources[*].chart)"}),
               boost::test_tools::per_element());
    spec.scope = scope_spec{};
    BOOST_TEST(
        has(check(spec), "spec.scope.paths: Required value: at least one path; omit spec.scope to stage every change"));
}

BOOST_AUTO_TEST_CASE(warnings_for_empty_selectors_and_missing_topology_labels) {
    validation_context context;
    context.clusters_known = true;
    context.clusters = {make_cluster("a", {{"area", "emea"}, {"region", "eu-west-1"}}),
                        make_cluster("b", {{"area", "emea"}})};
    auto r = check(seed_spec(), context);
    BOOST_TEST(r.ok());
    std::vector<std::string> expected = {
        "spec.stages[0].topologyKey: 1 of 2 selected clusters lack the label \"region\"; they are picked last",
        "spec.stages[2].clusters.selector: stage \"eu-central-1\" matches no known cluster"};
    BOOST_TEST(r.warnings == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_missing_application_set_is_a_warning_not_an_error) {
    validation_context context;
    context.namespace_ = "argocd";
    context.application_sets = std::vector<std::string>{"other-set"};
    auto r = check(seed_spec(), context);
    BOOST_TEST(r.ok());
    std::vector<std::string> expected = {
        "spec.sourceRef.name: ApplicationSet \"my-app-set\" not found in namespace "
        "\"argocd\"; the rollout waits until it exists"};
    BOOST_TEST(r.warnings == expected, boost::test_tools::per_element());

    context.application_sets = std::vector<std::string>{};  // known: none exists
    BOOST_TEST(check(seed_spec(), context).warnings == expected, boost::test_tools::per_element());
    context.application_sets = std::vector<std::string>{"other-set", "my-app-set"};
    BOOST_TEST(check(seed_spec(), context).warnings.empty());
    context.application_sets.reset();  // unknown: no check
    BOOST_TEST(check(seed_spec(), context).warnings.empty());
}

BOOST_AUTO_TEST_CASE(no_missing_application_set_warning_on_top_of_a_source_ref_error) {
    validation_context context;
    context.application_sets = std::vector<std::string>{};
    auto spec = seed_spec();
    spec.source.kind = "Deployment";
    BOOST_TEST(check(spec, context).warnings.empty());
    spec = seed_spec();
    spec.source.name = "Not_A_Name";
    BOOST_TEST(check(spec, context).warnings.empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(gate_rules)

namespace {

gate_spec metric_gate() {
    gate_spec g;
    g.name = "error-rate";
    g.prometheus = prometheus_check{"http://prometheus:9090", "rate{cluster=\"$(cluster.name)\"}", {{}, 0.01}};
    g.scope = gate_scope::cluster;
    return g;
}

rollout_spec with_gate(gate_spec g) {
    auto spec = seed_spec();
    spec.stages[0].gates.push_back(std::move(g));
    return spec;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_well_formed_metric_gate_is_valid) {
    auto r = check(with_gate(metric_gate()));
    const auto errors = messages(r);
    BOOST_TEST(r.ok(), (errors.empty() ? std::string() : errors.front()));
}

BOOST_AUTO_TEST_CASE(exactly_one_kind_of_check) {
    auto g = metric_gate();
    g.approval = approval_check{};
    BOOST_TEST(has(check(with_gate(g)),
                   "spec.stages[0].gates[0]: Invalid value: exactly one of prometheus, webhook "
                   "or approval must be set"));
    gate_spec none;
    none.name = "nothing";
    BOOST_TEST(
        has(check(with_gate(none)),
            "spec.stages[0].gates[0]: Required value: exactly one of prometheus, webhook or approval must be set"));
}

BOOST_AUTO_TEST_CASE(threshold_min_must_not_exceed_max_and_all_errors_come_at_once) {
    auto g = metric_gate();
    g.prometheus->threshold = {0.5, 0.1};
    g.count = 0;
    g.interval = duration_field::of("soon");
    const auto r = check(with_gate(g));
    BOOST_TEST(r.errors.size() == 3u);
    BOOST_TEST(messages(r)[0].starts_with("spec.stages[0].gates[0].interval: Invalid value: \"soon\""));
    BOOST_TEST(has(r, "spec.stages[0].gates[0].count: Invalid value: 0: must be greater than or equal to 1"));
    BOOST_TEST(messages(r)[2].starts_with("spec.stages[0].gates[0].prometheus.thresholdRange: Invalid value"));
}

BOOST_AUTO_TEST_CASE(placeholders_must_be_known_and_cluster_ones_need_scope_cluster) {
    auto g = metric_gate();
    g.prometheus->query = "rate{cluster=\"$(cluster.nam)\"}";
    BOOST_TEST(messages(check(with_gate(g)))[0].starts_with(
        "spec.stages[0].gates[0].prometheus.query: Invalid value: \"$(cluster.nam)\": unknown placeholder"));
    g = metric_gate();
    g.scope = gate_scope::stage;
    BOOST_TEST(messages(check(with_gate(g)))[0].starts_with(
        "spec.stages[0].gates[0].prometheus.query: Invalid value: \"$(cluster.name)\": unknown placeholder; known "
        "with scope Stage"));
}

BOOST_AUTO_TEST_CASE(gate_urls_must_start_with_an_allowed_prefix) {
    validation_context context;
    context.allowed_gate_urls = {"http://prometheus.monitoring.svc:9090", "https://smoke."};
    auto g = metric_gate();
    BOOST_TEST(
        has(check(with_gate(g), context),
            "spec.stages[0].gates[0].prometheus.address: Forbidden: \"http://prometheus:9090\": gate URLs must start "
            "with one of: "
            "\"http://prometheus.monitoring.svc:9090\", \"https://smoke.\""));
    g.prometheus->address = "http://prometheus.monitoring.svc:9090";
    BOOST_TEST(check(with_gate(g), context).ok());
    g.prometheus->address = "ftp://x";
    BOOST_TEST(has(check(with_gate(g)),
                   "spec.stages[0].gates[0].prometheus.address: Invalid value: \"ftp://x\": must be an http:// or "
                   "https:// URL"));
}

BOOST_AUTO_TEST_CASE(before_gates_and_approvals_have_scope_stage) {
    auto g = metric_gate();
    g.when = gate_timing::before;
    BOOST_TEST(
        messages(check(with_gate(g)))[0].starts_with("spec.stages[0].gates[0].scope: Invalid value: \"Cluster\""));
    gate_spec approval;
    approval.name = "board";
    approval.when = gate_timing::during;
    approval.approval = approval_check{{"oncall"}};
    BOOST_TEST(messages(check(with_gate(approval)))[0].starts_with("spec.stages[0].gates[0].when: Invalid value"));
}

BOOST_AUTO_TEST_CASE(webhook_headers_take_a_value_or_a_secret) {
    gate_spec g;
    g.name = "smoke";
    webhook_check w;
    w.url = "http://smoke/run";
    w.headers.push_back({"", "x", secret_key_ref{"", "token"}});
    g.webhook = w;
    const auto r = check(with_gate(g));
    BOOST_TEST(has(r, "spec.stages[0].gates[0].webhook.headers[0].name: Required value"));
    BOOST_TEST(has(r, "spec.stages[0].gates[0].webhook.headers[0]: Invalid value: set value or valueFrom, not both"));
    BOOST_TEST(has(r, "spec.stages[0].gates[0].webhook.headers[0].valueFrom.secretKeyRef.name: Required value"));
}

BOOST_AUTO_TEST_CASE(gate_names_are_unique_within_a_stage) {
    auto spec = with_gate(metric_gate());
    spec.stages[0].gates.push_back(metric_gate());
    BOOST_TEST(has(check(spec), "spec.stages[0].gates[1].name: Duplicate value: \"error-rate\""));
}

BOOST_AUTO_TEST_SUITE_END()
