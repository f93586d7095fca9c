#!/usr/bin/env bash
# The main demo: `p2pquic serve` shares a 20 MB random file on loopback (an
# ephemeral self-signed key, a free port chosen by the kernel) and `p2pquic
# fetch` downloads it over QUIC, pinning the key by the fingerprint the server
# printed. The SHA-256 sums must match.
# usage: scripts/demo.sh [BUILD_DIR]   (default: build)
set -euo pipefail
build=${1:-build}
bin="$build/p2pquic"
[ -x "$bin" ] || { echo "demo: $bin not found; build first: make build" >&2; exit 1; }

work=$(mktemp -d)
srv_pid=
cleanup() {
  if [ -n "$srv_pid" ]; then
    kill "$srv_pid" 2>/dev/null || true
    wait "$srv_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

mkdir "$work/www"
head -c 20000000 /dev/urandom >"$work/www/demo.bin"
echo "== serving a 20 MB random file: $bin serve --root $work/www --listen 127.0.0.1:0"
"$bin" serve --root "$work/www" --listen 127.0.0.1:0 >"$work/serve.out" 2>"$work/serve.err" &
srv_pid=$!
for _ in $(seq 400); do
  grep -q '^fingerprint ' "$work/serve.out" 2>/dev/null && break
  if ! kill -0 "$srv_pid" 2>/dev/null; then
    echo "demo: p2pquic serve exited:" >&2
    cat "$work/serve.err" >&2
    exit 1
  fi
  sleep 0.05
done
sed 's/^/   /' "$work/serve.out"
addr=$(sed -n 's/^listening on \([^ ]*\).*/\1/p' "$work/serve.out")
fp=$(sed -n 's/^fingerprint //p' "$work/serve.out")
[ -n "$addr" ] && [ -n "$fp" ] || { echo "demo: the server printed no address" >&2; exit 1; }

echo "== fetching: $bin fetch https://$addr/demo.bin -o demo.bin --pin $fp"
"$bin" fetch "https://$addr/demo.bin" -o "$work/demo.bin" --pin "$fp"

want=$(sha256sum <"$work/www/demo.bin" | cut -d' ' -f1)
got=$(sha256sum <"$work/demo.bin" | cut -d' ' -f1)
echo "== sha256 served  $want"
echo "== sha256 fetched $got"
if [ "$want" != "$got" ]; then
  echo "demo: FAILED, the fetched file differs from the served one" >&2
  exit 1
fi
echo "demo: OK, 20 MB over QUIC with the server key pinned"
