// The dashboard page: polls the JSON API twice a second and redraws what changed, no reload.
// Served by `argocd-progressive-rollout dashboard` (docs/dashboard.md); no external resources.
"use strict";

const POLL_MS = 500;
const token = document.querySelector('meta[name="apr-token"]').content;
let selected = decodeURIComponent((location.hash.match(/^#\/rollout\/(.+)$/) || [])[1] || "");
let lastList = "", lastDetail = "", clockOffset = 0, actionMessage = "", armedAbort = 0;

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "style") el.style.cssText = v;  // CSSOM: the page's CSP forbids style attributes
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function serverNow() { return Date.now() + clockOffset; }

function humanDuration(ms) {
  let s = Math.max(0, Math.round(ms / 1000));
  const d = Math.floor(s / 86400); s -= d * 86400;
  const hr = Math.floor(s / 3600); s -= hr * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  if (d) return `${d}d${hr}h`;
  if (hr) return `${hr}h${m}m`;
  if (m) return `${m}m${String(s).padStart(2, "0")}s`;
  return `${s}s`;
}

function ago(iso) { return iso ? humanDuration(serverNow() - Date.parse(iso)) + " ago" : ""; }

function tickCountdowns() {
  for (const el of document.querySelectorAll("[data-until]")) {
    el.textContent = humanDuration(Date.parse(el.dataset.until) - serverNow()) + " left";
  }
  const abort = document.querySelector("[data-verb=abort]");
  if (abort && armedAbort && Date.now() >= armedAbort) { armedAbort = 0; abort.textContent = "Abort"; abort.classList.remove("armed"); }
  for (const el of document.querySelectorAll("[data-since]")) el.textContent = ago(el.dataset.since);
}

function setLive(ok, text) {
  const live = document.getElementById("live");
  live.dataset.state = ok ? "live" : "down";
  document.getElementById("live-text").textContent = text;
}

async function getJSON(url) {
  const res = await fetch(url, { cache: "no-store" });
  if (res.status === 404) return null;
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.json();
}

function renderList(list) {
  document.getElementById("namespace").textContent = "namespace " + list.namespace;
  const nav = document.getElementById("rollouts");
  nav.replaceChildren(...list.rollouts.map(r => h("a", {
    href: "#/rollout/" + encodeURIComponent(r.name), "data-rollout": r.name,
    class: r.name === selected ? "selected" : ""
  },
    h("div", { class: "name" }, r.name),
    h("div", { class: "sub" }, h("span", { class: "pill " + r.phase }, r.paused ? "Paused" : r.phase),
      h("span", {}, `${r.done}/${r.total} clusters`)),
    h("div", { class: "minibar" }, r.stages.map(s => h("span", { class: "p-" + s.phase, title: `${s.name}: ${s.phase}` }))))));
  if (!list.rollouts.length) nav.replaceChildren(h("div", { class: "empty" }, "No ProgressiveRollouts"));
}

function tile(c, stateOverride) {
  const state = (stateOverride || c.state).toLowerCase();
  let sub = stateOverride || c.state;
  if (c.state === "Requeued" && c.attempts) sub += ` · try ${c.attempts}${c.maxAttempts ? "/" + c.maxAttempts : ""}`;
  const gates = c.gates || [];
  const title = [c.name, stateOverride || c.state, c.message, c.hash ? "hash " + c.hash.slice(0, 12) : "",
    ...gates.map(g => `gate ${g.name}: ${g.phase}${g.last ? ", last " + g.last.phase + " " + g.last.value : ""}`)].filter(Boolean).join("\n");
  return h("div", { class: "tile", "data-cluster": c.name, "data-state": state, title },
    h("div", { class: "cn" }, c.name), h("div", { class: "cs" }, sub),
    gates.length ? h("div", { class: "tg" }, gates.map(g => h("span", { class: "gate-dot g-" + g.phase, "data-gate": g.name, "data-gate-phase": g.phase },
      g.name + (g.last ? " " + g.last.value : "")))) : null);
}

// A gate of scope Stage: kind, when, phase, counts, the last measurement and the next one.
function gateRow(g) {
  const counts = [["✓", g.successful], ["✗", g.failed], ["?", g.inconclusive], ["!", g.errors]]
    .filter(([, n]) => n).map(([s, n]) => `${s}${n}`).join(" ");
  return h("div", { class: "gate", "data-gate": g.name, "data-gate-phase": g.phase },
    h("span", { class: "pill g-" + g.phase }, g.phase),
    h("b", {}, g.name), h("span", { class: "muted" }, [g.when, g.kind, g.dryRun ? "dry run" : ""].filter(Boolean).join(" · ")),
    counts ? h("span", { class: "counts" }, counts) : null,
    g.last ? h("span", { class: "last", "data-last-value": g.last.value, title: g.last.message || "" },
      `last: ${g.last.phase} ${g.last.value}`, " ", h("span", { class: "muted", "data-since": g.last.at })) : null,
    g.phase === "Running" && g.nextAt ? h("span", { class: "muted" }, "next ", h("span", { "data-until": g.nextAt })) : null,
    g.decidedBy ? h("span", { class: "muted" }, `promoted by ${g.decidedBy}`) : null,
    g.message && g.phase !== "Successful" ? h("div", { class: "note" }, g.message) : null);
}

function stageRow(s) {
  const facts = [];
  if (s.maxUnavailable) facts.push(h("span", {}, `maxUnavailable ${s.maxUnavailable}`));
  if (s.bakeTime && s.bakeTime !== "0s") facts.push(h("span", {}, `bake ${s.bakeTime}`));
  if (s.phase === "Baking" && s.bakeUntil) facts.push(h("span", { class: "bake", "data-until": s.bakeUntil }));
  if (s.startedAt && !s.finishedAt) facts.push(h("span", {}, "started ", h("span", { "data-since": s.startedAt })));
  return h("section", { class: `stage s-${s.phase}${s.current ? " current" : ""}`, "data-stage": s.name, "data-phase": s.phase },
    h("div", { class: "num" }, s.phase === "Completed" ? "✓" : String(s.index)),
    h("div", { class: "body" },
      h("div", { class: "title" }, h("h2", {}, s.name), h("span", { class: "pill " + s.phase }, s.phase), h("div", { class: "facts" }, facts)),
      s.message ? h("div", { class: "note" }, s.message) : null,
      s.gates && s.gates.length ? h("div", { class: "gates" }, s.gates.map(gateRow)) : null,
      s.clusters.length ? h("div", { class: "tiles" }, s.clusters.map(c => tile(c)))
        : h("div", { class: "note" }, "clusters are picked when the stage starts")));
}

async function act(verb, options) {
  actionMessage = `${verb}…`;
  lastDetail = "";
  try {
    const res = await fetch("/api/actions", {
      method: "POST", headers: { "Content-Type": "application/json", "X-Dashboard-Token": token },
      body: JSON.stringify({ rollout: selected, verb, ...(options || {}) })
    });
    actionMessage = (await res.text()).trim();
  } catch (e) { actionMessage = String(e); }
  lastDetail = "";
}

function renderDetail(d) {
  const r = d.rollout, main = document.getElementById("main");
  const counts = { done: 0, updating: 0, failed: 0 };
  for (const s of r.stages) for (const c of s.clusters) {
    if (c.state === "Done") counts.done++; else if (c.state === "Updating") counts.updating++; else if (c.state === "Failed") counts.failed++;
  }
  const total = Math.max(1, r.total);
  const bar = h("div", { class: "bar" }, ["done", "updating", "failed"].map(k => h("i", { class: k, style: `width:${100 * counts[k] / total}%` })));
  const stuck = ["Failed", "Aborted", "RolledBack"].includes(r.phase) || r.paused;
  const waiting = h("div", { id: "waiting", class: "waiting" + (r.waiting.reason ? "" : " none") + (stuck ? " stuck" : "") },
    h("span", { class: "icon" }), h("span", { id: "waiting-reason" }, r.waiting.reason),
    r.waiting.until ? h("span", { class: "countdown", "data-until": r.waiting.until }) : null);
  // The operator commands of the same names; Abort asks for a second click within 5 seconds.
  const ended = ["Completed", "Failed", "Aborted", "RolledBack"].includes(r.phase) || !r.currentStage;
  const baking = r.stages.some(s => s.current && s.phase === "Baking");
  const armed = Date.now() < armedAbort;
  const actions = d.actions ? h("div", { class: "actions" },
    r.paused ? h("button", { onclick: () => act("resume"), "data-verb": "resume" }, "Resume")
      : ended && r.currentStage ? null : h("button", { onclick: () => act("pause"), "data-verb": "pause" }, "Pause"),
    ended ? null : h("button", { onclick: () => act("promote"), "data-verb": "promote", title: "let the current stage go on past an approval or an Inconclusive gate" }, "Promote"),
    !ended && baking ? h("button", { onclick: () => act("promote", { skipBake: true }), "data-verb": "skip-bake" }, "Skip bake") : null,
    ended ? null : h("button", {
      class: armed ? "danger armed" : "danger", "data-verb": "abort",
      onclick: () => {
        if (Date.now() < armedAbort) { armedAbort = 0; act("abort"); return; }
        armedAbort = Date.now() + 5000; lastDetail = ""; setTimeout(() => { lastDetail = ""; }, 5100);
      }
    }, armed ? "Confirm abort" : "Abort"),
    h("span", { class: "msg", id: "action-message" }, actionMessage)) : null;
  const legend = h("div", { class: "legend" }, ["pending", "requeued", "updating", "done", "failed", "held", "unstaged"].map(
    s => h("span", {}, h("i", { style: `background:var(--${s})` }), s)));
  const unstaged = r.unstaged.length ? h("section", { class: "stage s-Unstaged", "data-stage": "", "data-unstaged": true },
    h("div", { class: "num" }, "–"),
    h("div", { class: "body" }, h("div", { class: "title" }, h("h2", {}, "Unstaged"),
      h("div", { class: "facts" }, "no stage selects them: held, never updated")),
      h("div", { class: "tiles" }, r.unstaged.map(n => tile({ name: n, state: "Unstaged" }))))) : null;
  main.replaceChildren(
    h("div", { class: "card" },
      h("div", { class: "head" },
        h("h1", {}, r.name), h("span", { class: "pill " + r.phase, id: "phase" }, r.phase), r.paused ? h("span", { class: "pill Paused" }, "paused") : null,
        actions,
        h("div", { class: "progress" }, bar, h("div", { class: "label" }, `${r.done} of ${r.total} clusters done`))),
      h("div", { class: "meta" },
        h("span", {}, "ApplicationSet ", h("b", {}, r.applicationSet || "?")),
        h("span", {}, "pass ", h("b", { id: "pass" }, String(r.pass))),
        r.hash ? h("span", {}, "change ", h("b", { title: r.hash }, r.hash.slice(0, 12))) : null,
        r.currentStage ? h("span", {}, "current stage ", h("b", {}, r.currentStage)) : null,
        r.generation !== r.observedGeneration ? h("span", {}, `status is for generation ${r.observedGeneration} of ${r.generation}`) : null),
      r.message ? h("div", { class: "meta" }, r.message) : null,
      waiting,
      r.windowOpensAt ? h("div", { class: "meta", id: "window" }, "outside the rollout's windows: a window opens in ",
        h("b", { "data-until": r.windowOpensAt })) : null,
      r.holds.length ? h("div", { class: "holds", id: "holds" }, r.holds.map(x => h("div", { "data-hold": x.cluster },
        h("span", { class: "pill Held" }, "held"), " ", h("b", {}, x.cluster), ` ${x.reason}`,
        x.by ? h("span", { class: "muted" }, ` by ${x.by}`) : null,
        x.until ? h("span", { class: "muted" }, " · ", h("span", { "data-until": x.until })) : null))) : null),
    legend,
    h("div", { class: "stages" }, r.stages.map(stageRow), unstaged),
    h("div", { class: "grid2" },
      h("div", { class: "card" }, h("h3", {}, "Recent events"),
        d.events.length ? h("ul", { class: "events", id: "events" }, d.events.map(e => h("li", { class: e.type },
          h("span", { class: "t", "data-since": e.time || "" }),
          h("span", {}, h("span", { class: "r" }, e.reason), " ", e.message, e.count > 1 ? ` (×${e.count})` : ""))))
          : h("div", { class: "empty" }, "No events yet")),
      h("div", {}, h("div", { class: "card conds", id: "requests" }, h("h3", {}, "Operator requests"),
        r.requests.length ? r.requests.map(q => h("div", { "data-request": q.verb },
          h("span", { class: q.refused ? "no" : "ok" }, q.refused ? "✗ " : "✓ "),
          h("b", {}, q.verb), ` by ${q.user || "?"} `, h("span", { class: "muted", "data-since": q.at || "" }),
          q.result ? `: ${q.result}` : "", q.reason ? h("span", { class: "muted" }, ` (${q.reason})`) : null))
          : h("div", { class: "empty" }, "None yet")),
      h("div", { class: "card conds" }, h("h3", {}, "Conditions"),
        r.conditions.length ? r.conditions.map(c => h("div", {},
          h("span", { class: c.status === "True" ? "ok" : "no" }, c.status === "True" ? "● " : "○ "),
          h("b", {}, c.type), ` ${c.reason}${c.message ? ": " + c.message : ""}`))
          : h("div", { class: "empty" }, "None yet")))));
  tickCountdowns();
}

async function poll() {
  try {
    const list = await getJSON("/api/rollouts");
    clockOffset = Date.parse(list.now) - Date.now();
    if (!selected && list.rollouts.length) selected = list.rollouts[0].name;
    const listKey = JSON.stringify({ ...list, now: 0 }) + selected;
    if (listKey !== lastList) { renderList(list); lastList = listKey; }
    if (selected) {
      const detail = await getJSON("/api/rollout?name=" + encodeURIComponent(selected));
      if (!detail) {
        document.getElementById("main").replaceChildren(h("div", { class: "empty" }, `ProgressiveRollout ${selected} not found`));
        lastDetail = "";
      } else {
        const key = JSON.stringify({ ...detail, now: 0 }) + actionMessage;
        if (key !== lastDetail) { renderDetail(detail); lastDetail = key; }
      }
    } else {
      document.getElementById("main").replaceChildren(h("div", { class: "empty" }, `No ProgressiveRollouts in namespace ${list.namespace}`));
    }
    setLive(list.synced, list.synced ? "live" : "syncing");
  } catch (e) {
    setLive(false, "disconnected, retrying");
  }
  setTimeout(poll, POLL_MS);
}

window.addEventListener("hashchange", () => {
  selected = decodeURIComponent((location.hash.match(/^#\/rollout\/(.+)$/) || [])[1] || "");
  lastList = lastDetail = ""; actionMessage = "";
});
setInterval(tickCountdowns, 250);
poll();
