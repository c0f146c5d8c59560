#include "codec/desired_changes.hpp"

#include "codec/canonical_json.hpp"
#include "core/admission.hpp"

#include <algorithm>

namespace apr::codec {

namespace {

using core::path_step;

class change_lister {
public:
    change_lister(std::size_t limit, core::desired_changes& out) : limit_(limit), out_(out) {}

    void diff(std::string_view field, const rapidjson::Value* before, const rapidjson::Value* after) {
        path_.push_back({path_step::kind::member, std::string(field)});
        compare(before, after);
        path_.pop_back();
    }

private:
    void record() {
        if (!out_.complete) return;
        if (out_.places.size() >= limit_) {
            out_.complete = false;
            return;
        }
        out_.places.push_back(path_);
    }

    // Every leaf of `v`: the places it holds that a side without it lacks.
    void leaves(const rapidjson::Value& v) {
        if (!out_.complete) return;
        if (v.IsObject() && v.MemberCount() > 0) {
            for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) {
                path_.push_back(
                    {path_step::kind::member, std::string(it->name.GetString(), it->name.GetStringLength())});
                leaves(it->value);
                path_.pop_back();
            }
        } else if (v.IsArray() && !v.Empty()) {
            for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
                path_.push_back({path_step::kind::element, {}, i});
                leaves(v[i]);
                path_.pop_back();
            }
        } else {
            record();
        }
    }

    void compare(const rapidjson::Value* before, const rapidjson::Value* after) {
        if (!out_.complete || (!before && !after)) return;
        if (before && after && before->IsObject() && after->IsObject()) {
            for (auto it = before->MemberBegin(); it != before->MemberEnd(); ++it) {
                auto other = after->FindMember(it->name);
                path_.push_back(
                    {path_step::kind::member, std::string(it->name.GetString(), it->name.GetStringLength())});
                compare(&it->value, other == after->MemberEnd() ? nullptr : &other->value);
                path_.pop_back();
            }
            for (auto it = after->MemberBegin(); it != after->MemberEnd(); ++it) {
                if (before->HasMember(it->name)) continue;
                path_.push_back(
                    {path_step::kind::member, std::string(it->name.GetString(), it->name.GetStringLength())});
                leaves(it->value);
                path_.pop_back();
            }
            return;
        }
        if (before && after && before->IsArray() && after->IsArray()) {
            const auto n = std::max(before->Size(), after->Size());
            for (rapidjson::SizeType i = 0; i < n; ++i) {
                path_.push_back({path_step::kind::element, {}, i});
                compare(i < before->Size() ? &(*before)[i] : nullptr, i < after->Size() ? &(*after)[i] : nullptr);
                path_.pop_back();
            }
            return;
        }
        const bool scalars =
            before && after && !before->IsObject() && !before->IsArray() && !after->IsObject() && !after->IsArray();
        if (scalars) {
            if (canonical_json(*before) != canonical_json(*after)) record();
            return;
        }
        // Present on one side only, or of another kind (an object where a string was): everything
        // either side holds here changed.
        if (before) leaves(*before);
        if (after) leaves(*after);
    }

    std::size_t limit_;
    core::desired_changes& out_;
    core::value_path path_;
};

const rapidjson::Value* field_of(const rapidjson::Value& spec, std::string_view field) {
    if (!spec.IsObject()) return nullptr;
    auto it = spec.FindMember(rapidjson::StringRef(field.data(), field.size()));
    return it == spec.MemberEnd() || it->value.IsNull() ? nullptr : &it->value;
}

}  // namespace

core::desired_changes list_desired_changes(const rapidjson::Value& old_spec, const rapidjson::Value& new_spec,
                                           std::size_t limit) {
    core::desired_changes out;
    change_lister lister(limit, out);
    for (auto field : core::desired_state_fields)
        lister.diff(field, field_of(old_spec, field), field_of(new_spec, field));
    return out;
}

}  // namespace apr::codec
