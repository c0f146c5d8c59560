// One connection, from accept to close, on its worker's thread: detect (TLS or plain HTTP?),
// handshake, serve (keep-alive requests, each read, routed and answered in one write), then
// goodbye, with one fail() path for every early end. Each connection has one deadline and one
// timer (the watchdog). What does not live here: TLS record handling (tls_stream.hpp), reading
// one request (http_request.hpp), the answer (router.hpp), rendering it (response.hpp).
#pragma once

#include "request_metrics.hpp"
#include "router.hpp"
#include "server_log.hpp"
#include "tls_stream.hpp"
#include "worker_pool.hpp"

#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace apr::server {

struct server_options;
class session;

// What every connection of one server shares. Owned by the server, which outlives them all.
struct session_shared {
    const server_options& options;
    const log_sink& log;
    const router& routes;
    server_metrics& metrics;
    const std::atomic<bool>& stopping;  // /readyz fails
    const std::atomic<bool>& draining;  // kept-alive connections end after their current request
    // The watchdog's longest sleep: the shortest timeout, at least a second (see session.cpp).
    std::chrono::steady_clock::duration watchdog_period;
    // Called from the session's destructor, on its thread.
    std::function<void(session*)> on_end;
};

class session : public std::enable_shared_from_this<session> {
public:
    // `context` is the certificate generation this connection keeps for life; none: plain HTTP.
    session(const session_shared& shared, worker& home, connection_socket&& socket,
            std::shared_ptr<boost::asio::ssl::context> context);
    ~session();
    session(const session&) = delete;
    session& operator=(const session&) = delete;

    // Runs the connection on its worker's context until it ends.
    void start();

    // For the server's drain, from any thread; each posts to the connection's own thread.
    // Ends the connection if it waits for a request with nothing received; one in the middle of
    // a request gets its answer (with Connection: close) and then ends by itself.
    void interrupt_if_idle();
    // Ends it whatever it is doing (the grace period is over).
    void close_now();

private:
    enum class step { detect, not_tls, handshake, read, write };
    using clock = std::chrono::steady_clock;
    using timer = boost::asio::basic_waitable_timer<clock, boost::asio::wait_traits<clock>, connection_executor>;

    connection_task<void> run(std::shared_ptr<session> self);
    connection_task<bool> detect();
    connection_task<bool> handshake();
    connection_task<void> serve();
    connection_task<void> goodbye();
    void fail(step where, boost::system::error_code ec);

    connection_socket& socket() { return tls_.socket(); }

    void set_deadline(std::chrono::steady_clock::duration timeout);
    void arm_watchdog();
    void on_watchdog(boost::system::error_code ec);
    void stop_watchdog();

    const session_shared& shared_;
    worker& home_;
    // Declared before the stream: the SSL object refers to this context for its whole life.
    std::shared_ptr<boost::asio::ssl::context> context_;
    tls_stream tls_;
    timer watchdog_;
    std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
    bool timed_out_ = false;
    bool finished_ = false;
    bool goodbye_ = true;  // send close_notify at the end; cleared by fail()
    bool idle_ = false;    // waiting for the first byte of a request
    boost::beast::flat_buffer buffer_;
    std::string body_;      // the request body, reused by the next request
    std::string response_;  // the rendered response, reused likewise
    std::string peer_;
};

}  // namespace apr::server
