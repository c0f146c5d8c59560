#!/usr/bin/env bash
# The one-command demo: from a fresh Debian bookworm machine to a staged rollout you watch live.
#
#   bash scripts/demo.sh
#
# It installs the Debian packages (scripts/install-deps.sh), builds the server and the fleet
# simulator, starts a real kube-apiserver + etcd on loopback (scripts/testenv.sh), runs the real
# webhook server (`argocd-progressive-rollout serve`, real TLS) and registers it with the API
# server (MutatingWebhookConfiguration for Applications, ValidatingWebhookConfiguration for
# ProgressiveRollouts), creates a simulated Argo CD fleet (8 clusters, one drained) with the
# ApplicationSet my-app-set at v1, applies the sample ProgressiveRollout, then changes the
# ApplicationSet to v2 and plays Argo CD (tests/sim, `apr-fleet-sim play`) while
# `argocd-progressive-rollout status --watch` shows the rollout stage by stage until Completed.
# The drained cluster is requeued, undrained after a while, and updated on its next attempt.
# Then a second change, v3, that runs Healthy but serves errors: a Prometheus gate added to the
# canary stage (a real Prometheus on loopback scraping the simulator's per-cluster error ratios)
# fails the canary, and the rest of the fleet keeps v2.
# Next to it, the live dashboard (`argocd-progressive-rollout dashboard`, read-only) serves the
# same rollout in a browser; the demo prints its URL and how to start it yourself, and on a
# terminal keeps it up after the rollout until you press Enter.
#
# Setup shows one line per step (packages, build, kube-apiserver, control plane, fleet) with the
# time it took; what apt, dpkg and the compilers print goes to BUILD_DIR/demo-setup.log, which is
# printed whole if a step fails.
#
# Everything it starts (webhook, simulator, etcd, kube-apiserver) is stopped on exit or Ctrl-C.
# Works unattended (CI=true, no TTY: the status view prints a new block on each change).
# Takes about a minute after the build (the first run on a machine also builds kube-apiserver
# from Debian's source package, which takes several minutes; later runs reuse it).
#
# Environment:
#   APR_DEMO_BUILD_DIR   build directory (default: <repo>/build-demo)
#   APR_DEMO_CLUSTERS    fleet size, >= 8 (default 8)
#   APR_DEMO_SKIP_DEPS   1: do not run scripts/install-deps.sh
#   APR_DEMO_SKIP_BUILD  1: use the binaries already in APR_DEMO_BUILD_DIR
#   APR_DEMO_KEEP        1: keep the work directory (logs, testenv) after the demo
#   APR_DEMO_TIMEOUT     seconds the rollout may take before the demo gives up (default 600)
#   APR_DEMO_DASHBOARD   HOST:PORT of the dashboard (default 127.0.0.1:8080; port 0: any free port)
#   APR_DEMO_GATE        0: skip the second change (the Prometheus gate)
#
# Demo-only change to the sample: manifests/samples/progressiverollout.yaml retries drained
# clusters every 30m; the demo applies a copy with `interval: 20s` (and says so), so the requeued
# cluster is retried within the demo. Everything else is the sample unchanged.
set -euo pipefail

readonly here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly repo="$(cd "$here/.." && pwd)"
readonly build_dir="${APR_DEMO_BUILD_DIR:-$repo/build-demo}"
readonly clusters="${APR_DEMO_CLUSTERS:-8}"
readonly rollout_timeout="${APR_DEMO_TIMEOUT:-600}"
readonly rollout=progressiverollout-sample

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/apr-demo.XXXXXX")"
webhook_pid=""
play_pid=""
exporter_pid=""
prometheus_pid=""
dashboard_pid=""
testenv_started=0

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  # Only what this script started, by pid.
  for pid in "$dashboard_pid" "$play_pid" "$prometheus_pid" "$exporter_pid" "$webhook_pid"; do
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null
      wait_exit "$pid" 30 || kill -KILL "$pid" 2>/dev/null
      wait "$pid" 2>/dev/null
    fi
  done
  if ((testenv_started)); then
    "$repo/scripts/testenv.sh" stop "$work/testenv" >/dev/null 2>&1
  fi
  if [ "${APR_DEMO_KEEP:-0}" = 1 ] || ((rc != 0)); then
    printf 'demo: logs kept in %s (webhook.log, play*.log, dashboard.log, prometheus.log, testenv/logs/)\n' "$work" >&2
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_for, wait_exit, port_file_ready
# shellcheck source=scripts/lib.sh
source "$here/lib.sh"

# The setup steps' own output (apt, dpkg, the compilers, testenv) goes to one log that outlives
# the work directory; the terminal gets one line per step, and the whole log when a step fails.
mkdir -p "$build_dir"
readonly setup_log="$build_dir/demo-setup.log"
: >"$setup_log"
say "Setup output goes to $setup_log"

# step DESCRIPTION COMMAND...: run COMMAND with its output in the setup log, showing one line
# with the time taken (ticking on a terminal); on failure print the log and stop.
step() {
  local what=$1 start=$SECONDS pid rc=0
  shift
  printf '\n### %s\n' "$what" >>"$setup_log"
  "$@" >>"$setup_log" 2>&1 </dev/null &
  pid=$!
  if [ -t 2 ]; then
    while kill -0 "$pid" 2>/dev/null; do
      printf '\r==> %s ... %s' "$what" "$(elapsed $start)" >&2
      sleep 1
    done
    printf '\r' >&2
  fi
  wait "$pid" || rc=$?
  if ((rc != 0)); then
    printf '==> %s ... failed after %s; the full log (%s):\n' "$what" "$(elapsed $start)" "$setup_log" >&2
    cat "$setup_log" >&2
    die "$what failed (exit $rc); log: $setup_log"
  fi
  printf '==> %s ... done in %s\n' "$what" "$(elapsed $start)" >&2
}
elapsed() {
  local s=$((SECONDS - $1))
  if ((s >= 60)); then printf '%dm%02ds' $((s / 60)) $((s % 60)); else printf '%ds' "$s"; fi
}

# --- 1. dependencies and build --------------------------------------------------------------
if [ "${APR_DEMO_SKIP_DEPS:-0}" != 1 ]; then
  step "Debian packages (scripts/install-deps.sh)" bash "$repo/scripts/install-deps.sh"
fi
command -v kubectl >/dev/null || die "kubectl not found on PATH (the machine image provides it)"

build() {
  # A build directory configured before keeps its build type (no full rebuild).
  local build_type=()
  [ -f "$build_dir/CMakeCache.txt" ] || build_type=(-DCMAKE_BUILD_TYPE=Release)
  cmake -S "$repo" -B "$build_dir" "${build_type[@]}" &&
    cmake --build "$build_dir" -j"$(nproc)" --target argocd-progressive-rollout apr-fleet-sim
}
if [ "${APR_DEMO_SKIP_BUILD:-0}" != 1 ]; then
  step "Build argocd-progressive-rollout and the fleet simulator in $build_dir" build
fi
readonly apr="$build_dir/webhook/cli/argocd-progressive-rollout"
readonly sim="$build_dir/tests/sim/apr-fleet-sim"

# --- 2. the control plane -------------------------------------------------------------------
step "kube-apiserver v1.20.2 (built once from Debian's source: 5-15 minutes the first time)" \
  "$repo/scripts/kube-apiserver.sh"
testenv_started=1
step "Control plane: kube-apiserver + etcd on loopback (scripts/testenv.sh)" \
  "$repo/scripts/testenv.sh" start "$work/testenv"
# shellcheck disable=SC1091
source "$work/testenv/env"
admin() { kubectl --kubeconfig "$KUBECONFIG_ADMIN" --request-timeout=30s "$@"; }

# --- 3. the webhook -------------------------------------------------------------------------
say "Starting the webhook on loopback (log: $work/webhook.log)"
"$apr" serve --listen 127.0.0.1:0 --port-file "$work/webhook.port" --tls-cert "$WEBHOOK_CERT" --tls-key "$WEBHOOK_KEY" \
  --kubeconfig "$KUBECONFIG_WEBHOOK" --self-user "$USER_WEBHOOK" --lease-namespace argocd \
  </dev/null >"$work/webhook.log" 2>&1 &
webhook_pid=$!
wait_for "webhook listening" 60 "$webhook_pid" port_file_ready "$work/webhook.port" ||
  die "see $work/webhook.log"
port=$(cat "$work/webhook.port")
ready() { curl -fsS --cacert "$WEBHOOK_CA" "https://127.0.0.1:$port/readyz"; }
wait_for "webhook ready (caches synced) on port $port" 60 "$webhook_pid" ready || die "see $work/webhook.log"

say "Registering the webhooks with the API server (failurePolicy Fail, caBundle of the test CA)"
"$repo/scripts/local-webhooks.sh" "https://127.0.0.1:$port" "$WEBHOOK_CA_BUNDLE" argocd-progressive-rollout-demo |
  admin apply -f - >/dev/null

# --- 4. the fleet and the rollout ----------------------------------------------------------
step "Fleet: simulated Argo CD ($clusters clusters) and ApplicationSet my-app-set at v1" \
  "$sim" --env "$work/testenv/env" setup --clusters "$clusters" --appset my-app-set --revision v1

say "Applying the sample ProgressiveRollout (demo copy: requeue interval 30m -> 20s)"
sed -e 's/^\( *interval:\) 30m$/\1 20s  # demo: the sample says 30m/' \
  "$repo/manifests/samples/progressiverollout.yaml" >"$work/progressiverollout.yaml"
grep -q 'interval: 20s' "$work/progressiverollout.yaml" || die "the sample no longer has 'interval: 30m'"
admin apply -f "$work/progressiverollout.yaml"
rollout_phase() {
  admin get progressiverollout "$rollout" -n argocd -o 'jsonpath={.status.phase}'
}
has_status() { [ -n "$(rollout_phase)" ]; }
# The controller's first status write also proves the webhook's cache knows the rollout: only
# then may the ApplicationSet change, or its writes would not be held.
wait_for "rollout status written by the controller" 60 "$webhook_pid" has_status || die "see $work/webhook.log"

# --- 5. the dashboard -----------------------------------------------------------------------
# The user's view in a browser, read with the admin's kubeconfig like `status`; loopback only.
dashboard_cmd=("$apr" dashboard --listen "${APR_DEMO_DASHBOARD:-127.0.0.1:8080}" -n argocd --kubeconfig "$KUBECONFIG_ADMIN")
"${dashboard_cmd[@]}" --port-file "$work/dashboard.port" </dev/null >"$work/dashboard.log" 2>&1 &
dashboard_pid=$!
dashboard_url=""
if wait_for "dashboard listening" 30 "$dashboard_pid" port_file_ready "$work/dashboard.port"; then
  dashboard_host="${APR_DEMO_DASHBOARD:-127.0.0.1:8080}"
  dashboard_url="http://${dashboard_host%:*}:$(cat "$work/dashboard.port")/#/rollout/$rollout"
else
  # A taken port is no reason to stop the demo: the terminal view does not need it.
  say "The dashboard did not start ($(tail -n 1 "$work/dashboard.log")); set APR_DEMO_DASHBOARD=127.0.0.1:0"
  dashboard_pid=""
fi
show_dashboard() {
  [ -n "$dashboard_url" ] || return 0
  say "Dashboard (live, in your browser): $dashboard_url"
  say "  started as: ${dashboard_cmd[*]}"
  say "  (add --allow-actions for Pause/Resume, Promote, Skip bake and Abort buttons)"
}
show_dashboard

# --- 6. the change, played out -------------------------------------------------------------
say "Changing my-app-set to v2; playing Argo CD in the background (log: $work/play.log)"
"$sim" --env "$work/testenv/env" play --revision v2 --appset my-app-set --rollout "$rollout" \
  --sync-delay 2s --undrain-after 25s --refresh-every 10s --timeout "${rollout_timeout}s" \
  </dev/null >"$work/play.log" 2>&1 &
play_pid=$!
progressing() { [ "$(rollout_phase)" = Progressing ]; }
wait_for "rollout Progressing" 60 "$play_pid" progressing || die "see $work/webhook.log and $work/play.log"

say "argocd-progressive-rollout status $rollout --watch${dashboard_url:+   (the same rollout live in a browser: $dashboard_url)}"
status_rc=0
# Run directly in the foreground (no `timeout` wrapper in its own process group), so Ctrl-C
# reaches it and the shell then runs the INT trap.
"$apr" status "$rollout" -n argocd --watch --timeout "${rollout_timeout}s" --kubeconfig "$KUBECONFIG_ADMIN" ||
  status_rc=$?

say "What the simulated Argo CD saw (tail of $work/play.log)"
# The simulator ends once it sees every staged cluster on v2; give it a moment, then stop it.
wait_exit "$play_pid" 30 || true
kill -TERM "$play_pid" 2>/dev/null || true
play_rc=0
wait "$play_pid" || play_rc=$?
play_pid=""
tail -n 25 "$work/play.log"
"$sim" --env "$work/testenv/env" apps --appset my-app-set

if ((status_rc == 0 && play_rc == 0)); then
  say "Rollout Completed: every staged cluster runs v2, stage by stage; unstaged clusters stayed on v1."
else
  die "rollout did not complete (status exit $status_rc, simulator exit $play_rc)"
fi

# --- 7. a second change that a Prometheus gate stops at the canary ---------------------------
# runs_of REVISION: how many Applications run REVISION (the SYNCED column of `apr-fleet-sim apps`).
runs_of() { "$sim" --env "$work/testenv/env" apps --appset my-app-set | awk -v r="$1" 'NR > 1 && $3 == r' | wc -l; }
rollout_field() { admin get progressiverollout "$rollout" -n argocd -o "jsonpath=$1"; }
gate_demo() {
  say "Second change: v3 runs Healthy but serves 30% errors; a real Prometheus watches every cluster"
  "$sim" --env "$work/testenv/env" exporter --appset my-app-set --bad-revision v3 --error-rate 0.3 \
    --port-file "$work/exporter.port" </dev/null >"$work/exporter.log" 2>&1 &
  exporter_pid=$!
  wait_for "exporter listening" 30 "$exporter_pid" port_file_ready "$work/exporter.port" || die "see $work/exporter.log"
  local prom_port
  prom_port=$(free_port)
  mkdir -p "$work/prometheus"
  printf 'global: {scrape_interval: 1s, evaluation_interval: 1s}\nscrape_configs:\n  - job_name: fleet\n    static_configs: [{targets: ["127.0.0.1:%s"]}]\n' \
    "$(cat "$work/exporter.port")" >"$work/prometheus/prometheus.yml"
  prometheus --config.file="$work/prometheus/prometheus.yml" --storage.tsdb.path="$work/prometheus/data" \
    --web.listen-address="127.0.0.1:$prom_port" --log.level=warn </dev/null >"$work/prometheus.log" 2>&1 &
  prometheus_pid=$!
  prom_ready() { curl -fsS "http://127.0.0.1:$prom_port/-/ready"; }
  wait_for "Prometheus ready" 60 "$prometheus_pid" prom_ready || die "see $work/prometheus.log"
  # The gate's first measurement must find samples (an empty result would be Inconclusive).
  scraped() { curl -fsS "http://127.0.0.1:$prom_port/api/v1/query?query=count(apr_demo_http_error_ratio)" | grep -q '"value"'; }
  wait_for "Prometheus scraped the fleet" 60 "$prometheus_pid" scraped || die "see $work/prometheus.log"
  say "Prometheus on http://127.0.0.1:$prom_port scrapes apr_demo_http_error_ratio every second"

  say "Gate on stage 'canary in EMEA': each updated cluster's error ratio <= 0.05, 3 measurements 3s apart"
  admin patch progressiverollout "$rollout" -n argocd --type json -p '[{"op": "add", "path": "/spec/stages/0/gates", "value": [
    {"name": "error-rate", "when": "After", "scope": "Cluster", "count": 3, "interval": "3s",
     "prometheus": {"address": "http://127.0.0.1:'"$prom_port"'",
                    "query": "apr_demo_http_error_ratio{cluster=\"$(cluster.name)\"}",
                    "thresholdRange": {"max": 0.05}}}]}]' >/dev/null

  say "Changing my-app-set to v3; playing Argo CD in the background (log: $work/play-v3.log)"
  "$sim" --env "$work/testenv/env" play --revision v3 --appset my-app-set --rollout "$rollout" \
    --sync-delay 2s --refresh-every 10s --timeout "${rollout_timeout}s" </dev/null >"$work/play-v3.log" 2>&1 &
  play_pid=$!
  failed() { [ "$(rollout_phase)" = Failed ]; }
  wait_for "rollout Failed by the gate" 180 "$play_pid" failed || die "see $work/webhook.log and $work/play-v3.log"
  say "Rollout Failed: $(rollout_field '{.status.message}')"
  say "Why: $(rollout_field '{range .status.stages[0].clusters[?(@.phase=="Failed")]}{.name}: {.message}{"\n"}{end}' | head -n 1)"
  kill -TERM "$play_pid" 2>/dev/null || true
  wait "$play_pid" 2>/dev/null || true
  play_pid=""
  local on_v3 on_v2
  on_v3=$(runs_of v3)
  on_v2=$(runs_of v2)
  say "Fleet: $on_v3 cluster(s) on v3 (the canary), $on_v2 still on v2 (unstaged ones on v1); \`argocd-progressive-rollout status $rollout -n argocd\` shows the gate"
  ((on_v3 >= 1 && on_v3 <= 2 && on_v2 >= 1)) || die "the gate did not stop v3 at the canary ($on_v3 on v3, $on_v2 on v2)"
}
if [ "${APR_DEMO_GATE:-1}" != 0 ]; then
  if command -v prometheus >/dev/null; then
    gate_demo
  else
    say "prometheus not found (scripts/install-deps.sh installs it): skipping the second change"
  fi
fi

if [ -n "$dashboard_url" ] && [ -t 0 ] && [ "${CI:-}" != true ]; then
  show_dashboard
  read -r -p "Press Enter to stop the dashboard, the webhook and the control plane. " _ || true
fi
