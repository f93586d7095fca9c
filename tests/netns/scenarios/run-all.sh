#!/usr/bin/env bash
# run-all.sh BUILD_DIR: every lab scenario (root only): address discovery,
# STUN and port mapping for each NAT type (nat-type.sh), then routers that
# refuse or never answer (router-fail.sh). Prints what each NAT type returned
# and ends with "N passed, M failed"; exit 0 only if all passed.
set -uo pipefail
BUILD=${1:?usage: run-all.sh BUILD_DIR}
dir=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" -ne 0 ]; then echo "run-all: needs root (network namespaces)"; exit 1; fi
TYPES=${SCN_TYPES:-"fullcone portrestricted symmetric firewall doublenat"}
pass=0
fail=0
rows=()
# each scenario is bounded as a whole too (its own waits are)
run() {
  local out rc last p f
  out=$(timeout 300 bash "$@" 2>&1)
  rc=$?
  sed '/^row|/d' <<<"$out"
  while IFS= read -r l; do rows+=("$l"); done < <(grep '^row|' <<<"$out")
  last=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' <<<"$out" | tail -1)
  p=$(awk '{print $1}' <<<"$last"); f=$(awk '{print $3}' <<<"$last")
  pass=$((pass + ${p:-0}))
  fail=$((fail + ${f:-0}))
  if [ -z "$last" ] || { [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; }; then
    echo "  FAIL  $2: ended without a result (exit $rc)"
    fail=$((fail + 1))
  fi
}
start=$SECONDS
for t in $TYPES; do run "$dir/nat-type.sh" "$BUILD" "$t"; done
run "$dir/router-fail.sh" "$BUILD"
echo
echo "What peer A saw, per NAT type (whoami: QUIC address discovery from p2pquic serve;"
echo "stun: p2pquic stun to coturn with its OTHER-ADDRESS; coturn: turnutils_stunclient;"
echo "pcp/natpmp/upnp: p2pquic portmap --proto, the public address granted):"
printf '%-15s %-22s %-44s %-22s %-20s %-20s %s\n' type whoami stun coturn pcp natpmp upnp
for r in "${rows[@]}"; do
  IFS='|' read -r _ t w s c p n u <<<"$r"
  printf '%-15s %-22s %-44s %-22s %-20s %-20s %s\n' "$t" "$w" "$s" "$c" "$p" "$n" "$u"
done
echo "scenarios took $((SECONDS - start)) s"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
