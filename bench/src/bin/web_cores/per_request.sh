#!/usr/bin/env bash
# Per-request counters of hello_web's server at 1 and 2 workers, in both placements (servers
# free on CPUs 0-1, or pinned to CPU 0), under `wrk -t1 -c50` keep-alive pinned to CPU 1:
# requests per server CPU-second, system calls, context switches and migrations per request
# (`perf stat -p` software counters). With `callgrind`: user-space instructions per request
# (callgrind, the difference of a 3 s and an 8 s run over the difference in requests).
#
# Build first: cargo build --release -p cogen-examples --bin hello_web
# Run:         bash bench/src/bin/web_cores/per_request.sh [callgrind]
set -euo pipefail
cd "$(dirname "$0")/../../../.."
BIN=target/release/hello_web
[ -x "$BIN" ] || { echo "build hello_web first (see the header)"; exit 1; }

port() { echo $((18000 + RANDOM % 2000)); }

wait_up() {
  for _ in $(seq 100); do curl -s "http://127.0.0.1:$1/" >/dev/null && return 0; sleep 0.1; done
  return 1
}

counters() { # workers placement
  local w=$1 placement=$2 p pid perf_pid out req pin=()
  p=$(port)
  [ "$placement" = cpu0 ] && pin=(taskset -c 0)
  "${pin[@]}" "$BIN" --workers "$w" --addr "127.0.0.1:$p" >/dev/null 2>&1 &
  pid=$!
  wait_up "$p"
  taskset -c 1 wrk -t1 -c50 -d1s "http://127.0.0.1:$p/" >/dev/null 2>&1 # warm-up
  perf stat -x, -e task-clock,context-switches,cpu-migrations,raw_syscalls:sys_enter \
    -p "$pid" -o /tmp/per_request_perf.txt &
  perf_pid=$!
  out=$(taskset -c 1 wrk -t1 -c50 -d5s "http://127.0.0.1:$p/" 2>&1)
  kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null || true
  kill "$pid"; wait "$pid" 2>/dev/null || true
  req=$(echo "$out" | awk '/requests in/ {print $1}')
  awk -F, -v req="$req" -v w="$w" -v l="$placement" '
    /task-clock/ {tc=$1} /context-switches/ {cs=$1} /cpu-migrations/ {mig=$1} /sys_enter/ {sc=$1}
    END {printf "%-5s %d worker(s): %d requests, %.0f per CPU-second, %.3f syscalls, %.4f switches, %.5f migrations per request\n",
         l, w, req, req/(tc/1000), sc/req, cs/req, mig/req}' /tmp/per_request_perf.txt
}

instructions() { # workers seconds -> "requests instructions"
  local w=$1 d=$2 p pid req file=/tmp/per_request_cg.out
  p=$(port)
  rm -f "$file"*
  valgrind --tool=callgrind --callgrind-out-file="$file" "$BIN" --workers "$w" \
    --addr "127.0.0.1:$p" >/dev/null 2>&1 &
  pid=$!
  wait_up "$p"
  req=$(taskset -c 1 wrk -t1 -c50 -d"${d}s" "http://127.0.0.1:$p/" 2>&1 | awk '/requests in/ {print $1}')
  kill -INT "$pid"; sleep 1; kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
  echo "$req $(awk '/^totals:/ {s+=$2} END {print s}' "$file"*)"
}

if [ "${1:-}" = callgrind ]; then
  for w in 1 2; do
    read -r r1 i1 < <(instructions "$w" 3)
    read -r r2 i2 < <(instructions "$w" 8)
    echo "$w worker(s): $(( (i2 - i1) / (r2 - r1) )) user-space instructions per request"
  done
else
  uptime
  for rep in 1 2; do
    for placement in free cpu0; do
      for w in 1 2; do counters "$w" "$placement"; done
    done
  done
  uptime
fi
