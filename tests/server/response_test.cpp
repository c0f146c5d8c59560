// Response rendering and the answers to requests that could not be read, without sockets.
#include "server/response.hpp"

#include <boost/beast/http/error.hpp>
#include <boost/test/unit_test.hpp>

#include <boost/asio/error.hpp>

using namespace apr::server;
namespace http = boost::beast::http;

BOOST_AUTO_TEST_SUITE(response_rendering)

BOOST_AUTO_TEST_CASE(one_buffer_with_the_headers_beast_would_write) {
    std::string out = "left over";
    auto parts = text_response(405, "use POST\n", "method_not_allowed");
    parts.allow = "POST";
    render_response(out, parts, 11, true);
    BOOST_TEST(out ==
               "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain; charset=utf-8\r\n"
               "Allow: POST\r\nContent-Length: 9\r\n\r\nuse POST\n");

    response_parts json;
    json.body = "{}";
    json.content_type = "application/json";
    render_response(out, json, 11, false);
    BOOST_TEST(out ==
               "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
               "Connection: close\r\n\r\n{}");
    render_response(out, json, 10, true);
    BOOST_TEST(out ==
               "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
               "Connection: keep-alive\r\n\r\n{}");
    json.status = 1000;  // not a status a line can carry
    render_response(out, json, 10, false);
    BOOST_TEST(out.starts_with("HTTP/1.0 500 Internal Server Error\r\n"));
}

BOOST_AUTO_TEST_CASE(unreadable_requests_get_413_431_or_400_or_no_answer) {
    const auto too_large = rejection_for(http::error::body_limit, 100, 200);
    BOOST_REQUIRE(too_large);
    BOOST_TEST(too_large->status == 413u);
    BOOST_TEST(too_large->outcome == "too_large");
    BOOST_TEST(too_large->body == "request body exceeds the limit of 100 bytes\n");
    const auto header = rejection_for(http::error::header_limit, 100, 200);
    BOOST_REQUIRE(header);
    BOOST_TEST(header->status == 431u);
    BOOST_TEST(header->body == "request header exceeds the limit of 200 bytes\n");
    const auto malformed = rejection_for(http::error::bad_method, 100, 200);
    BOOST_REQUIRE(malformed);
    BOOST_TEST(malformed->status == 400u);
    BOOST_TEST(malformed->outcome == "bad_request");

    BOOST_TEST(!rejection_for(http::error::end_of_stream, 100, 200));
    BOOST_TEST(!rejection_for(http::error::partial_message, 100, 200));
    BOOST_TEST(!rejection_for(boost::asio::error::connection_reset, 100, 200));
}

BOOST_AUTO_TEST_SUITE_END()
