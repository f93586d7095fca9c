#!/usr/bin/env bash
# HTTP/3 in the p2pquic tool: serve answers h3 and hq-interop (per connection,
# by the negotiated ALPN); fetch prefers h3.
# usage: h3.sh P2PQUIC MODE
#   alpn     fetch (default), --alpn h3 and --alpn hq-interop against one server;
#            the server logs the ALPN each connection chose; the data is intact
#   status   h3 statuses: a missing file and a ".." path fail their URL (exit 1,
#            "status 404" / "status 400") while the other URLs are saved; no
#            output file is left for a failed URL
#   mixed    an h3 and an hq-interop client download at the same time
bin=${1:?usage: h3.sh P2PQUIC MODE}
mode=${2:?usage: h3.sh P2PQUIC MODE}
. "$(dirname "$0")/lib.sh"

mkdir "$work/www"
random_file "$work/www/f2.bin" 2000000
echo hello >"$work/www/hello.txt"
case $mode in
alpn)
  start_server "$work/www" -v
  for a in default h3 hq-interop; do
    opt=()
    [ $a = default ] || opt=(--alpn $a)
    "$bin" fetch "${opt[@]}" "https://$addr/f2.bin" "https://$addr/hello.txt" -o "$work/out-$a" \
      --pin "$fp" 2>"$work/fetch.err" || fail "fetch ($a) exited $?: $(cat "$work/fetch.err")"
    same_file "$work/www/f2.bin" "$work/out-$a/f2.bin"
    same_file "$work/www/hello.txt" "$work/out-$a/hello.txt"
  done
  stop_server
  [ "$(grep -c '^p2pquic: handshake done (ALPN h3)' "$work/serve.err")" -eq 2 ] ||
    fail "want two h3 connections: $(cat "$work/serve.err")"
  [ "$(grep -c '^p2pquic: handshake done (ALPN hq-interop)' "$work/serve.err")" -eq 1 ] ||
    fail "want one hq-interop connection: $(cat "$work/serve.err")"
  ;;
status)
  start_server "$work/www"
  rc=0
  "$bin" fetch "https://$addr/hello.txt" "https://$addr/nothere" "https://$addr/a/../../x" \
    -o "$work/out" --pin "$fp" 2>"$work/fetch.err" || rc=$?
  [ $rc -eq 1 ] || fail "fetch exited $rc, want 1: $(cat "$work/fetch.err")"
  grep -q 'server refused /nothere (status 404' "$work/fetch.err" || fail "no 404: $(cat "$work/fetch.err")"
  grep -q 'server refused /a/../../x (status 400' "$work/fetch.err" || fail "no 400: $(cat "$work/fetch.err")"
  grep -q '^fetched 1 of 3 files' "$work/fetch.err" || fail "bad summary: $(cat "$work/fetch.err")"
  same_file "$work/www/hello.txt" "$work/out/hello.txt"
  [ ! -e "$work/out/nothere" ] && [ ! -e "$work/out/x" ] || fail "a failed URL left a file"
  ;;
mixed)
  random_file "$work/www/f8.bin" 8000000
  start_server "$work/www"
  "$bin" fetch "https://$addr/f8.bin" -o "$work/got-h3" --pin "$fp" 2>"$work/f1.err" &
  p1=$!
  "$bin" fetch --alpn hq-interop "https://$addr/f8.bin" -o "$work/got-hq" --pin "$fp" \
    2>"$work/f2.err" &
  p2=$!
  wait $p1 || fail "h3 fetch failed: $(cat "$work/f1.err")"
  wait $p2 || fail "hq-interop fetch failed: $(cat "$work/f2.err")"
  same_file "$work/www/f8.bin" "$work/got-h3"
  same_file "$work/www/f8.bin" "$work/got-hq"
  ;;
*) fail "unknown mode $mode" ;;
esac
