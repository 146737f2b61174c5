#!/usr/bin/env bash
# Runs the tests that exercise cogen-core's unsafe code (task bodies, the yield slot, waker
# vtables, cancellation, the reactor's registrations) under valgrind's memcheck: any invalid
# read or write, use of uninitialised memory or definite leak fails CI.
#
# Left out: the trybuild UI tests (they run cargo, not our code), one stress test whose
# 20-second hang guard valgrind's slowdown would trip (timing, not memory), and sim_slots
# (see below).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v valgrind >/dev/null; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends valgrind
fi

list_bins() {
  cargo test "$@" --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        print(m["target"]["name"], m["executable"])'
}

# Exit status 9 is a memory error (always fatal). Another failure is a test that failed under
# valgrind's 20-50x slowdown (a timing bound); it gets one more try before it counts.
run() {
  timeout 900 valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite \
    "$1" --test-threads=1 -q --skip a_remote_wake_in_flight_is_never_taken_for_a_stall \
    >"$2" 2>&1
}

failed=0
while read -r name exe; do
  [ "$name" = "ui" ] && continue
  # 100,000 simulated connections, each with a placeholder OS socket: 11 s natively, far
  # past the 900 s limit under memcheck; the simulation's code paths run in the other sim_*.
  [ "$name" = "sim_slots" ] && continue
  log=/tmp/valgrind-"$name".log
  printf 'valgrind: %s\n' "$name"
  status=0
  run "$exe" "$log" || status=$?
  if [ "$status" -ne 0 ] && [ "$status" -ne 9 ]; then
    echo "valgrind: $name failed with status $status; once more"
    status=0
    run "$exe" "$log" || status=$?
  fi
  if [ "$status" -ne 0 ]; then
    echo "valgrind: $name FAILED (status $status)"; cat "$log"; failed=1
  fi
done < <(list_bins -p cogen -p cogen-core --tests; list_bins -p cogen-ops --lib)
exit $failed
