# Shared helpers of the lab scenarios (sourced). Needs BUILD set; every wait is
# bounded and the lab goes down on exit, whatever happens.
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
case $BUILD in /*) ;; *) BUILD=$top/$BUILD ;; esac
LAB=$top/tests/netns/lab.sh
P2PQUIC=$BUILD/p2pquic
NP=$BUILD/tests/netns/natprobe
RELAY1=203.0.113.66
RELAY2=198.51.100.66
# 1-10 letters or digits, unique per run
ID=${SCN_ID:-sc$(printf '%05d' $(($$ % 100000)))$((RANDOM % 100))}
ID=${ID:0:10}
export P2PQ_BUILD=$BUILD P2PQ_LAB_ID=$ID LAB_QUIET=1
TMP=$(mktemp -d /tmp/p2pq-scn.XXXXXX)

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "  ok    $*"; }
bad() { fail=$((fail + 1)); echo "  FAIL  $*"; }
# lx SECS NODE CMD...: a bounded command inside a lab node
lx() { local t=$1; shift; timeout "$t" bash "$LAB" exec "$@"; }

cleanup() {
  local p
  for p in $(jobs -p); do kill -TERM "$p" 2>/dev/null; done
  bash "$LAB" down --id "$ID" >/dev/null 2>&1
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'echo "scenario interrupted"; exit 130' INT TERM

need() {
  [ "$(id -u)" -eq 0 ] || { echo "scenarios need root (network namespaces)"; exit 1; }
  for f in "$P2PQUIC" "$NP"; do
    [ -x "$f" ] || { echo "missing $f: build p2pquic and natprobe in $BUILD"; exit 1; }
  done
}

# wait_line FILE REGEX SECS: until FILE has a line matching REGEX (1 on timeout)
wait_line() {
  local end=$((SECONDS + $3))
  until grep -Eq "$2" "$1" 2>/dev/null; do
    [ $SECONDS -lt $end ] || return 1
    sleep 0.05
  done
}

# wait_pid PID SECS: until the process is gone (then its status), else kill it
wait_pid() {
  local end=$((SECONDS + $2))
  while kill -0 "$1" 2>/dev/null; do
    if [ $SECONDS -ge $end ]; then kill -KILL "$1" 2>/dev/null; wait "$1" 2>/dev/null; return 124; fi
    sleep 0.05
  done
  wait "$1"
}

key() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }
ip_of() { sed 's/:[0-9]*$//; s/^\[//; s/\]$//' <<<"$1"; }

summary() {
  echo "$pass passed, $fail failed"
  [ "$fail" -eq 0 ]
}
