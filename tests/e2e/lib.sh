# Shared helpers for the end-to-end tests (sourced). $bin is the p2pquic
# binary; every test gets a scratch directory $work that is removed, and a
# server it started that is stopped, on exit.
set -euo pipefail
bin=${bin:?set bin to the p2pquic binary}
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

fail() {
  echo "FAIL: $*" >&2
  if [ -s "$work/serve.err" ]; then sed 's/^/  serve: /' "$work/serve.err" >&2; fi
  exit 1
}

# start_server ROOT [serve options...]: sets $addr (127.0.0.1:PORT, or on
# $listen when set) and $fp.
start_server() {
  local root=$1
  shift
  "$bin" serve --root "$root" --listen "${listen:-127.0.0.1:0}" "$@" >"$work/serve.out" \
    2>"$work/serve.err" &
  srv_pid=$!
  for _ in $(seq 400); do
    grep -q '^fingerprint ' "$work/serve.out" 2>/dev/null && break
    kill -0 "$srv_pid" 2>/dev/null || fail "p2pquic serve exited early"
    sleep 0.05
  done
  addr=$(sed -n 's/^listening on \([^ ]*\).*/\1/p' "$work/serve.out" | head -1)
  fp=$(sed -n 's/^fingerprint //p' "$work/serve.out")
  [ -n "$addr" ] && [ -n "$fp" ] || fail "p2pquic serve printed no address or fingerprint"
}

stop_server() {
  kill "$srv_pid" 2>/dev/null || true
  wait "$srv_pid" 2>/dev/null || true
  srv_pid=
}

# random_file PATH BYTES
random_file() { head -c "$2" /dev/urandom >"$1"; }

same_file() {
  [ "$(sha256sum <"$1")" = "$(sha256sum <"$2")" ] || fail "$2 differs from $1"
}
