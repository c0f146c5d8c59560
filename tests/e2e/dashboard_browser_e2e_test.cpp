#define BOOST_TEST_MODULE dashboard_browser_e2e
#include <boost/test/unit_test.hpp>

// The dashboard's page in a real headless chromium during a real rollout through the real
// kube-apiserver: the page is loaded once and never reloaded; the test reads its DOM as the
// rollout moves and saves screenshots (docs/dashboard.md). Screenshots go to
// <build>/artefacts/dashboard/.

#include "dashboard_process.hpp"
#include "headless_browser.hpp"
#include "rollout_scenario.hpp"
#include "sim/http_stub.hpp"

#include <boost/algorithm/string/replace.hpp>

#include <rapidjson/document.h>

#include <map>

using namespace apr;
using namespace apr::e2e;
using core::rollout_phase;

namespace {

// The lines of `parts` with `separator` between them (boost::algorithm::join trips g++ 12's
// -Wrestrict false positive at -O3).
std::string joined(const std::vector<std::string>& parts, std::string_view separator) {
    std::string out;
    for (const auto& part : parts) {
        if (!out.empty()) out.append(separator);
        out.append(part);
    }
    return out;
}

// The DOM as the page drew it: every stage row and its tiles.
struct drawn_stage {
    std::string name, phase;
    bool current = false;
    std::vector<std::pair<std::string, std::string>> tiles;  // cluster, state
};

std::vector<drawn_stage> drawn(headless_browser& b) {
    const auto json = b.evaluate_string(
        "JSON.stringify([...document.querySelectorAll('section.stage')].map(s => ({name: s.dataset.stage, phase: "
        "s.dataset.phase, current: s.classList.contains('current'), tiles: [...s.querySelectorAll('.tile')].map(t "
        "=> [t.dataset.cluster, t.dataset.state])})))");
    rapidjson::Document d;
    d.Parse(json.c_str());
    std::vector<drawn_stage> out;
    if (!d.IsArray()) return out;
    for (const auto& s : d.GetArray()) {
        drawn_stage st{
            s["name"].GetString(), s["phase"].IsString() ? s["phase"].GetString() : "", s["current"].GetBool(), {}};
        for (const auto& t : s["tiles"].GetArray()) st.tiles.emplace_back(t[0].GetString(), t[1].GetString());
        out.push_back(std::move(st));
    }
    return out;
}

// A JavaScript string literal of `text`.
std::string quoted(const std::string& text) {
    std::string out = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

std::string waiting_text(headless_browser& b) {
    return b.evaluate_string("(document.getElementById('waiting-reason') || {}).textContent || ''");
}

std::string artefact(const std::string& name) {
    return std::string(APR_ARTEFACT_DIR) + "/dashboard/" + name;
}

int rank(const std::string& state) {
    static const std::map<std::string, int> order = {{"pending", 0}, {"requeued", 1}, {"updating", 2}, {"done", 3}};
    auto it = order.find(state);
    return it == order.end() ? -1 : it->second;
}

void open_page(headless_browser& b, const std::string& url) {
    b.navigate(url);
    // Evaluating while the navigation replaces the document may find no document yet.
    BOOST_REQUIRE(eventually(
        [&] {
            try {
                return b.evaluate_string("document.readyState") == "complete" &&
                       b.evaluate_string("typeof poll") == "function";
            } catch (const std::exception&) {
                return false;
            }
        },
        30s, 100ms));
}

// The text of the first element matching a CSS selector; empty when there is none.
std::string text_of(headless_browser& b, const std::string& selector) {
    return b.evaluate_string("(document.querySelector(" + quoted(selector) + ") || {}).textContent || ''");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(dashboard_in_a_real_browser)

BOOST_AUTO_TEST_CASE(tiles_change_state_in_order_and_the_waiting_reason_shows_without_a_reload) {
    rollout_scenario s("dash-ui");
    s.start_webhook();
    auto fleet = s.emea_fleet();
    fleet[1].labels["drained"] = "true";  // eu-west-1b-1: requeued until the test undrains it
    s.create_fleet(fleet);
    auto stages = seed_stages("3s");
    // A short bake after the canary, so the page has a bake countdown to show.
    boost::replace_first(stages, "      maxClusters: 2\n", "      maxClusters: 2\n      bakeTime: 4s\n");
    s.apply_rollout(stages);
    dashboard_process d({"--allow-actions"});
    headless_browser b(env("TESTENV_DIR"));
    open_page(b, d.url() + "#/rollout/" + s.id);

    // Before any change: three stages in order, none with clusters, and the page says why.
    BOOST_REQUIRE_MESSAGE(
        eventually(
            [&] {
                const auto rows = drawn(b);
                // Three stages, then the unstaged clusters' row.
                return rows.size() == 4 && rows[0].name == "canary in EMEA" &&
                       waiting_text(b).find("no change is held") != std::string::npos;
            },
            30s, 200ms),
        "page never showed the rollout: "
            << b.evaluate("location.href + ' poll:' + typeof poll + ' ' + "
                          "JSON.stringify(performance.getEntriesByType('resource').map(e => e.name + ' ' + "
                          "e.responseStatus + ' ' + e.duration)) + '\\n' + document.body.innerText")
            << "\n"
            << b.console() << d.log());
    // Set once; a reload would lose it.
    b.evaluate("window.__loadedOnce = 'yes'");
    b.screenshot(artefact("1-waiting-for-a-change.png"));

    s.argo.set_template_revision("v2");
    std::map<std::string, std::vector<std::string>> states;  // cluster -> distinct states in the order drawn
    std::vector<std::string> reasons;
    bool stage2_started_before_canary_done = false, canary_done = false, undrained = false, baked = false;
    const auto look = [&](const core::rollout&) {
        const auto rows = drawn(b);
        // Tiles before the pass starts show the old change's states; the order is the new pass's.
        const bool in_pass = b.evaluate_string("(document.getElementById('pass') || {}).textContent || '0'") != "0";
        for (const auto& row : in_pass ? rows : std::vector<drawn_stage>{}) {
            for (const auto& [cluster, state] : row.tiles) {
                auto& seen = states[cluster];
                if (seen.empty() || seen.back() != state) seen.push_back(state);
            }
        }
        if (rows.size() >= 3) {
            bool all_done = !rows[0].tiles.empty();
            for (const auto& [c, st] : rows[0].tiles) all_done = all_done && st == "done";
            canary_done = canary_done || all_done;
            for (const auto& [c, st] : rows[1].tiles)
                if (st != "pending" && st != "requeued" && !canary_done) stage2_started_before_canary_done = true;
            if (!baked && rows[0].phase == "Baking") {
                baked = true;
                b.screenshot(artefact("2-canary-baking.png"));
            }
        }
        const auto reason = waiting_text(b);
        if (reasons.empty() || reasons.back() != reason) reasons.push_back(reason);
        // Once the page shows the drained cluster requeued and says so, undrain it.
        if (!undrained && reason.find(s.cluster("eu-west-1b-1") + " is requeued") != std::string::npos) {
            b.screenshot(artefact("3-requeued-cluster.png"));
            s.argo.set_cluster_labels(s.cluster("eu-west-1b-1"),
                                      {{"area", "emea"}, {"region", "eu-west-1"}, {"e2e", s.id}});
            undrained = true;
        }
    };
    BOOST_REQUIRE_MESSAGE(s.play_until([](const core::rollout& r) { return phase_is(r, rollout_phase::completed); },
                                       150s, look),
                          "rollout did not complete:\n"
                              << s.webhook->log());
    // Live: the page shows Completed within about a second of the API server saying so.
    BOOST_TEST(eventually(
        [&] { return b.evaluate_string("document.getElementById('phase').textContent") == "Completed"; }, 2s, 100ms));
    look(s.rollout());
    b.screenshot(artefact("4-completed.png"));

    // Every tile moved forward only: pending, (requeued), updating, done.
    for (const auto& [cluster, seen] : states) {
        BOOST_TEST_MESSAGE(cluster << ": " << joined(seen, " > "));
        if (cluster.find("us-east") != std::string::npos || cluster.find("ap-southeast") != std::string::npos) {
            BOOST_TEST((seen == std::vector<std::string>{"unstaged"}), cluster);
            continue;
        }
        // A cluster may show Done for an instant before the ApplicationSet controller has written
        // the new change to its Application; after that it only moves forward.
        const std::size_t from = seen.size() > 1 && seen.front() == "done" ? 1 : 0;
        for (std::size_t i = from + 1; i < seen.size(); ++i) BOOST_TEST(rank(seen[i - 1]) < rank(seen[i]), cluster);
        BOOST_TEST(seen.back() == "done", cluster);
    }
    BOOST_TEST(states[s.cluster("eu-west-1b-1")].size() >= 2u);
    BOOST_TEST((std::find(states[s.cluster("eu-west-1b-1")].begin(), states[s.cluster("eu-west-1b-1")].end(),
                          "requeued") != states[s.cluster("eu-west-1b-1")].end()));
    // Stage by stage: no eu-west-1 cluster was drawn in flight before the canary was all done.
    BOOST_TEST(!stage2_started_before_canary_done);
    BOOST_TEST(baked);
    BOOST_TEST(undrained);
    // Why it waited, as the page said it along the way.
    const auto said = [&](const std::string& text) {
        return std::any_of(reasons.begin(), reasons.end(),
                           [&](const std::string& r) { return r.find(text) != std::string::npos; });
    };
    BOOST_TEST(said("to be Synced and Healthy on the new change"), joined(reasons, "\n"));
    BOOST_TEST(said("is baking"), joined(reasons, "\n"));
    BOOST_TEST(said("requeued (still matching the requeue selector)"), joined(reasons, "\n"));

    // The Pause button writes spec.paused with the user's credentials, and the page shows it.
    b.evaluate("document.querySelector('[data-verb=pause]').click()");
    BOOST_TEST(eventually([&] { return spec_paused(s); }, 10s, 100ms));
    BOOST_TEST(eventually([&] { return waiting_text(b).find("paused") != std::string::npos; }, 3s, 100ms));
    b.screenshot(artefact("5-paused.png"));
    b.evaluate("document.querySelector('[data-verb=resume]').click()");
    BOOST_TEST(eventually([&] { return !spec_paused(s); }, 10s, 100ms));

    // One page load from start to end.
    BOOST_TEST(b.evaluate_string("window.__loadedOnce") == "yes");
}

// A canary measured by a webhook gate, then baking for an hour: the page shows the gate on the
// cluster's tile with its last measurement, says why the rollout waits at each point, and its
// Promote, Skip bake and Abort buttons are the operator commands, answered on the page.
BOOST_AUTO_TEST_CASE(gates_show_their_measurements_and_promote_and_abort_work_from_the_page) {
    sim::http_stub smoke([](const sim::http_stub::received&) { return sim::http_stub::answer{200, "ok"}; });
    rollout_scenario s("dash-gates");
    s.start_webhook();
    s.create_fleet(s.emea_fleet());
    s.apply_rollout(gated_stages(smoke.url() + "/smoke", "1h", true));
    dashboard_process d({"--allow-actions"});
    headless_browser b(env("TESTENV_DIR"));
    open_page(b, d.url() + "#/rollout/" + s.id);
    BOOST_REQUIRE(eventually([&] { return contains(waiting_text(b), "no change is held"); }, 30s, 200ms));
    b.evaluate("window.__loadedOnce = 'yes'");

    s.argo.set_template_revision("v2");
    const auto canary = s.cluster("eu-west-1a-1");
    const std::string badge = "[data-cluster='" + canary + "'] [data-gate=smoke]";
    std::vector<std::string> reasons;
    const auto note_reason = [&](const core::rollout&) {
        const auto reason = waiting_text(b);
        if (reasons.empty() || reasons.back() != reason) reasons.push_back(reason);
    };
    // The canary done and baking, its gate measured: the tile carries the gate's badge with the
    // last value (the smoke endpoint's 200), and the page counts the bake down.
    BOOST_REQUIRE_MESSAGE(s.play_until(
                              [&](const core::rollout&) {
                                  return contains(text_of(b, badge), "200") &&
                                         contains(waiting_text(b), "stage \"canary\" is baking");
                              },
                              90s, note_reason),
                          "page: " << b.evaluate_string("document.body.innerText") << "\n"
                                   << s.webhook->log());
    const auto gate_phase = b.evaluate_string("document.querySelector(" + quoted(badge) + ").dataset.gatePhase");
    BOOST_TEST((gate_phase == "Running" || gate_phase == "Successful"), gate_phase);
    BOOST_TEST(contains(b.evaluate_string("document.querySelector(\"[data-cluster='" + canary + "']\").title"),
                        "gate smoke:"));
    BOOST_TEST(contains(text_of(b, "#waiting .countdown"), "left"));
    b.screenshot(artefact("6-gate-measured-canary-baking.png"));

    // Promote alone cannot end a bake: the page shows the webhook's refusal, the CLI's words.
    b.evaluate("document.querySelector('[data-verb=promote]').click()");
    BOOST_TEST(
        eventually(
            [&] { return contains(text_of(b, "#action-message"), "is baking and nothing else waits for promote"); },
            15s, 100ms),
        text_of(b, "#action-message"));
    // Skip bake: recorded with the user's name; the next stage starts and the page says what it waits for.
    b.evaluate("document.querySelector('[data-verb=skip-bake]').click()");
    BOOST_TEST(eventually([&] { return contains(text_of(b, "#action-message"), "promote by " + env("USER_ADMIN")); },
                          15s, 100ms),
               text_of(b, "#action-message"));
    BOOST_TEST(
        eventually([&] { return contains(text_of(b, "#requests"), "promote by " + env("USER_ADMIN")); }, 5s, 100ms));
    // Then the canary's approval waits for a person: its row under the stage, and the reason.
    const std::string approval = "[data-stage=canary] .gate[data-gate=change-board]";
    BOOST_REQUIRE_MESSAGE(s.play_until(
                              [&](const core::rollout&) {
                                  return contains(waiting_text(b), "waiting for approval") &&
                                         b.evaluate_string("(document.querySelector(" + quoted(approval) +
                                                           ") || {dataset: {}}).dataset.gatePhase || ''") == "Running";
                              },
                              30s, note_reason),
                          "page: " << b.evaluate_string("document.body.innerText"));
    BOOST_TEST(contains(text_of(b, approval), "approval"));
    b.screenshot(artefact("7-approval-waiting.png"));
    // Promote passes it, recorded with the user's name on the gate.
    b.evaluate("document.querySelector('[data-verb=promote]').click()");
    BOOST_TEST(
        eventually([&] { return contains(text_of(b, approval), "promoted by " + env("USER_ADMIN")); }, 15s, 100ms),
        text_of(b, approval) << " / " << text_of(b, "#action-message"));
    BOOST_REQUIRE(s.play_until(
        [&](const core::rollout&) {
            return contains(waiting_text(b), "of stage \"eu-west-1\" to be Synced and Healthy");
        },
        60s, note_reason));
    b.screenshot(artefact("8-promoted-next-stage.png"));

    // Abort asks twice: one click arms it, and nothing is written.
    b.evaluate("document.querySelector('[data-verb=abort]').click()");
    BOOST_TEST(eventually([&] { return text_of(b, "[data-verb=abort]") == "Confirm abort"; }, 5s, 100ms));
    BOOST_TEST(!phase_is(s.rollout(), rollout_phase::aborted));
    b.evaluate("document.querySelector('[data-verb=abort]').click()");
    BOOST_TEST(eventually([&] { return phase_is(s.rollout(), rollout_phase::aborted); }, 15s, 100ms));
    BOOST_TEST(eventually([&] { return contains(text_of(b, "#action-message"), "abort by " + env("USER_ADMIN")); }, 15s,
                          100ms),
               text_of(b, "#action-message"));
    BOOST_TEST(eventually([&] { return text_of(b, "#phase") == "Aborted" && contains(waiting_text(b), "aborted"); }, 3s,
                          100ms),
               waiting_text(b));
    b.screenshot(artefact("9-aborted.png"));

    // Why it waited, as the page said it along the way.
    const auto said = [&](const std::string& text) {
        return std::any_of(reasons.begin(), reasons.end(), [&](const std::string& r) { return contains(r, text); });
    };
    BOOST_TEST(said("is baking"), joined(reasons, "\n"));
    BOOST_TEST(said("waiting for approval"), joined(reasons, "\n"));
    BOOST_TEST(said("of stage \"eu-west-1\" to be Synced and Healthy"), joined(reasons, "\n"));
    BOOST_TEST(b.evaluate_string("window.__loadedOnce") == "yes");
}

BOOST_AUTO_TEST_SUITE_END()
