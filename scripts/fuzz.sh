#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, clang, -fsanitize=fuzzer,address,undefined) in
# build/fuzz and runs each for SECONDS (default 60) from its seed corpus in tests/fuzz/corpus/.
# What a run finds goes to build/fuzz/corpus/<target> (seeds stay as they are); a crash leaves
# build/fuzz/artifacts/<target>/crash-* and makes the script fail.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]     FUZZ_JOBS=N runs N targets at once (default 1)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
build=build/fuzz

if ! command -v clang++ >/dev/null 2>&1; then
  echo "fuzz.sh: clang++ is missing (scripts/deps.sh test installs it)" >&2
  exit 2
fi
cmake -S tests/fuzz -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DHOPGATE_FUZZ_SECONDS="$seconds" >/dev/null
cmake --build "$build" -j"${FUZZ_BUILD_JOBS:-2}"

targets=("$@")
if ((${#targets[@]} == 0)); then
  mapfile -t targets < <(cd "$build" && ls fuzz_* | sed 's/^fuzz_//' | sort)
fi

export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
run_one() {
  local t="$1"
  mkdir -p "$build/corpus/$t" "$build/artifacts/$t"
  local log="$build/artifacts/$t/last-run.log"
  if "$build/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$build/artifacts/$t/" "$build/corpus/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1; then
    local runs cov
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo "?")
    printf 'fuzz %-14s ok   %10s runs  cov %5s  corpus %5s\n' "$t" "$runs" "$cov" "$(ls "$build/corpus/$t" | wc -l)"
  else
    printf 'fuzz %-14s FAIL (log: %s)\n' "$t" "$log"
    grep -E 'ERROR|property violated|SUMMARY|Test unit written' "$log" | head -20 || true
    return 1
  fi
}

failed=0
jobs="${FUZZ_JOBS:-1}"
running=0
for t in "${targets[@]}"; do
  if ((jobs > 1)); then
    run_one "$t" &
    running=$((running + 1))
    if ((running >= jobs)); then
      wait -n || failed=1
      running=$((running - 1))
    fi
  else
    run_one "$t" || failed=1
  fi
done
while ((running > 0)); do
  wait -n || failed=1
  running=$((running - 1))
done
if ((failed)); then
  echo "fuzz.sh: a target failed: reproduce with $build/fuzz_<target> <crash file>" >&2
  exit 1
fi
echo "fuzz.sh: ${#targets[@]} targets, ${seconds}s each, no crash"
