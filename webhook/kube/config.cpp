#include "kube/config.hpp"

#include "codec/canonical_json.hpp"
#include "codec/input_limits.hpp"

#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace apr::kube {

namespace {

[[noreturn]] void fail(const std::string& where, const std::string& what) {
    throw std::runtime_error(where + ": " + what);
}

std::string trim(std::string s) {
    const auto ws = " \t\r\n";
    auto b = s.find_first_not_of(ws);
    if (b == std::string::npos) return {};
    auto e = s.find_last_not_of(ws);
    return s.substr(b, e - b + 1);
}

// Splits "https://host:port/prefix" (IPv6 as [addr]); only https is accepted, since the
// client always speaks TLS.
void parse_server(const std::string& server, cluster_config& cfg, const std::string& where) {
    std::string_view s = server;
    constexpr std::string_view scheme = "https://";
    if (s.substr(0, scheme.size()) != scheme) fail(where, "server '" + server + "' must start with https://");
    s.remove_prefix(scheme.size());
    auto slash = s.find('/');
    std::string_view authority = s.substr(0, slash);
    cfg.base_path = slash == std::string_view::npos ? "" : std::string(s.substr(slash));
    while (!cfg.base_path.empty() && cfg.base_path.back() == '/') cfg.base_path.pop_back();
    if (authority.empty()) fail(where, "server '" + server + "' has no host");
    if (authority.front() == '[') {
        auto close = authority.find(']');
        if (close == std::string_view::npos) fail(where, "server '" + server + "' has an unterminated IPv6 literal");
        cfg.host = std::string(authority.substr(1, close - 1));
        auto rest = authority.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') fail(where, "server '" + server + "' is malformed");
            cfg.port = std::string(rest.substr(1));
        }
    } else {
        auto colon = authority.rfind(':');
        cfg.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) cfg.port = std::string(authority.substr(colon + 1));
    }
    if (cfg.host.empty() || cfg.port.empty() || cfg.port.find_first_not_of("0123456789") != std::string::npos)
        fail(where, "server '" + server + "' has a bad host or port");
}

std::string resolve_relative(const std::string& file, const std::filesystem::path& base_dir) {
    std::filesystem::path p(file);
    if (p.is_relative()) p = base_dir / p;
    return p.string();
}

// One file of a KUBECONFIG list, parsed.
struct kubeconfig_file {
    std::string path;
    YAML::Node root;
    std::filesystem::path base_dir;  // relative paths in the file resolve against it
};

kubeconfig_file read_kubeconfig(const std::string& path) {
    kubeconfig_file f{path, {}, std::filesystem::absolute(path).parent_path()};
    try {
        // Nesting and alias expansion bounded as for every YAML input.
        f.root = codec::load_yaml_file(path);
    } catch (const std::exception& e) {
        fail("kubeconfig " + path, std::string("cannot parse: ") + e.what());
    }
    if (!f.root.IsMap()) fail("kubeconfig " + path, "not a YAML map");
    return f;
}

struct named_entry {
    YAML::Node node;
    const kubeconfig_file* file;  // where it was defined
};

// kubectl's merge of a KUBECONFIG list: of the entries named `name` in `list_name` (clusters,
// contexts, users), the first file's wins.
named_entry find_named(const std::vector<kubeconfig_file>& files, const std::string& name, const std::string& where,
                       const char* list_name, const char* inner) {
    for (const auto& f : files) {
        const auto list = f.root[list_name];
        if (list && !list.IsSequence()) fail("kubeconfig " + f.path, std::string(list_name) + " is not a list");
        if (!list) continue;
        for (const auto& entry : list)
            if (entry["name"] && entry["name"].as<std::string>() == name) {
                auto node = entry[inner];
                if (!node || !node.IsMap())
                    fail(where, std::string(list_name) + "[" + name + "]." + inner + " is missing");
                return {node, &f};
            }
    }
    fail(where, std::string(list_name) + " has no entry named '" + name + "'");
}

std::string scalar(const YAML::Node& node, const char* key, const std::string& where) {
    auto v = node[key];
    if (!v) return {};
    if (!v.IsScalar()) fail(where, std::string(key) + " is not a string");
    return v.as<std::string>();
}

}  // namespace

std::string base64_decode(std::string_view in) {
    // kubeconfig files may wrap long base64 values; the codec's decoder takes one line.
    std::string clean;
    clean.reserve(in.size());
    for (char c : in)
        if (c != '\n' && c != '\r' && c != ' ' && c != '\t') clean.push_back(c);
    auto out = codec::base64_decode(clean);
    if (!out) throw std::runtime_error("invalid base64");
    return std::move(*out);
}

cluster_config load_kubeconfig(const std::string& path, std::string_view context) {
    return load_kubeconfigs({path}, context);
}

cluster_config load_kubeconfigs(const std::vector<std::string>& paths, std::string_view context) {
    if (paths.empty()) throw std::runtime_error("kubeconfig: no file given");
    std::vector<kubeconfig_file> files;
    files.reserve(paths.size());
    std::string where = "kubeconfig ";
    for (const auto& path : paths) {
        files.push_back(read_kubeconfig(path));
        where += (&path == &paths.front() ? "" : ":") + path;
    }
    std::string ctx_name(context);
    // current-context: the first file that sets it.
    for (const auto& f : files)
        if (ctx_name.empty()) ctx_name = scalar(f.root, "current-context", "kubeconfig " + f.path);
    if (ctx_name.empty()) fail(where, "current-context is not set");

    cluster_config cfg;
    try {
        auto ctx = find_named(files, ctx_name, where, "contexts", "context").node;
        std::string cluster_name = scalar(ctx, "cluster", where);
        std::string user_name = scalar(ctx, "user", where);
        where += " context " + ctx_name;
        cfg.source = where;

        const auto cluster_entry = find_named(files, cluster_name, where, "clusters", "cluster");
        const auto& cluster = cluster_entry.node;
        std::string server = scalar(cluster, "server", where);
        if (server.empty()) fail(where, "clusters[" + cluster_name + "].cluster.server is missing");
        parse_server(server, cfg, where + " clusters[" + cluster_name + "].cluster.server");
        cfg.tls_server_name = scalar(cluster, "tls-server-name", where);
        if (auto v = cluster["insecure-skip-tls-verify"]) cfg.insecure_skip_tls_verify = v.as<bool>();
        if (auto d = scalar(cluster, "certificate-authority-data", where); !d.empty()) {
            try {
                cfg.ca_pem = base64_decode(d);
            } catch (const std::exception& e) {
                fail(where, "clusters[" + cluster_name + "].cluster.certificate-authority-data: " + e.what());
            }
        } else if (auto f = scalar(cluster, "certificate-authority", where); !f.empty())
            cfg.ca_pem = read_file(resolve_relative(f, cluster_entry.file->base_dir));

        if (!user_name.empty()) {
            // Not a structured binding: clang 15 (the sanitizer build) cannot capture one.
            const auto user_entry = find_named(files, user_name, where, "users", "user");
            const auto& user = user_entry.node;
            const auto& base_dir = user_entry.file->base_dir;
            std::string const uw = "users[" + user_name + "].user.";
            if (user["exec"] || user["auth-provider"])
                fail(where, uw + "exec/auth-provider are not supported; use a token or client "
                                 "certificate");
            cfg.token = trim(scalar(user, "token", where));
            if (auto f = scalar(user, "tokenFile", where); !f.empty()) {
                cfg.token_file = resolve_relative(f, base_dir);
                read_file(cfg.token_file);  // fail at startup, not on the first request
            }
            auto load_pem = [&](const char* data_key, const char* file_key) -> std::string {
                if (auto d = scalar(user, data_key, where); !d.empty()) {
                    try {
                        return base64_decode(d);
                    } catch (std::exception const& e) {
                        fail(where, uw + data_key + ": " + e.what());
                    }
                }
                if (auto f = scalar(user, file_key, where); !f.empty()) return read_file(resolve_relative(f, base_dir));
                return {};
            };
            cfg.client_cert_pem = load_pem("client-certificate-data", "client-certificate");
            cfg.client_key_pem = load_pem("client-key-data", "client-key");
            if (cfg.client_cert_pem.empty() != cfg.client_key_pem.empty())
                fail(where, uw + "client-certificate and client-key must be given together");
        }
    } catch (const YAML::Exception& e) {
        fail(where, std::string("unexpected field type: ") + e.what());
    }
    return cfg;
}

cluster_config load_in_cluster(const std::string& dir) {
    const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
    const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
    if (!host || !*host || !port || !*port)
        throw std::runtime_error("in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set");
    cluster_config cfg;
    cfg.source = "in-cluster";
    std::string h = host;
    // The service host is usually an IP; an IPv6 literal arrives without brackets.
    cfg.host = h;
    cfg.port = port;
    cfg.ca_pem = read_file(dir + "/ca.crt");
    cfg.token_file = dir + "/token";
    read_file(cfg.token_file);
    return cfg;
}

cluster_config load_config(const std::string& path) {
    if (!path.empty()) return load_kubeconfig(path);
    if (const char* env = std::getenv("KUBECONFIG"); env && *env) {
        // A KUBECONFIG list, merged as kubectl merges it (load_kubeconfigs); files that do not
        // exist are skipped.
        const std::string list(env);
        std::vector<std::string> existing;
        std::string first;
        for (std::size_t start = 0; start <= list.size();) {
            const auto end = std::min(list.find(':', start), list.size());
            const auto file = list.substr(start, end - start);
            if (!file.empty() && first.empty()) first = file;
            if (!file.empty() && std::filesystem::exists(file) &&
                std::find(existing.begin(), existing.end(), file) == existing.end())
                existing.push_back(file);
            start = end + 1;
        }
        if (!existing.empty()) return load_kubeconfigs(existing);
        if (!first.empty()) return load_kubeconfig(first);  // names the missing file
    }
    if (const char* h = std::getenv("KUBERNETES_SERVICE_HOST"); h && *h) return load_in_cluster();
    const char* home = std::getenv("HOME");
    if (!home) throw std::runtime_error("no kubeconfig: KUBECONFIG and HOME are unset and not in a cluster");
    return load_kubeconfig(std::string(home) + "/.kube/config");
}

token_source::token_source(const cluster_config& cfg, std::chrono::seconds refresh)
    : token_(cfg.token), file_(cfg.token_file), refresh_(refresh) {}

std::string token_source::current() {
    std::lock_guard lock(mutex_);
    if (file_.empty()) return token_;
    auto now = std::chrono::steady_clock::now();
    if (token_.empty() || now - read_at_ >= refresh_) {
        try {
            token_ = trim(read_file(file_));
            read_at_ = now;
        } catch (const std::exception&) {
            // Keep the previous token: a rotation in progress must not break requests.
            read_at_ = now;
        }
    }
    return token_;
}

}  // namespace apr::kube
