# Shared by the quic-go interop drivers (run-quicgo.sh, run-quicgo-h3.sh): server
# start/stop with bounded waits and file checks. The caller defines fail(),
# work, TIMEOUT, FILES and server_pid before sourcing it.
# start_server CMD...: runs it in the background, waits (bounded) for its
# "listening on ADDR:PORT" and "fingerprint FP" lines; sets PORT and FP.
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

# stop_server: SIGTERM and a bounded wait; the quic-go server prints its key
# update counts when it stops.
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

# run_client CMD...: bounded; fails with the client's output.
run_client() {
  local rc=0
  timeout "$TIMEOUT" "$@" > "$work/client.log" 2>&1 || rc=$?
  cat "$work/client.log"
  [ $rc -eq 124 ] && fail "client did not finish within $TIMEOUT s"
  [ $rc -eq 0 ] || { cat "$work/server.err" >&2; fail "client exited with $rc"; }
}

# A missing file must make the client fail (exit 1: not a usage error, not a
# timeout) and leave no output file behind.
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
