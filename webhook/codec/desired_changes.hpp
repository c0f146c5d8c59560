#pragma once
// The places where two desired states of an Application differ (core::desired_changes), for the
// change scope of docs/admission.md rule 3. Only RapidJSON reading; the matching against a
// rollout's spec.scope.paths is core::touches().

#include "core/change_scope.hpp"

#include <rapidjson/document.h>

#include <cstddef>

namespace apr::codec {

// Every leaf that differs between the desired-state fields (source, sources, sourceHydrator,
// syncPolicy) of two Application specs. A field that is null counts as absent, as everywhere else
// a desired state is read. Past `limit` places the listing stops and says it is incomplete.
core::desired_changes list_desired_changes(const rapidjson::Value& old_spec, const rapidjson::Value& new_spec,
                                           std::size_t limit = 10000);

}  // namespace apr::codec
