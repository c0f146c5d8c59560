#include "sim/http_stub.hpp"

#include <arpa/inet.h>
#include <openssl/ssl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cctype>
#include <stdexcept>

namespace apr::sim {

namespace {

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

std::string reason_of(unsigned status) {
    switch (status) {
        case 200:
            return "OK";
        case 404:
            return "Not Found";
        case 500:
            return "Internal Server Error";
        default:
            return "Status";
    }
}

}  // namespace

http_stub::http_stub(handler h, std::optional<tls_files> tls) : handler_(std::move(h)) {
    if (tls) {
        // OpenSSL writes with write(2): a client that gave up must not kill the test with SIGPIPE.
        ::signal(SIGPIPE, SIG_IGN);
        tls_ = SSL_CTX_new(TLS_server_method());
        if (!tls_ || SSL_CTX_use_certificate_chain_file(tls_, tls->cert.c_str()) != 1 ||
            SSL_CTX_use_PrivateKey_file(tls_, tls->key.c_str(), SSL_FILETYPE_PEM) != 1) {
            if (tls_) SSL_CTX_free(tls_);
            throw std::runtime_error("http_stub: cannot load " + tls->cert + " / " + tls->key);
        }
    }
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (listen_fd_ < 0) throw std::runtime_error("http_stub: socket");
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 64) != 0)
        throw std::runtime_error("http_stub: bind/listen");
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
}

http_stub::~http_stub() {
    {
        std::lock_guard lock(mutex_);
        stop_ = true;
    }
    stopping_.notify_all();
    ::shutdown(listen_fd_, SHUT_RDWR);
    ::close(listen_fd_);
    if (acceptor_.joinable()) acceptor_.join();
    for (auto& t : connections_)
        if (t.joinable()) t.join();
    if (tls_) SSL_CTX_free(tls_);
}

std::vector<http_stub::received> http_stub::requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
}

void http_stub::accept_loop() {
    for (;;) {
        const int fd = ::accept(listen_fd_, nullptr, nullptr);
        if (fd < 0) return;  // closed: stopping
        std::lock_guard lock(mutex_);
        if (stop_) {
            ::close(fd);
            return;
        }
        connections_.emplace_back([this, fd] { serve(fd); });
    }
}

void http_stub::serve(int fd) {
    SSL* ssl = nullptr;
    auto finish = [&] {
        if (ssl) {
            SSL_shutdown(ssl);
            SSL_free(ssl);
        }
        ::close(fd);
    };
    if (tls_) {
        ssl = SSL_new(tls_);
        if (!ssl || SSL_set_fd(ssl, fd) != 1 || SSL_accept(ssl) != 1) {  // e.g. a client that does not trust us
            if (ssl) SSL_free(ssl);
            ::close(fd);
            return;
        }
    }
    auto read_some = [&](char* into, std::size_t size) -> long {
        return ssl ? SSL_read(ssl, into, static_cast<int>(size)) : ::recv(fd, into, size, 0);
    };
    auto write_some = [&](const char* from, std::size_t size) -> long {
        return ssl ? SSL_write(ssl, from, static_cast<int>(size)) : ::send(fd, from, size, MSG_NOSIGNAL);
    };
    std::string data;
    char buf[4096];
    std::size_t header_end = std::string::npos;
    while ((header_end = data.find("\r\n\r\n")) == std::string::npos) {
        const auto n = read_some(buf, sizeof buf);
        if (n <= 0) {
            finish();
            return;
        }
        data.append(buf, static_cast<std::size_t>(n));
    }
    received req;
    const auto head = data.substr(0, header_end);
    const auto line_end = head.find("\r\n");
    const auto first = head.substr(0, line_end);
    const auto sp1 = first.find(' '), sp2 = first.rfind(' ');
    req.method = first.substr(0, sp1);
    req.target = first.substr(sp1 + 1, sp2 - sp1 - 1);
    std::size_t content_length = 0;
    for (std::size_t pos = line_end + 2; pos < head.size();) {
        auto end = head.find("\r\n", pos);
        if (end == std::string::npos) end = head.size();
        const auto line = head.substr(pos, end - pos);
        const auto colon = line.find(':');
        if (colon != std::string::npos) {
            auto name = lower(line.substr(0, colon));
            auto value = line.substr(line.find_first_not_of(' ', colon + 1));
            if (name == "content-length") content_length = std::stoul(value);
            req.headers.emplace_back(std::move(name), std::move(value));
        }
        pos = end + 2;
    }
    req.body = data.substr(header_end + 4);
    while (req.body.size() < content_length) {
        const auto n = read_some(buf, sizeof buf);
        if (n <= 0) break;
        req.body.append(buf, static_cast<std::size_t>(n));
    }
    {
        std::lock_guard lock(mutex_);
        requests_.push_back(req);
    }
    const auto a = handler_(req);
    if (a.delay.count() > 0) {
        std::unique_lock lock(mutex_);
        if (stopping_.wait_for(lock, a.delay, [&] { return stop_; })) {
            lock.unlock();
            finish();
            return;
        }
    }
    const auto response =
        "HTTP/1.1 " + std::to_string(a.status) + " " + reason_of(a.status) + "\r\nContent-Type: " + a.content_type +
        "\r\nContent-Length: " + std::to_string(a.body.size()) + "\r\nConnection: close\r\n\r\n" + a.body;
    std::size_t sent = 0;
    while (sent < response.size()) {
        const auto n = write_some(response.data() + sent, response.size() - sent);
        if (n <= 0) break;
        sent += static_cast<std::size_t>(n);
    }
    finish();
}

}  // namespace apr::sim
