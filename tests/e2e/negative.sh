#!/usr/bin/env bash
# Failures must be fast, non-zero and say what to do.
# usage: negative.sh P2PQUIC MODE
#   noserver  nothing listens: exits 1 at once (ICMP port unreachable), says so
#   silent    a socket that never answers: exits 1 after the handshake timeout
#   wrongpin  the server's key is not the pinned one: exits 1, says so
#   refused   missing file and a path with "..": exit 1, no output file left
#   shutdown  the server stops mid-transfer: the client hears it at once
#   usage     bad command lines exit 2 with a hint
bin=${1:?usage: negative.sh P2PQUIC MODE}
mode=${2:?usage: negative.sh P2PQUIC MODE}
. "$(dirname "$0")/lib.sh"

mkdir "$work/www"
echo hello >"$work/www/hello.txt"

expect_fail() { # CODE PATTERN command...
  local code=$1 pat=$2 rc=0
  shift 2
  "$@" >"$work/out.txt" 2>"$work/err.txt" || rc=$?
  [ "$rc" -eq "$code" ] || fail "'$*' exited $rc, want $code: $(cat "$work/err.txt")"
  grep -q -- "$pat" "$work/err.txt" || fail "'$*' did not say '$pat': $(cat "$work/err.txt")"
}

case $mode in
noserver)
  # a port that surely has no server: one ours just left
  start_server "$work/www"
  stop_server
  start=$(date +%s)
  expect_fail 1 "nothing listens on $addr" \
    "$bin" fetch "https://$addr/hello.txt" -o "$work/got" --insecure --timeout 5
  [ $(($(date +%s) - start)) -le 3 ] || fail "took too long to notice"
  [ ! -e "$work/got" ] || fail "left an output file behind"
  ;;
silent)
  # bound but mute: a stopped server keeps its socket, so no ICMP comes back
  # and only the handshake timeout ends the fetch
  start_server "$work/www"
  kill -STOP "$srv_pid"
  start=$(date +%s)
  rc=0
  "$bin" fetch "https://$addr/hello.txt" -o "$work/got" --insecure --timeout 2 \
    2>"$work/err.txt" || rc=$?
  kill -CONT "$srv_pid"
  [ "$rc" -eq 1 ] || fail "fetch exited $rc, want 1: $(cat "$work/err.txt")"
  grep -q "no QUIC answer from $addr within 2 s" "$work/err.txt" ||
    fail "no timeout message: $(cat "$work/err.txt")"
  [ $(($(date +%s) - start)) -le 5 ] || fail "took longer than the handshake timeout"
  ;;
wrongpin)
  start_server "$work/www"
  expect_fail 1 "does not match --pin" "$bin" fetch "https://$addr/hello.txt" -o "$work/got" \
    --pin "sha256:$(printf '%064d' 0)"
  ;;
refused)
  start_server "$work/www"
  expect_fail 1 "server refused /nothere" "$bin" fetch "https://$addr/nothere" -o "$work/got" \
    --pin "$fp"
  [ ! -e "$work/got" ] || fail "left an output file behind"
  expect_fail 1 "server refused /../etc/passwd" "$bin" fetch "https://$addr/../etc/passwd" \
    -o "$work/got" --pin "$fp"
  # the server still serves afterwards
  "$bin" fetch "https://$addr/hello.txt" -o "$work/got" --pin "$fp" 2>/dev/null ||
    fail "server stopped serving after refusals"
  same_file "$work/www/hello.txt" "$work/got"
  ;;
shutdown)
  truncate -s 4G "$work/www/big.bin" # sparse: reads as zeros, costs no disk
  start_server "$work/www"
  "$bin" fetch "https://$addr/big.bin" -o "$work/big.out" --pin "$fp" 2>"$work/err.txt" &
  cli=$!
  # stop the server once data flows (bounded: 20 s)
  for _ in $(seq 400); do
    [ -s "$work/big.out" ] && break
    kill -0 "$cli" 2>/dev/null || break
    sleep 0.05
  done
  [ -s "$work/big.out" ] || fail "no data arrived: $(cat "$work/err.txt")"
  stop_server
  start=$(date +%s)
  rc=0
  wait "$cli" || rc=$?
  [ "$rc" -eq 1 ] || fail "fetch exited $rc, want 1: $(cat "$work/err.txt")"
  [ $(($(date +%s) - start)) -le 3 ] || fail "the client did not hear the server closing"
  grep -q "closed by peer" "$work/err.txt" || fail "no 'closed by peer': $(cat "$work/err.txt")"
  [ ! -e "$work/big.out" ] || fail "left a partial file behind"
  ;;
usage)
  expect_fail 2 "usage: p2pquic COMMAND" "$bin"
  expect_fail 2 "unknown command 'frobnicate'" "$bin" frobnicate
  expect_fail 2 "fetch needs at least one URL" "$bin" fetch -o x --insecure
  expect_fail 2 "fetch needs -o PATH" "$bin" fetch https://127.0.0.1:1/x --insecure
  expect_fail 2 "say how to check the server" "$bin" fetch https://127.0.0.1:1/x -o x
  expect_fail 2 "is not a fingerprint" "$bin" fetch https://127.0.0.1:1/x -o x --pin abc
  expect_fail 2 "only https:// URLs" "$bin" fetch http://127.0.0.1:1/x -o x --insecure
  expect_fail 2 "same server" "$bin" fetch https://127.0.0.1:1/x https://127.0.0.1:2/y -o d \
    --insecure
  expect_fail 2 "serve needs --root" "$bin" serve --listen 127.0.0.1:0
  expect_fail 2 "cannot parse --listen" "$bin" serve --root "$work/www" --listen nowhere
  expect_fail 1 "cannot bind 192.0.2.1:4433" "$bin" serve --root "$work/www" \
    --listen 192.0.2.1:4433
  expect_fail 2 "keygen needs -o FILE" "$bin" keygen
  "$bin" help fetch | grep -q -- '--pin FINGERPRINT' || fail "help fetch lacks --pin"
  ;;
*) echo "unknown mode $mode" >&2; exit 2 ;;
esac
echo "ok: $mode"
