#pragma once
// Operator requests (docs/operations.md, "Operator commands"): `pause`, `resume`, `promote`,
// `abort`, `retry`, `hold` and `release`, written by the CLI as the annotation
// deployment.skyscanner.net/request on a ProgressiveRollout, stamped with the writer's identity by
// the mutating webhook, checked by the validating webhook and carried out by the controller.
// Everything here is pure: what a request means for a rollout, and whether it may happen now.

#include "core/field_errors.hpp"
#include "core/rollout.hpp"
#include "core/stage_machine.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace apr::core {

inline constexpr std::string_view request_annotation = "deployment.skyscanner.net/request";

// pause and resume are recorded only: their effect is the spec.paused written with them.
enum class request_verb { pause, resume, promote, abort, retry, hold, release };
std::string_view to_string(request_verb);
std::optional<request_verb> parse_request_verb(std::string_view);
// "\"pause\", \"resume\", ..." for messages.
std::string supported_request_verbs();

struct operator_request {
    request_verb verb = request_verb::promote;
    std::string id;                   // chosen by the client; status records it once carried out
    std::string stage;                // promote --stage
    bool skip_bake = false;           // promote --skip-bake
    bool rollback = false;            // abort --rollback
    std::string cluster;              // hold, release
    std::string reason;               // why (required for hold)
    std::optional<time_point> until;  // hold --until
    // Stamped by the mutating webhook from the AdmissionReview's userInfo, overwriting whatever
    // the client wrote: nobody can ask in someone else's name.
    std::string user;
    std::vector<std::string> groups;
    std::optional<time_point> at;
    friend bool operator==(const operator_request&, const operator_request&) = default;
};

// Errors in the request's own fields, with `path` (the annotation's field path) as prefix:
// a missing id, a hold without cluster or reason, an unstamped request (no user/at).
field_errors check_request_fields(const operator_request& request, std::string_view path, bool require_stamp);

// Why the request cannot be carried out on this rollout now (an unknown stage or cluster, a
// promote when nothing waits for one, a retry of a rollout that did not stop, a pause of a paused
// rollout: `rollout` is as it was before the write that asks); nullopt when it can. The message names the rollout and says what to do instead. The CLI asks before writing,
// the validating webhook before admitting the write, and the controller before carrying it out.
std::optional<std::string> refuse_request(const rollout& rollout, const operator_request& request, time_point now);

struct request_outcome {
    rollout_status status;  // with the request recorded in status.requests
    std::vector<rollout_event> events;
    // A promote that passes gates waiting for a person: the step that follows passes them
    // (observations.promotion), in the same status write.
    std::optional<promote_request> promotion;
};

// Carries out a request on the rollout's status (or records why not, when refuse_request says
// no): the next step() of the stage machine then acts on the new status. A request whose id
// status already records is not carried out twice (the controller may stop between writing
// status and removing the annotation).
request_outcome apply_request(const rollout& rollout, const operator_request& request, time_point now);

// Rolls back the current pass in `status`: every cluster updated in it becomes RolledBack (the
// controller then restores its previous desired state) and the phase RolledBack. Returns how
// many clusters it marked. Used by `abort --rollback` and by onFailure: Rollback.
std::size_t roll_back_pass(rollout_status& status, const std::string& message, time_point now);

// The holds still in force at `now`; each expired one becomes a HoldExpired Event, and `next`
// the earliest `until` of those that remain (when the step must look again).
std::vector<cluster_hold> live_holds(const std::vector<cluster_hold>& holds, time_point now,
                                     std::vector<rollout_event>& events, std::optional<time_point>& next);

// Operator holds at a cluster's turn: true when the cluster is held, so it waits out of admission
// (phase Held, counted neither done nor failed). A Held cluster whose hold ended (released or
// expired) is Pending again and takes its turn.
bool keep_out_if_held(const std::vector<cluster_hold>& holds, cluster_status& cluster, bool has_pending);

// Whether status already records the request with this id.
bool request_recorded(const rollout_status& status, std::string_view id);

// The recorded requests status keeps (newest last).
inline constexpr std::size_t max_request_records = 10;

}  // namespace apr::core
