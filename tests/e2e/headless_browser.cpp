#include "headless_browser.hpp"

#include "../eventually.hpp"

#include <boost/asio/connect.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/buffers_to_string.hpp>

#include <openssl/evp.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <vector>

namespace apr::e2e {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

namespace {

std::string json_string(const std::string& s) {
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
    return b.GetString();
}

std::string to_json(const rapidjson::Value& v) {
    rapidjson::StringBuffer b;
    rapidjson::Writer<rapidjson::StringBuffer> w(b);
    v.Accept(w);
    return b.GetString();
}

}  // namespace

headless_browser::headless_browser(const std::string& work_dir, int width, int height) {
    const std::string profile = work_dir + "/chromium-profile";
    std::filesystem::remove_all(profile);
    std::filesystem::create_directories(profile);
    std::vector<std::string> args = {
        "chromium", "--headless=new",
        // The tests run as root in a container: chromium's sandbox needs user namespaces.
        "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
        "--disable-extensions", "--disable-background-networking", "--hide-scrollbars", "--user-data-dir=" + profile,
        "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
        "--window-size=" + std::to_string(width) + "," + std::to_string(height), "about:blank"};
    chromium_ = std::make_unique<child_process>(args, work_dir + "/chromium.log");
    // Chromium writes its port and the browser's WebSocket path once it listens.
    const std::string active = profile + "/DevToolsActivePort";
    std::string port, path;
    if (!apr::test::eventually(
            [&] {
                std::ifstream in(active);
                return static_cast<bool>(in >> port >> path);
            },
            std::chrono::seconds(30), std::chrono::milliseconds(100)))
        throw std::runtime_error("chromium did not start: " + chromium_->log());

    tcp::resolver resolver(ioc_);
    ws_ = std::make_unique<websocket::stream<tcp::socket>>(ioc_);
    net::connect(ws_->next_layer(), resolver.resolve("127.0.0.1", port));
    ws_->read_message_max(256 * 1024 * 1024);  // full-page screenshots in base64
    ws_->handshake("127.0.0.1:" + port, path);

    rapidjson::Document target;
    target.Parse(call("Target.createTarget", R"({"url":"about:blank"})", false).c_str());
    const std::string target_id = target["targetId"].GetString();
    rapidjson::Document attached;
    attached.Parse(
        call("Target.attachToTarget", R"({"targetId":)" + json_string(target_id) + R"(,"flatten":true})", false)
            .c_str());
    session_ = attached["sessionId"].GetString();
    call("Runtime.enable", "{}");
    call("Log.enable", "{}");
    call("Emulation.setDeviceMetricsOverride", "{\"width\":" + std::to_string(width) +
                                                   ",\"height\":" + std::to_string(height) +
                                                   ",\"deviceScaleFactor\":1,\"mobile\":false}");
}

headless_browser::~headless_browser() {
    boost::system::error_code ignored;
    if (ws_) ws_->next_layer().close(ignored);
}

std::string headless_browser::call(const std::string& method, const std::string& params_json, bool on_page) {
    const int id = next_id_++;
    std::string message =
        "{\"id\":" + std::to_string(id) + ",\"method\":" + json_string(method) + ",\"params\":" + params_json;
    if (on_page) message += ",\"sessionId\":" + json_string(session_);
    message += "}";
    ws_->text(true);
    ws_->write(net::buffer(message));
    for (;;) {
        beast::flat_buffer buffer;
        ws_->read(buffer);
        rapidjson::Document reply;
        reply.Parse(beast::buffers_to_string(buffer.data()).c_str());
        if (reply.IsObject() && reply.HasMember("method") && reply["method"].IsString() &&
            (std::string_view(reply["method"].GetString()) == "Runtime.consoleAPICalled" ||
             std::string_view(reply["method"].GetString()) == "Runtime.exceptionThrown" ||
             std::string_view(reply["method"].GetString()) == "Log.entryAdded")) {
            console_ += to_json(reply["params"]).substr(0, 600) + "\n";
            continue;
        }
        if (!reply.IsObject() || !reply.HasMember("id") || !reply["id"].IsInt() || reply["id"].GetInt() != id)
            continue;  // another event, or an answer to someone else
        if (reply.HasMember("error")) throw std::runtime_error(method + " failed: " + to_json(reply["error"]));
        return reply.HasMember("result") ? to_json(reply["result"]) : "{}";
    }
}

void headless_browser::navigate(const std::string& url) {
    call("Page.navigate", "{\"url\":" + json_string(url) + "}");
}

std::string headless_browser::evaluate(const std::string& expression) {
    rapidjson::Document result;
    result.Parse(
        call("Runtime.evaluate", "{\"expression\":" + json_string(expression) + ",\"returnByValue\":true}").c_str());
    if (result.HasMember("exceptionDetails"))
        throw std::runtime_error("page script failed: " + to_json(result["exceptionDetails"]));
    const auto& value = result["result"];
    return value.HasMember("value") ? to_json(value["value"]) : "null";
}

std::string headless_browser::evaluate_string(const std::string& expression) {
    rapidjson::Document d;
    d.Parse(evaluate(expression).c_str());
    return d.IsString() ? std::string(d.GetString(), d.GetStringLength()) : std::string();
}

void headless_browser::screenshot(const std::string& png_path) {
    rapidjson::Document result;
    result.Parse(call("Page.captureScreenshot", R"({"format":"png","captureBeyondViewport":true})").c_str());
    const std::string base64 = result["data"].GetString();
    std::vector<unsigned char> png(base64.size() / 4 * 3 + 3);
    const int n = EVP_DecodeBlock(png.data(), reinterpret_cast<const unsigned char*>(base64.data()),
                                  static_cast<int>(base64.size()));
    if (n < 0) throw std::runtime_error("screenshot: bad base64");
    std::size_t size = static_cast<std::size_t>(n);
    // EVP_DecodeBlock counts the padding's zero bytes too.
    for (std::size_t i = base64.size(); i > 0 && base64[i - 1] == '='; --i) --size;
    std::filesystem::create_directories(std::filesystem::path(png_path).parent_path());
    std::ofstream out(png_path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(png.data()), static_cast<std::streamsize>(size));
}

}  // namespace apr::e2e
