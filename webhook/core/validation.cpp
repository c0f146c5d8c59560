#include "core/validation.hpp"

#include "core/change_scope.hpp"
#include "core/cron.hpp"
#include "core/measurements.hpp"

#include <algorithm>
#include <set>

namespace apr::core {

namespace {

constexpr std::string_view int_or_percent_detail = "must be an integer or a percentage between 0% and 100%";

void check_int_or_percent(const int_or_percent& v, const std::string& path, field_errors& errors) {
    if (!v.well_formed) {
        errors.push_back({error_kind::invalid, path, quote(v.text), std::string(int_or_percent_detail)});
    } else if (v.is_percent && (v.value < 0 || v.value > 100)) {
        errors.push_back({error_kind::invalid, path, quote(v.text), std::string(int_or_percent_detail)});
    } else if (!v.is_percent && v.value < 0) {
        errors.push_back({error_kind::invalid, path, std::to_string(v.value), "must be greater than or equal to 0"});
    }
}

void check_duration(const duration_field& d, const std::string& path, bool allow_zero, field_errors& errors) {
    if (!d.value) {
        errors.push_back(
            {error_kind::invalid, path, quote(d.text), "must be a duration such as \"90s\", \"30m\" or \"1h30m\""});
    } else if (*d.value < duration::zero() || (!allow_zero && *d.value == duration::zero())) {
        errors.push_back(
            {error_kind::invalid, path, quote(d.text), allow_zero ? "must not be negative" : "must be greater than 0"});
    }
}

// DNS-1123 subdomain, as for metadata.name of an ApplicationSet.
bool is_object_name(std::string_view s) {
    if (s.empty() || s.size() > 253) return false;
    auto ok = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    for (char c : s)
        if (!ok(c) && c != '-' && c != '.') return false;
    return ok(s.front()) && ok(s.back());
}

void check_source_ref(const source_ref& ref, const validation_context& context, field_errors& errors) {
    const std::string path = "spec.sourceRef";
    const auto& g = ref.api_group;
    if (!(g.empty() || g == "argoproj.io" || g == "argoproj.io/v1alpha1"))
        errors.push_back({error_kind::unsupported, child(path, "apiGroup"), quote(g),
                          "supported values: \"argoproj.io\", \"argoproj.io/v1alpha1\""});
    if (ref.kind.empty())
        errors.push_back({error_kind::required, child(path, "kind"), "", ""});
    else if (ref.kind != "ApplicationSet")
        errors.push_back(
            {error_kind::unsupported, child(path, "kind"), quote(ref.kind), "supported values: \"ApplicationSet\""});
    if (ref.name.empty()) {
        errors.push_back({error_kind::required, child(path, "name"), "", ""});
        return;
    }
    if (!is_object_name(ref.name)) {
        errors.push_back({error_kind::invalid, child(path, "name"), quote(ref.name),
                          "must be a lowercase RFC 1123 subdomain (an ApplicationSet name)"});
        return;
    }
    for (const auto& other : context.others) {
        if (other.name == context.name || other.application_set != ref.name) continue;
        errors.push_back({error_kind::invalid, child(path, "name"), quote(ref.name),
                          "ApplicationSet is already rolled out by ProgressiveRollout " + quote(other.name) +
                              "; an ApplicationSet may be referenced by only one ProgressiveRollout"});
    }
}

// A warning, not an error: creating the rollout before its ApplicationSet is legitimate (one
// `kubectl apply -k` of both, in any order); the controller reports it in status meanwhile.
void add_source_warning(const source_ref& ref, const validation_context& context, std::vector<std::string>& warnings) {
    if (!context.application_sets || !references_application_set(ref) || !is_object_name(ref.name)) return;
    const auto& known = *context.application_sets;
    if (std::find(known.begin(), known.end(), ref.name) != known.end()) return;
    warnings.push_back("spec.sourceRef.name: " + application_set_not_found(context.namespace_, ref.name));
}

bool is_http_url(std::string_view url) {
    for (std::string_view scheme : {"http://", "https://"})
        if (url.starts_with(scheme) && url.size() > scheme.size()) return true;
    return false;
}

void check_url(const std::string& url, const std::string& path, const validation_context& context,
               field_errors& errors) {
    if (url.empty()) {
        errors.push_back({error_kind::required, path, "", ""});
        return;
    }
    if (!is_http_url(url)) {
        errors.push_back({error_kind::invalid, path, quote(url), "must be an http:// or https:// URL"});
        return;
    }
    const auto& allowed = context.allowed_gate_urls;
    if (allowed.empty()) return;
    if (std::any_of(allowed.begin(), allowed.end(), [&](const std::string& p) { return url.starts_with(p); })) return;
    std::string list;
    for (const auto& p : allowed) list += (list.empty() ? "" : ", ") + quote(p);
    errors.push_back({error_kind::forbidden, path, quote(url), "gate URLs must start with one of: " + list});
}

void check_placeholders(std::string_view text, bool cluster_scope, const std::string& path, field_errors& errors) {
    for (const auto& p : unknown_placeholders(text, cluster_scope))
        errors.push_back({error_kind::invalid, path, quote(p),
                          cluster_scope ? "unknown placeholder; known: $(rollout.name), $(rollout.namespace), "
                                          "$(stage.name), $(pass), $(cluster.name), $(cluster.server), "
                                          "$(cluster.labels.KEY)"
                                        : "unknown placeholder; known with scope Stage: $(rollout.name), "
                                          "$(rollout.namespace), $(stage.name), $(pass)"});
}

void check_non_negative(long long v, const std::string& path, field_errors& errors) {
    if (v < 0) errors.push_back({error_kind::invalid, path, std::to_string(v), "must be greater than or equal to 0"});
}

void check_gate(const gate_spec& gate, const std::string& path, const validation_context& context,
                field_errors& errors) {
    if (gate.name.empty()) errors.push_back({error_kind::required, child(path, "name"), "", ""});
    const int kinds = int(gate.prometheus.has_value()) + int(gate.webhook.has_value()) + int(gate.approval.has_value());
    if (kinds != 1)
        errors.push_back({kinds == 0 ? error_kind::required : error_kind::invalid, path, "",
                          "exactly one of prometheus, webhook or approval must be set"});
    const bool cluster_scope = gate.scope == gate_scope::cluster;
    if (cluster_scope && gate.when == gate_timing::before)
        errors.push_back({error_kind::invalid, child(path, "scope"), "\"Cluster\"",
                          "a Before gate runs before any cluster is updated: scope must be Stage"});
    check_duration(gate.interval, child(path, "interval"), false, errors);
    if (gate.count < 1)
        errors.push_back({error_kind::invalid, child(path, "count"), std::to_string(gate.count),
                          "must be greater than or equal to 1"});
    check_non_negative(gate.failure_limit, child(path, "failureLimit"), errors);
    check_non_negative(gate.inconclusive_limit, child(path, "inconclusiveLimit"), errors);
    check_non_negative(gate.consecutive_error_limit, child(path, "consecutiveErrorLimit"), errors);
    if (gate.prometheus) {
        const auto p = child(path, "prometheus");
        check_url(gate.prometheus->address, child(p, "address"), context, errors);
        if (gate.prometheus->query.empty()) errors.push_back({error_kind::required, child(p, "query"), "", ""});
        check_placeholders(gate.prometheus->query, cluster_scope, child(p, "query"), errors);
        const auto& range = gate.prometheus->threshold;
        if (!range.min && !range.max)
            errors.push_back({error_kind::required, child(p, "thresholdRange"), "", "set min, max or both"});
        if (range.min && range.max && *range.min > *range.max)
            errors.push_back({error_kind::invalid, child(p, "thresholdRange"), "",
                              "min (" + std::to_string(*range.min) + ") must not be greater than max (" +
                                  std::to_string(*range.max) + ")"});
    }
    if (gate.webhook) {
        const auto w = child(path, "webhook");
        check_url(gate.webhook->url, child(w, "url"), context, errors);
        check_placeholders(gate.webhook->url, cluster_scope, child(w, "url"), errors);
        check_duration(gate.webhook->timeout, child(w, "timeout"), false, errors);
        for (std::size_t i = 0; i < gate.webhook->headers.size(); ++i) {
            const auto& h = gate.webhook->headers[i];
            const auto hp = indexed(child(w, "headers"), i);
            if (h.name.empty()) errors.push_back({error_kind::required, child(hp, "name"), "", ""});
            if (h.secret && !h.value.empty())
                errors.push_back({error_kind::invalid, hp, "", "set value or valueFrom, not both"});
            if (h.secret) {
                const auto s = child(hp, "valueFrom.secretKeyRef");
                if (h.secret->name.empty()) errors.push_back({error_kind::required, child(s, "name"), "", ""});
                if (h.secret->key.empty()) errors.push_back({error_kind::required, child(s, "key"), "", ""});
            }
        }
    }
    if (gate.approval) {
        if (gate.when == gate_timing::during)
            errors.push_back({error_kind::invalid, child(path, "when"), "\"During\"",
                              "an approval gate is Before or After: it has nothing to measure"});
        if (cluster_scope)
            errors.push_back(
                {error_kind::invalid, child(path, "scope"), "\"Cluster\"", "an approval gate has scope Stage"});
    }
}

void check_gates(const stage_spec& stage, const std::string& path, const validation_context& context,
                 field_errors& errors) {
    std::set<std::string, std::less<>> names;
    for (std::size_t i = 0; i < stage.gates.size(); ++i) {
        const auto gp = indexed(child(path, "gates"), i);
        check_gate(stage.gates[i], gp, context, errors);
        const auto& name = stage.gates[i].name;
        if (!name.empty() && !names.insert(name).second)
            errors.push_back({error_kind::duplicate, child(gp, "name"), quote(name), ""});
    }
}

void check_stage(const stage_spec& stage, const std::string& path, const validation_context& context,
                 field_errors& errors) {
    if (stage.name.empty()) errors.push_back({error_kind::required, child(path, "name"), "", ""});
    if (!stage.selector)
        errors.push_back({error_kind::required, child(path, "clusters.selector"), "",
                          "a stage must select its clusters ({} selects every cluster)"});
    else
        validate_selector(*stage.selector, child(path, "clusters.selector"), errors);
    if (!stage.topology_key.empty())
        if (auto p = label_key_problem(stage.topology_key); !p.empty())
            errors.push_back({error_kind::invalid, child(path, "topologyKey"), quote(stage.topology_key), p});

    check_int_or_percent(stage.max_clusters, child(path, "maxClusters"), errors);
    const auto max_unavailable_path = child(path, "maxUnavailable");
    check_int_or_percent(stage.max_unavailable, max_unavailable_path, errors);
    if (stage.max_unavailable.is_zero())
        errors.push_back({error_kind::invalid, max_unavailable_path,
                          stage.max_unavailable.is_percent ? quote(stage.max_unavailable.text) : "0",
                          "must be greater than 0, or the stage would never admit a cluster"});

    if (stage.requeue) {
        const auto rq = child(path, "requeue");
        if (!stage.requeue->selector)
            errors.push_back({error_kind::required, child(rq, "selector"), "", ""});
        else
            validate_selector(*stage.requeue->selector, child(rq, "selector"), errors);
        if (!stage.requeue->attempts)
            errors.push_back({error_kind::required, child(rq, "attempts"), "", ""});
        else if (*stage.requeue->attempts < 0)
            errors.push_back({error_kind::invalid, child(rq, "attempts"), std::to_string(*stage.requeue->attempts),
                              "must be greater than or equal to 0"});
        if (!stage.requeue->interval)
            errors.push_back({error_kind::required, child(rq, "interval"), "", ""});
        else
            check_duration(*stage.requeue->interval, child(rq, "interval"), false, errors);
    }
    check_duration(stage.bake_time, child(path, "bakeTime"), true, errors);
    check_duration(stage.progress_deadline, child(path, "progressDeadline"), false, errors);
    if (stage.max_failures < 0)
        errors.push_back({error_kind::invalid, child(path, "maxFailures"), std::to_string(stage.max_failures),
                          "must be greater than or equal to 0"});
    check_gates(stage, path, context, errors);
}

void check_scope(const scope_spec& scope, field_errors& errors) {
    const std::string path = "spec.scope.paths";
    if (scope.paths.empty())
        errors.push_back({error_kind::required, path, "", "at least one path; omit spec.scope to stage every change"});
    std::string problem;
    for (std::size_t i = 0; i < scope.paths.size(); ++i)
        if (!parse_scope_path(scope.paths[i], problem))
            errors.push_back({error_kind::invalid, indexed(path, i), quote(scope.paths[i]), problem});
}

// spec.windows[i] (docs/windows.md): the schedule in robfig/cron's words, the zone by IANA name.
void check_window(const window_spec& w, const std::string& path, field_errors& errors) {
    if (w.kind.empty())
        errors.push_back({error_kind::required, child(path, "kind"), "", ""});
    else if (w.kind != "Allow" && w.kind != "Deny")
        errors.push_back(
            {error_kind::unsupported, child(path, "kind"), quote(w.kind), "supported values: \"Allow\", \"Deny\""});
    const auto schedule_path = child(path, "schedule");
    if (w.schedule.empty()) {
        errors.push_back({error_kind::required, schedule_path, "", "a 5-field cron schedule such as \"0 9 * * 1-5\""});
    } else if (auto cron = parse_cron(w.schedule); !cron.schedule) {
        errors.push_back(
            {error_kind::invalid, schedule_path, quote(w.schedule), "cannot parse schedule: " + cron.error});
    } else if (!cron.schedule->zone.empty()) {
        errors.push_back({error_kind::invalid, schedule_path, quote(w.schedule),
                          "set the time zone in timeZone, not in the schedule"});
    } else if (never_matches(*cron.schedule)) {
        errors.push_back({error_kind::invalid, schedule_path, quote(w.schedule), "the window would never open"});
    }
    if (w.duration.text.empty())
        errors.push_back({error_kind::required, child(path, "duration"), "", ""});
    else
        check_duration(w.duration, child(path, "duration"), false, errors);
    if (!w.time_zone.name.empty() && !w.time_zone.zone)
        errors.push_back({error_kind::invalid, child(path, "timeZone"), quote(w.time_zone.name),
                          "unknown time zone: use an IANA name such as \"Europe/London\" or \"UTC\""});
}

void add_cluster_warnings(const rollout_spec& spec, const validation_context& context,
                          std::vector<std::string>& warnings) {
    for (std::size_t i = 0; i < spec.stages.size(); ++i) {
        const auto& stage = spec.stages[i];
        if (!stage.selector) continue;
        std::size_t matched = 0, unlabelled = 0;
        for (const auto& c : context.clusters) {
            if (!stage.selector->matches(c.labels)) continue;
            ++matched;
            if (!stage.topology_key.empty() && !c.labels.contains(stage.topology_key)) ++unlabelled;
        }
        const auto path = indexed("spec.stages", i);
        if (matched == 0)
            warnings.push_back(path + ".clusters.selector: stage " + quote(stage.name) + " matches no known cluster");
        if (unlabelled > 0)
            warnings.push_back(path + ".topologyKey: " + std::to_string(unlabelled) + " of " + std::to_string(matched) +
                               " selected clusters lack the label " + quote(stage.topology_key) +
                               "; they are picked last");
    }
}

}  // namespace

validation_result validate(const rollout_spec& spec, const validation_context& context) {
    validation_result result;
    auto& errors = result.errors;
    check_source_ref(spec.source, context, errors);
    if (spec.stages.empty())
        errors.push_back({error_kind::required, "spec.stages", "", "at least one stage is required"});
    std::set<std::string, std::less<>> names;
    for (std::size_t i = 0; i < spec.stages.size(); ++i) {
        const auto path = indexed("spec.stages", i);
        check_stage(spec.stages[i], path, context, errors);
        const auto& name = spec.stages[i].name;
        if (!name.empty() && !names.insert(name).second)
            errors.push_back({error_kind::duplicate, child(path, "name"), quote(name), ""});
    }
    if (spec.scope) check_scope(*spec.scope, errors);
    for (std::size_t i = 0; i < spec.windows.size(); ++i)
        check_window(spec.windows[i], indexed("spec.windows", i), errors);
    add_source_warning(spec.source, context, result.warnings);
    for (std::size_t i = 0; i < spec.stages.size(); ++i)
        if (spec.stages[i].max_clusters.is_zero())
            result.warnings.push_back(indexed("spec.stages", i) + ".maxClusters: stage " + quote(spec.stages[i].name) +
                                      " takes no cluster");
    if (context.clusters_known) add_cluster_warnings(spec, context, result.warnings);
    return result;
}

validation_result validate(const rollout_spec& spec, const field_errors& decode_errors,
                           const validation_context& context) {
    auto result = validate(spec, context);
    result.errors.insert(result.errors.begin(), decode_errors.begin(), decode_errors.end());
    return result;
}

}  // namespace apr::core
