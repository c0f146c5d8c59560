// Building one generation of serving credentials with OpenSSL 3.
#include "tls_credentials.hpp"

#include "codec/read_file.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstring>
#include <ctime>
#include <stdexcept>

namespace apr::server {

namespace ssl = boost::asio::ssl;

namespace {

std::string openssl_reason() {
    const unsigned long e = ERR_get_error();
    ERR_clear_error();
    if (e == 0) {
        return "unknown error";
    }
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    return buf;
}

struct bio_deleter {
    void operator()(BIO* b) const { BIO_free(b); }
};
struct pkey_deleter {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

certificate_info describe(X509* cert) {
    certificate_info info;
    if (BIO* mem = BIO_new(BIO_s_mem())) {
        std::unique_ptr<BIO, bio_deleter> out(mem);
        X509_NAME_print_ex(out.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
        char* data = nullptr;
        const long n = BIO_get_mem_data(out.get(), &data);
        info.subject.assign(data, static_cast<std::size_t>(n));
    }
    if (BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get_serialNumber(cert), nullptr)) {
        if (char* hex = BN_bn2hex(bn)) {
            info.serial_hex = hex;
            OPENSSL_free(hex);
        }
        BN_free(bn);
    }
    std::tm tm{};
    if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1) {
        info.not_after = static_cast<std::int64_t>(timegm(&tm));
    }
    return info;
}

// The API server offers only http/1.1 for service webhooks (kubernetes issue 75791); a client
// offering only h2 gets no ALPN answer and, if it insists, fails its own handshake.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
                void*) {
    static const unsigned char http11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    unsigned char* selected = nullptr;
    if (SSL_select_next_proto(&selected, outlen, http11, sizeof http11, in, inlen) == OPENSSL_NPN_NEGOTIATED) {
        *out = selected;
        return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

}  // namespace

tls_credentials make_tls_credentials(std::string cert_pem, std::string key_pem, std::string_view cert_name,
                                     std::string_view key_name) {
    ERR_clear_error();
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    SSL_CTX* native = ctx->native_handle();
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                     ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
    SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
    // Client-initiated renegotiation is a CPU amplification vector and nothing here needs it.
    SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    // TLS 1.2 suites: forward-secret AEAD only (Mozilla "intermediate"); 1.3 keeps its defaults.
    SSL_CTX_set_cipher_list(native,
                            "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                            "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                            "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305");
    SSL_CTX_set_alpn_select_cb(native, select_alpn, nullptr);

    boost::system::error_code ec;
    ctx->use_certificate_chain(boost::asio::buffer(cert_pem), ec);
    if (ec) {
        throw std::runtime_error("invalid TLS certificate " + std::string(cert_name) + ": " + openssl_reason());
    }
    X509* leaf = SSL_CTX_get0_certificate(native);
    if (leaf == nullptr) {
        throw std::runtime_error("no certificate in " + std::string(cert_name));
    }
    std::unique_ptr<BIO, bio_deleter> key_bio(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
    std::unique_ptr<EVP_PKEY, pkey_deleter> key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
    if (!key) {
        throw std::runtime_error("invalid TLS key " + std::string(key_name) + ": " + openssl_reason());
    }
    // Checked apart from loading so the error says what an operator must fix: a certificate and
    // key from different pairs, typically one file updated and not yet the other.
    if (X509_check_private_key(leaf, key.get()) != 1) {
        ERR_clear_error();
        throw std::runtime_error("TLS key " + std::string(key_name) + " does not match certificate " +
                                 std::string(cert_name));
    }
    if (SSL_CTX_use_PrivateKey(native, key.get()) != 1 || SSL_CTX_check_private_key(native) != 1) {
        throw std::runtime_error("TLS key " + std::string(key_name) + " rejected: " + openssl_reason());
    }

    tls_credentials creds;
    creds.info = describe(leaf);
    creds.context = std::move(ctx);
    creds.cert_pem = std::move(cert_pem);
    creds.key_pem = std::move(key_pem);
    return creds;
}

tls_credentials load_tls_credentials(const std::filesystem::path& cert_file, const std::filesystem::path& key_file) {
    return make_tls_credentials(codec::read_file(cert_file), codec::read_file(key_file), cert_file.string(),
                                key_file.string());
}

}  // namespace apr::server
