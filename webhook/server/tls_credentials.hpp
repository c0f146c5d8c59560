// Serving certificate and key: loading a PEM pair into a fresh ssl::context (TLS 1.2+, ALPN
// http/1.1), checking that key and certificate match, and describing the certificate for logs
// and metrics. What does not live here: watching the files (cert_watcher.hpp), swapping generations
// (serving_certificate.hpp) or serving.
#pragma once

#include <boost/asio/ssl/context.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace apr::server {

struct certificate_info {
    std::string subject;         // RFC 2253, e.g. "CN=argocd-progressive-rollout.argocd.svc"
    std::string serial_hex;      // upper-case hex, no leading zeros
    std::int64_t not_after = 0;  // unix seconds
};

// One immutable generation of serving credentials. Each accepted connection copies the
// shared_ptr, so a reload never touches a context that a live SSL object still uses.
struct tls_credentials {
    std::shared_ptr<boost::asio::ssl::context> context;
    certificate_info info;
    std::string cert_pem;  // the bytes the context was built from; a reload compares them first
    std::string key_pem;
};

// Reads both files and builds a server context. Throws std::runtime_error naming the file and
// the OpenSSL reason when a file is missing, unparsable, or the key does not match.
tls_credentials load_tls_credentials(const std::filesystem::path& cert_file, const std::filesystem::path& key_file);

// Same, from PEM bytes already read (the watcher reads once, compares, then builds).
tls_credentials make_tls_credentials(std::string cert_pem, std::string key_pem,
                                     std::string_view cert_name = "certificate", std::string_view key_name = "key");

}  // namespace apr::server
