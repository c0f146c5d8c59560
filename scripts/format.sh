#!/usr/bin/env bash
# Formats every C++ file with the house style in .clang-format (Debian's clang-format).
#   scripts/format.sh          rewrite files in place
#   scripts/format.sh --check  list files that differ and exit 1 (the format_check test runs this)
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cpp' '*.hpp' 2>/dev/null || find webhook tests -name '*.cpp' -o -name '*.hpp')
if [ "${1:-}" = "--check" ]; then
  bad=()
  for f in "${files[@]}"; do
    [ -f "$f" ] || continue
    clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
  done
  if ((${#bad[@]})); then
    printf 'not in the house style (run scripts/format.sh): %s\n' "${bad[@]}" >&2
    exit 1
  fi
  echo "all ${#files[@]} C++ files are in the house style"
else
  clang-format -i "${files[@]}"
fi
