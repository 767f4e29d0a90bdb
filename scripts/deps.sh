#!/usr/bin/env bash
# Installs the Debian 12 packages hopgate needs to build, test and benchmark, when missing.
# Usage: scripts/deps.sh [build|runtime|test|bench|all]   (default: test = build + test tools)
set -euo pipefail

build_pkgs=(cmake ninja-build g++ ccache pkg-config libboost1.81-dev nlohmann-json3-dev libspdlog-dev libgtest-dev libgmock-dev libbenchmark-dev)
# What the binary needs at run time (the Dockerfile's runtime stage installs exactly these).
runtime_pkgs=(libspdlog1.10 libfmt9 ca-certificates)
# Real clients and real upstream servers the integration tests drive.
test_pkgs=(curl microsocks dante-server tinyproxy python3 iproute2 clang libclang-rt-14-dev chromium)
bench_pkgs=(nginx-light wrk privoxy)

case "${1:-test}" in
  build) want=("${build_pkgs[@]}") ;;
  runtime) want=("${runtime_pkgs[@]}") ;;
  test) want=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
  bench) want=("${build_pkgs[@]}" "${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  all) want=("${build_pkgs[@]}" "${runtime_pkgs[@]}" "${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  --print-runtime) printf '%s\n' "${runtime_pkgs[@]}"; exit 0 ;;
  *) echo "usage: $0 [build|runtime|test|bench|all|--print-runtime]" >&2; exit 2 ;;
esac

# Node.js evaluates the generated PAC file in the tests; any node on PATH will do.
if [[ "${1:-test}" == test || "${1:-test}" == bench || "${1:-test}" == all ]] && ! command -v node >/dev/null 2>&1; then
  want+=(nodejs)
fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then missing+=("$p"); fi
done
if ((${#missing[@]} == 0)); then exit 0; fi

echo "deps.sh: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts some of these as services where an init exists; hopgate's tests start their own.
