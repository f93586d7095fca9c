#!/usr/bin/env bash
# End-to-end transfers over loopback: `p2pquic serve` and `p2pquic fetch`.
# usage: transfer.sh P2PQUIC MODE
#   pin       one 5 MB file, server identity pinned with the printed fingerprint
#   multi     three files (5 MB, 1 MB, empty) over one connection into a directory
#   insecure  one 5 MB file with --insecure, TLS secrets logged to $SSLKEYLOGFILE
#   ipv6      one server on [::1] and 127.0.0.1: 5 MB over each
#   rawkey    keygen, serve --key (RFC 7250 raw public key), fetch --pin
#   qlog      fetch --qlog DIR writes one .sqlog file
#   keyupdate fetch --key-update 100: several key updates, data intact
#   many      300 small files over one connection (past the server's 100-stream
#             limit) with only 64 file descriptors
bin=${1:?usage: transfer.sh P2PQUIC MODE}
mode=${2:?usage: transfer.sh P2PQUIC MODE}
. "$(dirname "$0")/lib.sh"

mkdir "$work/www"
random_file "$work/www/f5.bin" 5000000
case $mode in
pin)
  start_server "$work/www"
  "$bin" fetch "https://$addr/f5.bin" -o "$work/got.bin" --pin "$fp" 2>"$work/fetch.err" ||
    fail "fetch exited $?: $(cat "$work/fetch.err")"
  same_file "$work/www/f5.bin" "$work/got.bin"
  grep -q '^fetched 1 of 1 files, 5000000 bytes in .* MB/s)$' "$work/fetch.err" ||
    fail "no summary line: $(cat "$work/fetch.err")"
  ;;
multi)
  random_file "$work/www/f1.bin" 1000000
  : >"$work/www/empty.txt"
  start_server "$work/www" -v
  "$bin" fetch "https://$addr/f5.bin" "https://$addr/f1.bin" "https://$addr/empty.txt" \
    -o "$work/out" --pin "$fp" 2>"$work/fetch.err" || fail "fetch exited $?: $(cat "$work/fetch.err")"
  for f in f5.bin f1.bin empty.txt; do same_file "$work/www/$f" "$work/out/$f"; done
  grep -q '^fetched 3 of 3 files, 6000000 bytes' "$work/fetch.err" || fail "bad summary"
  # one connection carried all three
  stop_server
  [ "$(grep -c '^p2pquic: connection from' "$work/serve.err")" -eq 1 ] ||
    fail "expected exactly one connection: $(cat "$work/serve.err")"
  ;;
insecure)
  start_server "$work/www"
  SSLKEYLOGFILE="$work/keys.log" "$bin" fetch "https://$addr/f5.bin" -o "$work/got.bin" \
    --insecure 2>"$work/fetch.err" || fail "fetch exited $?: $(cat "$work/fetch.err")"
  same_file "$work/www/f5.bin" "$work/got.bin"
  grep -Eq '^CLIENT_TRAFFIC_SECRET_0 [0-9a-f]{64} [0-9a-f]{64,96}$' "$work/keys.log" ||
    fail "no key log lines in \$SSLKEYLOGFILE"
  ;;
ipv6)
  grep -qs ' lo$' /proc/net/if_inet6 || { echo "skipped: no IPv6 on lo"; exit 0; }
  # one server, two sockets: IPv6 first, then IPv4
  listen="[::1]:0" start_server "$work/www" --listen 127.0.0.1:0
  [[ $addr == "[::1]:"* ]] || fail "server listens on $addr"
  addr4=$(sed -n 's/^listening on \(127\.0\.0\.1:[0-9]*\) .*/\1/p' "$work/serve.out")
  [ -n "$addr4" ] || fail "no IPv4 listening line: $(cat "$work/serve.out")"
  "$bin" fetch "https://$addr/f5.bin" -o "$work/got.bin" --pin "$fp" 2>"$work/fetch.err" ||
    fail "fetch exited $?: $(cat "$work/fetch.err")"
  same_file "$work/www/f5.bin" "$work/got.bin"
  "$bin" fetch "https://$addr4/f5.bin" -o "$work/got4.bin" --pin "$fp" 2>"$work/fetch.err" ||
    fail "fetch over IPv4 exited $?: $(cat "$work/fetch.err")"
  same_file "$work/www/f5.bin" "$work/got4.bin"
  ;;
rawkey)
  kfp=$("$bin" keygen -o "$work/key.pem") || fail "keygen failed"
  [[ $kfp =~ ^sha256:[0-9a-f]{64}$ ]] || fail "keygen printed '$kfp'"
  [ "$(stat -c %a "$work/key.pem")" = 600 ] || fail "key file is not mode 600"
  "$bin" keygen -o "$work/key.pem" 2>/dev/null && fail "keygen overwrote a key without --force"
  start_server "$work/www" --key "$work/key.pem"
  [ "$fp" = "$kfp" ] || fail "serve printed $fp, keygen $kfp"
  "$bin" fetch "https://$addr/f5.bin" -o "$work/got.bin" --pin "$kfp" 2>"$work/fetch.err" ||
    fail "fetch exited $?: $(cat "$work/fetch.err")"
  same_file "$work/www/f5.bin" "$work/got.bin"
  ;;
qlog)
  start_server "$work/www" --qlog "$work/sq"
  "$bin" fetch "https://$addr/f5.bin" -o "$work/got.bin" --insecure --qlog "$work/cq" \
    2>"$work/fetch.err" || fail "fetch exited $?: $(cat "$work/fetch.err")"
  n=$(find "$work/cq" -name 'client-*.sqlog' | wc -l)
  [ "$n" -eq 1 ] || fail "expected one client qlog file, found $n"
  head -c 1 "$work/cq"/*.sqlog | od -An -tx1 | grep -q 1e || fail "qlog is not JSON-SEQ"
  stop_server
  [ "$(find "$work/sq" -name 'server-*.sqlog' | wc -l)" -eq 1 ] || fail "no server qlog file"
  ;;
keyupdate)
  start_server "$work/www"
  "$bin" fetch "https://$addr/f5.bin" -o "$work/got.bin" --pin "$fp" --key-update 100 -v \
    2>"$work/fetch.err" || fail "fetch exited $?: $(cat "$work/fetch.err")"
  same_file "$work/www/f5.bin" "$work/got.bin"
  n=$(grep -c '^p2pquic: key update' "$work/fetch.err" || true)
  [ "$n" -ge 3 ] || fail "only $n key updates"
  ;;
many)
  mkdir "$work/many"
  for i in $(seq 300); do random_file "$work/many/m$i.bin" $((i * 37)); done
  start_server "$work/many" -v
  urls=$(for i in $(seq 300); do printf 'https://%s/m%s.bin ' "$addr" "$i"; done)
  # 256 at once: past the server's 100 streams, the rest wait for MAX_STREAMS
  # shellcheck disable=SC2086
  "$bin" fetch $urls -o "$work/out" --pin "$fp" 2>"$work/fetch.err" ||
    fail "fetch exited: $(tail -5 "$work/fetch.err")"
  diff -r "$work/many" "$work/out" >/dev/null || fail "fetched files differ"
  grep -q '^fetched 300 of 300 files' "$work/fetch.err" || fail "bad summary"
  # with 64 fds: fewer downloads at once, none fails for want of a descriptor
  # shellcheck disable=SC2086
  (ulimit -n 64 && "$bin" fetch $urls -o "$work/out64" --pin "$fp" 2>"$work/fetch.err") ||
    fail "fetch with 64 fds exited: $(tail -5 "$work/fetch.err")"
  diff -r "$work/many" "$work/out64" >/dev/null || fail "fetched files differ (64 fds)"
  stop_server
  [ "$(grep -c '^p2pquic: connection from' "$work/serve.err")" -eq 2 ] ||
    fail "not one connection per fetch"
  ;;
*) echo "unknown mode $mode" >&2; exit 2 ;;
esac
echo "ok: $mode"
