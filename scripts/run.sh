#!/usr/bin/env bash
# Installs what is missing, builds the Release binary and starts hopgate with config/hopgate.json.
# Extra arguments go to hopgate (e.g. scripts/run.sh --log-level debug).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
cmake --preset release >/dev/null
cmake --build --preset release --target hopgate -j"$(nproc)"
has_config=0
for a in "$@"; do [[ "$a" == --config* || "$a" == --upstream* ]] && has_config=1; done
if ((has_config)); then exec build/release/hopgate "$@"; fi
exec build/release/hopgate --config config/hopgate.json "$@"
