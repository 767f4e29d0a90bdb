#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test with ctest: the Release build, then the
# same suite under AddressSanitizer + UndefinedBehaviorSanitizer (the asan preset).
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
echo "== all tests passed in $(( $(date +%s) - start ))s"
