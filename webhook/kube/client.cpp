#include "kube/client.hpp"

#include "kube/log.hpp"

#include "codec/input_limits.hpp"
#include "http/client.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace apr::kube {

namespace {

http::origin origin_of(const cluster_config& cfg) {
    http::origin o;
    o.host = cfg.host;
    o.port = cfg.port;
    o.base_path = cfg.base_path;
    o.ca_pem = cfg.ca_pem;
    o.tls_server_name = cfg.tls_server_name;
    o.insecure_skip_tls_verify = cfg.insecure_skip_tls_verify;
    o.client_cert_pem = cfg.client_cert_pem;
    o.client_key_pem = cfg.client_key_pem;
    return o;
}

http::options http_options_of(const client_options& opts) {
    http::options o;
    o.request_timeout = opts.request_timeout;
    o.max_body_bytes = opts.max_body_bytes;
    o.max_idle = opts.max_idle;
    o.user_agent = opts.user_agent;
    o.retry_throttled = true;  // the API server's 429s and Retry-After, as client-go honours them
    // Once per request at info: sustained throttling would otherwise flood the log.
    o.on_retry = [](std::string_view what, int retry) {
        log(retry == 1 ? log_level::info : log_level::debug, std::string(what));
    };
    return o;
}

http::method to_http(method m) {
    switch (m) {
        case method::get:
            return http::method::get;
        case method::post:
            return http::method::post;
        case method::put:
            return http::method::put;
        case method::patch:
            return http::method::patch;
        case method::del:
            return http::method::del;
    }
    return http::method::get;
}

api_error from_failure(const http::failure& f) {
    api_error e;
    e.reason = f.reason;
    e.message = f.message;
    e.transport = f.transport;
    return e;
}

}  // namespace

// The API server's client: the HTTP client (http/client.hpp) plus the bearer token of the
// kubeconfig or service account, re-read as it rotates.
struct client::impl {
    cluster_config cfg;
    client_options opts;
    token_source tokens;
    http::client http;

    impl(cluster_config c, client_options o)
        : cfg(std::move(c)), opts(std::move(o)), tokens(cfg, opts.token_refresh), http(make_http(cfg, opts)) {}

    static http::client make_http(const cluster_config& cfg, const client_options& opts) {
        try {
            return http::client(origin_of(cfg), http_options_of(opts));
        } catch (const std::runtime_error& e) {
            throw std::runtime_error(cfg.source + ": " + e.what());
        }
    }

    http::request make_request(method m, std::string_view path, std::string_view body, std::string_view content_type) {
        http::request r;
        r.verb = to_http(m);
        r.path = std::string(path);
        r.body = std::string(body);
        r.content_type = std::string(content_type);
        if (auto tok = tokens.current(); !tok.empty()) r.headers.push_back({"Authorization", "Bearer " + tok});
        return r;
    }
};

client::client(cluster_config cfg, client_options opts)
    : impl_(std::make_unique<impl>(std::move(cfg), std::move(opts))) {}

client::~client() = default;

const cluster_config& client::config() const {
    return impl_->cfg;
}

const client_options& client::options() const {
    return impl_->opts;
}

std::size_t client::connections_opened() const {
    return impl_->http.connections_opened();
}

api_result<http_reply> client::request(method m, std::string_view path, std::string_view body,
                                       std::string_view content_type, std::chrono::milliseconds timeout,
                                       std::stop_token stop) {
    auto req = impl_->make_request(m, path, body, content_type);
    req.timeout = timeout;
    auto r = impl_->http.send(req, std::move(stop));
    if (!r) return from_failure(r.error());
    return http_reply{r->status, std::move(r->body)};
}

namespace {

api_result<rapidjson::Document> to_document(api_result<http_reply> r) {
    if (!r) return r.error();
    if (r->status < 200 || r->status >= 300) return decode_status(r->status, r->body);
    rapidjson::Document d;
    const auto invalid = codec::parse_json(d, r->body);
    if (invalid || !d.IsObject()) {
        api_error e;
        e.code = static_cast<int>(r->status);
        e.reason = "BadResponse";
        e.message =
            invalid ? "response body is not valid JSON: " + invalid->to_string() : "response body is not a JSON object";
        return e;
    }
    return api_result<rapidjson::Document>(std::move(d));
}

}  // namespace

api_result<rapidjson::Document> client::get(std::string_view path) {
    return to_document(request(method::get, path));
}

api_result<rapidjson::Document> client::create(std::string_view path, std::string_view json) {
    return to_document(request(method::post, path, json));
}

api_result<rapidjson::Document> client::put(std::string_view path, std::string_view json) {
    return to_document(request(method::put, path, json));
}

api_result<rapidjson::Document> client::merge_patch(std::string_view path, std::string_view json) {
    return to_document(request(method::patch, path, json, "application/merge-patch+json"));
}

api_result<rapidjson::Document> client::json_patch(std::string_view path, std::string_view json) {
    return to_document(request(method::patch, path, json, "application/json-patch+json"));
}

api_result<void> client::remove(std::string_view path) {
    auto r = request(method::del, path);
    if (!r) return r.error();
    if (r->status < 200 || r->status >= 300) return decode_status(r->status, r->body);
    return {};
}

api_result<list_page_info> client::list(std::string_view path, std::size_t page_limit, const list_item_handler& on_item,
                                        std::stop_token stop) {
    list_page_info info;
    std::string cont;
    const char sep = path.find('?') == std::string_view::npos ? '?' : '&';
    do {
        std::string target(path);
        target += sep;
        target += "limit=" + std::to_string(page_limit);
        if (!cont.empty()) target += "&continue=" + query_escape(cont);
        auto r = request(method::get, target, {}, {}, std::chrono::milliseconds(0), stop);
        if (!r) return r.error();
        if (r->status != 200) return decode_status(r->status, r->body);
        // In-situ parsing avoids copying every string of a multi-megabyte page.
        rapidjson::Document d;
        const auto invalid = codec::parse_json_insitu(d, r->body);
        if (invalid || !d.IsObject() || !d.HasMember("items") || !d["items"].IsArray()) {
            api_error e;
            e.code = 200;
            e.reason = "BadResponse";
            e.message = "LIST " + std::string(path) + ": body is not a list" +
                        (invalid ? ": " + invalid->to_string() : std::string());
            return e;
        }
        ++info.pages;
        for (const auto& item : d["items"].GetArray()) {
            ++info.items;
            on_item(item);
        }
        cont.clear();
        if (auto m = d.FindMember("metadata"); m != d.MemberEnd() && m->value.IsObject()) {
            const auto& meta = m->value;
            if (auto rv = meta.FindMember("resourceVersion"); rv != meta.MemberEnd() && rv->value.IsString())
                info.resource_version = rv->value.GetString();
            if (auto c = meta.FindMember("continue"); c != meta.MemberEnd() && c->value.IsString())
                cont = c->value.GetString();
        }
    } while (!cont.empty());
    return info;
}

api_result<void> client::stream(std::string_view path, const stream_handler& on_bytes, std::stop_token stop,
                                std::chrono::seconds idle_timeout) {
    auto r = impl_->http.stream(impl_->make_request(method::get, path, {}, {}), on_bytes, stop, idle_timeout);
    if (!r) return from_failure(r.error());
    if (r->status != 200) return decode_status(r->status, r->error_body);
    return {};
}

std::string query_escape(std::string_view s) {
    return http::query_escape(s);
}

api_error decode_status(unsigned status, std::string_view body) {
    api_error e;
    e.code = static_cast<int>(status);
    rapidjson::Document d;
    if (!codec::parse_json(d, body) && d.IsObject()) {
        if (auto k = d.FindMember("kind");
            k != d.MemberEnd() && k->value.IsString() && std::string_view(k->value.GetString()) == "Status") {
            if (auto c = d.FindMember("code"); c != d.MemberEnd() && c->value.IsInt()) e.code = c->value.GetInt();
            if (auto r = d.FindMember("reason"); r != d.MemberEnd() && r->value.IsString())
                e.reason = r->value.GetString();
            if (auto m = d.FindMember("message"); m != d.MemberEnd() && m->value.IsString())
                e.message = m->value.GetString();
            return e;
        }
    }
    e.reason = "HTTP" + std::to_string(status);
    e.message = std::string(body.substr(0, 256));
    return e;
}

std::string to_json(const rapidjson::Value& v) {
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    v.Accept(w);
    return std::string(sb.GetString(), sb.GetSize());
}

std::string api_error::describe() const {
    std::string s = code ? std::to_string(code) : std::string("no response");
    if (!reason.empty()) s += " " + reason;
    if (!message.empty()) s += ": " + message;
    return s;
}

void throw_exception_from_error(const api_error& e, const boost::source_location&) {
    throw api_exception(e);
}

}  // namespace apr::kube
