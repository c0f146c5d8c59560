#include "serving_certificate.hpp"

#include "codec/read_file.hpp"

#include <optional>

namespace apr::server {

serving_certificate::serving_certificate(std::filesystem::path cert_file, std::filesystem::path key_file,
                                         metrics_registry& metrics, log_sink log)
    : cert_file_(std::move(cert_file)),
      key_file_(std::move(key_file)),
      log_(std::move(log)),
      reloads_(metrics.add_counter("argocd_progressive_rollout_tls_certificate_reloads_total",
                                   "Serving certificate reload attempts after a file change, "
                                   "by result (success|error).",
                                   {"result"})),
      not_after_(metrics
                     .add_gauge("argocd_progressive_rollout_tls_certificate_not_after_seconds",
                                "notAfter of the certificate being served, unix seconds.")
                     .with({})),
      current_(load_tls_credentials(cert_file_, key_file_)) {
    not_after_.set(static_cast<double>(current_.info.not_after));
}

std::shared_ptr<boost::asio::ssl::context> serving_certificate::context() const {
    std::lock_guard lock(current_mutex_);
    return current_.context;
}

certificate_info serving_certificate::info() const {
    std::lock_guard lock(current_mutex_);
    return current_.info;
}

bool serving_certificate::reload() {
    std::lock_guard reload_lock(reload_mutex_);
    auto cert = codec::read_file_if_present(cert_file_);
    auto key = codec::read_file_if_present(key_file_);
    if (!cert || !key) {
        // Mid-swap, or the volume is being remounted; the next event or poll tries again.
        log_(log_level::debug, "certificate reload: files not readable yet");
        return false;
    }
    {
        std::lock_guard lock(current_mutex_);
        if (*cert == current_.cert_pem && *key == current_.key_pem) {
            return false;
        }
    }
    if (*cert == last_failed_cert_ && *key == last_failed_key_) {
        return false;
    }
    try {
        auto fresh = make_tls_credentials(*cert, *key, cert_file_.string(), key_file_.string());
        const auto info = fresh.info;
        {
            std::lock_guard lock(current_mutex_);
            current_ = std::move(fresh);
        }
        last_failed_cert_.clear();
        last_failed_key_.clear();
        not_after_.set(static_cast<double>(info.not_after));
        reloads_.with({"success"}).inc();
        log_(log_level::info, "certificate reloaded: subject=\"" + info.subject + "\" serial=" + info.serial_hex +
                                  " not_after=" + std::to_string(info.not_after));
        return true;
    } catch (const std::exception& e) {
        // Typically the certificate was written and the key not yet: keep serving the old pair.
        last_failed_cert_ = std::move(*cert);
        last_failed_key_ = std::move(*key);
        reloads_.with({"error"}).inc();
        log_(log_level::warn, std::string("certificate reload failed, keeping the current one: ") + e.what());
        return false;
    }
}

}  // namespace apr::server
