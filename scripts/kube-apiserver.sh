#!/usr/bin/env bash
# Builds (once) and caches a real kube-apiserver v1.20.2 from Debian's `kubernetes` source
# package, so tests run against a real API server without Docker, kind or internet.
# The recipe is the one recorded in the design notes on the test environment:
#   - Debian packages only (etcd, Go 1.19, the Go sources that replace two vendored modules);
#   - GOPATH build of cmd/kube-apiserver;
#   - vendored modern-go/reflect2 1.0.1 and json-iterator/go 1.1.10 crash under Go 1.19 (SIGSEGV
#     in map iteration on the first custom resource), so they are swapped for Debian's newer ones.
#
# Usage: scripts/kube-apiserver.sh
# Prints progress on stderr and the binary path as the last line of stdout. A second run only
# checks the packages and prints the cached path.
# Env: XDG_CACHE_HOME (cache root, default ~/.cache), APR_KUBE_BUILD_JOBS (make -j, default 2).
set -euo pipefail

readonly kube_version="v1.20.2"
readonly cache_dir="${XDG_CACHE_HOME:-$HOME/.cache}/argocd-progressive-rollout"
readonly binary="$cache_dir/kube-apiserver-$kube_version"

# Runtime needs (etcd, etcdctl for compaction) and build needs; dpkg-query keeps a cached run fast.
readonly packages=(
  etcd-server etcd-client golang-go rsync make dpkg-dev
  golang-github-modern-go-reflect2-dev golang-github-json-iterator-go-dev
)

log() { printf 'kube-apiserver.sh: %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_packages() {
  local missing=() p
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq >&2
  as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >&2
}

# apt-get source needs a deb-src entry; copy URIs/Suites/Components/Signed-By of the bookworm
# (not -security/-updates) stanza of debian.sources so it uses the same mirror and keyring.
ensure_deb_src() {
  local src=/etc/apt/sources.list.d/debian.sources
  local out=/etc/apt/sources.list.d/argocd-progressive-rollout-src.sources
  if grep -rqsE '^(Types:.*deb-src|deb-src[[:space:]])' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    return 0
  fi
  [ -r "$src" ] || { log "no $src to copy a deb-src entry from"; exit 1; }
  local stanza
  stanza=$(awk -v RS= '/(^|\n)Suites:[^\n]*(^|[[:space:]])bookworm([[:space:]]|$)/ { print; exit }' "$src")
  [ -n "$stanza" ] || { log "no bookworm stanza in $src"; exit 1; }
  log "adding deb-src entry $out"
  {
    echo "Types: deb-src"
    printf '%s\n' "$stanza" | grep -E '^(URIs|Suites|Components|Signed-By):'
  } | as_root tee "$out" >/dev/null
  as_root apt-get update -qq >&2
}

build() {
  local work="$cache_dir/build-$kube_version"
  rm -rf "$work"
  mkdir -p "$work/download"
  ensure_deb_src

  log "fetching Debian source package kubernetes into $work"
  # apt-get source unpacks and applies Debian's patches; it runs fine as root with an
  # unsandboxed download (the _apt user cannot write to $work).
  (cd "$work/download" && apt-get source -qq -o APT::Sandbox::User=root kubernetes </dev/null >&2)
  local unpacked
  unpacked=$(find "$work/download" -mindepth 1 -maxdepth 1 -type d -name 'kubernetes-*' | head -n1)
  [ -n "$unpacked" ] || { log "apt-get source produced no kubernetes-* directory"; exit 1; }

  # A real directory (not a symlink) at the import path: the Kubernetes build scripts resolve
  # their root with `pwd -P`.
  local gopath="$work/gopath"
  local kroot="$gopath/src/k8s.io/kubernetes"
  mkdir -p "$(dirname "$kroot")"
  mv "$unpacked" "$kroot"

  local pkg
  for pkg in github.com/modern-go/reflect2 github.com/json-iterator/go; do
    [ -d "/usr/share/gocode/src/$pkg" ] || { log "missing /usr/share/gocode/src/$pkg"; exit 1; }
    log "replacing vendor/$pkg with Debian's /usr/share/gocode/src/$pkg"
    rm -rf "${kroot:?}/vendor/$pkg"
    mkdir -p "$kroot/vendor/$pkg"
    cp -a "/usr/share/gocode/src/$pkg/." "$kroot/vendor/$pkg/"
  done

  log "building cmd/kube-apiserver (3-6 minutes on 2 cores)"
  (
    cd "$kroot"
    export GOPATH="$gopath" HOME="$work/home" GOCACHE="$work/gocache" GOFLAGS=""
    export GO111MODULE=off
    export MAKEFLAGS="-j${APR_KUBE_BUILD_JOBS:-2}"
    mkdir -p "$HOME"
    make WHAT=cmd/kube-apiserver </dev/null >&2
  )
  local built="$kroot/_output/bin/kube-apiserver"
  [ -x "$built" ] || built=$(find "$kroot/_output" -type f -name kube-apiserver -perm -u+x | head -n1)
  [ -n "$built" ] && [ -x "$built" ] || { log "build produced no kube-apiserver binary"; exit 1; }
  install -m 0755 "$built" "$binary.tmp"
  mv "$binary.tmp" "$binary"
  # The source tree and Go caches are several GB; only the binary is worth keeping.
  rm -rf "$work"
}

main() {
  install_packages
  mkdir -p "$cache_dir"
  # Several test runs (or engineers) may ask at once; only one builds, the others wait for it.
  exec 9>"$cache_dir/.kube-apiserver.lock"
  flock 9
  if [ ! -x "$binary" ]; then
    build
  fi
  "$binary" --version >&2 || { log "cached $binary does not run"; exit 1; }
  echo "$binary"
}

main "$@"
