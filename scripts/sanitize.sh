#!/usr/bin/env bash
# The unit and server tests and the libFuzzer target, built with clang-15 under AddressSanitizer
# and UndefinedBehaviorSanitizer in a build directory of their own, then run by CTest; the fuzz
# target runs for APR_FUZZ_SECONDS (60 by default) from the seed corpus in tests/fuzz/corpus.
# scripts/test.sh calls this; it prints how long the build and the tests took. Only the targets
# below are built. Exit status is non-zero when any sanitizer report or test failure occurs.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${APR_SANITIZE_BUILD_DIR:-$repo/build-asan}"

targets=(core_values_test validation_test planner_test stage_machine_test codec_test admission_test
         decide_test input_limits_test insitu_stream_test server_test promotion_test operator_request_test
         admission_fuzz)
# Nothing recovers: the first report fails its test. The ignorelist holds only third-party code,
# each entry with its reason.
sanitize="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
sanitize+=" -fsanitize-ignorelist=$repo/tests/sanitizers/ignorelist.txt"

started=$(date +%s)
# fuzzer-no-link gives libFuzzer coverage of the libraries it drives; -O1 keeps reports readable.
cmake -S "$repo" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER=clang++-15 \
  -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" -DCMAKE_CXX_FLAGS="$sanitize -fsanitize=fuzzer-no-link" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DAPR_FUZZ=ON -DAPR_FUZZ_SECONDS="${APR_FUZZ_SECONDS:-60}" >/dev/null
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}"
built=$(date +%s)

status=0
pattern="^($(IFS='|'; echo "${targets[*]}"))\$"
(cd "$build" && UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure --timeout 900 -R "$pattern") ||
  status=$?
finished=$(date +%s)
echo "sanitizer build: $((built - started)) s; sanitizer tests, fuzzing included: $((finished - built)) s"
exit "$status"
