#!/usr/bin/env bash
# The chat example's real-browser test: builds `chat`, starts it on a free loopback port,
# runs chat.mjs (headless Chromium, two pages) against it, and stops the server on every
# path. Exits with chat.mjs's status; the server's log is printed when it fails.
#
# Needs /usr/bin/chromium (Debian's `chromium`) and `npm ci` done in this folder.
# Run: bash examples/browser-test/run.sh [CHAT ARGUMENTS...]   (e.g. --workers 2)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

if [ ! -d "$here/node_modules/playwright-core" ]; then
  echo "run.sh: playwright-core is missing: run 'npm ci' in $here" >&2
  exit 1
fi

cargo build -q -p cogen-examples --bin chat
bin="${CARGO_TARGET_DIR:-$root/target}/debug/chat"

tmp="$(mktemp -d)"
server=""
cleanup() {
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$bin" --addr 127.0.0.1:0 "$@" >"$tmp/stdout" 2>"$tmp/stderr" &
server=$!

# The first line of its stdout is "chat listening on http://127.0.0.1:PORT/".
url=""
for _ in $(seq 100); do
  url="$(head -n 1 "$tmp/stdout" | grep -o 'http://[^ ]*' || true)"
  [ -n "$url" ] && break
  if ! kill -0 "$server" 2>/dev/null; then
    echo "run.sh: the chat server exited before listening:" >&2
    cat "$tmp/stderr" >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$url" ]; then
  echo "run.sh: the chat server printed no URL within 10 s" >&2
  exit 1
fi
echo "run.sh: chat server at $url"

status=0
node "$here/chat.mjs" "$url" || status=$?
if [ "$status" -ne 0 ]; then
  echo "run.sh: the browser test failed ($status); the server's log:" >&2
  tail -n 50 "$tmp/stderr" >&2
fi
exit "$status"
