#include "http_request.hpp"

#include <boost/asio/error.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/http/error.hpp>

// GCC 12 pairs the operator delete of Asio's coroutine frames with the aligned_alloc inside
// Asio's recycling allocator and warns; that allocator releases the frame with free(), so the
// pair is right (a known false positive with Boost 1.81's awaitable frames).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace apr::server {

namespace http = boost::beast::http;

connection_task<boost::system::error_code> read_request(tls_stream& tls, boost::beast::flat_buffer& buffer,
                                                        request_parser& parser) {
    for (;;) {
        if (buffer.size() > 0) {
            boost::system::error_code ec;
            std::size_t const used = parser.put(buffer.data(), ec);
            buffer.consume(used);
            if (ec && ec != http::error::need_more) {
                co_return ec;
            }
            if (parser.is_done()) {
                co_return boost::system::error_code{};
            }
            if (!ec && used > 0) {
                continue;  // more of the message may already be buffered
            }
        }
        std::size_t const size = boost::beast::read_size(buffer, 65536);
        if (size == 0) {
            co_return http::error::buffer_overflow;
        }
        const auto space = buffer.prepare(size);
        const auto [ec, n] = co_await tls.read_some(space.data(), space.size());
        if (ec == boost::asio::error::eof) {
            if (!parser.got_some()) {
                co_return http::error::end_of_stream;
            }
            boost::system::error_code eof_ec;
            parser.put_eof(eof_ec);  // partial_message unless the message ends at EOF
            co_return eof_ec;
        }
        if (ec) {
            co_return ec;
        }
        buffer.commit(n);
    }
}

}  // namespace apr::server
