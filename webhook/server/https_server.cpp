// The server as a whole: builds the parts, runs them and shuts them down in order. The shape is
// that of Beast's advanced servers with one io_context per thread:
//
//   listener ──accepts onto──▶ worker_pool (io_context per thread, dealt in turn)
//       │                           └─ session: detect → handshake → serve → goodbye
//       │                                  └─ router::answer (request → response parts)
//   cert_watcher ──"look again"──▶ serving_certificate (handed to each new session)
//
// Threading: the listener, the certificate watch and shutdown share a context of their own, run
// by the thread that called run(), so that a handler blocking its serving thread holds up only
// the connections on that thread, never accepting or draining. A connection lives on one
// single-threaded context and needs no strand.
#include "https_server.hpp"

#include "cert_watcher.hpp"
#include "cpu_budget.hpp"
#include "listener.hpp"
#include "request_metrics.hpp"
#include "serving_certificate.hpp"
#include "session.hpp"
#include "worker_pool.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <limits>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <unordered_map>
#include <vector>

namespace apr::server {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

// How many serving threads, and why, for the startup log.
struct thread_count {
    unsigned threads = 1;
    std::string why;
};

thread_count size_workers(unsigned requested) {
    if (requested > 0) {
        return {requested, "set by the threads option"};
    }
    const auto budget = read_cpu_budget();
    std::string why = "the CPUs this process may use: " + std::to_string(budget.affinity) + " in its affinity mask";
    if (budget.quota) {
        why += ", a CPU quota rounding up to " + std::to_string(*budget.quota) + " in " + budget.quota_file;
    } else {
        why += ", no cgroup CPU quota";
    }
    return {budget.usable, why};
}

// The watchdog's longest sleep; a second at least, so that a zero timeout cannot make it spin
// (a session re-arms it for a deadline nearer than that).
std::chrono::steady_clock::duration watchdog_period(const server_options& o) {
    std::chrono::steady_clock::duration const shortest = std::min({o.idle_timeout, o.read_timeout, o.write_timeout});
    return std::max<std::chrono::steady_clock::duration>(shortest, std::chrono::seconds(1));
}

}  // namespace

struct https_server::impl {
    impl(server_options opts, metrics_registry& registry)
        : options(std::move(opts)),
          log(options.log ? options.log : log_sink(default_log)),
          metrics(registry),
          routes(registry, log),
          shared{options,
                 log,
                 routes,
                 metrics,
                 stopping,
                 draining,
                 watchdog_period(options),
                 [this](session* s) { on_session_end(s); }},
          sizing(size_workers(options.threads)),
          workers(sizing.threads),
          accepting(control_ioc, options.listen, workers, log,
                    [this](worker& home, connection_socket socket) { on_accept(home, std::move(socket)); }),
          delay_timer(control_ioc),
          grace_timer(control_ioc) {
        options.threads = sizing.threads;
        if (options.plain_http) {
            log(log_level::info,
                "listening on " + options.listen + " (port " + std::to_string(accepting.port()) + "), plain HTTP");
        } else {
            // Watch first, then read: a certificate swapped in between is not missed.
            watcher.emplace(control_ioc, std::vector<std::filesystem::path>{options.cert_file, options.key_file},
                            options.cert_poll_interval, log, [this] { certificate->reload(); });
            certificate.emplace(options.cert_file, options.key_file, registry, log);
            const auto info = certificate->info();
            log(log_level::info, "listening on " + options.listen + " (port " + std::to_string(accepting.port()) +
                                     "), certificate subject=\"" + info.subject + "\" serial=" + info.serial_hex +
                                     " not_after=" + std::to_string(info.not_after));
        }
        log(log_level::info, "serving threads: " + std::to_string(sizing.threads) + " (" + sizing.why + ")");
    }

    ~impl() {
        alive = false;
        control_ioc.stop();
    }

    void on_accept(worker& home, connection_socket socket) {
        boost::system::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        metrics.connections_total.inc();
        metrics.connections_open.inc();
        auto s =
            std::make_shared<session>(shared, home, std::move(socket), certificate ? certificate->context() : nullptr);
        {
            std::lock_guard lock(sessions_mutex);
            sessions.emplace(s.get(), s);
        }
        s->start();
    }

    void on_session_end(session* s) {
        metrics.connections_open.dec();
        bool last = false;
        {
            std::lock_guard lock(sessions_mutex);
            sessions.erase(s);
            last = sessions.empty();
        }
        if (last && draining && alive) {
            // Nothing left to drain: let run() return without waiting out the grace period.
            net::post(control_ioc, [this] { grace_timer.cancel(); });
        }
    }

    std::vector<std::shared_ptr<session>> live_sessions() {
        std::vector<std::shared_ptr<session>> live;
        std::lock_guard lock(sessions_mutex);
        live.reserve(sessions.size());
        for (auto& [_, weak] : sessions) {
            if (auto s = weak.lock()) {
                live.push_back(std::move(s));
            }
        }
        return live;
    }

    // ---- shutdown, on the control thread ----
    void begin_stop() {
        log(log_level::info,
            "shutdown: readiness now fails; draining in " + std::to_string(options.shutdown_delay.count()) + "s");
        if (options.shutdown_delay.count() > 0) {
            delay_timer.expires_after(options.shutdown_delay);
            delay_timer.async_wait([this](boost::system::error_code) { begin_drain(); });
        } else {
            begin_drain();
        }
    }

    void begin_drain() {
        draining = true;
        accepting.close();
        if (watcher) {
            watcher->stop();
        }
        delay_timer.cancel();

        const auto live = live_sessions();
        log(log_level::info, "shutdown: listener closed, " + std::to_string(live.size()) + " connection(s) finishing");
        for (const auto& s : live) {
            s->interrupt_if_idle();
        }
        if (live.empty()) {
            return;
        }
        grace_timer.expires_after(options.shutdown_grace);
        grace_timer.async_wait([this](boost::system::error_code ec) {
            if (ec) {
                return;  // everything drained in time
            }
            auto const left = live_sessions();
            log(log_level::warn,
                "shutdown: grace period over, closing " + std::to_string(left.size()) + " connection(s)");
            for (auto const& s : left) {
                s->close_now();
            }
        });
    }

    // ---- configuration ----
    server_options options;
    log_sink log;
    server_metrics metrics;
    router routes;

    std::atomic<bool> alive{true};
    std::atomic<bool> stopping{false};  // readiness fails from here on
    std::atomic<bool> draining{false};  // listener closed, idle connections closing
    std::atomic<bool> ran{false};
    session_shared shared;

    // ---- live connections, for draining ----
    std::mutex sessions_mutex;
    std::unordered_map<session*, std::weak_ptr<session>> sessions;

    // I/O last: destroyed first, the serving contexts (destroying suspended session frames, which
    // report to the registry above) before the control context.
    net::io_context control_ioc{1};  // listener, certificate watch, shutdown
    thread_count sizing;
    worker_pool workers;
    // Both absent in plain-HTTP mode. The watcher before the certificate: destroyed after it.
    std::optional<cert_watcher> watcher;
    std::optional<serving_certificate> certificate;
    listener accepting;
    net::steady_timer delay_timer;
    net::steady_timer grace_timer;
};

https_server::https_server(server_options options, metrics_registry& metrics)
    : impl_(std::make_unique<impl>(std::move(options), metrics)) {}

https_server::~https_server() = default;

void https_server::add_admission_route(std::string path, admission_handler handler) {
    impl_->routes.add_admission_route(std::move(path), std::move(handler));
}

void https_server::add_route(std::string path, request_handler handler) {
    impl_->routes.add_route(std::move(path), std::move(handler));
}

void https_server::set_readiness(std::function<bool()> ready) {
    impl_->routes.set_readiness(std::move(ready));
}

unsigned short https_server::port() const {
    return impl_->accepting.port();
}

void https_server::run() {
    auto& i = *impl_;
    if (i.ran.exchange(true)) {
        throw std::logic_error("https_server::run() called twice");
    }
    i.accepting.start();
    if (i.watcher) {
        i.watcher->start();
    }

#ifdef __GLIBC__
    if (const auto threshold = i.options.malloc_trim_threshold; threshold > 0) {
        mallopt(M_TRIM_THRESHOLD, static_cast<int>(std::min<std::size_t>(threshold, std::numeric_limits<int>::max())));
    }
#endif

    i.workers.start();
    // The control context runs out of work once the listener, the watcher and the grace period
    // are done; then every connection has ended or was closed when the grace period ran out.
    i.control_ioc.run();
    i.workers.finish();
    i.log(log_level::info, "shutdown: complete");
}

void https_server::stop() {
    if (impl_->stopping.exchange(true)) {
        return;
    }
    net::post(impl_->control_ioc, [i = impl_.get()] { i->begin_stop(); });
}

bool https_server::reload_certificate() {
    return impl_->certificate && impl_->certificate->reload();
}

certificate_info https_server::current_certificate() const {
    return impl_->certificate ? impl_->certificate->info() : certificate_info{};
}

}  // namespace apr::server
