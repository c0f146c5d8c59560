#include "dashboard/dashboard_server.hpp"

#include "codec/rollout_codec.hpp"
#include "dashboard/assets.hpp"
#include "dashboard/view_json.hpp"
#include "kube/api_paths.hpp"

#include <boost/algorithm/string/replace.hpp>

#include <rapidjson/document.h>

#include <algorithm>

namespace apr::dashboard {

namespace {

// Every answer: never cached (it is live), never framed (the action buttons must not be
// clickjacked), and no script or style but the page's own.
constexpr std::string_view security_headers =
    "Cache-Control: no-store\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "X-Frame-Options: DENY\r\n"
    "Referrer-Policy: no-referrer\r\n"
    "Content-Security-Policy: default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action "
    "'none'\r\n";

server::handler_result answer(unsigned status, std::string body, std::string_view content_type,
                              std::string outcome = "ok") {
    server::handler_result r;
    r.status = status;
    r.body = std::move(body);
    r.content_type = std::string(content_type);
    r.outcome = std::move(outcome);
    r.headers = std::string(security_headers);
    return r;
}

server::handler_result text(unsigned status, std::string body, std::string outcome) {
    return answer(status, std::move(body) + "\n", server::text_plain, std::move(outcome));
}

core::time_point now() {
    return std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
}

const asset* find_asset(std::string_view name) {
    for (const auto& a : assets())
        if (a.name == name) return &a;
    return nullptr;
}

}  // namespace

dashboard_service::dashboard_service(kube::client& client, dashboard_options options)
    : options_(std::move(options)),
      rollouts_(client, {.path = kube::rollouts_path(options_.namespace_)},
                [ns = options_.namespace_](const rapidjson::Value& object) -> std::optional<core::rollout> {
                    auto r = codec::decode_rollout(object).rollout;
                    if (r.namespace_.empty()) r.namespace_ = ns;
                    return r;
                }),
      events_(client,
              {.path = kube::events_path(options_.namespace_),
               .field_selector = "involvedObject.kind=" + std::string(core::rollout_kind)},
              decode_rollout_event) {}

dashboard_service::~dashboard_service() {
    stop();
}

void dashboard_service::start() {
    rollouts_.start();
    events_.start();
}

void dashboard_service::stop() {
    events_.stop();
    rollouts_.stop();
}

bool dashboard_service::synced() const {
    return rollouts_.synced();
}

void dashboard_service::add_routes(server::https_server& server, guard_policy guard) {
    const std::string token = guard.token;  // the page carries it for its writes
    // Every route: the guard, then the method, then the answer.
    auto route = [&server, guard = std::make_shared<const guard_policy>(std::move(guard))](
                     std::string path, std::string_view method,
                     std::function<server::handler_result(const server::request_view&)> handle) {
        server.add_route(std::move(path), [guard, method, handle = std::move(handle)](const server::request_view& req) {
            if (auto why = refusal(
                    *guard, {req.method, req.header("Host"), req.header("Origin"), req.header("X-Dashboard-Token")}))
                return text(403, *why, "forbidden");
            if (req.method != method) {
                auto r = text(405, "use " + std::string(method), "method_not_allowed");
                r.headers += "Allow: " + std::string(method) + "\r\n";
                return r;
            }
            return handle(req);
        });
    };
    route("/", "GET", [token](const server::request_view&) {
        std::string page(find_asset("index.html")->body);
        boost::replace_all(page, "{{TOKEN}}", token);
        return answer(200, std::move(page), find_asset("index.html")->content_type);
    });
    for (const char* name : {"app.js", "style.css"}) {
        const asset* a = find_asset(name);
        route(std::string("/") + name, "GET",
              [a](const server::request_view&) { return answer(200, std::string(a->body), a->content_type); });
    }
    route("/api/rollouts", "GET", [this](const server::request_view&) { return list_answer(); });
    route("/api/rollout", "GET", [this](const server::request_view& req) { return rollout_answer(req.target); });
    if (options_.act) {
        route("/api/actions", "POST", [this](const server::request_view& req) { return action_answer(req.body); });
    }
}

server::handler_result dashboard_service::list_answer() const {
    const auto snapshot = rollouts_.snapshot();
    list_view view;
    view.namespace_ = options_.namespace_;
    view.synced = rollouts_.synced();
    view.actions = static_cast<bool>(options_.act);
    for (const auto& [key, r] : *snapshot) view.rollouts.push_back(r.get());
    std::sort(view.rollouts.begin(), view.rollouts.end(),
              [](const auto* a, const auto* b) { return a->name < b->name; });
    return answer(200, list_json(view, now()), "application/json");
}

server::handler_result dashboard_service::rollout_answer(std::string_view target) const {
    const auto name = server::query_value(target, "name");
    if (!name || name->empty()) return text(400, "want /api/rollout?name=NAME", "bad_request");
    const auto r = rollouts_.find(options_.namespace_ + "/" + *name);
    if (!r) return text(404, "ProgressiveRollout " + options_.namespace_ + "/" + *name + " not found", "not_found");
    std::vector<rollout_event> events;
    const auto events_snapshot = events_.snapshot();  // alive for the whole loop
    for (const auto& [key, e] : *events_snapshot)
        if (e->rollout == *name) events.push_back(*e);
    std::sort(events.begin(), events.end(), [](const auto& a, const auto& b) { return a.last_seen > b.last_seen; });
    if (events.size() > options_.events_per_rollout) events.resize(options_.events_per_rollout);
    return answer(200, rollout_json(*r, events, static_cast<bool>(options_.act), now()), "application/json");
}

server::handler_result dashboard_service::action_answer(const std::string& body) const {
    rapidjson::Document doc;
    doc.Parse(body.c_str(), body.size());
    auto flag = [&doc](const char* name) { return doc.HasMember(name) && doc[name].IsBool() && doc[name].GetBool(); };
    if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("rollout") || !doc["rollout"].IsString() ||
        !doc.HasMember("verb") || !doc["verb"].IsString())
        return text(400, "want {\"rollout\": NAME, \"verb\": VERB[, \"skipBake\": true][, \"rollback\": true]}",
                    "bad_request");
    auto result =
        options_.act({doc["rollout"].GetString(), doc["verb"].GetString(), flag("skipBake"), flag("rollback")});
    return text(result.status, std::move(result.message), result.status < 300 ? "ok" : "error");
}

}  // namespace apr::dashboard
