#pragma once
// The simulated world of the admission model test: the API server applying the webhook's answers,
// the ApplicationSet controller, Argo CD's application controller, the rollout controller, humans,
// and the invariant (what runs on a cluster was admitted for it). world.cpp holds the machines,
// humans.cpp what people do.

#include "model/fleet.hpp"

namespace apr::model {

class world {
public:
    world();

    std::vector<std::string> log;

    std::optional<failure> run(const action& act);

    // With nobody interfering any more, the rollout must bring the template to every cluster.
    std::optional<failure> drain(int rounds);

private:
    // ---- objects ------------------------------------------------------------------------------

    // Only one ownerReference may be the controller (the API server refuses two): a decoy is not.
    std::string owner_json(const std::string& set_name) const;

    std::string application_json(const app_slot& slot, const template_state& t) const;

    std::string template_identity(const app_slot& slot) const;

    void record_template(const template_state& t);

    const app_slot& slot_of(const std::string& name) const;

    // ---- the API server -------------------------------------------------------------------------

    struct outcome {
        bool written = false;
        int code = 200;
        std::string message;
        bool patched = false;
    };

    // One CREATE or UPDATE through the webhook, applied as the API server would.
    outcome write(const std::string& user, const std::string& name, const std::optional<std::string>& old_object,
                  json next);

    static std::string actor(const std::string& user);

    void fail(std::string message);

    void say(const std::string& s);

    static std::string verdict(const outcome& o);

    // ---- the ApplicationSet controller ------------------------------------------------------

    // mode 0: keeps the object's annotations; 1: replaces them with the template's (drops the
    // hold's record); 2: writes them back from a stale cache (an older record of template j).
    void appset_write(const app_slot& slot, int mode, std::size_t stale = 0);

    void template_change(std::mt19937_64& rng);

    void appset_sync(std::mt19937_64& rng);

    // ---- Argo CD's application controller ----------------------------------------------------

    void refresh_status(const std::string& name, json& app);

    // One thing the application controller does for an Application: run its operation, else
    // auto-sync, else refresh its status.
    void app_controller_once(const std::string& name);

    void app_controller(std::mt19937_64& rng);

    void ui_sync_if_needed(const std::string& name);

    // ---- the rollout controller (as rollout_controller.cpp reconcile()) -----------------------

    core::observations observe() const;

    // What the status admits becomes allowed: the template state of each listed hash.
    void record_admitted();

    void controller_step_once(bool crash, bool lag = false);

    void controller_step(std::mt19937_64& rng);

    void tick(std::mt19937_64& rng);

    static bool owned_by_appset(const json& app);

    // ---- humans -------------------------------------------------------------------------------

    std::string pick_revision(std::mt19937_64& rng, const json& app);

    // A template state j's fields for this Application, e.g. the newest one not admitted yet.
    json template_spec(std::mt19937_64& rng, const app_slot& slot);

    // One random mutation of a human's write; returns what it did.
    std::string mutate(std::mt19937_64& rng, json& app, const app_slot& slot);

    void human(std::mt19937_64& rng);

    void human_recreate(std::mt19937_64& rng);

    // ---- the invariant ----------------------------------------------------------------------

    std::optional<failure> check();
    bool admitted(const std::set<std::string>& allowed, const std::string& identity) const;
    static std::string scoped_part(const std::string& identity);

    bool converged() const;

public:
    bool human_mode_ = true;

    // The rollout stages only revisions (spec.scope.paths): other template changes pass at once.
    void scope_revisions() {
        scoped_ = true;
        rollout_.spec.scope = core::scope_spec{{"source.targetRevision", "sources[*].targetRevision"}};
    }

private:
    core::rollout rollout_;
    std::vector<core::cluster> clusters_;
    const core::admission_identities ids_ = identities();
    core::step_options step_options_{};
    core::time_point now_ = core::time_point{std::chrono::sys_days{std::chrono::year{2026} / 11 / 30}};
    std::vector<template_state> templates_;
    std::map<std::string, std::map<std::string, std::string>> template_hashes_;  // app -> hash -> run identity
    std::map<std::string, std::string> apps_;                                    // stored objects, JSON
    std::map<std::string, std::string> deployed_;                                // app -> what runs
    std::map<std::string, std::set<std::string>> allowed_;                       // app -> what may run
    std::map<std::string, std::string> autosync_op_;  // app -> the operation the application controller wrote
    std::optional<failure> failure_;
    std::optional<core::rollout> lagging_;  // the rollout as a lagging replica still sees it
    bool scoped_ = false;                   // the rollout has the revision scope
    std::string line_;
    std::uint64_t uid_ = 0;
};

}  // namespace apr::model
