#pragma once
// The dashboard's server side (docs/dashboard.md): watch caches of the namespace's
// ProgressiveRollouts and their Events, and the routes that serve the embedded page and the JSON
// API from them. Every answer is read from the caches, so a handler never waits on the API
// server; only an action (--allow-actions) makes a call, through the injected `act`.
// What does not live here: the HTTP server (server/), the JSON shapes (view_json.hpp), the
// command line and the actions themselves (cli/dashboard_command.cpp).

#include "core/rollout.hpp"
#include "dashboard/request_guard.hpp"
#include "dashboard/rollout_event.hpp"
#include "kube/client.hpp"
#include "kube/informer.hpp"
#include "server/https_server.hpp"

#include <functional>
#include <memory>
#include <string>

namespace apr::dashboard {

// What an action button did: HTTP status for the page and a sentence to show.
struct action_result {
    unsigned status = 200;
    std::string message;
};
// A button pressed: the verb ("pause", "resume", "promote", "abort") on the rollout, and the
// verb's options.
struct action_request {
    std::string rollout;
    std::string verb;
    bool skip_bake = false;  // promote: end the bake time now
    bool rollback = false;   // abort: restore what the pass replaced
};
// Runs the action under the user's credentials.
using action_fn = std::function<action_result(const action_request&)>;

struct dashboard_options {
    std::string namespace_ = "argocd";
    action_fn act;  // empty: read-only, no /api/actions route
    std::size_t events_per_rollout = 20;
};

class dashboard_service {
public:
    dashboard_service(kube::client& client, dashboard_options options);
    ~dashboard_service();
    dashboard_service(const dashboard_service&) = delete;
    dashboard_service& operator=(const dashboard_service&) = delete;

    void start();
    void stop();
    bool synced() const;

    // GET /, /app.js, /style.css, /api/rollouts, /api/rollout?name=N; POST /api/actions when
    // actions are on. Every route checks `guard` first. Before server.run().
    void add_routes(server::https_server& server, guard_policy guard);

private:
    server::handler_result list_answer() const;
    server::handler_result rollout_answer(std::string_view target) const;
    server::handler_result action_answer(const std::string& body) const;

    dashboard_options options_;
    kube::informer<core::rollout> rollouts_;
    kube::informer<rollout_event> events_;
};

}  // namespace apr::dashboard
