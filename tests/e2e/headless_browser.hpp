#pragma once
// A real headless browser for end-to-end tests of the dashboard: Debian's chromium, driven over
// the Chrome DevTools Protocol with Beast's WebSocket client (one page, flat session). The test
// reads the live DOM with JavaScript and saves screenshots; nothing reloads the page between
// looks, so what it sees is what the page's own polling drew.

#include "harness.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <chrono>
#include <memory>
#include <string>

namespace apr::e2e {

class headless_browser {
public:
    // Starts chromium (--headless=new, a fresh profile under `work_dir`) and opens one page of
    // width x height. Throws std::runtime_error with chromium's log when it does not come up.
    headless_browser(const std::string& work_dir, int width = 1440, int height = 1000);
    ~headless_browser();
    headless_browser(const headless_browser&) = delete;
    headless_browser& operator=(const headless_browser&) = delete;

    void navigate(const std::string& url);
    // Runs `expression` in the page and returns its value as JSON text (strings quoted), or
    // throws with the exception's description.
    std::string evaluate(const std::string& expression);
    // Same, for an expression that yields a string: the string itself.
    std::string evaluate_string(const std::string& expression);
    // What the page logged (console, uncaught exceptions, failed loads) so far, one per line.
    std::string console() const { return console_; }
    // The whole page as a PNG file.
    void screenshot(const std::string& png_path);

private:
    // Sends a command on the page's session and returns its "result" object as JSON text.
    std::string call(const std::string& method, const std::string& params_json, bool on_page = true);

    std::unique_ptr<child_process> chromium_;  // destroyed last: after the connection to it
    boost::asio::io_context ioc_;
    std::unique_ptr<boost::beast::websocket::stream<boost::asio::ip::tcp::socket>> ws_;
    std::string session_;
    std::string console_;
    int next_id_ = 1;
};

}  // namespace apr::e2e
