#pragma once
// The revisions of a moving targetRevision (docs/api.md#moving-revisions): the commit an
// Application runs and the one Argo CD resolved its spec to, as the change key a rollout's status
// records for a cluster admitted for a new commit.

#include <string>
#include <string_view>
#include <vector>

namespace apr::core {

// A cluster admitted for commit R is recorded with the hash "rev:R" (status.stages[].clusters[].hash).
inline constexpr std::string_view revision_key_prefix = "rev:";

// One revision per source, by position (one for a single-source Application).
using revision_list = std::vector<std::string>;

// R of an Application: its revision, or a multi-source Application's revisions joined with ','.
inline std::string join_revisions(const revision_list& revisions) {
    std::string out;
    for (const auto& r : revisions) {
        if (!out.empty()) out += ',';
        out += r;
    }
    return out;
}

// The change key of commit(s) `revisions`: "rev:" + join_revisions; empty when there is none.
inline std::string revision_change_key(const revision_list& revisions) {
    const auto joined = join_revisions(revisions);
    return joined.empty() ? std::string() : std::string(revision_key_prefix) + joined;
}

}  // namespace apr::core
