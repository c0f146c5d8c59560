// Moving revisions as changes of the stage machine (docs/controller.md, "Moving revisions").
#include "core/observations.hpp"
#include "core/revisions.hpp"

namespace apr::core {

std::string change_key(const application_observation& app, bool track_revisions) {
    if (!app.pending_hash.empty() || !track_revisions) return app.pending_hash;
    if (app.sync_status != "OutOfSync" || app.operation_in_progress || app.resolved_revision.empty() ||
        app.resolved_revision == app.running_revision)
        return {};
    return std::string(revision_key_prefix) + app.resolved_revision;
}

bool needs_auto_sync(const application_observation& app) {
    if (app.sync_status != "OutOfSync" || app.operation_in_progress || app.running_revision.empty() ||
        app.resolved_revision != app.running_revision)
        return false;
    if (app.spec_changed_since_sync) return app.auto_sync_recorded;
    return app.self_heal && app.operation_phase != "Failed" && app.operation_phase != "Error";
}

}  // namespace apr::core
