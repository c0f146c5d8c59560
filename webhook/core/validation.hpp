#pragma once
// The semantic rules of docs/api.md for a ProgressiveRollout spec. The validating webhook and
// the `validate` command both call validate(): one rule set, no drift. Syntax/type errors found
// while decoding (codec/) are collected by the decoder into the same list before this runs.

#include "core/field_errors.hpp"
#include "core/rollout.hpp"

#include <optional>
#include <string>
#include <vector>

namespace apr::core {

// Another ProgressiveRollout in the same namespace, for the one-ApplicationSet-one-rollout rule.
struct rollout_reference {
    std::string name;
    std::string application_set;
};

struct validation_context {
    std::string namespace_;  // of the rollout being validated: where its ApplicationSet must be
    std::string name;        // of the rollout being validated (skipped in `others`)
    std::vector<rollout_reference> others;
    // Known clusters for the warnings; empty with `clusters_known == false` skips them.
    bool clusters_known = false;
    std::vector<cluster> clusters;
    // Names of the ApplicationSets in the rollout's namespace, for the warning on a sourceRef
    // that names none of them; nullopt (unknown, e.g. files without them) skips it.
    std::optional<std::vector<std::string>> application_sets;
    // URL prefixes gate addresses and webhook URLs must start with (serve --gate-url-prefix);
    // empty: any http(s) URL.
    std::vector<std::string> allowed_gate_urls;
};

struct validation_result {
    field_errors errors;
    std::vector<std::string> warnings;
    bool ok() const { return errors.empty(); }
};

validation_result validate(const rollout_spec& spec, const validation_context& context);

// The entry point of every caller (webhook, `validate`/`plan`, controller): the errors the
// decoder found first, in its order, then the rules' errors; the rules' warnings.
validation_result validate(const rollout_spec& spec, const field_errors& decode_errors,
                           const validation_context& context);

}  // namespace apr::core
