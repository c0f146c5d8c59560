#pragma once
// Change scope, `spec.scope.paths` (docs/api.md#change-scope, docs/admission.md rule 3): which
// places in an Application's desired state a rollout stages. A template write whose change
// touches none of them passes admission at once. Here: the path syntax and the matching of a
// scope path against the places a write changed. No JSON: codec/desired_changes.cpp lists the
// places that differ between two desired states.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace apr::core {

// One step into a JSON value: a member, an array element, or (in a scope path only) every element.
struct path_step {
    enum class kind { member, element, every_element };
    kind what = kind::member;
    std::string key;        // member
    std::size_t index = 0;  // element
    friend bool operator==(const path_step&, const path_step&) = default;
};

// A place in an Application's spec, from one of the desired-state fields down.
using value_path = std::vector<path_step>;

// The places where two desired states differ: each is a leaf (a scalar or an empty container) of
// one side that the other side lacks or holds differently, so the value at a path differs exactly
// when one of them lies at or under it. `complete` is false when the listing was cut short (a
// very large change): then every path counts as touched.
struct desired_changes {
    std::vector<value_path> places;
    bool complete = true;
};

// Parses `source.helm.valuesObject.image`, `sources[0].targetRevision`, `sources[*].chart`,
// `source.helm.valuesObject["app.kubernetes.io/name"]`. On error, nullopt and `problem` says why
// in the words of a field.Invalid detail.
std::optional<value_path> parse_scope_path(std::string_view text, std::string& problem);

// Renders a path in the syntax parse_scope_path reads.
std::string to_string(const value_path& path);

// Whether the value at `scope` differs, given the places a write changed. `source` and `sources`
// are one thing in two shapes (Argo CD uses `sources` when both are set, and a template may switch
// from one to the other): a path under `source` also names the same place in every `sources[i]`,
// and one under `sources[i]` (or `sources[*]`) also the same place under `source`.
bool touches(const value_path& scope, const desired_changes& changes);
bool touches_any(const std::vector<value_path>& scope, const desired_changes& changes);

}  // namespace apr::core
