#!/usr/bin/env bash
# hopgate against Privoxy, Tinyproxy, microsocks and Dante on loopback, in one run, one table.
#
#   bench/compare.sh                 full run (about 4–5 minutes of workloads, bounded under 10)
#   BENCH_QUICK=1 bench/compare.sh   development run (short durations, 1 repetition, 2 000 tunnels)
#
# Knobs (environment):
#   BENCH_DURATION    seconds of each wrk and setup-rate run (10; quick 3)
#   BENCH_REPS        256 MiB downloads per proxy, the median is reported (3; quick 1)
#   BENCH_WRK_ROUNDS  rounds of the A and A-chain wrk runs, each figure the median (3; quick 1)
#   BENCH_TUNNELS     idle tunnels per SOCKS proxy (10000; quick 2000)
#   BENCH_BIG_MIB     size of the big file in MiB (256)
#   BENCH_BUDGET      seconds after the build after which remaining workloads are skipped (500)
#   BENCH_ONLY        a subset of "A A-chain B D-idle D-setup" (C comes with B); empty: all
#   BENCH_HOPGATE     a hopgate binary to measure instead of build/bench/hopgate
#   BENCH_HOPGATE_ARGS extra hopgate arguments, e.g. "--log-level warn"
#   BENCH_LOAD_DIR    a directory with hopgate_bench_echo, hopgate_idle_tunnels, hopgate_setup_rate
#                     instead of build/bench/bench
#   BENCH_NO_BUILD=1  use what is built; BENCH_SKIP_DEPS=1  skip scripts/deps.sh bench
#   BENCH_KEEP=1      keep the temporary directory (every config, log and raw wrk/curl output)
#   BENCH_OUT         where the Markdown table is also written (build/bench/compare-last.md)
#
# Everything listens on 127.0.0.1 on free ports, runs in the foreground as a child of this script
# and is stopped by PID on exit. Nothing is installed except through scripts/deps.sh bench.
# Workloads (see docs/benchmarks.md): A wrk absolute-URI GETs of 1 KiB; A-chain the same through
# microsocks; B 256 MiB through CONNECT and SOCKS5 (median MB/s); C CPU s/GiB of the proxy during
# B; D idle SOCKS5 tunnels (RSS per tunnel) and SOCKS5 connection setup rate.
set -uo pipefail # not -e: a workload that fails makes its cell "n/a", not the end of the run

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
QUICK=${BENCH_QUICK:-0}
if [[ $QUICK == 1 ]]; then
  DUR=${BENCH_DURATION:-3}; REPS=${BENCH_REPS:-1}; TUNNELS=${BENCH_TUNNELS:-2000}; WRK_ROUNDS=${BENCH_WRK_ROUNDS:-1}
else
  DUR=${BENCH_DURATION:-10}; REPS=${BENCH_REPS:-3}; TUNNELS=${BENCH_TUNNELS:-10000}; WRK_ROUNDS=${BENCH_WRK_ROUNDS:-3}
fi
BIG_MIB=${BENCH_BIG_MIB:-256}
CLIENTS=64
OPEN_SECONDS=45 # idle tunnels: give up opening after this long (Dante at 10 000)
BUDGET=${BENCH_BUDGET:-500} # seconds after the build; a workload that would start later is skipped
BUILD=$ROOT/build/bench
OUT=${BENCH_OUT:-$BUILD/compare-last.md}
T_START=$(date +%s)

log() { printf '[%4ds] %s\n' "$(($(date +%s) - T_START))" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------- dependencies and build
if [[ ${BENCH_SKIP_DEPS:-0} != 1 ]]; then
  "$ROOT/scripts/deps.sh" bench || die "scripts/deps.sh bench failed"
fi
for tool in nginx wrk privoxy tinyproxy microsocks curl python3 timeout; do
  command -v "$tool" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin command -v "$tool" >/dev/null 2>&1 ||
    die "$tool not found (scripts/deps.sh bench installs it)"
done
export PATH=$PATH:/usr/sbin:/sbin
DANTED=$(command -v danted || command -v sockd) || die "danted not found (dante-server)"

LOAD_TARGETS=(hopgate_bench_echo hopgate_idle_tunnels hopgate_setup_rate)
if [[ ${BENCH_NO_BUILD:-0} != 1 ]]; then
  log "building (cmake --preset bench)"
  mkdir -p "$ROOT/build" # the build log sits beside the build tree, which a fresh checkout lacks
  targets=()
  [[ -z ${BENCH_LOAD_DIR:-} ]] && targets+=("${LOAD_TARGETS[@]}")
  [[ -z ${BENCH_HOPGATE:-} ]] && targets+=(hopgate)
  if ((${#targets[@]} > 0)) && ! { cmake --preset bench >"$BUILD.log" 2>&1 &&
    cmake --build --preset bench -j"$(nproc)" --target "${targets[@]}" >>"$BUILD.log" 2>&1; }; then
    grep -E 'FAILED|error' "$BUILD.log" | head -n 20 >&2
    die "build failed (cmake --build --preset bench; full output in $BUILD.log)"
  fi
fi
T_RUN=$(date +%s) # the bound (under 10 minutes) is on what follows; the build comes before
HOPGATE=${BENCH_HOPGATE:-$BUILD/hopgate}
LOAD_DIR=${BENCH_LOAD_DIR:-$BUILD/bench}
ECHO_BIN=$LOAD_DIR/hopgate_bench_echo
IDLE_BIN=$LOAD_DIR/hopgate_idle_tunnels
SETUP_BIN=$LOAD_DIR/hopgate_setup_rate
for b in "$HOPGATE" "$ECHO_BIN" "$IDLE_BIN" "$SETUP_BIN"; do [[ -x $b ]] || die "$b missing"; done

# ---------------------------------------------------------------- limits, temp dir, cleanup
# 10 000 tunnels cost a proxy 20 000 descriptors (client + upstream). 65 536 is enough and keeps
# programs that size tables by the limit (Dante) reasonable.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
FD_LIMIT=$(ulimit -n)
FD_NOTE=""
if ((FD_LIMIT < 2 * TUNNELS + 64)); then # a proxy holds two sockets per tunnel, and a few more
  FD_NOTE="idle tunnels lowered from $TUNNELS to $(((FD_LIMIT - 64) / 2)): the descriptor limit here is $FD_LIMIT (hard) and a proxy holds 2 sockets per tunnel"
  TUNNELS=$(((FD_LIMIT - 64) / 2))
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/hopgate-bench.XXXXXX")
RES=$TMP/results.tsv
: >"$RES"
declare -A PID=()

# The processes and their descendants (Dante forks), from /proc.
tree_pids() { # pid...
  python3 - "$@" <<'PY'
import os, sys
kids = {}
for d in os.listdir('/proc'):
    if not d.isdigit(): continue
    try: s = open(f'/proc/{d}/stat').read()
    except OSError: continue
    ppid = int(s[s.rfind(')') + 2:].split()[1]); kids.setdefault(ppid, []).append(int(d))
out, todo = [], [int(a) for a in sys.argv[1:]]
while todo:
    p = todo.pop(); out.append(p); todo += kids.get(p, [])
print(' '.join(map(str, out)))
PY
}

# "RSS_KiB CPU_TICKS NPROCS" summed over the process tree: VmRSS, and utime+stime+cutime+cstime
# (threads are included in a process's figures; reaped children in their parent's c-times).
proc_usage() {
  python3 - "$1" <<'PY'
import os, sys
root = int(sys.argv[1]); stats = {}
for d in os.listdir('/proc'):
    if not d.isdigit(): continue
    try: s = open(f'/proc/{d}/stat').read()
    except OSError: continue
    f = s[s.rfind(')') + 2:].split()
    stats[int(d)] = (int(f[1]), sum(int(x) for x in f[11:15]))
kids = {}
for p, (pp, _) in stats.items(): kids.setdefault(pp, []).append(p)
rss = cpu = n = 0; todo = [root]
while todo:
    p = todo.pop()
    if p not in stats: continue
    todo += kids.get(p, []); cpu += stats[p][1]; n += 1
    try:
        for line in open(f'/proc/{p}/status'):
            if line.startswith('VmRSS:'): rss += int(line.split()[1])
    except OSError: pass
print(rss, cpu, n)
PY
}

stop_pid() { # pid: TERM the process, wait up to 5 s, then KILL it and any descendant left
  local pid=$1 all p i
  kill -0 "$pid" 2>/dev/null || return 0
  all=$(tree_pids "$pid")
  kill -TERM "$pid" 2>/dev/null
  for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && log "pid $pid still running 5 s after SIGTERM: SIGKILL"
  for p in $all; do kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null; done
  wait "$pid" 2>/dev/null
  return 0
}

cleanup() { # TERM everything this script started, wait up to 5 s together, KILL what is left
  local name p i alive all=""
  trap - EXIT INT TERM
  ((${#PID[@]} > 0)) && all=$(tree_pids "${PID[@]}")
  for name in "${!PID[@]}"; do kill -TERM "${PID[$name]}" 2>/dev/null; done
  for ((i = 0; i < 50; i++)); do
    alive=0
    for name in "${!PID[@]}"; do kill -0 "${PID[$name]}" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for name in "${!PID[@]}"; do
    kill -0 "${PID[$name]}" 2>/dev/null && log "$name (pid ${PID[$name]}) still running 5 s after SIGTERM: SIGKILL"
  done
  for p in $all; do kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null; done
  for name in "${!PID[@]}"; do wait "${PID[$name]}" 2>/dev/null; done
  if [[ ${BENCH_KEEP:-0} == 1 ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

want() { # workload: selected by BENCH_ONLY (empty: every workload)
  [[ -z ${BENCH_ONLY:-} || " ${BENCH_ONLY//,/ } " == *" $1 "* ]]
}

budget_ok() { # key: true while the run is within its time budget; else the cell is n/a with a note
  if (($(date +%s) - T_RUN < BUDGET)); then return 0; fi
  put "$1" "n/a"; note "$1 skipped: the run passed its budget of $BUDGET s"; return 1
}

put() { printf '%s\t%s\n' "$1" "$2" >>"$RES"; }
CLK_TCK=$(getconf CLK_TCK)
busy_ticks() { awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8}' /proc/stat; } # user nice system irq softirq
note() { put "note" "$*"; log "note: $*"; }

start() { # name cmd...: run in the background, output to $TMP/name.log
  local name=$1; shift
  : >"$TMP/$name.log"
  "$@" >"$TMP/$name.log" 2>&1 &
  PID[$name]=$!
}

wait_port() { # port [seconds]: true once something accepts on 127.0.0.1:port
  local port=$1 deadline=$(($(date +%s) + ${2:-10}))
  while (($(date +%s) < deadline)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

free_ports() { # n: n distinct free loopback ports
  python3 - "$1" <<'PY'
import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss: s.bind(('127.0.0.1', 0))
print(' '.join(str(s.getsockname()[1]) for s in ss))
PY
}

subst() { # template output KEY=VALUE...
  local tpl=$1 out=$2; shift 2
  local text kv
  text=$(<"$tpl")
  for kv in "$@"; do text=${text//@${kv%%=*}@/${kv#*=}}; done
  printf '%s\n' "$text" >"$out"
}

# ---------------------------------------------------------------- origin and proxies
log "files in $TMP"
mkdir -p "$TMP/www"
head -c 1024 /dev/urandom >"$TMP/www/1k"
dd if=/dev/zero of="$TMP/www/big" bs=1M count="$BIG_MIB" status=none
# nginx started as root serves as "nobody": the root must be readable to everyone.
chmod 755 "$TMP" "$TMP/www" && chmod 644 "$TMP/www/1k" "$TMP/www/big"
BIG_BYTES=$((BIG_MIB * 1024 * 1024))

read -r P_ORIGIN P_ORIGIN_CHAIN P_PRIVOXY P_TINY P_PRIVOXY_MS P_TINY_MS P_MS P_MS_CHAIN P_DANTE P_HG_HTTP P_HG_SOCKS <<<"$(free_ports 11)"

subst bench/peers/nginx.conf.in "$TMP/nginx.conf" DIR="$TMP" ROOT="$TMP/www" \
  ORIGIN_PORT="$P_ORIGIN" ORIGIN_CHAIN_PORT="$P_ORIGIN_CHAIN"
start nginx nginx -p "$TMP" -c "$TMP/nginx.conf" -g 'daemon off;'

start echo "$ECHO_BIN" --listen 127.0.0.1:0
start microsocks microsocks -i 127.0.0.1 -p "$P_MS"
start microsocks_chain microsocks -i 127.0.0.1 -p "$P_MS_CHAIN"

subst bench/peers/danted.conf.in "$TMP/danted.conf" PORT="$P_DANTE"
start dante "$DANTED" -f "$TMP/danted.conf" -N 1

subst bench/peers/privoxy.conf.in "$TMP/privoxy.conf" PORT="$P_PRIVOXY" FORWARD=""
subst bench/peers/privoxy.conf.in "$TMP/privoxy_ms.conf" PORT="$P_PRIVOXY_MS" \
  FORWARD="forward-socks5 / 127.0.0.1:$P_MS_CHAIN ."
start privoxy privoxy --no-daemon "$TMP/privoxy.conf"
start privoxy_ms privoxy --no-daemon "$TMP/privoxy_ms.conf"

subst bench/peers/tinyproxy.conf.in "$TMP/tinyproxy.conf" PORT="$P_TINY" UPSTREAM=""
subst bench/peers/tinyproxy.conf.in "$TMP/tinyproxy_ms.conf" PORT="$P_TINY_MS" \
  UPSTREAM="Upstream socks5 127.0.0.1:$P_MS_CHAIN"
start tinyproxy tinyproxy -d -c "$TMP/tinyproxy.conf"
start tinyproxy_ms tinyproxy -d -c "$TMP/tinyproxy_ms.conf"

subst bench/peers/hopgate.json.in "$TMP/hopgate.json" HTTP_PORT="$P_HG_HTTP" SOCKS_PORT="$P_HG_SOCKS" \
  MS_PORT="$P_MS_CHAIN" ORIGIN_CHAIN_PORT="$P_ORIGIN_CHAIN"
# shellcheck disable=SC2086 # BENCH_HOPGATE_ARGS is a word list on purpose
start hopgate "$HOPGATE" --config "$TMP/hopgate.json" ${BENCH_HOPGATE_ARGS:-}

declare -A UP=()
for pair in nginx:$P_ORIGIN microsocks:$P_MS microsocks_chain:$P_MS_CHAIN dante:$P_DANTE privoxy:$P_PRIVOXY \
  privoxy_ms:$P_PRIVOXY_MS tinyproxy:$P_TINY tinyproxy_ms:$P_TINY_MS hopgate_http:$P_HG_HTTP hopgate_socks:$P_HG_SOCKS; do
  name=${pair%%:*} port=${pair#*:}
  logname=${name%_http}; logname=${logname%_socks}
  if wait_port "$port" 10; then UP[$name]=1; else note "$name did not start on 127.0.0.1:$port: $(tail -n 3 "$TMP/$logname.log" | tr '\n' ' ')"; fi
done
[[ -n ${UP[nginx]:-} ]] || die "nginx did not start: $(cat "$TMP/nginx.log" "$TMP/nginx.error.log" 2>/dev/null)"

# The echo server picks its own port and prints it.
P_ECHO=""
for ((i = 0; i < 100; i++)); do
  P_ECHO=$(sed -n 's/^listening 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$TMP/echo.log" | head -n1)
  [[ -n $P_ECHO ]] && break
  sleep 0.1
done
[[ -n $P_ECHO ]] || die "echo server did not start: $(cat "$TMP/echo.log")"
ECHO_EP=127.0.0.1:$P_ECHO
URL_1K=http://127.0.0.1:$P_ORIGIN/1k
URL_1K_CHAIN=http://127.0.0.1:$P_ORIGIN_CHAIN/1k
URL_BIG=http://127.0.0.1:$P_ORIGIN/big

[[ -n $FD_NOTE ]] && note "$FD_NOTE"
put "env.date" "$(date -u '+%Y-%m-%d %H:%M UTC')"
put "env.host" "$(nproc) cores, $(uname -r), load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
put "env.hopgate" "$("$HOPGATE" --version 2>/dev/null | head -n1), tree at $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo '+dirty')$([[ -n ${BENCH_HOPGATE:-} ]] && echo ", binary $HOPGATE built $(date -u -r "$HOPGATE" '+%H:%M UTC')")"
put "env.mode" "$([[ $QUICK == 1 ]] && echo quick || echo full): wrk -t2 -c$CLIENTS -d${DUR}s x $WRK_ROUNDS rounds (medians); $REPS x $BIG_MIB MiB; $TUNNELS tunnels; setup rate $CLIENTS clients ${DUR}s"
put "env.versions" "$(nginx -v 2>&1 | sed 's/.*version: //'), $(privoxy --version 2>/dev/null | head -n1 | awk '{print "Privoxy " $3}'), $(tinyproxy -v 2>/dev/null | head -n1), $(dpkg-query -W -f='microsocks ${Version}' microsocks 2>/dev/null), $(dpkg-query -W -f='dante-server ${Version}' dante-server 2>/dev/null), $(wrk -v 2>&1 | head -n1 | awk '{print $1, $2}'), curl $(curl --version | head -n1 | awk '{print $2}')"

# ---------------------------------------------------------------- A: wrk absolute-URI GETs
LUA=$ROOT/bench/peers/wrk_absolute.lua

probe_http() { # proxy_port url: the proxy answers 200 for an absolute-URI GET
  [[ $(timeout 10 curl -s -o /dev/null -w '%{http_code}' --max-time 5 -x "http://127.0.0.1:$1" "$2" 2>/dev/null) == 200 ]]
}

wrk_cell() { # key proxy_port|"" url: one round; its figures go to $TMP/KEY.rounds
  local key=$1 port=$2 url=$3 out
  [[ -e $TMP/$key.failed ]] && return # its probe failed in an earlier round
  if (($(date +%s) - T_RUN >= BUDGET)); then return; fi # wrk_finish says what was skipped
  if [[ -n $port ]]; then
    if ! probe_http "$port" "$url"; then
      : >"$TMP/$key.failed"; put "$key.rps" "n/a"; note "$key: no 200 for GET $url through 127.0.0.1:$port"; return
    fi
    local host=${url#http://}
    host=${host%%/*}
    out=$(WRK_TARGET_URL=$url WRK_TARGET_HOST=$host timeout $((DUR + 30)) \
      wrk -t2 -c$CLIENTS -d"${DUR}s" --latency -s "$LUA" "http://127.0.0.1:$port/" 2>&1)
  else
    out=$(WRK_TARGET_URL="" timeout $((DUR + 30)) wrk -t2 -c$CLIENTS -d"${DUR}s" --latency -s "$LUA" "$url" 2>&1)
  fi
  printf '%s\n' "$out" >>"$TMP/$key.wrk"
  local parsed
  parsed=$(awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; if (v ~ /m$/) return v * 60000; return v }
    $1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) }
    /^Requests\/sec:/ { rps = $2 }
    /^ *Socket errors:/ { gsub(/,/, ""); err += $4 + $6 + $8 + $10 }
    /^ *Non-2xx or 3xx responses:/ { err += $NF }
    END { if (rps == "") print "n/a"; else printf "%.0f %.2f %.2f %d\n", rps, p50, p99, err }' <<<"$out")
  if [[ $parsed == n/a ]]; then note "$key: a wrk round gave no result: $(tail -n 2 <<<"$out" | tr '\n' ' ')"; return; fi
  printf '%s\n' "$parsed" >>"$TMP/$key.rounds"
  local rps p50 p99 err
  read -r rps p50 p99 err <<<"$parsed"
  log "$key: $rps req/s, p50 $p50 ms, p99 $p99 ms, $err errors"
}

wrk_finish() { # key: each figure is the median over the rounds that gave one
  local key=$1 n
  [[ -e $TMP/$key.failed ]] && return
  n=$(wc -l <"$TMP/$key.rounds" 2>/dev/null || echo 0)
  if ((n == 0)); then put "$key.rps" "n/a"; note "$key: no wrk round gave a result (or the run passed its budget of $BUDGET s)"; return; fi
  ((n < WRK_ROUNDS)) && note "$key: the median is of $n of $WRK_ROUNDS rounds"
  local col name med
  for col in 1:rps 2:p50 3:p99 4:err; do
    name=${col#*:}
    med=$(awk -v c="${col%%:*}" '{print $c}' "$TMP/$key.rounds" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
    put "$key.$name" "$med"
  done
  ((WRK_ROUNDS > 1)) && log "$key: median of $n rounds: $(awk '{printf "%s%s", sep, $1; sep = " / "}' "$TMP/$key.rounds") req/s"
}

wrk_rounds() { # label, then "key port url" triples: the cells run in turn, round after round
  local label=$1 r i
  shift
  local -a cells=("$@")
  for ((r = 1; r <= WRK_ROUNDS; r++)); do
    ((WRK_ROUNDS > 1)) && log "$label: round $r of $WRK_ROUNDS"
    for ((i = 0; i < ${#cells[@]}; i += 3)); do wrk_cell "${cells[i]}" "${cells[i + 1]}" "${cells[i + 2]}"; done
  done
  for ((i = 0; i < ${#cells[@]}; i += 3)); do wrk_finish "${cells[i]}"; done
}

# ---------------------------------------------------------------- B and C: 256 MiB downloads
curl_get() { # mode port url: prints "code bytes bytes_per_second"
  local mode=$1 port=$2 url=$3 via=()
  case $mode in
    connect) via=(-p -x "http://127.0.0.1:$port") ;;
    socks) via=(--socks5 "127.0.0.1:$port") ;;
  esac
  timeout 90 curl -s -o /dev/null --max-time 60 --speed-limit 1000000 --speed-time 10 "${via[@]}" -w '%{http_code} %{size_download} %{speed_download}\n' "$url" 2>/dev/null ||
    echo "000 0 0"
}

# B runs in rounds: each round downloads the big file once through every proxy, so that the
# machine's slow and fast moments spread over all of them instead of favouring one.
declare -A B_MODE=() B_PORT=() B_PID=() B_SPEEDS=() B_TICKS=() B_BAD=()
B_KEYS=()
b_add() { # key mode port pid|"": probe with the 1 KiB file, then take part in the rounds
  local key=$1 mode=$2 port=$3 pid=$4 code bytes speed
  read -r code bytes speed <<<"$(curl_get "$mode" "$port" "$URL_1K")"
  if [[ $code != 200 ]]; then
    put "B$key.mbps" "n/a"; put "C$key.cpu" "n/a"; note "B$key: $mode through 127.0.0.1:$port answered $code"; return
  fi
  B_KEYS+=("$key"); B_MODE[$key]=$mode; B_PORT[$key]=$port; B_PID[$key]=$pid
  B_SPEEDS[$key]=""; B_TICKS[$key]=0; B_BAD[$key]=""
}

b_rounds() {
  local r key code bytes speed before after pid
  for ((r = 0; r < REPS; r++)); do
    if (($(date +%s) - T_RUN >= BUDGET)); then note "B: rounds $((r + 1))-$REPS skipped: the run passed its budget of $BUDGET s"; break; fi
    for key in "${B_KEYS[@]}"; do
      [[ -n ${B_BAD[$key]} ]] && continue # a stall is not repeated
      pid=${B_PID[$key]}
      [[ -n $pid ]] && before=$(proc_usage "$pid" | awk '{print $2}')
      read -r code bytes speed <<<"$(curl_get "${B_MODE[$key]}" "${B_PORT[$key]}" "$URL_BIG")"
      [[ -n $pid ]] && after=$(proc_usage "$pid" | awk '{print $2}')
      if [[ $code != 200 || $bytes != "$BIG_BYTES" ]]; then B_BAD[$key]="status $code, $bytes bytes"; continue; fi
      B_SPEEDS[$key]+=" $speed"
      [[ -n $pid ]] && B_TICKS[$key]=$((B_TICKS[$key] + after - before))
    done
  done
  local n med cpu sp
  for key in "${B_KEYS[@]}"; do
    read -r -a sp <<<"${B_SPEEDS[$key]}"
    n=${#sp[@]}
    [[ -n ${B_BAD[$key]} ]] && note "B$key: a download failed (${B_BAD[$key]}); the median is of $n"
    if ((n == 0)); then put "B$key.mbps" "n/a"; put "C$key.cpu" "n/a"; continue; fi
    med=$(printf '%s\n' "${sp[@]}" | sort -g | awk '{v[NR] = $1} END {printf "%.0f", v[int((NR + 1) / 2)] / 1e6}')
    put "B$key.mbps" "$med"
    if [[ -n ${B_PID[$key]} ]]; then
      cpu=$(awk -v t="${B_TICKS[$key]}" -v hz="$(getconf CLK_TCK)" -v n="$n" -v b="$BIG_BYTES" \
        'BEGIN {printf "%.2f", (t / hz) / (n * b / 1073741824)}')
      put "C$key.cpu" "$cpu"
      log "B$key: $med MB/s (median of $n), $cpu CPU s/GiB"
    else
      log "B$key: $med MB/s (median of $n)"
    fi
  done
}

# ---------------------------------------------------------------- D: idle tunnels, setup rate
idle_cell() { # key port pid count
  local key=$1 port=$2 pid=$3 count=$4 rss0 rss1 nproc1 ready final ok alive failed i
  budget_ok "Didle.$key.ok" || return
  sleep 1
  read -r rss0 _ _ <<<"$(proc_usage "$pid")"
  start "idle_$key" "$IDLE_BIN" --proxy "127.0.0.1:$port" --target "$ECHO_EP" --count "$count" \
    --open-seconds "$OPEN_SECONDS" --timeout 10 --hold 120
  for ((i = 0; i < (OPEN_SECONDS + 30) * 10; i++)); do
    ready=$(grep -m1 '^ready ' "$TMP/idle_$key.log")
    [[ -n $ready ]] && break
    kill -0 "${PID[idle_$key]}" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -z $ready ]]; then
    stop_pid "${PID[idle_$key]}"; unset "PID[idle_$key]"
    put "Didle.$key.ok" "n/a"; note "Didle.$key: the load client gave no result: $(tail -n 3 "$TMP/idle_$key.log" | tr '\n' ' ')"; return
  fi
  sleep 2 # let the proxy settle with every tunnel idle
  read -r rss1 _ nproc1 <<<"$(proc_usage "$pid")"
  kill -USR1 "${PID[idle_$key]}"
  for ((i = 0; i < 300; i++)); do kill -0 "${PID[idle_$key]}" 2>/dev/null || break; sleep 0.1; done
  stop_pid "${PID[idle_$key]}"; unset "PID[idle_$key]"
  final=$(grep -m1 '^final ' "$TMP/idle_$key.log")
  ok=$(sed -n 's/.* ok=\([0-9]*\).*/\1/p' <<<"$ready"); failed=$(sed -n 's/.* failed=\([0-9]*\).*/\1/p' <<<"$ready")
  alive=$(sed -n 's/.* alive=\([0-9]*\).*/\1/p' <<<"$final")
  put "Didle.$key.ok" "${alive:-0}/$count"
  if ((ok > 0)); then
    put "Didle.$key.kib" "$(awk -v a="$rss0" -v b="$rss1" -v n="$ok" 'BEGIN {printf "%.1f", (b - a) / n}')"
  else
    put "Didle.$key.kib" "n/a"
  fi
  ((failed > 0 || ${alive:-0} < ok)) && note "Didle.$key: opened $ok of $count ($failed failed), $alive alive after holding; $(grep -v '^ready\|^final' "$TMP/idle_$key.log" | sort | uniq -c | sort -rn | head -n 3 | tr -s ' ' | tr '\n' ';')"
  log "Didle.$key: $ok/$count open, $alive alive, RSS $rss0 -> $rss1 KiB ($nproc1 processes)"
}

setup_cell() { # key port|""
  local key=$1 port=$2 pid=${3:-} out rate failed p99 target=(--direct) cpu0=0 cpu1=0 busy0 busy1 ok
  budget_ok "Dsetup.$key.rate" || return
  [[ -n $port ]] && target=(--proxy "127.0.0.1:$port")
  [[ -n $pid ]] && read -r _ cpu0 _ <<<"$(proc_usage "$pid")"
  busy0=$(busy_ticks)
  out=$(timeout $((DUR + 30)) "$SETUP_BIN" "${target[@]}" --target "$ECHO_EP" --clients "$CLIENTS" --duration "$DUR" 2>&1)
  busy1=$(busy_ticks)
  [[ -n $pid ]] && read -r _ cpu1 _ <<<"$(proc_usage "$pid")"
  printf '%s\n' "$out" >"$TMP/Dsetup.$key.log"
  rate=$(sed -n 's/^rate=\([0-9.]*\) .*/\1/p' <<<"$out")
  if [[ -z $rate ]]; then put "Dsetup.$key.rate" "n/a"; note "Dsetup.$key: $(tail -n 2 <<<"$out" | tr '\n' ' ')"; return; fi
  failed=$(sed -n 's/^rate=.* failed=\([0-9]*\) .*/\1/p' <<<"$out")
  p99=$(sed -n 's/^rate=.* p99_ms=\([0-9.]*\) .*/\1/p' <<<"$out")
  put "Dsetup.$key.rate" "$(printf '%.0f' "$rate")"; put "Dsetup.$key.p99" "$(printf '%.2f' "$p99")"; put "Dsetup.$key.failed" "$failed"
  # CPU per connect: the proxy's own, and the whole machine's (load client, echo server, proxy
  # and kernel). What direct costs the machine is what every proxy adds its own cost to.
  ok=$(sed -n 's/^rate=.* ok=\([0-9]*\) .*/\1/p' <<<"$out")
  if ((ok > 0)); then
    [[ -n $pid ]] && put "Dsetup.$key.cpu" "$(awk -v a="$cpu0" -v b="$cpu1" -v n="$ok" -v hz="$CLK_TCK" 'BEGIN {printf "%.0f", (b - a) * 1e6 / hz / n}')"
    put "Dsetup.$key.allcpu" "$(awk -v a="$busy0" -v b="$busy1" -v n="$ok" -v hz="$CLK_TCK" 'BEGIN {printf "%.0f", (b - a) * 1e6 / hz / n}')"
  fi
  ((failed > 0)) && note "Dsetup.$key: $failed failed: $(grep -v '^rate=' <<<"$out" | head -n 3 | tr -s ' ' | tr '\n' ';')"
  log "Dsetup.$key: $rate/s, p99 $p99 ms, $failed failed"
}

# Dante binds its outgoing socket to 127.0.0.1:0 before connecting, which fails while the
# ephemeral range is full of TIME_WAIT ports from earlier workloads; give them time to expire.
settle_ports() {
  local i n
  for ((i = 0; i < 60; i++)); do
    n=$(python3 - <<'PY'
lo, hi = map(int, open('/proc/sys/net/ipv4/ip_local_port_range').read().split())
ports = set()
for line in open('/proc/net/tcp').readlines()[1:]:
    f = line.split()
    if f[3] == '06': ports.add(int(f[1].split(':')[1], 16))
print(sum(1 for p in ports if lo <= p <= hi))
PY
)
    ((n < 8000)) && return 0
    ((i == 0)) && log "waiting for $n ephemeral ports held in TIME_WAIT to expire (at most 60 s)"
    sleep 1
  done
}

# Dante forks about one process per 18 sessions, about 425 KiB per session: cap it by memory.
mem_avail_kib=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
DANTE_TUNNELS=$TUNNELS
if ((mem_avail_kib / 2 / 500 < DANTE_TUNNELS)); then
  DANTE_TUNNELS=$((mem_avail_kib / 2 / 500))
  note "Dante's idle tunnels capped at $DANTE_TUNNELS by memory ($((mem_avail_kib / 1024)) MiB available)"
fi

# ---------------------------------------------------------------- the run
# Idle tunnels first, on fresh processes: an allocator keeps what earlier workloads freed, which
# would hide the cost of a tunnel in the RSS difference.
if want D-idle; then
  log "D: $TUNNELS idle tunnels"
  if [[ -n ${UP[hopgate_socks]:-} ]]; then idle_cell hopgate "$P_HG_SOCKS" "${PID[hopgate]}" "$TUNNELS"; else put Didle.hopgate.ok n/a; fi
  [[ -n ${UP[microsocks]:-} ]] && idle_cell microsocks "$P_MS" "${PID[microsocks]}" "$TUNNELS"
  [[ -n ${UP[dante]:-} ]] && settle_ports && idle_cell dante "$P_DANTE" "${PID[dante]}" "$DANTE_TUNNELS"
fi

# A and A-chain run in rounds like B: each round gives every proxy one wrk run in turn, so that
# the machine's slow and fast moments spread over all of them; each figure is the median.
if want A; then
  log "A: wrk -t2 -c$CLIENTS -d${DUR}s, 1 KiB, $WRK_ROUNDS round(s)"
  cells=(A.direct "" "$URL_1K")
  if [[ -n ${UP[hopgate_http]:-} ]]; then cells+=(A.hopgate "$P_HG_HTTP" "$URL_1K"); else put A.hopgate.rps n/a; fi
  [[ -n ${UP[privoxy]:-} ]] && cells+=(A.privoxy "$P_PRIVOXY" "$URL_1K")
  [[ -n ${UP[tinyproxy]:-} ]] && cells+=(A.tinyproxy "$P_TINY" "$URL_1K")
  wrk_rounds A "${cells[@]}"
fi

if want A-chain; then
  log "A-chain: through microsocks, $WRK_ROUNDS round(s)"
  cells=()
  if [[ -n ${UP[hopgate_http]:-} && -n ${UP[microsocks_chain]:-} ]]; then cells+=(Achain.hopgate "$P_HG_HTTP" "$URL_1K_CHAIN"); else put Achain.hopgate.rps n/a; fi
  [[ -n ${UP[privoxy_ms]:-} && -n ${UP[microsocks_chain]:-} ]] && cells+=(Achain.privoxy "$P_PRIVOXY_MS" "$URL_1K_CHAIN")
  [[ -n ${UP[tinyproxy_ms]:-} && -n ${UP[microsocks_chain]:-} ]] && cells+=(Achain.tinyproxy "$P_TINY_MS" "$URL_1K_CHAIN")
  ((${#cells[@]} > 0)) && wrk_rounds A-chain "${cells[@]}"
fi

if want B; then
  log "B/C: $REPS rounds of $BIG_MIB MiB through each"
  b_add connect.direct direct "" ""
  if [[ -n ${UP[hopgate_http]:-} ]]; then b_add connect.hopgate connect "$P_HG_HTTP" "${PID[hopgate]}"; else put Bconnect.hopgate.mbps n/a; fi
  [[ -n ${UP[privoxy]:-} ]] && b_add connect.privoxy connect "$P_PRIVOXY" "${PID[privoxy]}"
  [[ -n ${UP[tinyproxy]:-} ]] && b_add connect.tinyproxy connect "$P_TINY" "${PID[tinyproxy]}"
  if [[ -n ${UP[hopgate_socks]:-} ]]; then b_add socks.hopgate socks "$P_HG_SOCKS" "${PID[hopgate]}"; else put Bsocks.hopgate.mbps n/a; fi
  [[ -n ${UP[microsocks]:-} ]] && b_add socks.microsocks socks "$P_MS" "${PID[microsocks]}"
  [[ -n ${UP[dante]:-} ]] && b_add socks.dante socks "$P_DANTE" "${PID[dante]}"
  b_rounds
  put Bsocks.direct.mbps "$(awk -F'\t' '$1 == "Bconnect.direct.mbps" {print $2}' "$RES")"
fi

if want D-setup; then
  log "D: setup rate, $CLIENTS clients, ${DUR}s"
  setup_cell direct ""
  if [[ -n ${UP[hopgate_socks]:-} ]]; then setup_cell hopgate "$P_HG_SOCKS" "${PID[hopgate]}"; else put Dsetup.hopgate.rate n/a; fi
  [[ -n ${UP[microsocks]:-} ]] && setup_cell microsocks "$P_MS" "${PID[microsocks]}"
  [[ -n ${UP[dante]:-} ]] && settle_ports && setup_cell dante "$P_DANTE" "${PID[dante]}"
fi

put "env.end" "load average at end $(cut -d' ' -f1-3 /proc/loadavg); the run took $(($(date +%s) - T_RUN)) s after $((T_RUN - T_START)) s of dependencies and build"
kill -0 "${PID[hopgate]}" 2>/dev/null || note "hopgate exited during the run: $(tail -n 3 "$TMP/hopgate.log" | tr '\n' ' ')"

# ---------------------------------------------------------------- the table
mkdir -p "$(dirname "$OUT")"
python3 - "$RES" "$TUNNELS" "$BIG_MIB" <<'PY' | tee "$OUT"
import sys
res, notes = {}, []
for line in open(sys.argv[1]):
    k, _, v = line.rstrip('\n').partition('\t')
    if k == 'note': notes.append(v)
    else: res[k] = v
tunnels, big = sys.argv[2], sys.argv[3]

def num(k):
    try: return float(res[k])
    except (KeyError, ValueError): return None

def cell(k):
    v = res.get(k)
    return '–' if v is None else v

COLS = ['direct', 'hopgate', 'privoxy', 'tinyproxy', 'microsocks', 'dante']
HEAD = ['direct', 'hopgate', 'Privoxy', 'Tinyproxy', 'microsocks', 'Dante']

# (workload, metric, key prefix, key suffix, columns measured, better: hi|lo|None, goal)
rows = [
    ('A: wrk 1 KiB GET', 'req/s ↑', 'A', 'rps', ['direct', 'hopgate', 'privoxy', 'tinyproxy'], 'hi', ('ratio', 2)),
    ('A', 'p50 ms ↓', 'A', 'p50', ['direct', 'hopgate', 'privoxy', 'tinyproxy'], 'lo', None),
    ('A', 'p99 ms ↓', 'A', 'p99', ['direct', 'hopgate', 'privoxy', 'tinyproxy'], 'lo', ('below', None)),
    ('A', 'errors', 'A', 'err', ['direct', 'hopgate', 'privoxy', 'tinyproxy'], None, None),
    ('A-chain: → microsocks', 'req/s ↑', 'Achain', 'rps', ['hopgate', 'privoxy', 'tinyproxy'], 'hi', ('ratio', 3)),
    ('A-chain', 'p50 ms ↓', 'Achain', 'p50', ['hopgate', 'privoxy', 'tinyproxy'], 'lo', None),
    ('A-chain', 'p99 ms ↓', 'Achain', 'p99', ['hopgate', 'privoxy', 'tinyproxy'], 'lo', None),
    ('A-chain', 'errors', 'Achain', 'err', ['hopgate', 'privoxy', 'tinyproxy'], None, None),
    (f'B: {big} MiB via CONNECT', 'MB/s ↑', 'Bconnect', 'mbps', ['direct', 'hopgate', 'privoxy', 'tinyproxy'], 'hi', ('direct', 0.85)),
    (f'B: {big} MiB via SOCKS5', 'MB/s ↑', 'Bsocks', 'mbps', ['direct', 'hopgate', 'microsocks', 'dante'], 'hi', ('direct', 0.85)),
    ('C: CPU during B, CONNECT', 'CPU s/GiB ↓', 'Cconnect', 'cpu', ['hopgate', 'privoxy', 'tinyproxy'], 'lo', ('max', 0.5)),
    ('C: CPU during B, SOCKS5', 'CPU s/GiB ↓', 'Csocks', 'cpu', ['hopgate', 'microsocks', 'dante'], 'lo', ('max', 0.5)),
    (f'D: {tunnels} idle SOCKS5 tunnels', 'alive / asked', 'Didle', 'ok', ['hopgate', 'microsocks', 'dante'], None, ('all', None)),
    ('D', 'RSS KiB per tunnel ↓', 'Didle', 'kib', ['hopgate', 'microsocks', 'dante'], 'lo', ('max', 4)),
    ('D: SOCKS5 setup, 64 clients', 'connects/s ↑', 'Dsetup', 'rate', ['direct', 'hopgate', 'microsocks', 'dante'], 'hi', ('ratio', 2)),
    ('D', 'p99 ms ↓', 'Dsetup', 'p99', ['direct', 'hopgate', 'microsocks', 'dante'], 'lo', None),
    ('D', 'failed', 'Dsetup', 'failed', ['direct', 'hopgate', 'microsocks', 'dante'], None, None),
    ('D', 'proxy CPU µs per connect ↓', 'Dsetup', 'cpu', ['hopgate', 'microsocks', 'dante'], 'lo', None),
    ('D', 'machine CPU µs per connect ↓', 'Dsetup', 'allcpu', ['direct', 'hopgate', 'microsocks', 'dante'], 'lo', None),
]

def fmt_ratio(r):
    return f'{r:.2f}×' if r < 10 else f'{r:.0f}×'

out = ['| workload | metric | ' + ' | '.join(HEAD) + ' | hopgate ÷ best peer | goal |',
       '|' + '---|' * (len(HEAD) + 4)]
for wl, metric, pre, suf, cols, better, goal in rows:
    cells = []
    for c in COLS:
        cells.append(cell(f'{pre}.{c}.{suf}') if c in cols else ' ')
    hg = num(f'{pre}.hopgate.{suf}')
    peers = [num(f'{pre}.{c}.{suf}') for c in cols if c not in ('direct', 'hopgate')]
    peers = [p for p in peers if p is not None]
    ratio, best = '', None
    if better and hg is not None and peers:
        best = max(peers) if better == 'hi' else min(peers)
        ratio = fmt_ratio(hg / best) if best > 0 else '–'
    g = ''
    if goal:
        kind, target = goal
        if kind == 'ratio':
            g = f'≥ {target}×: ' + ('n/a' if hg is None or best is None else ('met' if best > 0 and hg / best >= target else 'not met'))
        elif kind == 'below':
            g = '< best peer: ' + ('n/a' if hg is None or best is None else ('met' if hg < best else 'not met'))
        elif kind == 'direct':
            d = num(f'{pre}.direct.{suf}')
            g = f'≥ {target:.0%} of direct: ' + ('n/a' if hg is None or not d else f'{hg / d:.0%}, ' + ('met' if hg / d >= target else 'not met'))
        elif kind == 'max':
            g = f'≤ {target}: ' + ('n/a' if hg is None else ('met' if hg <= target else 'not met'))
        elif kind == 'all':
            v = res.get(f'{pre}.hopgate.{suf}', '')
            a, _, n = v.partition('/')
            g = 'all: ' + ('n/a' if not n else ('met' if a == n else 'not met'))
    out.append(f'| {wl} | {metric} | ' + ' | '.join(cells) + f' | {ratio} | {g} |')

print(f"### bench/compare.sh, {res.get('env.date', '')}")
print()
print('\n'.join(out))
print()
for k, label in (('env.mode', 'Run'), ('env.host', 'Machine'), ('env.end', 'End'), ('env.hopgate', 'hopgate'), ('env.versions', 'Peers')):
    if k in res: print(f'- {label}: {res[k]}')
print('- "n/a": the proxy did not pass the workload\'s probe or gave no result; "–": not measured; blank: not applicable.')
print('- A-chain columns: hopgate → microsocks (socks5h upstream), Privoxy → microsocks (forward-socks5), Tinyproxy → microsocks (Upstream socks5).')
print('- ÷ best peer: hopgate\'s figure over the best peer\'s in the same row (for ↓ rows below 1 is better).')
for n in notes: print(f'- note: {n}')
PY
log "table written to $OUT"
