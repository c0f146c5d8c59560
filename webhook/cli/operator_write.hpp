#pragma once
// One operator request written to a ProgressiveRollout (docs/operations.md, "Operator
// commands"): the annotation deployment.skyscanner.net/request, plus spec.paused for pause and
// resume, as one merge patch with the caller's credentials; then, optionally, the wait until the
// controller has recorded it in status.requests. The operator commands and the dashboard's
// buttons both write through here, so a button does exactly what the command does.

#include "core/operator_request.hpp"
#include "kube/client.hpp"

#include <string>

namespace apr::cli {

struct write_outcome {
    enum class result {
        recorded,     // the controller carried it out (message: its result)
        refused,      // the controller recorded why not
        written,      // written; not recorded within the wait (or no wait asked)
        not_written,  // the API server refused the write: RBAC, the validating webhook, not found
    };
    result what = result::not_written;
    std::string id;       // the request's id
    std::string user;     // who status records (recorded, refused)
    std::string message;  // the controller's result or refusal, or the API server's words
    int code = 0;         // not_written: the API server's HTTP status (0: no answer)
};

// Writes `request` (its id is chosen here) to NAMESPACE/NAME and waits up to `wait` for the
// controller's record (zero: does not wait).
write_outcome write_request(kube::client& client, const std::string& namespace_, const std::string& name,
                            core::operator_request request, core::duration wait);

}  // namespace apr::cli
