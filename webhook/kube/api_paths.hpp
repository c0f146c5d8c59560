#pragma once
// The API paths of every resource this project reads or writes, built in one place. Collections
// take a namespace; objects add a name. Names are DNS labels/subdomains, so they need no escaping.

#include <string>
#include <string_view>

namespace apr::kube {

namespace detail {

inline std::string namespaced(std::string_view prefix, std::string_view ns, std::string_view resource,
                              std::string_view name = {}, std::string_view subresource = {}) {
    std::string path;
    path.reserve(prefix.size() + ns.size() + resource.size() + name.size() + subresource.size() + 16);
    path += prefix;
    path += "/namespaces/";
    path += ns;
    path += '/';
    path += resource;
    if (!name.empty()) {
        path += '/';
        path += name;
    }
    if (!subresource.empty()) {
        path += '/';
        path += subresource;
    }
    return path;
}

inline constexpr std::string_view core_v1 = "/api/v1";
inline constexpr std::string_view argocd_v1alpha1 = "/apis/argoproj.io/v1alpha1";
inline constexpr std::string_view rollouts_v1alpha1 = "/apis/deployment.skyscanner.net/v1alpha1";
inline constexpr std::string_view coordination_v1 = "/apis/coordination.k8s.io/v1";

}  // namespace detail

// deployment.skyscanner.net/v1alpha1 ProgressiveRollout
inline std::string rollouts_path(std::string_view ns) {
    return detail::namespaced(detail::rollouts_v1alpha1, ns, "progressiverollouts");
}
inline std::string rollout_path(std::string_view ns, std::string_view name) {
    return detail::namespaced(detail::rollouts_v1alpha1, ns, "progressiverollouts", name);
}
inline std::string rollout_status_path(std::string_view ns, std::string_view name) {
    return detail::namespaced(detail::rollouts_v1alpha1, ns, "progressiverollouts", name, "status");
}

// argoproj.io/v1alpha1 Application and ApplicationSet
inline std::string applications_path(std::string_view ns) {
    return detail::namespaced(detail::argocd_v1alpha1, ns, "applications");
}
inline std::string application_path(std::string_view ns, std::string_view name) {
    return detail::namespaced(detail::argocd_v1alpha1, ns, "applications", name);
}
// argoproj.io/v1alpha1 AppProject (read only)
inline std::string app_projects_path(std::string_view ns) {
    return detail::namespaced(detail::argocd_v1alpha1, ns, "appprojects");
}
inline std::string application_sets_path(std::string_view ns) {
    return detail::namespaced(detail::argocd_v1alpha1, ns, "applicationsets");
}
inline std::string application_set_path(std::string_view ns, std::string_view name) {
    return detail::namespaced(detail::argocd_v1alpha1, ns, "applicationsets", name);
}

// v1 Secret and Event
inline std::string secrets_path(std::string_view ns) {
    return detail::namespaced(detail::core_v1, ns, "secrets");
}
inline std::string secret_path(std::string_view ns, std::string_view name) {
    return detail::namespaced(detail::core_v1, ns, "secrets", name);
}
inline std::string events_path(std::string_view ns) {
    return detail::namespaced(detail::core_v1, ns, "events");
}
inline std::string event_path(std::string_view ns, std::string_view name) {
    return detail::namespaced(detail::core_v1, ns, "events", name);
}

// coordination.k8s.io/v1 Lease
inline std::string leases_path(std::string_view ns) {
    return detail::namespaced(detail::coordination_v1, ns, "leases");
}
inline std::string lease_path(std::string_view ns, std::string_view name) {
    return detail::namespaced(detail::coordination_v1, ns, "leases", name);
}

}  // namespace apr::kube
