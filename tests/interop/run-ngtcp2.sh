#!/usr/bin/env bash
# HTTP/3 interop between p2pquic and Debian's ngtcp2 0.12 examples (gtlsserver,
# gtlsclient; GnuTLS backend, ALPN h3) on 127.0.0.1.
#   run-ngtcp2.sh MODE P2PQUIC WORKDIR
# MODE:
#   fetch-from-gtlsserver   p2pquic fetch <- gtlsserver: 1 MB, 100 MB and a small
#                           file in one connection; a missing file is a 404 and
#                           fails the fetch while the others are saved
#   gtlsclient-from-serve   gtlsclient --download <- p2pquic serve (same files and
#                           an empty one)
#   gtlsclient-migrate      gtlsclient --change-local-addr: the client moves to a
#                           new port mid-transfer, with path validation
#   gtlsclient-rebind       --nat-rebinding (a new port, no validation by the client);
#                           the requests leave after the move (see below)
#   gtlsclient-keyupdate    gtlsclient --key-update: the server follows the update
#   fetch-keyupdate         p2pquic fetch --key-update N against gtlsserver
#   gtlsclient-status       p2pquic serve's error statuses: POST 405 (with allow),
#                           a ".." path 400, a missing file 404, a file 200
# Files are compared by sha256; every wait is bounded; a missing tool fails.
set -euo pipefail

mode=${1:?mode}
p2pquic=${2:?path to p2pquic}
work=${3:?work dir}
TIMEOUT=${INTEROP_TIMEOUT:-50}

fail() {
  echo "FAIL [$mode]: $*" >&2
  for f in "$work"/*.log; do
    [ -s "$f" ] && { echo "--- $f (last lines)" >&2; tail -15 "$f" >&2; }
  done
  exit 1
}
[ -x "$p2pquic" ] || fail "p2pquic not built at $p2pquic (cmake --build BUILD --target p2pquic)"
for t in gtlsserver gtlsclient certtool sha256sum timeout head python3; do
  command -v $t >/dev/null || fail "$t not found (apt-get install ngtcp2-server ngtcp2-client gnutls-bin coreutils python3)"
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

# Names are not all-digit: gtlsserver answers /1000 with generated zeros.
head -c 1048576 /dev/urandom >"$work/www/f1m.bin"
printf 'hello, h3\n' >"$work/www/small.txt"
: >"$work/www/empty.bin"
case "$mode" in
fetch-from-gtlsserver | gtlsclient-from-serve)
  head -c 104857600 /dev/urandom >"$work/www/f100m.bin"
  FILES="f1m.bin f100m.bin small.txt" ;;
gtlsclient-migrate | gtlsclient-rebind | gtlsclient-keyupdate)
  # big enough that the transfer is still running when the client acts
  head -c 52428800 /dev/urandom >"$work/www/f50m.bin"
  FILES="f50m.bin small.txt" ;;
*) FILES="f1m.bin small.txt" ;;
esac

free_port() {
  python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

check_files() {
  local dir=$1
  for f in "$@"; do
    [ "$f" = "$dir" ] && continue
    [ -f "$dir/$f" ] || fail "$f was not saved in $dir"
    [ "$(sha256sum <"$work/www/$f")" = "$(sha256sum <"$dir/$f")" ] ||
      fail "$f differs from the served file ($(stat -c %s "$dir/$f") of $(stat -c %s "$work/www/$f") bytes)"
  done
}

urls() {
  local port=$1
  shift
  for f in "$@"; do printf 'https://127.0.0.1:%s/%s\n' "$port" "$f"; done
}

start_gtlsserver() {
  certtool --generate-privkey --key-type ecdsa --outfile "$work/key.pem" >/dev/null 2>&1 ||
    fail "certtool could not make a key"
  printf 'cn = localhost\nexpiration_days = 30\ntls_www_server\nsigning_key\nip_address = 127.0.0.1\n' >"$work/tmpl"
  certtool --generate-self-signed --load-privkey "$work/key.pem" --template "$work/tmpl" \
    --outfile "$work/cert.pem" >/dev/null 2>&1 || fail "certtool could not make a certificate"
  port=$(free_port)
  gtlsserver -q -d "$work/www" 127.0.0.1 "$port" "$work/key.pem" "$work/cert.pem" \
    >"$work/gtlsserver.log" 2>&1 &
  server_pid=$!
  sleep 0.3
  kill -0 "$server_pid" 2>/dev/null || fail "gtlsserver exited at once"
}

start_serve() {
  "$p2pquic" serve --root "$work/www" --listen 127.0.0.1:0 -v >"$work/serve.out" 2>"$work/serve.log" &
  server_pid=$!
  for _ in $(seq 200); do
    grep -q '^fingerprint ' "$work/serve.out" 2>/dev/null && break
    kill -0 "$server_pid" 2>/dev/null || fail "p2pquic serve exited early"
    sleep 0.05
  done
  port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/serve.out" | head -1)
  [ -n "$port" ] || fail "p2pquic serve printed no address"
}

# Stops serve with SIGTERM so that its -v summary (key updates, paths) is written.
stop_serve() {
  kill -TERM "$server_pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
  server_pid=
}

run_gtlsclient() { # extra options...; downloads FILES into $work/out
  local rc=0
  # shellcheck disable=SC2046
  timeout "$TIMEOUT" gtlsclient --exit-on-all-streams-close --download="$work/out" "$@" \
    127.0.0.1 "$port" $(urls "$port" $FILES) >"$work/gtlsclient.log" 2>&1 || rc=$?
  [ "$rc" -ne 124 ] || fail "gtlsclient did not finish within $TIMEOUT s"
  [ "$rc" -eq 0 ] || fail "gtlsclient exited with $rc"
  check_files "$work/out" $FILES
}

case "$mode" in
fetch-from-gtlsserver)
  start_gtlsserver
  # shellcheck disable=SC2046
  timeout "$TIMEOUT" "$p2pquic" fetch --ca "$work/cert.pem" -o "$work/out" \
    $(urls "$port" $FILES) >"$work/fetch.log" 2>&1 || fail "p2pquic fetch failed ($?)"
  check_files "$work/out" $FILES
  # a 404 fails the fetch (exit 1) and names the URL; the other file is saved
  rm -rf "$work/out2"
  rc=0
  timeout "$TIMEOUT" "$p2pquic" fetch --ca "$work/cert.pem" -o "$work/out2" \
    "https://127.0.0.1:$port/f1m.bin" "https://127.0.0.1:$port/nothere.bin" \
    >"$work/fetch404.log" 2>&1 || rc=$?
  [ "$rc" -eq 1 ] || fail "fetch of a missing file exited with $rc, not 1"
  grep -q 'nothere.bin (status 404' "$work/fetch404.log" || fail "no 404 message for /nothere.bin"
  check_files "$work/out2" f1m.bin
  [ ! -e "$work/out2/nothere.bin" ] || fail "the failed download left a file"
  ;;
fetch-keyupdate)
  start_gtlsserver
  # shellcheck disable=SC2046
  timeout "$TIMEOUT" "$p2pquic" fetch -v --key-update 50 --ca "$work/cert.pem" -o "$work/out" \
    $(urls "$port" $FILES) >"$work/fetch.log" 2>&1 || fail "p2pquic fetch failed ($?)"
  check_files "$work/out" $FILES
  n=$(grep -c '^p2pquic: key update' "$work/fetch.log" || true)
  [ "$n" -ge 3 ] || fail "fetch started $n key updates, wanted at least 3"
  ;;
gtlsclient-from-serve)
  start_serve
  FILES="$FILES empty.bin"
  run_gtlsclient -q
  ;;
gtlsclient-migrate | gtlsclient-rebind)
  start_serve
  extra=()
  # --nat-rebinding: the client's port changes without path validation. A
  # client that only downloads sends nothing afterwards and gtlsclient drops
  # what still reaches its old port, so no server (ngtcp2's own neither) could
  # follow it mid-transfer: the requests go out after the move (--delay-stream)
  [ "$mode" = gtlsclient-rebind ] && extra=(--nat-rebinding --delay-stream=300ms)
  run_gtlsclient -q --timeout=5s --change-local-addr=100ms "${extra[@]}"
  stop_serve
  grep -q 'client moved to 127.0.0.1:' "$work/serve.log" ||
    fail "the server never saw the client move (no 'client moved to' line)"
  ;;
gtlsclient-keyupdate)
  start_serve
  run_gtlsclient -q --key-update=100ms
  stop_serve
  n=$(sed -n 's/.*key updates \([0-9]*\).*/\1/p' "$work/serve.log" | head -1)
  [ -n "$n" ] && [ "$n" -ge 1 ] || fail "the server saw no key update (serve -v: '${n:-none}')"
  ;;
gtlsclient-status)
  start_serve
  status_of() { # method path -> the response's :status as gtlsclient logs it
    timeout 20 gtlsclient --exit-on-all-streams-close -m "$1" 127.0.0.1 "$port" \
      "https://127.0.0.1:$port$2" >"$work/gtlsclient.log" 2>&1 || true
    sed -n 's/.*\[:status: \([0-9]*\)\].*/\1/p' "$work/gtlsclient.log" | head -1
  }
  [ "$(status_of GET /small.txt)" = 200 ] || fail "GET /small.txt was not 200"
  [ "$(status_of GET /nothere.bin)" = 404 ] || fail "GET /nothere.bin was not 404"
  [ "$(status_of GET /x/../../etc/passwd)" = 400 ] || fail "a path with .. was not 400"
  [ "$(status_of POST /small.txt)" = 405 ] || fail "POST was not 405"
  grep -q '\[allow: GET, HEAD\]' "$work/gtlsclient.log" || fail "405 without allow: GET, HEAD"
  ;;
*) fail "unknown mode" ;;
esac
echo "PASS [$mode]"
