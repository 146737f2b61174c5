#!/usr/bin/env bash
# Instructions per keep-alive HTTP request in a web server's user space, by callgrind
# (deterministic up to how the kernel batches events: run it twice). Usage:
#   bench/callgrind/web_instructions.sh SERVER [conns] [secs] [-- server args...]
# e.g.
#   bench/callgrind/web_instructions.sh ./target/release/hello_web
#   bench/callgrind/web_instructions.sh ./target/release/hyper_hello 50 3
#   TLS=1 bench/callgrind/web_instructions.sh ./target/release/cogen_tls_hello 10 2
# Starts SERVER --addr 127.0.0.1:PORT under callgrind, warms it up with `wrk -t1 -cCONNS
# -d1s`, zeroes the counters, runs `wrk -t1 -cCONNS -dSECS`, dumps, and prints Ir divided by
# wrk's request count (`per_request`, the figure of docs/benchmarks.md's recipe); then runs
# `wrk -d(3 x SECS)` and dumps again.
#
# Each wrk run opens CONNS new connections, whose accept and set-up are counted in
# `per_request` and weigh more the fewer requests a loaded machine lets through. The
# `differenced` figure, (Ir2 - Ir1) / (R2 - R1), cancels them: it is the steady per-request
# cost, the one to compare builds by.
#
# TLS=1: the server speaks HTTPS; only the differenced figure is printed (the handshakes
# cancel). Without TLS_CERT/TLS_KEY the script makes a pair with openssl
# and passes `--tls-cert/--tls-key` (what hello_web and cogen_tls_hello take).
# PIPELINE=1: wrk sends 16 requests per write (bench/wrk/pipeline.lua).
# KEEP=FILE: copies the (last) callgrind output to FILE for callgrind_annotate.
set -euo pipefail
server=${1:?path to a server binary}
shift
conns=${1:-50}
[ $# -gt 0 ] && shift
secs=${1:-3}
[ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift
here=$(cd "$(dirname "$0")/.." && pwd)
port=$((20000 + RANDOM % 20000))
out=$(mktemp -d)
scheme=http
extra=()
if [ -n "${TLS:-}" ]; then
    scheme=https
    if [ -z "${TLS_CERT:-}" ]; then
        TLS_CERT=$out/cert.pem TLS_KEY=$out/key.pem
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
            -subj /CN=localhost -keyout "$TLS_KEY" -out "$TLS_CERT" >/dev/null 2>&1
    fi
    extra=(--tls-cert "$TLS_CERT" --tls-key "$TLS_KEY")
fi
script=()
if [ -n "${PIPELINE:-}" ]; then script=(-s "$here/wrk/pipeline.lua"); fi
valgrind --tool=callgrind --callgrind-out-file="$out/cg.out" "$server" \
    --addr "127.0.0.1:$port" "${extra[@]}" "$@" >"$out/server.log" 2>&1 &
vg=$!
trap 'kill $vg 2>/dev/null || true; wait $vg 2>/dev/null || true
      if [ -n "${KEEP:-}" ]; then cp "$(ls "$out"/cg.out.* | sort -V | tail -1)" "$KEEP"; fi
      rm -rf "$out"' EXIT
url="$scheme://127.0.0.1:$port/"
for _ in $(seq 600); do
    if curl -sk -o /dev/null "$url"; then break; fi
    sleep 0.1
done
requests() { # wrk's "N requests in" line
    wrk -t1 -c"$conns" -d"$1" "${script[@]}" "$url" | awk '/requests in/ {print $1}'
}
dump() { # Ir of the newest dump
    callgrind_control -d "$vg" >/dev/null 2>&1
    sleep 1
    local f
    f=$(ls "$out"/cg.out.* | sort -V | tail -1)
    grep -h "^summary:\|^totals:" "$f" | awk '{print $2}' | sort -n | tail -1
}
requests 1s >/dev/null
callgrind_control -z "$vg" >/dev/null 2>&1
r1=$(requests "${secs}s")
ir1=$(dump)
r2=$(requests "$((secs * 3))s")
ir2=$(dump)
diffed=$(((ir2 - ir1) / (r2 - r1)))
if [ -z "${TLS:-}" ]; then
    echo "conns=$conns requests=$r1,$r2 per_request=$((ir1 / r1)),$((ir2 / r2)) differenced=$diffed"
else
    echo "tls conns=$conns requests=$r1,$r2 differenced=$diffed"
fi
