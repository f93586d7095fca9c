#!/usr/bin/env bash
# HTTP/3 interop between p2pquic and quic-go 0.29's http3 package on 127.0.0.1.
#   run-quicgo-h3.sh MODE P2PQUIC QUICGO_H3 WORKDIR
# MODE:
#   fetch-from-quicgo  p2pquic fetch --alpn h3 <- quicgo-h3 server (http.FileServer);
#                      a missing file must give exit 1 and no output file
#   quicgo-from-serve  quicgo-h3 client <- p2pquic serve; a missing file must fail
# Every file is checked by sha256; every wait is bounded; a trap stops the server.
set -euo pipefail

mode=${1:?mode}
p2pquic=${2:?path to p2pquic}
quicgo=${3:?path to quicgo-h3}
work=${4:?work dir}
TIMEOUT=${INTEROP_TIMEOUT:-120}

fail() { echo "FAIL [h3 $mode]: $*" >&2; exit 1; }
[ -x "$p2pquic" ] || fail "p2pquic not built at $p2pquic (cmake --build BUILD --target p2pquic)"
[ -x "$quicgo" ] || fail "quicgo-h3 not built at $quicgo (go not found? run scripts/install-deps.sh; the interop/quicgo-h3_build test builds it)"
for t in sha256sum timeout head; do
  command -v $t >/dev/null || fail "$t not found (coreutils)"
done

rm -rf "$work"
mkdir -p "$work/www" "$work/out"
server_pid=
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$server_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT

head -c 10485760 /dev/urandom > "$work/www/f10m.bin"
printf 'hello, h3\n' > "$work/www/small.txt"
FILES="f10m.bin small.txt"

# start_server CMD...: background, bounded wait for "listening on ADDR:PORT"
# and "fingerprint FP"; sets PORT and FP.
start_server() {
  "$@" > "$work/server.out" 2> "$work/server.err" &
  server_pid=$!
  for _ in $(seq 100); do
    grep -q '^fingerprint ' "$work/server.out" 2>/dev/null && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.err" >&2; fail "server died at start"; }
    sleep 0.1
  done
  PORT=$(sed -n 's/^listening on .*:\([0-9][0-9]*\) .*/\1/p' "$work/server.out")
  FP=$(sed -n 's/^fingerprint //p' "$work/server.out")
  [ -n "$PORT" ] && [ -n "$FP" ] || { cat "$work/server.out" "$work/server.err" >&2; fail "server did not print its port and fingerprint within 10 s"; }
  echo "server: $* on port $PORT ($FP)"
}

stop_server() {
  kill "$server_pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$server_pid" 2>/dev/null && fail "server did not stop on SIGTERM within 5 s"
  wait "$server_pid" 2>/dev/null || true
  server_pid=
}

urls() { for f in $FILES; do printf 'https://127.0.0.1:%s/%s ' "$PORT" "$f"; done; }

check_files() {
  local f a b
  for f in $FILES; do
    [ -f "$work/out/$f" ] || fail "$f was not saved"
    a=$(sha256sum < "$work/www/$f"); b=$(sha256sum < "$work/out/$f")
    [ "$a" = "$b" ] || fail "$f differs from the served file (sha256 ${a%% *} vs ${b%% *})"
  done
  echo "ok: $(echo $FILES | wc -w) files identical (sha256)"
}

run_client() {
  local rc=0
  timeout "$TIMEOUT" "$@" > "$work/client.log" 2>&1 || rc=$?
  cat "$work/client.log"
  [ $rc -eq 124 ] && fail "client did not finish within $TIMEOUT s"
  [ $rc -eq 0 ] || { cat "$work/server.err" >&2; fail "client exited with $rc"; }
}

# A missing file: exit 1 (not a usage error, not a timeout), no file left.
expect_not_found() {
  local rc=0
  rm -rf "$work/out404"
  mkdir -p "$work/out404"
  timeout 30 "$@" > "$work/client404.log" 2>&1 || rc=$?
  cat "$work/client404.log"
  [ $rc -eq 1 ] || fail "fetching a missing file gave exit code $rc (want 1)"
  [ ! -e "$work/out404/nope.bin" ] || fail "a partial nope.bin was left behind"
  echo "ok: missing file refused (exit $rc)"
}

case "$mode" in
fetch-from-quicgo)
  start_server "$quicgo" server -listen 127.0.0.1:0 -root "$work/www"
  run_client "$p2pquic" fetch --alpn h3 --pin "$FP" -o "$work/out" $(urls)
  check_files
  expect_not_found "$p2pquic" fetch --alpn h3 --pin "$FP" -o "$work/out404/nope.bin" \
    "https://127.0.0.1:$PORT/nope.bin"
  grep -q 404 "$work/client404.log" || fail "p2pquic fetch did not report the 404"
  stop_server ;;
quicgo-from-serve)
  start_server "$p2pquic" serve --root "$work/www" --listen 127.0.0.1:0
  run_client "$quicgo" client -pin "$FP" -o "$work/out" -timeout "${TIMEOUT}s" $(urls)
  check_files
  expect_not_found "$quicgo" client -pin "$FP" -o "$work/out404" -timeout 20s \
    "https://127.0.0.1:$PORT/nope.bin"
  grep -q 'status 404' "$work/client404.log" || fail "quicgo-h3 did not get a 404"
  stop_server ;;
*) fail "unknown mode" ;;
esac
rm -rf "$work/www" "$work/out" # logs stay for a look
echo "PASS [h3 $mode]"
