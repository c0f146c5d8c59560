// Implementation of the certificate side of the server test support: a scratch directory, a CA
// and serving certificates made with the OpenSSL API at test time, atomic writes and the
// Secret volume layout.
#include "test_support.hpp"

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace apr::server::test {

namespace {

std::string pem_of_key(EVP_PKEY* key) {
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<std::size_t>(n));
    BIO_free(bio);
    return out;
}

std::string pem_of_cert(X509* cert) {
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, cert);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<std::size_t>(n));
    BIO_free(bio);
    return out;
}

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    if (ext == nullptr) {
        throw std::runtime_error("test_ca: bad extension");
    }
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

X509* make_cert(EVP_PKEY* subject_key, X509* issuer, EVP_PKEY* issuer_key, long serial, const std::string& cn, int days,
                bool is_ca) {
    X509* cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), serial);
    X509_gmtime_adj(X509_getm_notBefore(cert), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert), static_cast<long>(days) * 24 * 3600);
    X509_set_pubkey(cert, subject_key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name);
    X509* signer = issuer ? issuer : cert;
    if (is_ca) {
        add_ext(cert, signer, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(cert, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
        add_ext(cert, signer, NID_subject_key_identifier, "hash");
    } else {
        add_ext(cert, signer, NID_basic_constraints, "CA:FALSE");
        add_ext(cert, signer, NID_key_usage, "critical,digitalSignature");
        add_ext(cert, signer, NID_ext_key_usage, "serverAuth");
        add_ext(cert, signer, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
    }
    X509_sign(cert, issuer_key, EVP_sha256());
    return cert;
}

}  // namespace

temp_dir::temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "apr-server-test-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
        throw std::runtime_error("mkdtemp failed");
    }
    path_ = tmpl;
}

temp_dir::~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

struct test_ca::impl {
    EVP_PKEY* key = nullptr;
    X509* cert = nullptr;
    ~impl() {
        X509_free(cert);
        EVP_PKEY_free(key);
    }
};

test_ca::test_ca(std::filesystem::path dir) : impl_(std::make_unique<impl>()) {
    impl_->key = EVP_EC_gen("P-256");
    impl_->cert = make_cert(impl_->key, nullptr, impl_->key, 1000, "apr test CA", 365, true);
    ca_file_ = dir / "ca.crt";
    write_file_atomically(ca_file_, pem_of_cert(impl_->cert));
}

test_ca::~test_ca() = default;

test_ca::issued test_ca::issue(long serial, std::string common_name, int days) {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* cert = make_cert(key, impl_->cert, impl_->key, serial, common_name, days, false);
    issued out;
    out.cert_pem = pem_of_cert(cert);
    out.key_pem = pem_of_key(key);
    BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get_serialNumber(cert), nullptr);
    char* hex = BN_bn2hex(bn);
    out.serial_hex = hex;
    OPENSSL_free(hex);
    BN_free(bn);
    out.common_name = std::move(common_name);
    X509_free(cert);
    EVP_PKEY_free(key);
    return out;
}

void write_file_atomically(const std::filesystem::path& p, const std::string& contents) {
    auto tmp = p;
    tmp += ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << contents;
        if (!out) {
            throw std::runtime_error("cannot write " + tmp.string());
        }
    }
    std::filesystem::rename(tmp, p);
}

secret_volume::secret_volume(std::filesystem::path dir) : dir_(std::move(dir)) {
    std::filesystem::create_directories(dir_);
}

void secret_volume::swap(const test_ca::issued& pair) {
    namespace fs = std::filesystem;
    std::string const gen = "..2026_11_27_00_00_0" + std::to_string(++generation_);
    fs::create_directory(dir_ / gen);
    write_file_atomically(dir_ / gen / "tls.crt", pair.cert_pem);
    write_file_atomically(dir_ / gen / "tls.key", pair.key_pem);
    // kubelet: symlink ..data_tmp -> new dir, rename(..data_tmp, ..data), then the user-visible
    // names are symlinks through ..data created once.
    fs::path const tmp_link = dir_ / "..data_tmp";
    fs::remove(tmp_link);
    fs::create_directory_symlink(gen, tmp_link);
    fs::rename(tmp_link, dir_ / "..data");
    if (!fs::is_symlink(dir_ / "tls.crt")) {
        fs::create_symlink("..data/tls.crt", dir_ / "tls.crt");
        fs::create_symlink("..data/tls.key", dir_ / "tls.key");
    }
    if (generation_ > 1) {
        fs::remove_all(dir_ / ("..2026_11_27_00_00_0" + std::to_string(generation_ - 1)));
    }
}

}  // namespace apr::server::test
