#!/usr/bin/env bash
# Soak: churns many connections (default 100 000) through one hopgate process, mixed SOCKS5,
# SOCKS4, HTTP CONNECT and HTTP absolute-URI, with clients vanishing mid-handshake and
# mid-transfer and upstreams refusing (bench/load/soak_load.cpp), then checks that hopgate is
# back where it started: open descriptors (/proc/PID/fd) and RSS within a small margin of the
# figures taken after a short warm-up, no connection left in the registry (GET
# /api/v1/connections), and every completed transfer's checksum matched. Bounded: minutes.
#
# Usage: bench/soak.sh [CONNECTIONS]
#   SOAK_HOPGATE=path     the hopgate binary (default: build/release/hopgate, built if missing)
#   SOAK_CONCURRENCY=N    clients at once (200)
#   SOAK_WORKERS=N        hopgate io_context threads (2)
#   SOAK_FD_MARGIN=N      descriptors allowed above the start (8)
#   SOAK_RSS_MARGIN_MB=N  RSS allowed above the start, MiB (24)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CONNECTIONS=${1:-100000}
CONCURRENCY=${SOAK_CONCURRENCY:-200}
WORKERS=${SOAK_WORKERS:-2}
FD_MARGIN=${SOAK_FD_MARGIN:-8}
RSS_MARGIN_MB=${SOAK_RSS_MARGIN_MB:-24}
OUT=$ROOT/build/soak
mkdir -p "$OUT"

log() { printf 'soak: %s\n' "$*"; }

HOPGATE=${SOAK_HOPGATE:-$ROOT/build/release/hopgate}
if [[ ! -x $HOPGATE ]]; then
  log "building hopgate (release preset)"
  cmake --preset release >/dev/null
  cmake --build --preset release --target hopgate -j2
fi
LOAD=$OUT/soak_load
if [[ ! -x $LOAD || bench/load/soak_load.cpp -nt $LOAD ]]; then
  log "building the load generator"
  g++ -std=c++20 -O2 -Wall -Wextra -Werror -pthread bench/load/soak_load.cpp -o "$LOAD"
fi

CONFIG=$OUT/hopgate-soak.json
cat >"$CONFIG" <<JSON
{
  "listeners": {
    "socks": { "listen": "127.0.0.1:0" },
    "http":  { "listen": "127.0.0.1:0" },
    "admin": { "listen": "127.0.0.1:0" }
  },
  "default": { "via": "direct" },
  "timeouts": { "handshake": 5, "connect": 5, "idle": 30, "http_request": 5, "http_keepalive": 5 },
  "http": { "pool": { "idle_timeout": 2 } },
  "log": { "level": "info" },
  "workers": $WORKERS
}
JSON
chmod 600 "$CONFIG"
LOGFILE=$OUT/hopgate-soak.log
"$HOPGATE" --config "$CONFIG" >"$LOGFILE" 2>&1 &
PID=$!
cleanup() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
trap cleanup EXIT

port_of() { sed -n "s/.*listening $1 127\.0\.0\.1:\([0-9]*\).*/\1/p" "$LOGFILE" | head -1; }
for _ in $(seq 100); do
  [[ -n $(port_of admin) && -n $(port_of socks) && -n $(port_of http) ]] && break
  kill -0 "$PID" 2>/dev/null || { cat "$LOGFILE"; exit 1; }
  sleep 0.1
done
[[ -n $(port_of admin) && -n $(port_of socks) && -n $(port_of http) ]] || { log "FAIL: no listening lines"; cat "$LOGFILE"; exit 1; }
SOCKS=127.0.0.1:$(port_of socks)
HTTP=127.0.0.1:$(port_of http)
ADMIN=127.0.0.1:$(port_of admin)

fds() { ls "/proc/$PID/fd" | wc -l; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$PID/status"; }
open_conns() { curl -s "http://$ADMIN/api/v1/connections?limit=1" | tr -d " \n" | sed -n 's/.*"total":\([0-9]*\).*/\1/p'; }
settle() {
  # Until nothing is open and the idle HTTP upstream connections have timed out of the pool.
  for _ in $(seq 60); do
    [[ $(open_conns) == 0 ]] && break
    sleep 0.5
  done
  sleep 3
}

log "hopgate pid $PID, socks $SOCKS, http $HTTP, admin $ADMIN, $WORKERS workers"
log "descriptors at start: $(fds), RSS $(( $(rss_kb) / 1024 )) MiB"
log "warm-up: 2000 connections"
"$LOAD" --socks "$SOCKS" --http "$HTTP" --connections 2000 --concurrency "$CONCURRENCY" --seed 7 >"$OUT/warmup.txt" || {
  cat "$OUT/warmup.txt"; exit 1; }
settle
FD0=$(fds); RSS0=$(rss_kb)
log "after warm-up: descriptors $FD0, RSS $((RSS0 / 1024)) MiB"

start=$(date +%s)
set +e
"$LOAD" --socks "$SOCKS" --http "$HTTP" --connections "$CONNECTIONS" --concurrency "$CONCURRENCY" --seed 1 | tee "$OUT/load.txt"
load_rc=${PIPESTATUS[0]}
set -e
elapsed=$(( $(date +%s) - start ))
kill -0 "$PID" 2>/dev/null || { log "FAIL: hopgate died"; tail -50 "$LOGFILE"; exit 1; }
PEAK_FD=$(fds)
settle
FD1=$(fds); RSS1=$(rss_kb); LEFT=$(open_conns)

log "---------------------------------------------------------------"
log "connections:  $CONNECTIONS in ${elapsed}s (concurrency $CONCURRENCY)"
log "descriptors:  $FD0 before, $PEAK_FD right after the load, $FD1 after settling (margin $FD_MARGIN)"
log "RSS:          $((RSS0 / 1024)) MiB before, $((RSS1 / 1024)) MiB after (margin $RSS_MARGIN_MB MiB)"
log "registry:     $LEFT connection(s) left"
log "hopgate log:  $(grep -c . "$LOGFILE") lines, $(grep -c ' warning \| error \| critical ' "$LOGFILE" || true) warning/error/critical, in $LOGFILE"
fail=0
[[ $load_rc -eq 0 ]] || { log "FAIL: the load generator reported checksum mismatches or too many failures"; fail=1; }
(( FD1 <= FD0 + FD_MARGIN )) || { log "FAIL: descriptors grew by $((FD1 - FD0))"; fail=1; }
(( RSS1 <= RSS0 + RSS_MARGIN_MB * 1024 )) || { log "FAIL: RSS grew by $(( (RSS1 - RSS0) / 1024 )) MiB"; fail=1; }
[[ $LEFT == 0 ]] || { log "FAIL: $LEFT connection(s) still in the registry"; fail=1; }
if ((fail)); then exit 1; fi
log "PASS"
