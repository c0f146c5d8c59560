// The certificate being served: the current generation of credentials, handed to each new
// connection, and the reload that replaces it when the files change (validate first, then swap;
// a bad pair is logged once and the old one kept). Its metrics: reload results and notAfter.
// What does not live here: noticing that the files changed (cert_watcher.hpp), building a
// context from PEM (tls_credentials.hpp).
#pragma once

#include "metrics_registry.hpp"
#include "server_log.hpp"
#include "tls_credentials.hpp"

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

namespace apr::server {

class serving_certificate {
public:
    // Loads the pair; throws std::runtime_error naming the file on a bad or mismatched pair.
    serving_certificate(std::filesystem::path cert_file, std::filesystem::path key_file, metrics_registry& metrics,
                        log_sink log);

    // The context for a new connection; the connection keeps it for life, so a reload never
    // changes the certificate under an open connection.
    std::shared_ptr<boost::asio::ssl::context> context() const;
    certificate_info info() const;

    // Reads the files; true if a new certificate is served afterwards. Unchanged files, files
    // not readable yet (mid-swap) and a pair already refused once return false quietly.
    // Callable from any thread, one reload at a time.
    bool reload();

private:
    std::filesystem::path cert_file_, key_file_;
    log_sink log_;
    family<counter>& reloads_;
    gauge& not_after_;

    mutable std::mutex current_mutex_;
    tls_credentials current_;

    std::mutex reload_mutex_;
    std::string last_failed_cert_, last_failed_key_;  // to log a bad pair once, not every poll
};

}  // namespace apr::server
