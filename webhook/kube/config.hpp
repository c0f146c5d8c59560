#pragma once
// Where the API server is and how to authenticate to it: loaded once at startup from a
// kubeconfig file or from the in-cluster service account. Loading throws std::runtime_error
// with a message naming the file and field; nothing here does network I/O.

#include "codec/read_file.hpp"

#include <chrono>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace apr::kube {

struct cluster_config {
    std::string host;  // DNS name or IP literal (IPv6 without brackets)
    std::string port = "443";
    std::string base_path;                  // path prefix of the server URL, usually empty
    std::string ca_pem;                     // empty: the system trust store
    std::string tls_server_name;            // overrides the name verified (and sent as SNI)
    bool insecure_skip_tls_verify = false;  // only when the kubeconfig says so
    std::string client_cert_pem;
    std::string client_key_pem;
    std::string token;       // static bearer token
    std::string token_file;  // bearer token re-read as it rotates (wins over `token`)
    std::string source;      // "kubeconfig FILE context NAME" / "in-cluster": for messages
};

// Reads a kubeconfig (current-context unless `context` is given). Relative file paths resolve
// against the kubeconfig's directory, as client-go does. exec/auth-provider are not supported.
cluster_config load_kubeconfig(const std::string& path, std::string_view context = {});

// Several kubeconfig files merged as kubectl merges a KUBECONFIG list: current-context from the
// first file that sets it; a cluster, context or user from the first file that defines that name;
// relative paths against the directory of the file the entry comes from.
cluster_config load_kubeconfigs(const std::vector<std::string>& paths, std::string_view context = {});

// KUBERNETES_SERVICE_HOST/PORT plus `dir`/ca.crt and `dir`/token.
cluster_config load_in_cluster(const std::string& dir = "/var/run/secrets/kubernetes.io/serviceaccount");

// `path` if given, else $KUBECONFIG (a colon-separated list, merged; missing files skipped), else in-cluster when KUBERNETES_SERVICE_HOST is set,
// else ~/.kube/config.
cluster_config load_config(const std::string& path = {});

// Bearer token for requests: the static token, or the token file re-read at most every
// `refresh` (projected service account tokens rotate; client-go re-reads every minute).
class token_source {
public:
    explicit token_source(const cluster_config& cfg, std::chrono::seconds refresh = std::chrono::seconds(60));

    // Empty when the config has no token. Never log the result.
    std::string current();

private:
    std::mutex mutex_;
    std::string token_;
    std::string file_;
    std::chrono::seconds refresh_;
    std::chrono::steady_clock::time_point read_at_{};
};

// Helpers shared with tests.
std::string base64_decode(std::string_view in);  // throws std::runtime_error on bad input

using codec::read_file;  // throws std::runtime_error naming the file

}  // namespace apr::kube
