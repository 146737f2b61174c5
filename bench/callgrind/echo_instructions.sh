#!/usr/bin/env bash
# Instructions per echo round trip in the server's user space, by callgrind (deterministic:
# the same count on a busy machine). Usage:
#   bench/callgrind/echo_instructions.sh ./target/release/echo_server [conns] [trips] [warmup]
# Starts `echo_server --raw` under callgrind, makes `warmup` 64-byte round trips spread over
# `conns` connections, zeroes the counters, makes `trips` more, dumps, and prints Ir / trips.
set -euo pipefail
server=${1:?path to echo_server}
conns=${2:-1}
trips=${3:-20000}
warmup=${4:-2000}
port=$((20000 + RANDOM % 20000))
out=$(mktemp -d)
valgrind --tool=callgrind --callgrind-out-file="$out/cg.out" "$server" --raw \
    --addr "127.0.0.1:$port" >"$out/server.log" 2>&1 &
vg=$!
trap 'kill $vg 2>/dev/null || true; if [ -n "${KEEP:-}" ]; then cp "$out"/cg.out.1 "$KEEP"; fi; rm -rf "$out"' EXIT
client() {
    python3 - "$port" "$conns" "$1" <<'PY'
import socket, sys, time
port, conns, trips = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
for _ in range(600):
    try:
        socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(conns)]
        break
    except OSError:
        time.sleep(0.1)
msg = b"x" * 64
for i in range(trips // conns):
    for s in socks:
        s.sendall(msg)
    for s in socks:
        got = b""
        while len(got) < 64:
            got += s.recv(64 - len(got))
for s in socks:
    s.close()
PY
}
client "$warmup"
callgrind_control -z "$vg" >/dev/null
client "$trips"
callgrind_control -d "$vg" >/dev/null
sleep 1
ir=$(grep -h "^summary:\|^totals:" "$out"/cg.out.* | awk '{print $2}' | sort -n | tail -1)
echo "conns=$conns trips=$trips Ir=$ir per_round_trip=$((ir / trips))"
