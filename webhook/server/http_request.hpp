// Reading one HTTP request from a TLS connection: the body type (a std::string the handler may
// parse in place) and the read loop Beast's http::async_read would run, on our tls_stream.
// What does not live here: limits and timeouts (the session sets them on the parser and the
// deadline), what the request means (router.hpp).
#pragma once

#include "tls_stream.hpp"

#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/optional/optional.hpp>

#include <cstdint>
#include <string>

namespace apr::server {

// string_body's reader resizes the string (zero-filling it) before every copy into it; this one
// appends instead, saving a pass over each 20 KB body. Same contract otherwise: the body is a
// std::string reserved from Content-Length, so it is NUL-terminated for the handler.
struct request_body {
    using value_type = std::string;

    static std::uint64_t size(const value_type& body) { return body.size(); }

    class reader {
    public:
        template <bool is_request, class Fields>
        reader(boost::beast::http::header<is_request, Fields>&, value_type& body) : body_(body) {}

        void init(const boost::optional<std::uint64_t>& length, boost::system::error_code& ec) {
            // The parser has already refused a Content-Length over body_limit.
            if (length && *length <= body_.max_size()) {
                body_.reserve(static_cast<std::size_t>(*length));
            }
            ec = {};
        }

        template <class ConstBufferSequence>
        std::size_t put(const ConstBufferSequence& buffers, boost::system::error_code& ec) {
            std::size_t n = 0;
            for (const auto b : boost::beast::buffers_range_ref(buffers)) {
                body_.append(static_cast<const char*>(b.data()), b.size());
                n += b.size();
            }
            ec = {};
            return n;
        }

        void finish(boost::system::error_code& ec) { ec = {}; }

    private:
        value_type& body_;
    };
};

using request_parser = boost::beast::http::request_parser<request_body>;
using request = boost::beast::http::request<request_body>;

// One request into `parser`, as http::async_read would read it (Beast's read_op and
// read_some_op): parse what is buffered, read from the TLS stream when the parser needs more.
// end_of_stream if the peer closed before a first byte, partial_message if mid-request.
connection_task<boost::system::error_code> read_request(tls_stream& tls, boost::beast::flat_buffer& buffer,
                                                        request_parser& parser);

}  // namespace apr::server
