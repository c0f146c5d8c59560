#!/usr/bin/env bash
# Admission throughput and latency of the real binary over TLS, one core for the server and one
# for the load generator:
#   - builds argocd-progressive-rollout (Release) unless --no-build,
#   - makes certificates with certs/generate.sh and a snapshot bundle from tests/data/,
#   - starts `serve --snapshot` pinned to SERVER_CPU with one server thread,
#   - unless --no-reference or nginx is missing, starts nginx on the same CPU answering a fixed
#     AdmissionReview (the answer our server gave) over the same certificate and TLS settings:
#     the floor this machine's kernel and OpenSSL set,
#   - runs wrk pinned to CLIENT_CPU with CONNECTIONS keep-alive TLS connections POSTing
#     AdmissionReviews (Application UPDATEs by Argo CD's application controller: a status write,
#     the webhook's hot path) of about 20 KB and 3 KB, against our server (cases app-update-20k,
#     app-update-3k) and nginx (nginx-fixed-answer-20k/-3k), ROUNDS times, the two servers in
#     turn within each round (which goes first alternates), so a noisy minute of the machine
#     falls on both and not on one,
#   - prints per run: ROUND case=NAME round=K rps=N p50_us=N p99_us=N errors=N
#   - then per case the median over the rounds: RESULT case=NAME rps=N p50_us=N p99_us=N errors=N
#     rounds=R (errors: the sum), and RATIO case=NAME of=nginx-fixed-answer-N rps_ratio=X
#     p99_ratio=Y from those medians, measured in the same run.
# Targets (issue 3): app-update-20k >= 30000 rps with p99 < 2000 us; app-update-3k >= 60000 rps.
#
# usage: scripts/bench.sh [--duration S] [--warmup S] [--connections N] [--rounds N]
#                         [--build-dir DIR] [--no-build] [--no-reference]
# env:   DURATION (10), WARMUP (2), CONNECTIONS (16), ROUNDS (5), BUILD_DIR (build-bench),
#        SERVER_CPU (0), CLIENT_CPU (1), SERVER_THREADS (1; "default" passes no --threads: the
#        server sizes its pool from the CPUs it may use, one under taskset)
# needs: cmake, g++, wrk, jq, curl, openssl, taskset; nginx for the reference (scripts/install-deps.sh
#        installs them all)
# exit:  0 all targets met, 3 a target missed (numbers still printed), 1 setup failure
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
duration=${DURATION:-10}
warmup=${WARMUP:-2}
connections=${CONNECTIONS:-16}
rounds=${ROUNDS:-5}
build_dir=${BUILD_DIR:-$repo/build-bench}
server_cpu=${SERVER_CPU:-0}
client_cpu=${CLIENT_CPU:-1}
server_threads=${SERVER_THREADS:-1}
build=1
reference=1

while (($#)); do
  case "$1" in
    --duration) duration=${2:?}; shift 2 ;;
    --warmup) warmup=${2:?}; shift 2 ;;
    --connections) connections=${2:?}; shift 2 ;;
    --rounds) rounds=${2:?}; shift 2 ;;
    --build-dir) build_dir=${2:?}; shift 2 ;;
    --no-build) build=0; shift ;;
    --no-reference) reference=0; shift ;;
    -h|--help) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench: unknown argument '$1' (--help)" >&2; exit 2 ;;
  esac
done

log() { printf 'bench: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
# wait_for, wait_exit, free_port, port_file_ready
# shellcheck source=scripts/lib.sh
source "$repo/scripts/lib.sh"

for tool in cmake wrk jq curl openssl taskset; do
  command -v "$tool" >/dev/null || die "$tool not found; run scripts/install-deps.sh"
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "--rounds must be a positive number, got '$rounds'"
(($(nproc) >= 2)) || log "only $(nproc) CPU: server and wrk will share it, numbers mean little"

work=$(mktemp -d "${TMPDIR:-/tmp}/apr-bench.XXXXXX")
server_pid=""
nginx_pid=""
cleanup() {
  for pid in $server_pid $nginx_pid; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$work"
}
trap cleanup EXIT

# ---- build ----
bin=$build_dir/webhook/cli/argocd-progressive-rollout
if ((build)); then
  log "building Release in $build_dir"
  cmake -S "$repo" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >"$work/cmake.log" 2>&1 ||
    { cat "$work/cmake.log" >&2; die "cmake configure failed"; }
  cmake --build "$build_dir" --target argocd-progressive-rollout -j2 >"$work/build.log" 2>&1 ||
    { tail -40 "$work/build.log" >&2; die "build failed"; }
fi
[[ -x $bin ]] || die "no binary at $bin (build first or drop --no-build)"

# ---- certificates and snapshot ----
OUT_DIR=$work/certs "$repo/certs/generate.sh" >/dev/null 2>"$work/certs.log" ||
  { cat "$work/certs.log" >&2; die "certs/generate.sh failed"; }
# The seed rollout, its ApplicationSet my-app-set and the EMEA fleet's cluster Secrets.
{
  cat "$repo/tests/data/seed-rollout.yaml"; printf '\n---\n'
  cat "$repo/manifests/samples/applicationset.yaml"; printf '\n---\n'
  cat "$repo/tests/data/fleet-secrets.yaml"
} >"$work/snapshot.yaml"

# ---- AdmissionReviews ----
# An Application of my-app-set on cluster eu-west-1a-1, updated by the application controller:
# only status changes (reconciledAt), the case Argo CD produces most. status.resources pads the
# object to the wanted size, as a real Application with many resources would be.
review() { # n_resources
  jq -n -c --argjson n "$1" '
    def app($reconciled):
      { apiVersion: "argoproj.io/v1alpha1", kind: "Application",
        metadata: { name: "my-app-eu-west-1a-1", namespace: "argocd",
          uid: "0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d", resourceVersion: "482913", generation: 7,
          labels: { "app.kubernetes.io/instance": "my-app" },
          annotations: { "notified.notifications.argoproj.io": "{}" },
          ownerReferences: [ { apiVersion: "argoproj.io/v1alpha1", kind: "ApplicationSet",
            name: "my-app-set", uid: "6d6a8c3e-1111-2222-3333-444455556666",
            controller: true, blockOwnerDeletion: true } ] },
        spec: { project: "default",
          destination: { server: "https://eu-west-1a-1.example.com", namespace: "my-app" },
          source: { repoURL: "https://github.com/argoproj/argocd-example-apps.git",
            path: "guestbook", targetRevision: "v1" },
          syncPolicy: { automated: { prune: true, selfHeal: true },
            syncOptions: [ "CreateNamespace=true" ] } },
        status: { reconciledAt: $reconciled, sourceType: "Directory",
          health: { status: "Healthy" },
          sync: { status: "Synced", revision: "53e28ff20cc530b9ada2173fbbd64d48338583ba",
            comparedTo: {
              destination: { server: "https://eu-west-1a-1.example.com", namespace: "my-app" },
              source: { repoURL: "https://github.com/argoproj/argocd-example-apps.git",
                path: "guestbook", targetRevision: "v1" } } },
          resources: [ range($n) as $i |
            { group: "apps", version: "v1", kind: "Deployment", namespace: "my-app",
              name: "my-app-component-\($i)", status: "Synced",
              health: { status: "Healthy" } } ] } };
    { kind: "AdmissionReview", apiVersion: "admission.k8s.io/v1",
      request: { uid: "705ab4f5-6393-11e8-b7cc-42010a800002",
        kind: { group: "argoproj.io", version: "v1alpha1", kind: "Application" },
        resource: { group: "argoproj.io", version: "v1alpha1", resource: "applications" },
        requestKind: { group: "argoproj.io", version: "v1alpha1", kind: "Application" },
        requestResource: { group: "argoproj.io", version: "v1alpha1", resource: "applications" },
        name: "my-app-eu-west-1a-1", namespace: "argocd", operation: "UPDATE",
        userInfo: { username: "system:serviceaccount:argocd:argocd-application-controller",
          uid: "9a8b7c6d-0000-1111-2222-333344445555",
          groups: [ "system:serviceaccounts", "system:serviceaccounts:argocd",
            "system:authenticated" ] },
        object: app("2026-11-27T10:00:05Z"), oldObject: app("2026-11-27T10:00:00Z"),
        dryRun: false,
        options: { kind: "UpdateOptions", apiVersion: "meta.k8s.io/v1" } } }'
}
review_of_size() { # bytes file
  local base one n
  base=$(review 0 | wc -c)
  one=$(($(review 1 | wc -c) - base))
  n=$((($1 - base) / one))
  ((n >= 0)) || n=0
  review "$n" >"$2"
}
review_of_size 20000 "$work/app-update-20k.json"
review_of_size 3000 "$work/app-update-3k.json"

cat >"$work/post.lua" <<'EOF'
-- POSTs the file named by BENCH_BODY; prints one machine-readable line when done.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.body = f:read("*a")
f:close()

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK requests=%d duration_us=%d p50_us=%d p99_us=%d errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout + e.status))
end
EOF

# ---- server ----
threads_flag=(--threads "$server_threads")
[[ $server_threads == default ]] && threads_flag=()
log "starting the server on CPU $server_cpu (threads: $server_threads)"
taskset -c "$server_cpu" "$bin" serve --listen 127.0.0.1:0 \
  --tls-cert "$work/certs/tls.crt" --tls-key "$work/certs/tls.key" \
  --snapshot "$work/snapshot.yaml" "${threads_flag[@]}" --port-file "$work/server.port" \
  2>"$work/server.log" &
server_pid=$!
wait_for "server listening" 30 "$server_pid" port_file_ready "$work/server.port" ||
  { cat "$work/server.log" >&2; die "server did not start"; }
port=$(cat "$work/server.port")
url=https://localhost:$port
curl_tls=(curl -sS --cacert "$work/certs/ca.crt" --max-time 5)
ready() { [[ $("${curl_tls[@]}" -o /dev/null -w '%{http_code}' "$url/readyz") == 200 ]]; }
wait_for "server ready" 30 "$server_pid" ready || { cat "$work/server.log" >&2; die "server not ready"; }

# ---- the answers, checked ----
route=/mutate/applications
for size in 20k 3k; do
  # Benchmark the real decision, not an error path: the answer must be an allowed review.
  answer=$("${curl_tls[@]}" -H 'Content-Type: application/json' --data-binary "@$work/app-update-$size.json" "$url$route")
  [[ $(jq -r '.response.allowed' <<<"$answer") == true ]] ||
    die "app-update-$size: unexpected answer: ${answer:0:300}"
  printf '%s' "$answer" >"$work/answer-$size.json"
done

# ---- reference: nginx answering the same requests with a fixed body ----
if ((reference)) && ! command -v nginx >/dev/null; then
  log "nginx not found: no reference run (scripts/install-deps.sh installs nginx-light)"
  reference=0
fi
if ((reference)); then
  mkdir -p "$work/nginx"
  # nginx cannot report a port it chose: take one nothing answers on.
  nginx_port=$(free_port) || die "no free port for nginx"
  {
    cat <<NGINX
worker_processes 1;
daemon off;
error_log $work/nginx/error.log;
pid $work/nginx/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  client_max_body_size 8m;
  client_body_buffer_size 64k;
  keepalive_requests 100000000;
  keepalive_timeout 90s;
  server {
    listen 127.0.0.1:$nginx_port ssl;
    ssl_certificate $work/certs/tls.crt;
    ssl_certificate_key $work/certs/tls.key;
    ssl_protocols TLSv1.2 TLSv1.3;
NGINX
    # The answers our server gave, as fixed bodies (JSON has no single quotes to escape).
    for size in 20k 3k; do
      printf "    location = /answer-%s { default_type application/json; return 200 '%s'; }\n" \
        "$size" "$(cat "$work/answer-$size.json")"
    done
    printf '  }\n}\n'
  } >"$work/nginx/nginx.conf"
  taskset -c "$server_cpu" nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" 2>"$work/nginx/stderr.log" &
  nginx_pid=$!
  nginx_answers() { "${curl_tls[@]}" -o /dev/null -d '{}' "https://localhost:$nginx_port/answer-3k"; }
  wait_for "nginx answering" 10 "$nginx_pid" nginx_answers || true  # checked just below
  nginx_worker=$(pgrep -P "$nginx_pid" | head -1 || true)
  [[ -n $nginx_worker ]] || { cat "$work/nginx/stderr.log" "$work/nginx/error.log" >&2; die "nginx did not start"; }
fi

# ---- cases ----
clk_tck=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
declare -A runs_of  # case -> "rps p50 p99 errors" lines, one per round
# run_case NAME ROUND BODY_FILE PORT ROUTE PID: a warm-up and a measured wrk run against PORT,
# whose server process is PID; prints the ROUND line and records it for the medians.
run_case() {
  local case=$1 round=$2 body=$3 port=$4 route=$5 pid=$6 out line cpu_before requests duration_us cpu_us
  local rps p50 p99 errors
  log "$case, round $round: $(wc -c <"$body") byte review, ${warmup}s warm-up, ${duration}s measured, $connections connections"
  BENCH_BODY=$body taskset -c "$client_cpu" wrk -t1 -c"$connections" -d"${warmup}s" \
    -s "$work/post.lua" "https://127.0.0.1:$port$route" >/dev/null
  cpu_before=$(cpu_ticks "$pid")
  out=$(BENCH_BODY=$body taskset -c "$client_cpu" wrk -t1 -c"$connections" -d"${duration}s" --latency \
    -s "$work/post.lua" "https://127.0.0.1:$port$route")
  line=$(grep '^WRK ' <<<"$out") || { echo "$out" >&2; die "$case: no result from wrk"; }
  field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$line"; }
  requests=$(field requests) duration_us=$(field duration_us)
  rps=$((requests * 1000000 / duration_us))
  p50=$(field p50_us) p99=$(field p99_us) errors=$(field errors)
  cpu_us=$(( ($(cpu_ticks "$pid") - cpu_before) * 1000000 / clk_tck ))
  runs_of[$case]+="$rps $p50 $p99 $errors"$'\n'
  echo "ROUND case=$case round=$round rps=$rps p50_us=$p50 p99_us=$p99 errors=$errors"
  # rps depends on what else runs on the machine; CPU time per request does much less.
  if ((requests > 0)); then
    log "$case: server CPU $((cpu_us / requests)) us/request (user+sys), so at most $((requests * 1000000 / (cpu_us > 0 ? cpu_us : 1))) rps on one free core; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
  fi
}
ours() { run_case "app-update-$1" "$2" "$work/app-update-$1.json" "$port" /mutate/applications "$server_pid"; }
floor() { run_case "nginx-fixed-answer-$1" "$2" "$work/app-update-$1.json" "$nginx_port" "/answer-$1" "$nginx_worker"; }

for ((round = 1; round <= rounds; round++)); do
  for size in 20k 3k; do
    if ! ((reference)); then
      ours "$size" "$round"
    elif ((round % 2)); then
      ours "$size" "$round"; floor "$size" "$round"
    else
      floor "$size" "$round"; ours "$size" "$round"
    fi
  done
done

# median COLUMN CASE: the median of one column (1 rps, 2 p50, 3 p99) over the case's rounds.
median() { awk -v c="$1" 'NF { print $c }' <<<"${runs_of[$2]}" | sort -n | awk '{ v[NR] = $1 } END {
  print (NR % 2 ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2)) }'; }
declare -A rps_of p99_of
status=0
cases=(app-update-20k app-update-3k)
((reference)) && cases+=(nginx-fixed-answer-20k nginx-fixed-answer-3k)
for case in "${cases[@]}"; do
  rps=$(median 1 "$case") p50=$(median 2 "$case") p99=$(median 3 "$case")
  errors=$(awk 'NF { s += $4 } END { print s + 0 }' <<<"${runs_of[$case]}")
  rps_of[$case]=$rps
  p99_of[$case]=$p99
  echo "RESULT case=$case rps=$rps p50_us=$p50 p99_us=$p99 errors=$errors rounds=$rounds"
  case $case in
    app-update-20k) ((rps >= 30000 && p99 < 2000 && errors == 0)) || { log "$case: below target (>= 30000 rps, p99 < 2000 us)"; status=3; } ;;
    app-update-3k) ((rps >= 60000 && errors == 0)) || { log "$case: below target (>= 60000 rps)"; status=3; } ;;
  esac
done

kill -TERM "$server_pid"
wait_exit "$server_pid" 30 || die "server still running 30 s after SIGTERM"
wait "$server_pid" || die "server exited with status $? after SIGTERM"
server_pid=""

if ((reference)); then
  kill -TERM "$nginx_pid"
  wait "$nginx_pid" 2>/dev/null || true
  nginx_pid=""
  for size in 20k 3k; do
    awk -v ours="${rps_of[app-update-$size]}" -v floor="${rps_of[nginx-fixed-answer-$size]}" \
      -v our_p99="${p99_of[app-update-$size]}" -v floor_p99="${p99_of[nginx-fixed-answer-$size]}" -v size="$size" \
      'BEGIN { printf "RATIO case=app-update-%s of=nginx-fixed-answer-%s rps_ratio=%.2f p99_ratio=%.2f\n",
               size, size, (floor > 0 ? ours / floor : 0), (floor_p99 > 0 ? our_p99 / floor_p99 : 0) }'
  done
fi
exit "$status"
