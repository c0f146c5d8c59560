// The kube client under API server throttling. kube-apiserver answers 429 with Retry-After when
// API Priority and Fairness rejects a request, which a test control plane cannot be made to do on
// cue, so a scripted TLS endpoint plays the API server here: it answers each request with the
// next canned response and records when each arrived.
#define BOOST_TEST_MODULE kube_throttling
#include <boost/test/unit_test.hpp>

#include "kube/client.hpp"
#include "kube/config.hpp"

#include "../server/test_support.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <chrono>
#include <deque>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

struct canned {
    unsigned status;
    std::string retry_after;  // empty: no header
    std::string body =
        R"({"kind":"Status","apiVersion":"v1","status":"Failure","reason":"TooManyRequests","message":"too many requests, please try again later","code":429})";
};

struct arrival {
    std::string method;
    steady::time_point at;
};

class scripted_api_server {
public:
    explicit scripted_api_server(std::deque<canned> script)
        : dir_(),
          ca_(dir_.path()),
          script_(std::move(script)),
          acceptor_(ioc_, {net::ip::make_address("127.0.0.1"), 0}) {
        auto pair = ca_.issue(1, "kube-apiserver");
        tls_.use_certificate_chain(net::buffer(pair.cert_pem));
        tls_.use_private_key(net::buffer(pair.key_pem), ssl::context::pem);
        thread_ = std::jthread([this](std::stop_token stop) { serve(stop); });
    }
    ~scripted_api_server() {
        // A blocking accept() does not notice a close from another thread: wake it with a
        // connection after asking the loop to end.
        thread_.request_stop();
        boost::system::error_code ignored;
        tcp::socket wake(ioc_);
        wake.connect(acceptor_.local_endpoint(), ignored);
        thread_.join();
    }

    apr::kube::cluster_config config() const {
        apr::kube::cluster_config c;
        c.host = "127.0.0.1";
        c.port = std::to_string(acceptor_.local_endpoint().port());
        c.ca_pem = apr::kube::read_file(ca_.ca_file().string());
        c.token = "test-token";
        c.source = "scripted";
        return c;
    }
    std::vector<arrival> arrivals() const {
        std::lock_guard lock(mutex_);
        return arrivals_;
    }

private:
    void serve(std::stop_token stop) {
        while (!stop.stop_requested()) {
            boost::system::error_code ec;
            tcp::socket socket(ioc_);
            acceptor_.accept(socket, ec);
            if (ec || stop.stop_requested()) return;
            beast::ssl_stream<tcp::socket> stream(std::move(socket), tls_);
            stream.handshake(ssl::stream_base::server, ec);
            beast::flat_buffer buffer;
            while (!ec) {
                http::request<http::string_body> req;
                http::read(stream, buffer, req, ec);
                if (ec) break;
                canned next{200, "", R"({"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"x"}})"};
                {
                    std::lock_guard lock(mutex_);
                    arrivals_.push_back({std::string(req.method_string()), steady::now()});
                    if (!script_.empty()) {
                        next = script_.front();
                        script_.pop_front();
                    }
                }
                http::response<http::string_body> res{static_cast<http::status>(next.status), 11};
                res.set(http::field::content_type, "application/json");
                if (!next.retry_after.empty()) res.set(http::field::retry_after, next.retry_after);
                res.body() = next.body;
                res.keep_alive(true);
                res.prepare_payload();
                http::write(stream, res, ec);
            }
        }
    }

    apr::server::test::temp_dir dir_;
    apr::server::test::test_ca ca_;
    mutable std::mutex mutex_;
    std::deque<canned> script_;
    std::vector<arrival> arrivals_;
    net::io_context ioc_;
    ssl::context tls_{ssl::context::tls_server};
    tcp::acceptor acceptor_;
    std::jthread thread_;
};

double seconds_between(const arrival& a, const arrival& b) {
    return std::chrono::duration<double>(b.at - a.at).count();
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_throttled_request_is_sent_again_after_retry_after) {
    scripted_api_server server({{429, "1"}, {429, ""}});
    apr::kube::client client(server.config());
    const auto started = steady::now();
    auto r = client.create("/api/v1/namespaces/argocd/configmaps", R"({"metadata":{"name":"x"}})");
    BOOST_REQUIRE_MESSAGE(r.has_value(), (r ? "" : r.error().describe()));
    const auto got = server.arrivals();
    BOOST_REQUIRE_EQUAL(got.size(), 3u);
    // Retry-After: 1, then a 429 without the header: client-go's default of one second.
    BOOST_TEST(seconds_between(got[0], got[1]) >= 0.95);
    BOOST_TEST(seconds_between(got[1], got[2]) >= 0.95);
    BOOST_TEST(got[2].method == "POST");
    BOOST_TEST(std::chrono::duration<double>(steady::now() - started).count() < 10.0);
}

BOOST_AUTO_TEST_CASE(a_wait_past_the_request_deadline_returns_the_429) {
    scripted_api_server server({{429, "30"}});
    apr::kube::client_options options;
    options.request_timeout = 2s;
    apr::kube::client client(server.config(), options);
    const auto started = steady::now();
    auto r = client.get("/api/v1/namespaces/argocd/configmaps/x");
    BOOST_REQUIRE(!r.has_value());
    BOOST_TEST(r.error().code == 429);
    BOOST_TEST(r.error().reason == "TooManyRequests");
    BOOST_TEST(std::chrono::duration<double>(steady::now() - started).count() < 1.5);
    BOOST_TEST(server.arrivals().size() == 1u);
}

BOOST_AUTO_TEST_CASE(retries_stop_after_ten_and_the_caller_sees_the_429) {
    std::deque<canned> script(11, canned{429, "0"});
    scripted_api_server server(script);
    apr::kube::client client(server.config());
    auto r = client.get("/api/v1/namespaces/argocd/configmaps/x");
    BOOST_REQUIRE(!r.has_value());
    BOOST_TEST(r.error().code == 429);
    BOOST_TEST(server.arrivals().size() == 11u);  // the request and 10 retries
}

BOOST_AUTO_TEST_CASE(unavailable_is_retried_for_reads_only) {
    const canned unavailable{
        503, "0", R"({"kind":"Status","apiVersion":"v1","status":"Failure","reason":"ServiceUnavailable","code":503})"};
    {
        scripted_api_server server({unavailable});
        apr::kube::client client(server.config());
        BOOST_TEST(client.get("/api/v1/namespaces/argocd/configmaps/x").has_value());
        BOOST_TEST(server.arrivals().size() == 2u);
    }
    {
        scripted_api_server server({unavailable});
        apr::kube::client client(server.config());
        auto r = client.merge_patch("/api/v1/namespaces/argocd/configmaps/x", "{}");
        BOOST_REQUIRE(!r.has_value());
        BOOST_TEST(r.error().code == 503);
        BOOST_TEST(server.arrivals().size() == 1u);
    }
}

BOOST_AUTO_TEST_CASE(stopping_ends_the_wait_at_once) {
    scripted_api_server server({{429, "20"}});
    apr::kube::client client(server.config());
    std::stop_source stop;
    std::jthread stopper([&] {
        std::this_thread::sleep_for(300ms);
        stop.request_stop();
    });
    const auto started = steady::now();
    auto r =
        client.request(apr::kube::method::get, "/api/v1/namespaces/argocd/configmaps/x", {}, {}, 0ms, stop.get_token());
    BOOST_REQUIRE(r.has_value() == false);
    BOOST_TEST(r.error().reason == "Cancelled");
    BOOST_TEST(std::chrono::duration<double>(steady::now() - started).count() < 5.0);
}
