#!/usr/bin/env bash
# The whole test suite on a fresh Debian bookworm machine: installs what is missing, builds,
# builds (once, then cached) a real kube-apiserver for the end-to-end tests, and runs CTest; then
# scripts/sanitize.sh. Exit status is non-zero when any test fails.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${APR_BUILD_DIR:-$repo/build}"

bash "$repo/scripts/install-deps.sh"
# Built from Debian's kubernetes source package on first use, then cached outside the repo.
bash "$repo/scripts/kube-apiserver.sh" >/dev/null

cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAPR_WERROR=ON >/dev/null
cmake --build "$build" -j"$(nproc)"
status=0
(cd "$build" && ctest --output-on-failure --timeout 1800 "$@") || status=$?

# Then the unit and server tests again, and a minute of fuzzing, under ASan and UBSan (a build of
# their own with clang-15). APR_SANITIZE=0 skips this part.
if [ "${APR_SANITIZE:-1}" != 0 ]; then
  bash "$repo/scripts/sanitize.sh" || status=$?
fi
exit "$status"
