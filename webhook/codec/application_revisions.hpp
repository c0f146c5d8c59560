#pragma once
// The one reading of an Application's revisions from its status (docs/api.md#moving-revisions),
// for admission and the controller alike: what the cluster runs, and what Argo CD resolved the
// spec's targetRevision(s) to. Lenient: Argo CD writes the status; a value of the wrong type reads
// as absent.

#include "core/revisions.hpp"

#include <rapidjson/document.h>

namespace apr::codec {

struct application_revisions {
    // What the cluster runs: status.operationState.syncResult.revisions (multi-source) or
    // .revision, else those of the last status.history[] entry. Empty when it never synced.
    core::revision_list running;
    // What Argo CD resolved the spec to: status.sync.revisions (multi-source), else
    // status.sync.revision. Empty when it has not compared yet.
    core::revision_list resolved;
};

// `application` is the whole Application object (metadata, spec, status).
application_revisions decode_application_revisions(const rapidjson::Value& application);

}  // namespace apr::codec
