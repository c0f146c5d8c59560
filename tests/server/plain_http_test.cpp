// The server's plain-HTTP mode (server_options::plain_http, for the dashboard on loopback) and
// request routes: same routing, limits and metrics as over TLS, no certificate, extra headers on
// the wire, and TLS refused rather than half-served.
#include "test_support.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/test/unit_test.hpp>

using namespace apr::server;
using namespace apr::server::test;

namespace {

namespace net = boost::asio;

// One HTTP/1.1 exchange (or several, pipelined) in clear text; returns all the server sent until
// it closed the connection.
std::string exchange(unsigned short port, const std::string& requests) {
    net::io_context ioc;
    net::ip::tcp::socket socket(ioc);
    socket.connect({net::ip::make_address("127.0.0.1"), port});
    net::write(socket, net::buffer(requests));
    std::string out;
    boost::system::error_code ec;
    char buf[4096];
    for (;;) {
        const std::size_t n = socket.read_some(net::buffer(buf), ec);
        if (ec) break;
        out.append(buf, n);
    }
    return out;
}

struct plain_server : server_fixture {
    plain_server() {
        auto options = default_options();
        options.plain_http = true;
        options.cert_file.clear();
        options.key_file.clear();
        auto& s = create(options);
        s.add_route("/api/thing", [](const request_view& req) {
            handler_result r{200,
                             std::string(req.method) + " " + std::string(req.header("X-Test")) + " " +
                                 query_value(req.target, "name").value_or("-"),
                             "text/plain", "ok", "Cache-Control: no-store\r\nX-Frame-Options: DENY\r\n"};
            return r;
        });
        run_in_background();
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(plain_http_mode)

BOOST_FIXTURE_TEST_CASE(request_routes_see_method_headers_and_query_and_add_headers, plain_server) {
    const auto reply =
        exchange(port(),
                 "GET /api/thing?name=a%20b HTTP/1.1\r\nHost: x\r\nX-Test: yes\r\n\r\n"
                 "POST /api/thing HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    BOOST_TEST(reply.find("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\nCache-Control: "
                          "no-store\r\nX-Frame-Options: DENY\r\n\r\nGET yes a b") == 0u,
               reply);
    BOOST_TEST(reply.find("\r\n\r\nPOST  -") != std::string::npos, reply);
    BOOST_TEST(
        metric("argocd_progressive_rollout_http_requests_total{route=\"/api/thing\",outcome=\"ok\",code=\"200\"}") ==
        2);
    BOOST_TEST(server().current_certificate().serial_hex.empty());  // no certificate at all
}

BOOST_FIXTURE_TEST_CASE(unknown_paths_are_404_and_builtins_answer, plain_server) {
    BOOST_TEST(exchange(port(), "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                   .starts_with("HTTP/1.1 404 Not Found\r\n"));
    BOOST_TEST(exchange(port(), "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                   .starts_with("HTTP/1.1 200 OK\r\n"));
}

BOOST_FIXTURE_TEST_CASE(a_tls_client_gets_nothing_readable, plain_server) {
    // A ClientHello is not HTTP: the parser refuses it and the connection closes.
    const std::string hello("\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00", 10);
    BOOST_TEST(exchange(port(), hello).starts_with("HTTP/1.1 400 Bad Request\r\n"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(query_values)

BOOST_AUTO_TEST_CASE(decoded_by_key_and_nullopt_when_absent_or_broken) {
    BOOST_TEST(query_value("/x?a=1&name=guest%2Fbook&b=2", "name").value() == "guest/book");
    BOOST_TEST(query_value("/x?name=a+b", "name").value() == "a b");
    BOOST_TEST(query_value("/x?name=", "name").value().empty());
    BOOST_TEST(!query_value("/x?other=1", "name").has_value());
    BOOST_TEST(!query_value("/x", "name").has_value());
    BOOST_TEST(!query_value("/x?name=%2", "name").has_value());
    BOOST_TEST(!query_value("/x?name=%zz", "name").has_value());
}

BOOST_AUTO_TEST_SUITE_END()
