#pragma once
// ProgressiveRollout JSON <-> core::rollout. Decoding reports type errors and unknown fields in
// spec with field paths (the first half of validation); the status is read leniently because the
// controller wrote it, and written back with RapidJSON's Writer.

#include "core/field_errors.hpp"
#include "core/rollout.hpp"

#include <rapidjson/document.h>
#include <rapidjson/writer.h>
#include <rapidjson/stringbuffer.h>

#include <string>

namespace apr::codec {

struct decoded_rollout {
    core::rollout rollout;
    core::field_errors errors;  // decoding errors in spec (and apiVersion/kind/metadata.name)
};

decoded_rollout decode_rollout(const rapidjson::Value& object);
core::rollout_spec decode_spec(const rapidjson::Value& spec, core::field_errors& errors);
core::rollout_status decode_status(const rapidjson::Value& status);

// {"status": {...}} body for PUT .../status (with metadata.resourceVersion when given).
std::string encode_status_object(const core::rollout& rollout, std::string_view resource_version);
void write_status(rapidjson::Writer<rapidjson::StringBuffer>& w, const core::rollout_status& status);
std::string encode_status(const core::rollout_status& status);

}  // namespace apr::codec
