#!/usr/bin/env bash
# Installs every build and test dependency of argocd-progressive-rollout from Debian
# bookworm packages. Safe to run again: apt-get skips what is already there.
set -euo pipefail

packages=(
  build-essential g++ cmake make pkg-config
  libboost1.81-dev libboost-test1.81-dev libboost-system1.81-dev
  libboost-program-options1.81-dev
  libssl-dev openssl rapidjson-dev libyaml-cpp-dev zlib1g-dev
  ca-certificates curl jq wrk lua5.4 nginx-light
  # The container image (scripts/image.sh, tests/image): root filesystem, build, load.
  mmdebstrap podman yq
  # scripts/sanitize.sh: clang with its ASan/UBSan runtimes, libFuzzer, and llvm-symbolizer for
  # readable reports.
  clang-15 libfuzzer-15-dev llvm-15
  # The house style (.clang-format, scripts/format.sh, the format_check test).
  clang-format
  # Time zones for rollout and Argo CD project windows (Howard Hinnant's date/tz on the system tzdata).
  libhowardhinnant-date-dev tzdata
  # Real components of the gate and dashboard tests: a Prometheus server with promtool, a headless browser.
  prometheus chromium
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if ((${#missing[@]})); then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
