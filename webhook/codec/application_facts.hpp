#pragma once
// The facts core::decide() reads, taken from an Application AdmissionReview's request: the
// type checks that refuse a review the decision cannot be computed from, and the extraction
// itself (owners, destinations, desired states, protected annotations, the operation, the stored
// resolved revision). No I/O; called by review_application (admission_review.cpp).

#include "core/admission.hpp"

#include <rapidjson/document.h>

#include <string>

namespace apr::codec {

// Type-checks every field the decision reads, in the new and the old object; the first problem
// found (a field path and what is wrong), or empty.
std::string check_application_request(const rapidjson::Value& request);

// The decision's facts; `request` passed check_application_request.
core::application_facts extract_facts(const rapidjson::Value& request, const core::admission_identities& identities);

}  // namespace apr::codec
