#pragma once
// Who this process is to the API server, as far as its credentials tell: the `sub` claim of a
// service-account token (a JWT), e.g. "system:serviceaccount:argocd:argocd-progressive-rollout".
// The webhook needs it to recognise its own controller's writes. The signature is not checked:
// the API server does that; this only reads the name the token carries.

#include "kube/config.hpp"

#include <string>
#include <string_view>

namespace apr::kube {

// The JWT `sub` claim; empty when `token` is not a JWT or has no subject.
std::string token_subject(std::string_view token);

// The subject of the config's bearer token (the token file when there is one, read now);
// empty when it authenticates otherwise (client certificates) or the token is not a JWT.
std::string credentials_subject(const cluster_config& config);

}  // namespace apr::kube
