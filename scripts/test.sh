#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test with ctest: the Release build (unit and
# integration tests), then the asan preset (AddressSanitizer + UndefinedBehaviorSanitizer): its
# own unit tests, and the integration tests against its hopgate binary. The integration driver
# only starts processes and talks to sockets, so the release build of it is reused
# (HOPGATE_TEST_BINARY) rather than compiled again with the sanitizers. Then each fuzz target
# briefly (scripts/fuzz.sh).
# Usage: scripts/test.sh [ctest args...]     HOPGATE_TEST_PRESETS="release" to run one preset.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
jobs=$(nproc)
start=$(date +%s)
phase() { echo "== $1 ($(( $(date +%s) - start ))s)"; }
for preset in ${HOPGATE_TEST_PRESETS:-release asan}; do
  phase "preset $preset: build"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j"$jobs"
  phase "preset $preset: test"
  (cd "build/$preset" && ctest --output-on-failure -j"$jobs" --timeout 600 "$@")
  if [[ $preset == asan ]]; then
    # The release preset's integration driver, against the sanitized binary (built here too, so
    # that HOPGATE_TEST_PRESETS=asan never runs a stale one; a no-op after the release preset).
    cmake --preset release >/dev/null
    cmake --build --preset release --target hopgate_integration_tests -j"$jobs"
    phase "preset asan: integration tests against build/asan/hopgate"
    (cd build/release && HOPGATE_TEST_BINARY="$PWD/../asan/hopgate" \
       ASAN_OPTIONS="detect_leaks=1" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
       ctest --output-on-failure -j"$jobs" --timeout 600 -L integration "$@")
  fi
done
# libFuzzer targets, each for a few seconds (their own clang build in build/fuzz): HOPGATE_FUZZ_SECONDS=0 skips.
if [[ ${HOPGATE_FUZZ_SECONDS:-10} != 0 ]]; then
  phase "fuzz: ${HOPGATE_FUZZ_SECONDS:-10}s per target"
  FUZZ_JOBS="${FUZZ_JOBS:-$jobs}" scripts/fuzz.sh "${HOPGATE_FUZZ_SECONDS:-10}"
fi
echo "== all tests passed in $(( $(date +%s) - start ))s"
