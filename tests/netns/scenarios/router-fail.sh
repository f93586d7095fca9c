#!/usr/bin/env bash
# router-fail.sh BUILD_DIR: port mapping against routers that do not help.
#  - a router that never answers (its PCP/NAT-PMP port, SSDP and UPnP HTTP
#    dropped by an nft rule in our own lab's router): `p2pquic portmap` tries
#    PCP, NAT-PMP and UPnP, each bounded, and exits 1 within the sum of the
#    bounds, saying so for each protocol; nothing is left mapped;
#  - a router that refuses (miniupnpd behind the doublenat CGN): every
#    protocol reports the refusal at once, exit 1;
#  - a gateway address where nobody is: bounded failure (UPnP ignores the
#    real router's IGD found by SSDP: it is not at that gateway).
# Prints "N passed, M failed".
set -uo pipefail
BUILD=${1:?usage: router-fail.sh BUILD_DIR}
. "$(dirname "$0")/common.sh"
need
TIMEOUT=2

echo "== routers that refuse or never answer (lab $ID)"
if ! bash "$LAB" up --type A:portrestricted,B:doublenat >"$TMP/up.log" 2>&1; then
  bad "lab up"; tail -5 "$TMP/up.log"; summary; exit 1
fi

# run_pm SECS ARGS...: portmap in peer A, bounded by SECS; sets out, rc, took
run_pm() {
  local t=$1 t0; shift
  t0=$(date +%s.%N)
  out=$(lx "$t" pA "$P2PQUIC" portmap "$@" 2>&1)
  rc=$?
  took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
}
run_pm_b() {
  local t=$1 t0; shift
  t0=$(date +%s.%N)
  out=$(lx "$t" pB "$P2PQUIC" portmap "$@" 2>&1)
  rc=$?
  took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
}
mappings() { lx 5 rA nft list chain inet filter prerouting_miniupnpd 2>/dev/null | grep -c dnat; }

# never answers
lx 5 rA nft -f - <<'NFT'
table inet p2pqscn {
  chain input { type filter hook input priority -400; policy accept;
    udp dport { 5351, 1900 } drop
    tcp dport 5000 drop
  }
}
NFT
run_pm 30 --port 40000 --timeout $TIMEOUT
limit=$((3 * TIMEOUT + 3))
if [ $rc -eq 1 ] && grep -q '^result failed' <<<"$out" &&
  awk -v t="$took" -v l="$limit" 'BEGIN { exit !(t <= l) }'; then
  ok "silent router: exit 1 after $took s (bound 3 x $TIMEOUT s)"
else bad "silent router: exit $rc after $took s"; sed 's/^/        /' <<<"$out"; fi
for p in PCP NAT-PMP UPnP; do
  if grep -q "^$p: no answer within" <<<"$out"; then ok "silent router: $p: $(grep "^$p:" <<<"$out")"; else bad "silent router: no '$p: no answer' line"; sed 's/^/        /' <<<"$out"; fi
done
lx 5 rA nft delete table inet p2pqscn
sleep 0.5
if [ "$(mappings)" = 0 ]; then ok "silent router: no mapping left on the router"; else bad "silent router: a mapping was left behind"; fi

# refuses: side B is a doublenat, whose miniupnpd found the CGN by STUN and
# refuses every mapping (a low port instead would send miniupnpd 2.3.1's PCP
# code through every port, busy for minutes: not a refusal, a hang)
run_pm_b 30 --port 40000 --timeout $TIMEOUT
if [ $rc -eq 1 ] && grep -q '^result failed' <<<"$out" && awk -v t="$took" 'BEGIN { exit !(t <= 4) }'; then
  ok "refusing router (behind a CGN): exit 1 after $took s"
else bad "refusing router: exit $rc after $took s"; sed 's/^/        /' <<<"$out"; fi
for p in PCP NAT-PMP UPnP; do
  line=$(grep "^$p: .*refused" <<<"$out")
  if [ -n "$line" ]; then ok "refusing router: $line"; else bad "refusing router: no '$p ... refused' line"; sed 's/^/        /' <<<"$out"; fi
done

# nobody at the gateway address (SSDP finds the real router, whose IGD is then
# not the gateway's: UPnP must not use it)
run_pm 30 --port 40000 --proto pcp --gateway 10.1.0.99 --timeout $TIMEOUT
if [ $rc -eq 1 ] && awk -v t="$took" -v l=$((TIMEOUT + 2)) 'BEGIN { exit !(t <= l) }'; then
  ok "no gateway at 10.1.0.99: PCP gives up after $took s: $(grep '^PCP' <<<"$out" | head -1)"
else bad "no gateway at 10.1.0.99: exit $rc after $took s"; sed 's/^/        /' <<<"$out"; fi
run_pm 30 --port 40000 --proto natpmp --gateway 10.1.0.99 --timeout $TIMEOUT
if [ $rc -eq 1 ] && awk -v t="$took" -v l=$((TIMEOUT + 2)) 'BEGIN { exit !(t <= l) }'; then
  ok "no gateway at 10.1.0.99: NAT-PMP gives up after $took s: $(grep '^NAT-PMP' <<<"$out" | head -1)"
else bad "no gateway at 10.1.0.99: exit $rc after $took s"; sed 's/^/        /' <<<"$out"; fi
run_pm 30 --port 40000 --proto upnp --gateway 10.1.0.99 --timeout $TIMEOUT
if [ $rc -eq 1 ] && awk -v t="$took" -v l=$((TIMEOUT + 2)) 'BEGIN { exit !(t <= l) }'; then
  ok "no gateway at 10.1.0.99: UPnP gives up after $took s: $(grep '^UPnP' <<<"$out" | head -1)"
else bad "no gateway at 10.1.0.99: UPnP exit $rc after $took s"; sed 's/^/        /' <<<"$out"; fi
summary
