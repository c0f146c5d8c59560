#include "codec/application_revisions.hpp"

#include "codec/json_reader.hpp"

namespace apr::codec {

namespace {

// `revisions` (an array of strings, multi-source) when it has any, else `revision` when non-empty.
// An element of the wrong type keeps its position, read as "".
core::revision_list revisions_in(const rapidjson::Value* holder) {
    core::revision_list out;
    if (!holder || !holder->IsObject()) return out;
    if (const auto* many = find_path(*holder, {"revisions"}); many && many->IsArray() && !many->Empty()) {
        for (const auto& r : many->GetArray())
            out.emplace_back(r.IsString() ? std::string(r.GetString(), r.GetStringLength()) : std::string());
        return out;
    }
    if (auto one = string_at(*holder, {"revision"}); !one.empty()) out.push_back(std::move(one));
    return out;
}

}  // namespace

application_revisions decode_application_revisions(const rapidjson::Value& application) {
    application_revisions out;
    const auto* status = find_path(application, {"status"});
    if (!status || !status->IsObject()) return out;
    out.resolved = revisions_in(find_path(*status, {"sync"}));
    out.running = revisions_in(find_path(*status, {"operationState", "syncResult"}));
    if (out.running.empty())
        if (const auto* history = find_path(*status, {"history"}); history && history->IsArray() && !history->Empty())
            out.running = revisions_in(&(*history)[history->Size() - 1]);
    return out;
}

}  // namespace apr::codec
