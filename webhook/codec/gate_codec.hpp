#pragma once
// Stage gates in JSON (docs/api.md#stage-gates): `spec.stages[].gates` decoded with field paths,
// and the gates' status written compactly and read back leniently.

#include "codec/json_reader.hpp"
#include "core/gate_spec.hpp"
#include "core/measurements.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <vector>

namespace apr::codec {

// `stages[i].gates`, with errors under the reader's path.
std::vector<core::gate_spec> read_gates(object_reader& stage);

void write_gate_statuses(rapidjson::Writer<rapidjson::StringBuffer>& w, const std::vector<core::gate_status>& gates);
std::vector<core::gate_status> read_gate_statuses(const rapidjson::Value& array);

// The webhook gate's payload: {rollout: {namespace, name}, stage, gate, when, pass, hash,
// clusters: [{name, server, labels}]}.
std::string webhook_payload(const std::string& namespace_, const std::string& name,
                            const core::measurement_request& request);

// The samples of a Prometheus /api/v1/query answer (a vector or a scalar), or why it is unusable.
struct prometheus_samples {
    std::vector<double> values;
    std::string error;  // empty when usable
};
prometheus_samples parse_prometheus_answer(std::string_view body);

}  // namespace apr::codec
