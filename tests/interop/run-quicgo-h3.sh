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

. "$(dirname "$0")/lib.sh" # start_server, stop_server, urls, check_files, run_client, expect_not_found

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
