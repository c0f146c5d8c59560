#pragma once
// admission.k8s.io/v1 AdmissionReview in and out: turns a request body into core facts, calls the
// core's pure decision, and renders the answer (JSON Patch, base64, warnings, status). No I/O:
// the HTTPS server and the tests call the same two functions.

#include "core/admission.hpp"
#include "core/fleet_state.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace apr::codec {

struct review_event {
    std::string namespace_;
    std::string name;  // the Application
    core::rollout_event event;
};

struct review_answer {
    unsigned http_status = 200;
    std::string body;
    std::string outcome;  // allowed | held | denied | error (metrics label)
    std::string detail;   // short reason for logs
    std::optional<review_event> event;
};

// The body is taken by value because it is parsed in place (strings decoded into it, the parts the
// decision never reads overwritten): the server moves its request buffer in, tests pass copies.

// POST /mutate/applications. The object's and oldObject's status (but status.sync) and metadata.managedFields are
// skipped by bracket matching (json_skip.hpp), not parsed: they are most of a review's bytes.
review_answer review_application(std::string_view content_type, std::string body, const core::fleet_state& state,
                                 const core::admission_identities& identities);

// POST /validate/progressiverollouts: the spec's rules, and an operator request the write makes
// (deployment.skyscanner.net/request): well-formed, stamped, and legal for the rollout at `now`.
review_answer review_rollout(std::string_view content_type, std::string body, const core::fleet_state& state,
                             core::time_point now = {});

// POST /mutate/progressiverollouts: stamps an operator request the write makes with the writer's
// userInfo (user, groups) and `now`, overwriting whatever the client wrote (docs/operations.md).
review_answer mutate_rollout(std::string_view content_type, std::string body, core::time_point now);

// Serialises RFC 6902 operations (values are raw JSON text from the core).
std::string render_patch(const std::vector<core::patch_operation>& patch);

}  // namespace apr::codec
