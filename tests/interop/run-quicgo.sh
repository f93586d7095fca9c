#!/usr/bin/env bash
# Interop between p2pquic and quic-go 0.29 over hq-interop on 127.0.0.1.
#   run-quicgo.sh MODE P2PQUIC QUICGO_HQ WORKDIR
# MODE:
#   fetch-from-quicgo    p2pquic fetch  <- quicgo-hq server   (handshake, 10 MB + more files)
#   quicgo-from-serve    quicgo-hq client <- p2pquic serve
#   fetch-from-quicgo-{aes256,chacha20}  the same with only that TLS suite allowed
#   quicgo-from-serve-{aes256,chacha20}  the same with only that TLS suite offered
#   quicgo-from-serve-retry              p2pquic serve --retry; quic-go must see a Retry
#   fetch-from-quicgo-ca-{ecdsa,ed25519}  quic-go serves an X.509 certificate (certtool);
#                        p2pquic fetch --ca verifies it (and fails with the wrong CA)
#   quicgo-from-serve-ca-{ecdsa,ed25519}  p2pquic serve --cert/--key; quicgo-hq -ca verifies
#   many-streams-serve   quicgo-hq client fetches 150 files (> the 100-stream initial
#                        limit) in one connection from p2pquic serve
#   many-streams-fetch   p2pquic fetch does the same against quicgo-hq server
#   peer-keyupdate-fetch p2pquic fetch follows the quic-go server's key updates
#   peer-keyupdate-serve p2pquic serve follows the quic-go client's key updates
#   own-keyupdate-fetch  p2pquic fetch starts key updates (needs fetch --key-update N)
#   {peer,own}-keyupdate-fetch-nodrop  the same, and p2pquic may drop at most 1 % of
#                        the datagrams it receives (from fetch -v's statistics)
# Every file is checked by sha256; every wait is bounded; a missing tool fails.
set -euo pipefail

mode=${1:?mode}
p2pquic=${2:?path to p2pquic}
quicgo=${3:?path to quicgo-hq}
work=${4:?work dir}
TIMEOUT=${INTEROP_TIMEOUT:-120}
# quic-go's key update interval in packets: small enough for dozens of updates in 10 MB
KU_INTERVAL=${INTEROP_KU_INTERVAL:-100}

fail() { echo "FAIL [$mode]: $*" >&2; exit 1; }
[ -x "$p2pquic" ] || fail "p2pquic not built at $p2pquic (cmake --build BUILD --target p2pquic)"
[ -x "$quicgo" ] || fail "quicgo-hq not built at $quicgo (go not found? run scripts/install-deps.sh; the interop/quicgo_build test builds it)"
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

# Test files: a 10 MB random file and a few odd sizes (names not all-digit).
head -c 10485760 /dev/urandom > "$work/www/f10m.bin"
head -c 100007 /dev/urandom > "$work/www/f100k.bin"
printf 'hello, quic\n' > "$work/www/small.txt"
: > "$work/www/empty.bin" # a response that is only a FIN
FILES="f10m.bin f100k.bin small.txt empty.bin"
case "$mode" in many-streams-*)
  # more requests than either side's initial bidi stream limit (100): the
  # server must raise it with MAX_STREAMS, the client must wait for it
  rm -f "$work/www/"*
  FILES=
  for i in $(seq 1 150); do
    head -c $((i * 37)) /dev/urandom > "$work/www/s$i.bin"
    FILES="$FILES s$i.bin"
  done ;;
esac

. "$(dirname "$0")/lib.sh" # start_server, stop_server, urls, check_files, run_client, expect_not_found

# key_updates_of FILE: the count quicgo-hq printed ("N initiated here, M by the peer").
key_updates() {
  sed -n 's/.*key updates: \([0-9]*\) initiated here, \([0-9]*\) by the peer.*/\1 \2/p' "$1" | tail -1
}

# make_cert TYPE: a self-signed CA certificate for localhost / 127.0.0.1 and
# its key ($work/TYPE.pem, $work/TYPE.key), and one for another key ($work/other.pem).
make_cert() {
  command -v certtool >/dev/null || fail "certtool not found: run scripts/install-deps.sh (gnutls-bin)"
  printf 'cn = localhost\ndns_name = localhost\nip_address = 127.0.0.1\nexpiration_days = 30\nca\ntls_www_server\nsigning_key\ncert_signing_key\n' > "$work/cert.tmpl"
  for k in "$1" other; do
    certtool --generate-privkey --key-type "$1" --outfile "$work/$k.key" > /dev/null 2>&1 &&
      certtool --generate-self-signed --load-privkey "$work/$k.key" --template "$work/cert.tmpl" \
        --outfile "$work/$k.pem" > /dev/null 2>&1 || fail "certtool could not make a $1 certificate"
  done
}

# check_drops: from fetch -v ("packets sent S recv R ...", "datagrams rx D in
# ..."), received datagrams that gave no packet (failed to decrypt) must stay
# under 1 %; without key updates the two counts are equal.
check_drops() {
  local pk dg
  pk=$(sed -n 's/.*packets sent [0-9]* recv \([0-9]*\).*/\1/p' "$work/client.log" | tail -1)
  dg=$(sed -n 's/.*datagrams rx \([0-9]*\) in.*/\1/p' "$work/client.log" | tail -1)
  [ -n "$pk" ] && [ -n "$dg" ] || fail "no statistics from fetch -v"
  [ $(( (dg - pk) * 100 )) -le "$dg" ] ||
    fail "p2pquic dropped $((dg - pk)) of $dg datagrams (> 1 %) around key updates"
  echo "ok: $((dg - pk)) of $dg datagrams dropped"
}

case "$mode" in
fetch-from-quicgo|fetch-from-quicgo-aes256|fetch-from-quicgo-chacha20)
  cipher=${mode#fetch-from-quicgo}
  start_server "$quicgo" server -listen 127.0.0.1:0 -root "$work/www" ${cipher:+-cipher ${cipher#-}}
  run_client "$p2pquic" fetch --pin "$FP" -o "$work/out" $(urls)
  check_files
  expect_not_found "$p2pquic" fetch --pin "$FP" -o "$work/out404/nope.bin" "https://127.0.0.1:$PORT/nope.bin"
  stop_server ;;
quicgo-from-serve|quicgo-from-serve-aes256|quicgo-from-serve-chacha20|quicgo-from-serve-retry)
  opt=${mode#quicgo-from-serve}
  case $opt in
  -retry) sopt=--retry copt=-want-retry ;;
  -*) sopt= copt="-cipher ${opt#-}" ;;
  *) sopt= copt= ;;
  esac
  start_server "$p2pquic" serve --root "$work/www" --listen 127.0.0.1:0 $sopt
  run_client "$quicgo" client -v -pin "$FP" -o "$work/out" -timeout "${TIMEOUT}s" $copt $(urls)
  check_files
  expect_not_found "$quicgo" client -pin "$FP" -o "$work/out404" "https://127.0.0.1:$PORT/nope.bin"
  stop_server ;;
fetch-from-quicgo-ca-ecdsa|fetch-from-quicgo-ca-ed25519)
  kt=${mode##*-}
  make_cert "$kt"
  start_server "$quicgo" server -listen 127.0.0.1:0 -root "$work/www" -cert "$work/$kt.pem" -key "$work/$kt.key"
  run_client "$p2pquic" fetch --ca "$work/$kt.pem" -o "$work/out" $(urls | sed 's#127.0.0.1#localhost#g')
  check_files
  rc=0
  timeout 30 "$p2pquic" fetch --ca "$work/other.pem" -o "$work/wrongca.txt" "https://localhost:$PORT/small.txt" \
    > "$work/client-wrongca.log" 2>&1 || rc=$?
  cat "$work/client-wrongca.log"
  [ $rc -eq 1 ] || fail "fetch --ca with the wrong CA gave exit code $rc (want 1)"
  grep -qi 'tls\|certificate\|verif' "$work/client-wrongca.log" || fail "fetch failed, but not for the certificate"
  echo "ok: the wrong CA is refused"
  stop_server ;;
quicgo-from-serve-ca-ecdsa|quicgo-from-serve-ca-ed25519)
  kt=${mode##*-}
  make_cert "$kt"
  start_server "$p2pquic" serve --root "$work/www" --listen 127.0.0.1:0 --cert "$work/$kt.pem" --key "$work/$kt.key"
  run_client "$quicgo" client -ca "$work/$kt.pem" -o "$work/out" -timeout "${TIMEOUT}s" $(urls)
  check_files
  rc=0
  timeout 30 "$quicgo" client -ca "$work/other.pem" -o "$work/out404" "https://127.0.0.1:$PORT/small.txt" \
    > "$work/client-wrongca.log" 2>&1 || rc=$?
  cat "$work/client-wrongca.log"
  [ $rc -eq 1 ] || fail "quicgo-hq -ca with the wrong CA gave exit code $rc (want 1)"
  grep -q 'x509' "$work/client-wrongca.log" || fail "quicgo-hq failed, but not for the certificate"
  echo "ok: the wrong CA is refused"
  stop_server ;;
many-streams-serve)
  start_server "$p2pquic" serve --root "$work/www" --listen 127.0.0.1:0
  run_client "$quicgo" client -pin "$FP" -o "$work/out" -timeout "${TIMEOUT}s" $(urls)
  check_files
  stop_server ;;
many-streams-fetch)
  start_server "$quicgo" server -listen 127.0.0.1:0 -root "$work/www"
  run_client "$p2pquic" fetch --pin "$FP" -o "$work/out" $(urls)
  check_files
  stop_server ;;
peer-keyupdate-fetch|peer-keyupdate-fetch-nodrop)
  start_server "$quicgo" server -listen 127.0.0.1:0 -root "$work/www" -keyupdate $KU_INTERVAL
  run_client "$p2pquic" fetch -v --pin "$FP" -o "$work/out" $(urls)
  [ "$mode" = peer-keyupdate-fetch ] || check_drops
  check_files
  stop_server
  read -r here peer <<< "$(key_updates "$work/server.err")"
  [ "${here:-0}" -ge 3 ] || fail "the quic-go server made ${here:-no} key updates (want >= 3)"
  echo "ok: p2pquic fetch followed $here key updates of the quic-go server" ;;
peer-keyupdate-serve)
  start_server "$p2pquic" serve --root "$work/www" --listen 127.0.0.1:0
  run_client "$quicgo" client -pin "$FP" -o "$work/out" -timeout "${TIMEOUT}s" \
    -keyupdate $KU_INTERVAL -min-key-updates 3 $(urls)
  check_files
  read -r here peer <<< "$(key_updates "$work/client.log")"
  echo "ok: p2pquic serve followed $here key updates of the quic-go client"
  stop_server ;;
own-keyupdate-fetch|own-keyupdate-fetch-nodrop)
  "$p2pquic" help fetch | grep -q -- '--key-update' ||
    fail "p2pquic fetch has no --key-update N option (start a key update every N packets / after N bytes); ask the CLI owner"
  start_server "$quicgo" server -listen 127.0.0.1:0 -root "$work/www"
  run_client "$p2pquic" fetch -v --pin "$FP" --key-update 100 -o "$work/out" $(urls)
  [ "$mode" = own-keyupdate-fetch ] || check_drops
  check_files
  stop_server
  read -r here peer <<< "$(key_updates "$work/server.err")"
  [ "${peer:-0}" -ge 3 ] || fail "quic-go saw ${peer:-no} key updates from p2pquic (want >= 3)"
  echo "ok: the quic-go server followed $peer key updates of p2pquic fetch" ;;
*) fail "unknown mode" ;;
esac
rm -rf "$work/www" "$work/out" # logs stay for a look
echo "PASS [$mode]"
