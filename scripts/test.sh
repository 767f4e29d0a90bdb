#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test with ctest: the Release build, then the
# same suite under AddressSanitizer + UndefinedBehaviorSanitizer (the asan preset), then each
# fuzz target briefly (scripts/fuzz.sh).
# Usage: scripts/test.sh [ctest args...]     HOPGATE_TEST_PRESETS="release" to run one preset.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
jobs=$(nproc)
start=$(date +%s)
for preset in ${HOPGATE_TEST_PRESETS:-release asan}; do
  echo "== preset $preset: build"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j"$jobs"
  echo "== preset $preset: test"
  (cd "build/$preset" && ctest --output-on-failure -j"$jobs" --timeout 600 "$@")
done
# libFuzzer targets, each for a few seconds (their own clang build in build/fuzz): HOPGATE_FUZZ_SECONDS=0 skips.
if [[ ${HOPGATE_FUZZ_SECONDS:-10} != 0 ]]; then
  echo "== fuzz: ${HOPGATE_FUZZ_SECONDS:-10}s per target"
  FUZZ_JOBS="${FUZZ_JOBS:-$jobs}" scripts/fuzz.sh "${HOPGATE_FUZZ_SECONDS:-10}"
fi
echo "== all tests passed in $(( $(date +%s) - start ))s"
