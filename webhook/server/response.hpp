// An HTTP answer as the server decides it (status, body, content type, metrics labels) and its
// rendering into the bytes of one write. What does not live here: which answer a request gets
// (router.hpp) or sending it (session.cpp).
#pragma once

#include <boost/system/error_code.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace apr::server {

inline constexpr std::string_view text_plain = "text/plain; charset=utf-8";

struct response_parts {
    unsigned status = 200;
    std::string body;
    std::string content_type;
    std::string_view allow;  // the Allow header of a 405
    std::string headers;     // more header lines, each "Name: value\r\n"
    // Metrics labels. `route` is a view of stable storage (a route table key or a literal),
    // never of the request, because serving threads keep it in their metrics cache.
    std::string_view route = "unmatched";
    std::string outcome;
};

response_parts text_response(unsigned status, std::string body, std::string outcome);

// Status line, headers and body into `out` (cleared first), so that one SSL_write and one send
// carry the response. The header set is what Beast's serializer wrote for
// http::response<string_body> after keep_alive() and prepare_payload(): Content-Type, Allow on
// 405, Content-Length, and Connection only where the version's default does not already say it.
// `version` is 10 or 11, as Beast numbers HTTP versions.
void render_response(std::string& out, const response_parts& parts, unsigned version, bool keep_alive);

// The answer to a request that could not be read (413, 431, 400; route and outcome set but the
// route left for the caller), or nothing when the connection should just close: timeouts,
// resets, a peer that vanished mid-request.
std::optional<response_parts> rejection_for(boost::system::error_code read_error, std::size_t body_limit,
                                            std::size_t header_limit);

}  // namespace apr::server
