#!/usr/bin/env bash
# The webhook's added latency per Application update through the real kube-apiserver (not a
# test): starts a throw-away control plane (scripts/testenv.sh), times COUNT status writes of a
# managed Application with a ~20 KB status without and with the webhook registered, and reads
# the API server's histogram of the webhook call. Prints `RESULT case=...` lines.
#
# Usage: scripts/bench-admission.sh [BUILD_DIR] [COUNT]   (defaults: build, 1000)
set -euo pipefail
readonly repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build=${1:-$repo/build}
count=${2:-1000}

[ -f "$build/CMakeCache.txt" ] || cmake -S "$repo" -B "$build" >/dev/null
cmake --build "$build" --target admission_latency_bench argocd-progressive-rollout -j"$(nproc)" >/dev/null

envdir=$(mktemp -d "${TMPDIR:-/tmp}/apr-bench-admission.XXXXXX")
cleanup() {
  "$repo/scripts/testenv.sh" stop "$envdir" >/dev/null 2>&1 || true
  rm -rf "$envdir"
}
trap cleanup EXIT
"$repo/scripts/testenv.sh" start "$envdir" >/dev/null
APR_TESTENV="$envdir/env" "$build/tests/bench/admission_latency_bench" "$count"
