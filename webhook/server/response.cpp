#include "response.hpp"

#include <boost/beast/http/error.hpp>
#include <boost/beast/http/status.hpp>

#include <charconv>
#include <cstdint>

namespace apr::server {

namespace http = boost::beast::http;

namespace {

void append_decimal(std::string& out, std::uint64_t value) {
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
    out.append(digits, end);
}

}  // namespace

response_parts text_response(unsigned status, std::string body, std::string outcome) {
    response_parts res;
    res.status = status;
    res.content_type = text_plain;
    res.body = std::move(body);
    res.outcome = std::move(outcome);
    return res;
}

void render_response(std::string& out, const response_parts& parts, unsigned version, bool keep_alive) {
    // Beast refuses a status over 999 and three digits is what the status line has room for.
    const unsigned status = parts.status >= 100 && parts.status <= 999 ? parts.status : 500;
    out.clear();
    out += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    append_decimal(out, status);
    out += ' ';
    const auto reason = http::obsolete_reason(static_cast<http::status>(status));
    out.append(reason.data(), reason.size());
    out += "\r\nContent-Type: ";
    out += parts.content_type;
    if (!parts.allow.empty()) {
        out += "\r\nAllow: ";
        out += parts.allow;
    }
    out += "\r\nContent-Length: ";
    append_decimal(out, parts.body.size());
    if (!parts.headers.empty()) {
        out += "\r\n";
        out.append(parts.headers, 0,
                   parts.headers.size() - 2);  // each line ends in CRLF; the last one's is added below
    }
    if (version >= 11 && !keep_alive) {
        out += "\r\nConnection: close";
    } else if (version < 11 && keep_alive) {
        out += "\r\nConnection: keep-alive";
    }
    out += "\r\n\r\n";
    out += parts.body;
}

std::optional<response_parts> rejection_for(boost::system::error_code ec, std::size_t body_limit,
                                            std::size_t header_limit) {
    if (ec == http::error::body_limit) {
        return text_response(413, "request body exceeds the limit of " + std::to_string(body_limit) + " bytes\n",
                             "too_large");
    }
    if (ec == http::error::header_limit) {
        return text_response(431, "request header exceeds the limit of " + std::to_string(header_limit) + " bytes\n",
                             "header_too_large");
    }
    // Any other parse error is the client's malformed HTTP; the ones that only mean the message
    // ended early (the peer went away) get no answer.
    if (ec.category() == http::make_error_code(http::error::bad_method).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message && ec != http::error::need_more &&
        ec != http::error::need_buffer) {
        return text_response(400, "malformed HTTP request: " + ec.message() + "\n", "bad_request");
    }
    return std::nullopt;
}

}  // namespace apr::server
