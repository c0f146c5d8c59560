#pragma once
// The stage machine's gates (docs/controller.md#gates). Everything that may hold a rollout back —
// spec.paused, the failure budget, the bake time, and the gates a stage lists — answers the same
// question at its point of a stage's life: open, wait (until a time), pause (for a person) or
// fail. The machine asks, acts on the first answer that is not open, and never lets a gate admit
// or fail a cluster itself. Gates are pure like the rest of the core: what one must remember
// (bakeUntil, measurements) lives in the stage's status, so a restart resumes.

#include "core/measurements.hpp"
#include "core/observations.hpp"
#include "core/rollout.hpp"

#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

namespace apr::core {

enum class gate_answer { open, wait, pause, fail };

struct gate_verdict {
    gate_answer answer = gate_answer::open;
    std::string gate;                 // who answered: "paused", "maxFailures", "bakeTime", a gate's name
    std::string reason;               // for people: status messages and Events
    std::optional<time_point> until;  // wait: look again then (nullopt: when something is observed)

    bool is_open() const { return answer == gate_answer::open; }

    static gate_verdict open() { return {}; }
    static gate_verdict wait(std::string gate, std::string reason, std::optional<time_point> until = std::nullopt);
    static gate_verdict pause(std::string gate, std::string reason);
    static gate_verdict fail(std::string gate, std::string reason);
};

class observed_fleet;

// What every gate sees in one step, and where it leaves what it asks for.
struct step_context {
    const core::rollout& rollout;  // the spec, and the status the step started from
    const observations& observed;
    const observed_fleet& fleet;
    time_point now;
    const long long& pass;  // the current pass (the new status's)
    std::vector<rollout_event>& events;
    std::vector<measurement_request>& requests;
    std::unordered_set<std::string>& requested;  // keys of `requests`
    std::optional<time_point>& look_again;

    void emit(bool warning, std::string reason, std::string message) const;
    // Asks the controller for a measurement (again in every step until its result is recorded).
    void request(measurement_request r) const;
    // Asks for a step at `when` even if nothing changes.
    void look_again_at(time_point when) const;
    // The observed cluster (Secret labels, server) of that name, if there is one.
    const cluster* cluster_named(std::string_view name) const;
};

// What a gate sees of the stage it is asked about. `status` is the stage's new status: a gate
// may keep its own state there (the bake gate sets bakeUntil), never another gate's.
struct stage_context {
    const step_context& step;
    std::size_t index;  // into spec.stages and status.stages
    const stage_spec& spec;
    stage_status& status;
};

// One gate. Each method is one point of a stage's life; a gate answers open where it has no say.
class gate {
public:
    virtual ~gate() = default;
    // May any new cluster be admitted now, in any stage (spec.paused, windows)?
    virtual gate_verdict admission(const step_context&) const { return gate_verdict::open(); }
    // May this cluster of the stage be admitted now (holds)? Asked only for a cluster whose turn
    // it is, with a free maxUnavailable slot.
    virtual gate_verdict cluster_admission(const stage_context&, const cluster_status&) const {
        return gate_verdict::open();
    }
    // May the stage start admitting clusters (Before gates)? Asked once every earlier stage is
    // completed.
    virtual gate_verdict stage_start(const stage_context&) const { return gate_verdict::open(); }
    // Is the started stage still fine (failure budget, During gates)? Asked for every started stage
    // that has not failed, completed ones included (a cluster may still join them).
    virtual gate_verdict stage_running(const stage_context&) const { return gate_verdict::open(); }
    // Is this admitted cluster of a started stage still fine (During gates of scope Cluster)? A
    // fail fails the cluster, which counts against maxFailures.
    virtual gate_verdict cluster_running(const stage_context&, cluster_status&) const { return gate_verdict::open(); }
    // May this cluster, Synced and Healthy with the change, count as Done (After gates of scope
    // Cluster)? Until it may, it stays Updating; a fail fails the cluster.
    virtual gate_verdict cluster_completion(const stage_context&, cluster_status&) const {
        return gate_verdict::open();
    }
    // May the stage complete, every cluster being Done or Failed (bake time, After gates)?
    virtual gate_verdict stage_completion(const stage_context&) const { return gate_verdict::open(); }
};

// The gates of one rollout in the order they are asked. At each point the first answer that is
// not open wins and the gates after it are not asked: a later gate starts only when the earlier
// ones let it (measurements after the bake, not during it).
class gate_set {
public:
    explicit gate_set(const rollout& rollout);

    gate_verdict admission(const step_context& ctx) const;
    gate_verdict cluster_admission(const stage_context& ctx, const cluster_status& cluster) const;
    gate_verdict stage_start(const stage_context& ctx) const;
    gate_verdict stage_running(const stage_context& ctx) const;
    gate_verdict cluster_running(const stage_context& ctx, cluster_status& cluster) const;
    gate_verdict cluster_completion(const stage_context& ctx, cluster_status& cluster) const;
    gate_verdict stage_completion(const stage_context& ctx) const;

private:
    template <typename Ask>
    gate_verdict first_closed(Ask ask) const;

    std::vector<std::unique_ptr<const gate>> gates_;
};

}  // namespace apr::core
