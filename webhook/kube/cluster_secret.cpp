#include "kube/cluster_secret.hpp"

#include "kube/config.hpp"

namespace apr::kube {

namespace {

std::optional<std::string>
optional_string(rapidjson::Value const& obj, char const* name)
{
    auto m = obj.FindMember(name);
    if(m == obj.MemberEnd())
        return std::string();
    if(!m->value.IsString())
        return std::nullopt;
    return std::string(m->value.GetString(), m->value.GetStringLength());
}

} // namespace

std::optional<cluster_secret>
decode_cluster_secret(rapidjson::Value const& object)
{
    if(!object.IsObject())
        return std::nullopt;
    auto meta = object.FindMember("metadata");
    if(meta == object.MemberEnd() || !meta->value.IsObject())
        return std::nullopt;
    cluster_secret out;
    auto name = optional_string(meta->value, "name");
    auto ns = optional_string(meta->value, "namespace");
    if(!name || name->empty() || !ns)
        return std::nullopt;
    out.name = std::move(*name);
    out.namespace_ = std::move(*ns);
    if(auto labels = meta->value.FindMember("labels"); labels != meta->value.MemberEnd())
    {
        if(!labels->value.IsObject())
            return std::nullopt;
        for(auto const& l : labels->value.GetObject())
        {
            if(!l.value.IsString())
                return std::nullopt;
            out.labels.emplace(std::string(l.name.GetString(), l.name.GetStringLength()),
                std::string(l.value.GetString(), l.value.GetStringLength()));
        }
    }
    auto data = object.FindMember("data");
    if(data == object.MemberEnd() || !data->value.IsObject())
        return std::nullopt;
    // Only these two keys are ever decoded; everything else in data stays untouched.
    auto field = [&](char const* key) -> std::optional<std::string> {
        auto m = data->value.FindMember(key);
        if(m == data->value.MemberEnd())
            return std::string();
        if(!m->value.IsString())
            return std::nullopt;
        try
        {
            return base64_decode({m->value.GetString(), m->value.GetStringLength()});
        }
        catch(std::exception const&)
        {
            return std::nullopt;
        }
    };
    auto server = field("server");
    auto cluster_name = field("name");
    if(!server || server->empty() || !cluster_name)
        return std::nullopt;
    out.server = std::move(*server);
    out.cluster_name = std::move(*cluster_name);
    return out;
}

} // namespace apr::kube
