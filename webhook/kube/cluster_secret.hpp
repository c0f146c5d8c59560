#pragma once
// The only view of an Argo CD cluster Secret the project keeps: name, server URL and labels.
// Credentials (data.config, data.password, ...) are never decoded, stored or logged.

#include <rapidjson/document.h>

#include <map>
#include <optional>
#include <string>

namespace apr::kube {

struct cluster_secret
{
    std::string namespace_;
    std::string name;
    std::string cluster_name;  // data.name (Argo CD's display name), may be empty
    std::string server;        // data.server, decoded
    std::map<std::string, std::string> labels;
};

// Decode function for informer<cluster_secret>; nullopt when data.server is missing or not
// valid base64, or metadata has unexpected types.
std::optional<cluster_secret>
decode_cluster_secret(rapidjson::Value const& object);

// Label selector for Argo CD cluster Secrets.
inline constexpr char const* cluster_secret_selector = "argocd.argoproj.io/secret-type=cluster";

} // namespace apr::kube
