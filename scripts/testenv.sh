#!/usr/bin/env bash
# A real, throw-away Kubernetes control plane (etcd + kube-apiserver v1.20.2) on loopback for
# the kube-layer and end-to-end tests: no fakes of the API server.
#
# Usage:
#   scripts/testenv.sh start DIR              fresh etcd + kube-apiserver, users, CRDs, RBAC;
#                                             writes DIR/env (KEY=value lines, see below)
#   scripts/testenv.sh stop DIR               kill everything start launched (idempotent)
#   scripts/testenv.sh restart-apiserver DIR  restart kube-apiserver only, same port and data
#                                             (its watch cache starts again at the current
#                                             revision: older resourceVersions get 410 Gone)
#   scripts/testenv.sh compact DIR            compact etcd at its current revision (continue
#                                             tokens and exact-resourceVersion reads older
#                                             than it get 410 Gone)
#
# DIR/env (every value free of spaces and quotes; `source` it or split on the first '='):
#   TESTENV_DIR, APISERVER_URL, APISERVER_HOST, APISERVER_PORT, APISERVER_CA, APISERVER_PID,
#   ETCD_URL, ETCD_PID, KUBE_APISERVER_BIN, ARGOCD_NAMESPACE,
#   KUBECONFIG_<WHO>, TOKEN_<WHO>, USER_<WHO> for WHO in
#     ADMIN   admin (group system:masters)
#     WEBHOOK system:serviceaccount:argocd:argocd-progressive-rollout (RBAC of manifests/rbac/)
#     APPSET  system:serviceaccount:argocd:argocd-applicationset-controller
#     APPCTRL system:serviceaccount:argocd:argocd-application-controller
#     ALICE   alice (group developers)
#     OPS     ops (group rollout-admins)
#     VIEWER  viewer (group viewers): may read rollouts, not change them
#   WEBHOOK_CERT, WEBHOOK_KEY, WEBHOOK_CA, WEBHOOK_CA_BUNDLE: a serving certificate for a test
#     webhook on 127.0.0.1/localhost and the base64 caBundle that lets this API server call it.
#
# Every process runs in its own process group recorded in DIR/run/*.pid, so `stop` leaves
# nothing behind even when a test crashed. Works unattended (CI=true, no stdin).
set -euo pipefail

readonly here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly repo="$(cd "$here/.." && pwd)"
readonly namespace=argocd
# The API server needs ~10 s; the margin is for a loaded 2-core machine.
readonly ready_timeout=${APR_TESTENV_READY_TIMEOUT:-120}

log() { printf 'testenv: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

# wait_for, wait_exit, port_in_use, free_port
# shellcheck source=scripts/lib.sh
source "$here/lib.sh"

# --- paths ----------------------------------------------------------------------------------

set_paths() {
  mkdir -p "$1"
  dir="$(cd "$1" && pwd)"
  pki="$dir/pki"
  run="$dir/run"
  logs="$dir/logs"
  env_file="$dir/env"
}

# A pid file names a process group leader we started; the command line must still mention DIR
# so a recycled pid is never killed.
ours() {
  local pid=$1
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$dir/"
}

stop_one() {
  local name=$1 pidfile="$run/$1.pid" pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if ours "$pid"; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    if ! wait_exit "$pid" 15; then
      log "$name ($pid) ignored SIGTERM; killing"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
      wait_exit "$pid" 60 || true
    fi
    # Anything else left in the group (children of a killed leader).
    kill -KILL -- "-$pid" 2>/dev/null || true
    log "stopped $name ($pid)"
  fi
  rm -f "$pidfile"
}

# launch NAME COMMAND...: start COMMAND in a new session (so its process group id is its pid),
# detached from our stdio, the lock fd and the saved stderr, and record the pid.
launch() {
  local name=$1
  shift
  setsid "$@" </dev/null >>"$logs/$name.log" 2>&1 7>&- 9>&- &
  local pid=$!
  echo "$pid" >"$run/$name.pid"
  echo "$pid"
}

# --- certificates, users --------------------------------------------------------------------

gen_pki() {
  mkdir -p "$pki"
  (
    cd "$pki"
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
      -subj "/CN=argocd-progressive-rollout-testenv-ca" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    sign_leaf apiserver "/CN=kube-apiserver" \
      "IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc"
    sign_leaf webhook "/CN=argocd-progressive-rollout-test-webhook" \
      "IP:127.0.0.1,DNS:localhost,DNS:argocd-progressive-rollout.argocd.svc"
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.key 2>/dev/null
    openssl pkey -in sa.key -pubout -out sa.pub
    chmod 644 ca.crt apiserver.crt webhook.crt sa.pub
  )
}

sign_leaf() {
  local name=$1 subject=$2 sans=$3
  openssl req -new -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" \
    -subj "$subject" 2>/dev/null
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -set_serial "0x$(openssl rand -hex 16)" \
    -days 365 -out "$name.crt" -extfile <(printf '%s\n' \
      "subjectAltName=$sans" \
      "basicConstraints=critical,CA:FALSE" \
      "keyUsage=critical,digitalSignature,keyEncipherment" \
      "extendedKeyUsage=serverAuth") 2>/dev/null
  rm -f "$name.csr"
}

# who: WHO_KEY  username  groups  kubeconfig-basename
readonly users=(
  "ADMIN|admin|system:masters|admin"
  "WEBHOOK|system:serviceaccount:argocd:argocd-progressive-rollout|system:serviceaccounts,system:serviceaccounts:argocd,system:authenticated|webhook"
  "APPSET|system:serviceaccount:argocd:argocd-applicationset-controller|system:serviceaccounts,system:serviceaccounts:argocd,system:authenticated|appset"
  "APPCTRL|system:serviceaccount:argocd:argocd-application-controller|system:serviceaccounts,system:serviceaccounts:argocd,system:authenticated|appctrl"
  "ALICE|alice|developers|alice"
  "OPS|ops|rollout-admins|ops"
  "VIEWER|viewer|viewers|viewer"
)

gen_tokens() {
  local entry key user groups file token
  (umask 077 && : >"$dir/tokens.csv")
  for entry in "${users[@]}"; do
    IFS='|' read -r key user groups file <<<"$entry"
    token=$(openssl rand -hex 24)
    printf '%s,%s,%s,"%s"\n' "$token" "$user" "apr-test-${file}" "$groups" >>"$dir/tokens.csv"
  done
}

token_of() { awk -F, -v u="$1" '$2 == u { print $1; exit }' "$dir/tokens.csv"; }

write_kubeconfig() {
  local file=$1 user=$2 token=$3 url=$4
  (
    umask 077
    cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: testenv
    cluster:
      server: $url
      certificate-authority-data: $(base64 -w0 <"$pki/ca.crt")
users:
  - name: $user
    user:
      token: $token
contexts:
  - name: testenv
    context:
      cluster: testenv
      user: $user
      namespace: $namespace
current-context: testenv
EOF
  )
}

# --- processes ------------------------------------------------------------------------------

start_etcd() {
  local attempt client peer pid
  for attempt in 1 2 3; do
    client=$(free_port)
    peer=$(free_port)
    [ "$client" != "$peer" ] || continue
    rm -rf "$dir/etcd-data"
    pid=$(launch etcd etcd --name testenv --data-dir "$dir/etcd-data" \
      --listen-client-urls "http://127.0.0.1:$client" \
      --advertise-client-urls "http://127.0.0.1:$client" \
      --listen-peer-urls "http://127.0.0.1:$peer" \
      --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
      --initial-cluster "testenv=http://127.0.0.1:$peer")
    if wait_for "etcd" 30 "$pid" curl -fsS "http://127.0.0.1:$client/health"; then
      etcd_url="http://127.0.0.1:$client"
      etcd_pid=$pid
      return 0
    fi
    stop_one etcd
    log "etcd attempt $attempt failed (port clash?); last log lines:"
    tail -n 5 "$logs/etcd.log" >&2 || true
  done
  die "etcd did not start"
}

apiserver_ready() {
  curl -fsS --max-time 5 --cacert "$pki/ca.crt" -H "@$run/admin-auth-header" \
    "https://127.0.0.1:$1/readyz"
}

# Arguments are kept in run/kube-apiserver.args (one per line) so restart-apiserver reuses them.
start_apiserver() {
  local port=$1 pid
  mapfile -t args <"$run/kube-apiserver.args"
  pid=$(launch kube-apiserver "${args[@]}")
  wait_for "kube-apiserver /readyz" "$ready_timeout" "$pid" apiserver_ready "$port" || return 1
  apiserver_pid=$pid
}

write_apiserver_args() {
  local bin=$1 port=$2
  printf '%s\n' "$bin" \
    "--etcd-servers=$etcd_url" \
    "--bind-address=127.0.0.1" \
    "--advertise-address=127.0.0.1" \
    "--secure-port=$port" \
    "--insecure-port=0" \
    "--cert-dir=$dir/run/cert-dir" \
    "--tls-cert-file=$pki/apiserver.crt" \
    "--tls-private-key-file=$pki/apiserver.key" \
    "--token-auth-file=$dir/tokens.csv" \
    "--authorization-mode=RBAC" \
    "--service-account-key-file=$pki/sa.pub" \
    "--service-account-signing-key-file=$pki/sa.key" \
    "--service-account-issuer=https://kubernetes.default.svc" \
    "--service-cluster-ip-range=10.0.0.0/24" \
    "--endpoint-reconciler-type=none" \
    "--profiling=false" \
    >"$run/kube-apiserver.args"
}

# --- commands -------------------------------------------------------------------------------

kubectl_admin() { kubectl --kubeconfig "$dir/admin.kubeconfig" --request-timeout=30s "$@"; }

cmd_stop() {
  stop_one kube-apiserver
  stop_one etcd
}

cmd_start() {
  cmd_stop
  rm -rf "$pki" "$run" "$logs" "$dir/etcd-data" "$env_file" "$dir"/*.kubeconfig "$dir/tokens.csv"
  mkdir -p "$run" "$logs"

  local bin
  bin=$("$here/kube-apiserver.sh" | tail -n1)
  [ -x "$bin" ] || die "kube-apiserver.sh gave no binary"
  command -v etcd >/dev/null || die "etcd not installed (scripts/kube-apiserver.sh installs it)"
  # kubectl is not a Debian package at a usable version (bookworm's kubernetes-client is 1.20);
  # it comes with the machine image.
  command -v kubectl >/dev/null || die "kubectl not found on PATH"

  # From here on a failure must not leave processes behind.
  # fd 7 is our stderr as it was: a signal may arrive while a polled command's output is
  # redirected to /dev/null, and the trap runs with that redirection.
  exec 7>&2
  trap 'rc=$?; if ((rc)); then { log "start failed; logs in $logs"; cmd_stop; } 2>&7; fi' EXIT
  # CTest's timeout sends SIGTERM; turn it into an exit so the EXIT trap still cleans up.
  trap 'exit 143' TERM INT

  gen_pki
  gen_tokens
  (umask 077 && printf 'Authorization: Bearer %s\n' "$(token_of admin)" >"$run/admin-auth-header")

  start_etcd
  local attempt port=""
  for attempt in 1 2 3; do
    port=$(free_port)
    write_apiserver_args "$bin" "$port"
    start_apiserver "$port" && break
    stop_one kube-apiserver
    log "kube-apiserver attempt $attempt failed; last log lines:"
    grep -v 'Unable to find.*Service\|^$' "$logs/kube-apiserver.log" | tail -n 8 >&2 || true
    port=""
  done
  [ -n "$port" ] || die "kube-apiserver did not become ready"
  local url="https://127.0.0.1:$port"

  local entry key user groups file
  for entry in "${users[@]}"; do
    IFS='|' read -r key user groups file <<<"$entry"
    write_kubeconfig "$dir/$file.kubeconfig" "$file" "$(token_of "$user")" "$url"
  done

  # Kubernetes 1.21+ labels every namespace with its name; 1.20 does not, and the mutating
  # webhook's namespaceSelector relies on it.
  kubectl_admin apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: $namespace
  labels:
    kubernetes.io/metadata.name: $namespace
EOF
  kubectl_admin apply --server-side --field-manager=testenv \
    -f "$repo/tests/e2e/crds/" -f "$repo/manifests/crd/progressiverollouts.yaml" >/dev/null
  kubectl_admin wait --for condition=Established --timeout=60s \
    crd/applications.argoproj.io crd/applicationsets.argoproj.io crd/appprojects.argoproj.io \
    crd/progressiverollouts.deployment.skyscanner.net >/dev/null
  kubectl_admin apply -f "$repo/manifests/rbac/" -f "$repo/tests/manifests/testenv-rbac.yaml" >/dev/null

  # RBAC and CRD discovery reach the API server's caches a moment after the writes; tests
  # must not see that window, so wait until each user really can do its job.
  wait_for "CRDs served" 30 "$apiserver_pid" \
    kubectl_admin get applications,applicationsets,appprojects,progressiverollouts -n "$namespace"
  local check
  for check in \
    "webhook patch progressiverollouts.deployment.skyscanner.net/status" \
    "webhook update leases.coordination.k8s.io/argocd-progressive-rollout" \
    "webhook watch appprojects.argoproj.io" \
    "appset create applications.argoproj.io" \
    "appctrl update applications.argoproj.io" \
    "alice patch progressiverollouts.deployment.skyscanner.net" \
    "ops patch applications.argoproj.io"; do
    read -r file verb resource <<<"$check"
    local sub=""
    case $resource in */status) sub="--subresource=status"; resource=${resource%/status} ;; esac
    wait_for "RBAC for $file: $verb $resource" 30 "$apiserver_pid" \
      kubectl --kubeconfig "$dir/$file.kubeconfig" auth can-i "$verb" "$resource" -n "$namespace" $sub
  done

  write_env "$bin" "$port" "$url"
  trap - EXIT TERM INT
  log "ready: $url (etcd $etcd_url); env in $env_file"
  echo "$env_file"
}

write_env() {
  local bin=$1 port=$2 url=$3 entry key user groups file
  (
    umask 077
    {
      echo "TESTENV_DIR=$dir"
      echo "APISERVER_URL=$url"
      echo "APISERVER_HOST=127.0.0.1"
      echo "APISERVER_PORT=$port"
      echo "APISERVER_CA=$pki/ca.crt"
      echo "APISERVER_PID=$apiserver_pid"
      echo "ETCD_URL=$etcd_url"
      echo "ETCD_PID=$etcd_pid"
      echo "KUBE_APISERVER_BIN=$bin"
      echo "ARGOCD_NAMESPACE=$namespace"
      for entry in "${users[@]}"; do
        IFS='|' read -r key user groups file <<<"$entry"
        echo "KUBECONFIG_$key=$dir/$file.kubeconfig"
        echo "TOKEN_$key=$(token_of "$user")"
        echo "USER_$key=$user"
      done
      echo "WEBHOOK_CERT=$pki/webhook.crt"
      echo "WEBHOOK_KEY=$pki/webhook.key"
      echo "WEBHOOK_CA=$pki/ca.crt"
      echo "WEBHOOK_CA_BUNDLE=$(base64 -w0 <"$pki/ca.crt")"
    } >"$env_file.tmp"
  )
  mv "$env_file.tmp" "$env_file"
}

env_value() { sed -n "s/^$1=//p" "$env_file" | head -n1; }

require_env() {
  [ -f "$env_file" ] || die "$env_file missing: run '$0 start $dir' first"
}

cmd_restart_apiserver() {
  require_env
  stop_one kube-apiserver
  local port
  port=$(env_value APISERVER_PORT)
  start_apiserver "$port" || die "kube-apiserver did not come back on port $port"
  sed -i "s/^APISERVER_PID=.*/APISERVER_PID=$apiserver_pid/" "$env_file"
  log "kube-apiserver restarted ($apiserver_pid) on port $port"
}

cmd_compact() {
  require_env
  local endpoint revision
  endpoint=$(env_value ETCD_URL)
  revision=$(ETCDCTL_API=3 etcdctl --endpoints="$endpoint" endpoint status -w json |
    grep -o '"revision":[0-9]*' | head -n1 | cut -d: -f2)
  [ -n "$revision" ] || die "could not read etcd's revision"
  ETCDCTL_API=3 etcdctl --endpoints="$endpoint" compact "$revision" --physical >/dev/null
  log "etcd compacted at revision $revision"
  echo "$revision"
}

main() {
  (($# == 2)) || usage
  local cmd=$1
  set_paths "$2"
  # One command at a time per DIR (the lock fd is closed in every launched process).
  exec 9>"$dir/.testenv.lock"
  flock 9
  case $cmd in
    start) cmd_start ;;
    stop) cmd_stop ;;
    restart-apiserver) cmd_restart_apiserver ;;
    compact) cmd_compact ;;
    *) usage ;;
  esac
}

main "$@"
