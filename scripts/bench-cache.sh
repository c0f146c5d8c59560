#!/usr/bin/env bash
# Benchmark of the kube layer's watch caches (not a test): starts its own throw-away control
# plane with scripts/testenv.sh, creates APPS Applications with a realistic ~20 KB status and
# SECRETS Argo CD cluster Secrets, then measures the caches' initial sync time and the memory
# they hold per object. Prints `RESULT case=NAME key=value ...` lines (targets: sync < 10 s for
# the Applications, < 1 KB of cache per Application).
#
# Usage: scripts/bench-cache.sh [BUILD_DIR] [APPS] [SECRETS] [PAGE_LIMIT]
#   BUILD_DIR   CMake build directory to build the driver in (default: build-kube)
#   APPS        default 10000;  SECRETS default 1000;  PAGE_LIMIT (LIST page size) default 500
set -euo pipefail

readonly repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build=${1:-$repo/build-kube}
apps=${2:-10000}
secrets=${3:-1000}
page_limit=${4:-500}

[ -f "$build/CMakeCache.txt" ] || cmake -S "$repo" -B "$build" >/dev/null
cmake --build "$build" --target kube_bench_cache -j2 >/dev/null
driver="$build/tests/kube/kube_bench_cache"

envdir=$(mktemp -d "${TMPDIR:-/tmp}/apr-bench-cache.XXXXXX")
cleanup() {
  "$repo/scripts/testenv.sh" stop "$envdir" >/dev/null 2>&1 || true
  rm -rf "$envdir"
}
trap cleanup EXIT

"$repo/scripts/testenv.sh" start "$envdir" >/dev/null
"$driver" "$envdir/env" "$apps" "$secrets" "$page_limit"
