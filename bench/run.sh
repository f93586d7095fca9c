#!/usr/bin/env bash
# End-to-end benchmark: one file (BENCH_SIZE, default 1 GiB) over 127.0.0.1,
# client and server in separate processes, for
#   p2pquic   p2pquic serve + p2pquic fetch (HTTP/3, like the ngtcp2 pair)
#   p2pquic-hq the same over hq-interop (HTTP/0.9 over QUIC)
#   ngtcp2    Debian's gtlsserver + gtlsclient (HTTP/3)
#   quic-go   quicgo-hq server + client (tests/interop/quicgo, hq-interop)
#   iperf3    raw UDP, 1400-byte datagrams, unlimited rate: the ceiling
# Wall time is the client's, handshake included; CPU is user+sys of each
# process. Median of BENCH_RUNS (default 3) runs. Usage: bench/run.sh BUILD_DIR
set -uo pipefail

BUILD=$(cd "${1:?usage: bench/run.sh BUILD_DIR}" && pwd) || exit 1
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/.." && pwd)
RUNS=${BENCH_RUNS:-3}
SIZE_ARG=${BENCH_SIZE:-1G}
TIMEOUT=${BENCH_TIMEOUT:-300} # seconds per client run
PAIRS=${BENCH_PAIRS:-"p2pquic p2pquic-hq ngtcp2 quic-go iperf3"}
GIB=1073741824

SIZE=$(numfmt --from=iec "$SIZE_ARG" 2>/dev/null) || { echo "bench: bad BENCH_SIZE '$SIZE_ARG' (bytes, or 100M, 1G)" >&2; exit 2; }
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "bench: bad BENCH_RUNS '$RUNS'" >&2; exit 2; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/p2pq-bench.XXXXXX") || exit 1
SERVER_PID=
cleanup() {
  stop_server
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "bench: $*" >&2; }

# ---- processes ----

# start_server READY_REGEX CMD...: background server; waits (at most 10 s)
# for READY_REGEX in its output. Returns 1 if it died or never got ready.
start_server() {
  local ready=$1
  shift
  : > "$TMP/server.out"
  "$@" > "$TMP/server.out" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 100); do
    grep -qE "$ready" "$TMP/server.out" && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  log "server did not get ready: $* ($(tail -3 "$TMP/server.out" | tr '\n' ' '))"
  stop_server
  return 1
}

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill "$SERVER_PID" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$SERVER_PID" 2>/dev/null
  wait "$SERVER_PID" 2>/dev/null
  SERVER_PID=
}

# CPU seconds (user+sys, all threads) a live process has used so far.
proc_cpu() {
  local tck
  tck=$(getconf CLK_TCK)
  awk -v t="$tck" '{ sub(/^.*\) /, ""); printf "%.2f\n", ($12 + $13) / t }' "/proc/$1/stat" 2>/dev/null
}

# wait_port udp|tcp PORT: until the server process listens there (at most 10 s).
wait_port() {
  local flag=-Hlnu
  [ "$1" = tcp ] && flag=-Hlnt
  for _ in $(seq 100); do
    ss $flag "sport = :$2" 2>/dev/null | grep -q . && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

free_port() { # a port nothing listens on now (UDP and TCP), from a shuffled range
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 30000))
    ss -Hlnu "sport = :$p" 2>/dev/null | grep -q . || ss -Hlnt "sport = :$p" 2>/dev/null | grep -q . || { echo $p; return; }
  done
  echo 44433
}

# run_client CMD...: bounded client run; sets WALL (s) and CCPU (user+sys of
# the client, from bash's `times` for children: no /usr/bin/time needed).
# Output in $TMP/client.out. Returns the client's exit status.
run_client() {
  local rc t0 t1
  t0=$(date +%s.%N)
  timeout "$TIMEOUT" bash -c '"$@" > "$0" 2>&1; rc=$?; times > "$0.times"; exit $rc' \
    "$TMP/client.out" "$@"
  rc=$?
  t1=$(date +%s.%N)
  [ $rc -eq 124 ] && log "client timed out after $TIMEOUT s: $*"
  WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  # line 2 of `times`: children's user and system time, e.g. "0m1.234s 0m0.567s"
  CCPU=$(sed -n 2p "$TMP/client.out.times" 2>/dev/null | awk '{
    n = 0; for (i = 1; i <= 2; i++) { split($i, p, "m"); sub(/s$/, "", p[2]); n += p[1] * 60 + p[2] }
    printf "%.2f", n }')
  [ -n "$CCPU" ] || return 1
  return $rc
}

# ---- one run per pair: sets WALL (s), CCPU, SCPU (CPU-s) and MOVED (bytes) ----

run_p2pquic() {
  local bin="$BUILD/p2pquic" port fp alpn=${1:-h3}
  [ -x "$bin" ] || { log "p2pquic not built at $bin"; return 1; }
  start_server '^fingerprint ' "$bin" serve --root "$TMP/www" --listen 127.0.0.1:0 || return 1
  port=$(sed -n 's/^listening on .*:\([0-9][0-9]*\) .*/\1/p' "$TMP/server.out")
  fp=$(sed -n 's/^fingerprint //p' "$TMP/server.out")
  local s0; s0=$(proc_cpu "$SERVER_PID")
  run_client "$bin" fetch --alpn "$alpn" --pin "$fp" -o /dev/null "https://127.0.0.1:$port/f1g.bin" || {
    log "p2pquic fetch failed: $(tail -3 "$TMP/client.out" | tr '\n' ' ')"; stop_server; return 1; }
  SCPU=$(awk -v a="$s0" -v b="$(proc_cpu "$SERVER_PID")" 'BEGIN { printf "%.2f", b - a }')
  stop_server
  # the summary line: "fetched 1 of 1 files, N bytes in ..."
  MOVED=$(sed -n 's/.*files, \([0-9]*\) bytes.*/\1/p' "$TMP/client.out" | tail -1)
}

run_p2pquic_hq() { run_p2pquic hq-interop; }

run_ngtcp2() {
  local port
  command -v gtlsserver >/dev/null && command -v gtlsclient >/dev/null ||
    { log "gtlsserver/gtlsclient not found: run scripts/install-deps.sh (ngtcp2-server, ngtcp2-client)"; return 1; }
  port=$(free_port)
  # gtlsserver prints nothing when ready with -q: poll for its UDP socket
  "$(command -v gtlsserver)" -q -d "$TMP/www" 127.0.0.1 "$port" "$TMP/key.pem" "$TMP/cert.pem" \
    > "$TMP/server.out" 2>&1 &
  SERVER_PID=$!
  wait_port udp "$port" ||
    { log "gtlsserver did not start: $(tail -3 "$TMP/server.out" | tr '\n' ' ')"; stop_server; return 1; }
  local s0; s0=$(proc_cpu "$SERVER_PID")
  run_client gtlsclient -q --exit-on-all-streams-close 127.0.0.1 "$port" \
    "https://127.0.0.1:$port/f1g.bin" || { log "gtlsclient failed: $(tail -3 "$TMP/client.out" | tr '\n' ' ')"; stop_server; return 1; }
  SCPU=$(awk -v a="$s0" -v b="$(proc_cpu "$SERVER_PID")" 'BEGIN { printf "%.2f", b - a }')
  stop_server
  MOVED=$SIZE # gtlsclient -q reports nothing; it exits non-zero on errors
}

run_quicgo() {
  local bin="$BUILD/bench/quicgo-hq" port fp
  [ -x "$bin" ] || { log "quicgo-hq not built (go missing?): run scripts/install-deps.sh"; return 1; }
  start_server '^fingerprint ' "$bin" server -root "$TMP/www" -listen 127.0.0.1:0 || return 1
  port=$(sed -n 's/^listening on .*:\([0-9][0-9]*\) .*/\1/p' "$TMP/server.out")
  fp=$(sed -n 's/^fingerprint //p' "$TMP/server.out")
  local s0; s0=$(proc_cpu "$SERVER_PID")
  run_client "$bin" client -pin "$fp" -discard -timeout "${TIMEOUT}s" \
    "https://127.0.0.1:$port/f1g.bin" || { log "quicgo-hq client failed: $(tail -3 "$TMP/client.out" | tr '\n' ' ')"; stop_server; return 1; }
  SCPU=$(awk -v a="$s0" -v b="$(proc_cpu "$SERVER_PID")" 'BEGIN { printf "%.2f", b - a }')
  stop_server
  MOVED=$(sed -n 's/.*files, \([0-9]*\) bytes.*/\1/p' "$TMP/client.out" | tail -1)
}

run_iperf3() {
  local port line lost total
  command -v iperf3 >/dev/null || { log "iperf3 not found: run scripts/install-deps.sh"; return 1; }
  port=$(free_port)
  # iperf3 buffers its output when it is not a terminal: poll for its socket
  iperf3 -s -B 127.0.0.1 -p "$port" > "$TMP/server.out" 2>&1 &
  SERVER_PID=$!
  wait_port tcp "$port" || { log "iperf3 -s did not start: $(tail -3 "$TMP/server.out" | tr '\n' ' ')"; stop_server; return 1; }
  local s0; s0=$(proc_cpu "$SERVER_PID")
  run_client iperf3 -c 127.0.0.1 -p "$port" -u -b 0 -l 1400 -n "$SIZE" ||
    { log "iperf3 client failed: $(tail -3 "$TMP/client.out" | tr '\n' ' ')"; stop_server; return 1; }
  SCPU=$(awk -v a="$s0" -v b="$(proc_cpu "$SERVER_PID")" 'BEGIN { printf "%.2f", b - a }')
  stop_server
  # receiver line: "... LOST/TOTAL (P%)  receiver": delivered = (TOTAL-LOST) * 1400
  line=$(grep 'receiver' "$TMP/client.out" | tail -1)
  lost=$(sed -n 's#.* \([0-9]*\)/\([0-9]*\) (.*#\1#p' <<< "$line")
  total=$(sed -n 's#.* \([0-9]*\)/\([0-9]*\) (.*#\2#p' <<< "$line")
  [ -n "$total" ] || { log "cannot read iperf3's receiver line"; return 1; }
  MOVED=$(( (total - lost) * 1400 ))
  SENT=$SIZE
  log "iperf3: $lost of $total datagrams lost (the sender is not paced; delivered bytes count)"
}

# ---- statistics ----

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) exit 1; if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

declare -A MBS CCPU_G SCPU_G OK
bench_pair() {
  local pair=$1 fn=$2 i mbs cg sg
  : > "$TMP/$pair.mbs"; : > "$TMP/$pair.cc"; : > "$TMP/$pair.sc"
  OK[$pair]=0
  for i in $(seq "$RUNS"); do
    WALL= CCPU= SCPU= MOVED= SENT=
    if $fn && [ -n "$WALL" ] && [ -n "$MOVED" ] && [ "$MOVED" -gt 0 ]; then
      if [ "$pair" != iperf3 ] && [ "$MOVED" -ne "$SIZE" ]; then
        log "$pair run $i/$RUNS: moved $MOVED bytes, not $SIZE: FAILED"
        continue
      fi
      mbs=$(awk -v b="$MOVED" -v t="$WALL" 'BEGIN { printf "%.1f", b / (t > 0 ? t : 0.01) / 1e6 }')
      # the client's CPU per GiB it handled: iperf3's client sent all of SIZE
      cg=$(awk -v c="$CCPU" -v b="${SENT:-$MOVED}" -v g=$GIB 'BEGIN { printf "%.3f", c * g / b }')
      sg=$(awk -v c="$SCPU" -v b="$MOVED" -v g=$GIB 'BEGIN { printf "%.3f", c * g / b }')
      echo "$mbs" >> "$TMP/$pair.mbs"; echo "$cg" >> "$TMP/$pair.cc"; echo "$sg" >> "$TMP/$pair.sc"
      OK[$pair]=$((OK[$pair] + 1))
      log "$pair run $i/$RUNS: $MOVED bytes in $WALL s = $mbs MB/s; CPU client $CCPU s, server $SCPU s"
    else
      log "$pair run $i/$RUNS: FAILED"
    fi
  done
  if [ "${OK[$pair]}" -gt 0 ]; then
    MBS[$pair]=$(median < "$TMP/$pair.mbs")
    CCPU_G[$pair]=$(median < "$TMP/$pair.cc")
    SCPU_G[$pair]=$(median < "$TMP/$pair.sc")
  fi
}

# ---- setup ----

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
log "size $SIZE bytes, $RUNS runs per pair, pairs: $PAIRS; build $BUILD; load $LOAD0"
mkdir -p "$TMP/www"
log "making the test file ($SIZE random bytes)"
head -c "$SIZE" /dev/urandom > "$TMP/www/f1g.bin" || exit 1
# ngtcp2's server wants a key and certificate in files
if command -v certtool >/dev/null; then
  printf 'cn = localhost\ndns_name = localhost\nip_address = 127.0.0.1\nexpiration_days = 30\ntls_www_server\nsigning_key\n' > "$TMP/cert.tmpl"
  certtool --generate-privkey --key-type ecdsa --outfile "$TMP/key.pem" > /dev/null 2>&1 &&
    certtool --generate-self-signed --load-privkey "$TMP/key.pem" --template "$TMP/cert.tmpl" \
      --outfile "$TMP/cert.pem" > /dev/null 2>&1 || log "certtool failed: the ngtcp2 row will fail"
else
  log "certtool not found (gnutls-bin): the ngtcp2 row will fail"
fi
case " $PAIRS " in *" quic-go "*)
  mkdir -p "$BUILD/bench"
  log "building quicgo-hq (Go, GOPATH mode)"
  bash "$SRC/tests/interop/quicgo/build.sh" "$BUILD/bench/quicgo-hq" >&2 || log "quicgo-hq build failed: the quic-go row will fail" ;;
esac

for pair in $PAIRS; do
  case $pair in
  p2pquic) bench_pair p2pquic run_p2pquic ;;
  p2pquic-hq) bench_pair p2pquic-hq run_p2pquic_hq ;;
  ngtcp2) bench_pair ngtcp2 run_ngtcp2 ;;
  quic-go) bench_pair quic-go run_quicgo ;;
  iperf3) bench_pair iperf3 run_iperf3 ;;
  *) log "unknown pair '$pair' (known: p2pquic p2pquic-hq ngtcp2 quic-go iperf3)" ;;
  esac
done

# ---- table ----

size_h=$(numfmt --to=iec "$SIZE")
printf '\n%s over 127.0.0.1, median of %s runs (wall time includes the handshake); %s cores, load average %s before, %s after\n\n' \
  "$size_h" "$RUNS" "$(nproc)" "$LOAD0" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-10s %-24s %9s %17s %17s %6s\n' pair what "MB/s" "client CPU-s/GiB" "server CPU-s/GiB" runs
desc() { case $1 in p2pquic) echo "serve+fetch, h3";; p2pquic-hq) echo "serve+fetch, hq-interop";; ngtcp2) echo "gtls server+client, h3";;
  quic-go) echo "quicgo-hq, hq-interop";; iperf3) echo "raw UDP 1400 B (ceiling)";; esac; }
for pair in $PAIRS; do
  if [ -n "${MBS[$pair]:-}" ]; then
    printf '%-10s %-24s %9s %17s %17s %4s/%s\n' "$pair" "$(desc "$pair")" "${MBS[$pair]}" \
      "${CCPU_G[$pair]}" "${SCPU_G[$pair]}" "${OK[$pair]}" "$RUNS"
  else
    printf '%-10s %-24s %9s %17s %17s %4s/%s\n' "$pair" "$(desc "$pair")" FAILED - - 0 "$RUNS"
  fi
done
printf '\np2pquic relative to each reference (MB/s: higher is better; CPU/GiB: lower is better)\n'
printf '%-9s %10s %18s %18s\n' vs "MB/s" "client CPU/GiB" "server CPU/GiB"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }
for ref in $PAIRS; do
  [ "$ref" = p2pquic ] || [ "$ref" = p2pquic-hq ] && continue
  case " $PAIRS " in *" p2pquic "*) ;; *) break ;; esac
  if [ -z "${MBS[p2pquic]:-}" ] || [ -z "${MBS[$ref]:-}" ]; then
    printf '%-9s %10s %18s %18s\n' "$ref" FAILED - -
  else
    printf '%-9s %10s %18s %18s\n' "$ref" "$(ratio "${MBS[p2pquic]}" "${MBS[$ref]}")" \
      "$(ratio "${CCPU_G[p2pquic]}" "${CCPU_G[$ref]}")" "$(ratio "${SCPU_G[p2pquic]}" "${SCPU_G[$ref]}")"
  fi
done
