#include "core/project_windows.hpp"

#include <date/tz.h>

namespace apr::core {

namespace {

// One UTF-8 character from the front of s (a lone byte when s is not UTF-8).
char32_t take_rune(std::string_view& s) {
    const auto b = static_cast<unsigned char>(s[0]);
    std::size_t n = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 1;
    if (n > s.size()) n = 1;
    char32_t r = n == 1 ? b : n == 2 ? (b & 0x1F) : n == 3 ? (b & 0x0F) : (b & 0x07);
    for (std::size_t i = 1; i < n; ++i) r = (r << 6) | (static_cast<unsigned char>(s[i]) & 0x3F);
    s.remove_prefix(n);
    return r;
}

// The end of a `[...]` class starting at p[0] == '[' (index of ']'), or npos when unclosed.
std::size_t class_end(std::string_view p) {
    std::size_t i = 1;
    if (i < p.size() && p[i] == '!') ++i;
    for (; i < p.size(); ++i) {
        if (p[i] == '\\') {
            ++i;
            continue;
        }
        if (p[i] == ']') return i;
    }
    return std::string_view::npos;
}

// The end of a `{...}` group starting at p[0] == '{' (index of its '}'), or npos when unclosed.
std::size_t group_end(std::string_view p) {
    int depth = 0;
    for (std::size_t i = 0; i < p.size(); ++i) {
        if (p[i] == '\\') {
            ++i;
        } else if (p[i] == '[') {
            auto e = class_end(p.substr(i));
            if (e == std::string_view::npos) return e;
            i += e;
        } else if (p[i] == '{') {
            ++depth;
        } else if (p[i] == '}' && --depth == 0) {
            return i;
        }
    }
    return std::string_view::npos;
}

bool well_formed(std::string_view p) {
    for (std::size_t i = 0; i < p.size(); ++i) {
        if (p[i] == '\\') {
            if (++i == p.size()) return false;
        } else if (p[i] == '[') {
            auto e = class_end(p.substr(i));
            if (e == std::string_view::npos || e == 1 || (e == 2 && p[i + 1] == '!')) return false;
            i += e;
        } else if (p[i] == '{') {
            auto e = group_end(p.substr(i));
            if (e == std::string_view::npos) return false;
        }
    }
    return true;
}

bool class_matches(std::string_view body, char32_t c) {
    bool negate = !body.empty() && body[0] == '!';
    if (negate) body.remove_prefix(1);
    bool hit = false;
    while (!body.empty()) {
        if (body[0] == '\\') body.remove_prefix(1);
        const auto low = take_rune(body);
        auto high = low;
        if (body.size() >= 2 && body[0] == '-') {
            body.remove_prefix(1);
            if (body[0] == '\\') body.remove_prefix(1);
            high = take_rune(body);
        }
        if (low <= c && c <= high) hit = true;
    }
    return hit != negate;
}

// The top-level alternatives of a group's body ("a,b{c,d}" -> "a", "b{c,d}").
std::vector<std::string_view> alternatives(std::string_view body) {
    std::vector<std::string_view> out;
    int depth = 0;
    std::size_t start = 0;
    for (std::size_t i = 0; i < body.size(); ++i) {
        if (body[i] == '\\') {
            ++i;
        } else if (body[i] == '[') {
            i += class_end(body.substr(i));
        } else if (body[i] == '{') {
            ++depth;
        } else if (body[i] == '}') {
            --depth;
        } else if (body[i] == ',' && depth == 0) {
            out.push_back(body.substr(start, i - start));
            start = i + 1;
        }
    }
    out.push_back(body.substr(start));
    return out;
}

bool match_from(std::string_view p, std::string_view s) {
    while (!p.empty()) {
        switch (p[0]) {
            case '*': {
                while (!p.empty() && p[0] == '*') p.remove_prefix(1);
                if (p.empty()) return true;
                for (;;) {
                    if (match_from(p, s)) return true;
                    if (s.empty()) return false;
                    take_rune(s);
                }
            }
            case '?':
                if (s.empty()) return false;
                take_rune(s);
                p.remove_prefix(1);
                break;
            case '[': {
                if (s.empty()) return false;
                const auto e = class_end(p);
                if (!class_matches(p.substr(1, e - 1), take_rune(s))) return false;
                p.remove_prefix(e + 1);
                break;
            }
            case '{': {
                const auto e = group_end(p);
                const auto rest = p.substr(e + 1);
                for (auto alt : alternatives(p.substr(1, e - 1)))
                    if (match_from(std::string(alt) + std::string(rest), s)) return true;
                return false;
            }
            case '\\':
                p.remove_prefix(1);
                [[fallthrough]];
            default:
                if (s.empty() || s[0] != p[0]) return false;
                s.remove_prefix(1);
                p.remove_prefix(1);
        }
    }
    return s.empty();
}

bool any_glob(const std::vector<std::string>& patterns, std::string_view value) {
    for (const auto& p : patterns)
        if (glob_match(p, value)) return true;
    return false;
}

bool cluster_matches(const std::vector<std::string>& patterns, const application_target& app) {
    for (const auto& p : patterns)
        if ((!app.destination_name.empty() && glob_match(p, app.destination_name)) ||
            (!app.destination_server.empty() && glob_match(p, app.destination_server)))
            return true;
    return false;
}

std::string quoted(std::string_view s) {
    // Appended in place: g++ 12 -O3 warns (-Wrestrict, falsely) on "literal" + string temporaries.
    return std::string("\"").append(s).append("\"");
}

std::string describe(const project_window& w) {
    std::string out = w.kind + " window " + quoted(w.schedule) + " for " + w.duration;
    if (!w.time_zone.name.empty()) out += " in " + w.time_zone.name;
    return out;
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view text) {
    if (pattern == "*") return true;
    return well_formed(pattern) && match_from(pattern, text);
}

bool window_matches(const project_window& w, const application_target& app) {
    const bool has_apps = !w.applications.empty(), has_clusters = !w.clusters.empty(),
               has_namespaces = !w.namespaces.empty();
    const bool apps = has_apps && any_glob(w.applications, app.name);
    const bool clusters = has_clusters && cluster_matches(w.clusters, app);
    const bool namespaces = has_namespaces && any_glob(w.namespaces, app.destination_namespace);
    if (!w.and_operator) return apps || clusters || namespaces;
    if (!has_apps && !has_clusters && !has_namespaces) return false;
    return (!has_apps || apps) && (!has_clusters || clusters) && (!has_namespaces || namespaces);
}

project_sync project_can_sync(const app_project& project, const application_target& app, bool manual, time_point now) {
    std::vector<window_schedule> schedules;
    std::vector<const project_window*> sources;
    auto invalid = [&](const project_window& w, const std::string& why) {
        return project_sync{false, std::nullopt,
                            "AppProject " + quoted(project.name) + " has an invalid " + describe(w) + ": " + why};
    };
    for (const auto& w : project.sync_windows) {
        if (!window_matches(w, app)) continue;
        auto cron = parse_cron(w.schedule);
        if (!cron.schedule) return invalid(w, "cannot parse schedule: " + cron.error);
        if (!cron.schedule->zone.empty() && !w.schedule_zone.zone)
            return invalid(w, "unknown time zone " + quoted(cron.schedule->zone));
        auto length = parse_duration(w.duration);
        if (!length) return invalid(w, "cannot parse duration");
        window_schedule s;
        s.kind = w.kind == "allow" ? window_kind::allow : w.kind == "deny" ? window_kind::deny : window_kind::other;
        s.schedule = std::move(*cron.schedule);
        s.length = *length;
        s.zone = w.schedule_zone.zone;
        // Argo CD evaluates the schedule in UTC shifted by the zone's offset *now*, not the offset
        // the zone has at each opening; an unknown zone is UTC.
        if (w.time_zone.zone) s.shift = w.time_zone.zone->get_info(now).offset;
        s.manual_sync = w.manual_sync;
        s.never_fires_is_open = true;  // robfig's zero time is "before now" in Argo CD
        schedules.push_back(std::move(s));
        sources.push_back(&w);
    }
    const auto verdict = evaluate_windows(schedules, manual, now);
    project_sync result{verdict.allowed, verdict.changes_at, {}};
    if (result.allowed) return result;
    for (std::size_t i = 0; i < schedules.size(); ++i)
        if (schedules[i].kind == window_kind::deny && is_open(schedules[i], now)) {
            result.reason = "AppProject " + quoted(project.name) + " " + describe(*sources[i]) + " is open";
            return result;
        }
    result.reason = "no allow window of AppProject " + quoted(project.name) + " is open";
    return result;
}

}  // namespace apr::core
