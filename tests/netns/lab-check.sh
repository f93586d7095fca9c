#!/usr/bin/env bash
# lab-check.sh BUILD_DIR: brings the NAT lab up for every router type (twice),
# measures each NAT with natprobe, the delay with ping, checks miniupnpd
# (NAT-PMP, PCP, UPnP) and coturn, brings it down and checks that nothing is left.
# Prints a table and "N passed, M failed"; exit 0 only if all passed. Root only.
set -uo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "lab-check: needs root: run sudo make lab-check" >&2
  exit 1
fi
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build=$top/$build ;; esac
LAB=$top/tests/netns/lab.sh
ID=chk$$
DELAY=${LAB_DELAY:-20}
TYPES="fullcone portrestricted symmetric firewall doublenat"
RELAY1=203.0.113.66
RELAY2=198.51.100.66
NP=$build/tests/netns/natprobe
export P2PQ_BUILD=$build P2PQ_LAB_ID=$ID LAB_QUIET=1

pass=0
fail=0
rows=()
ok() { pass=$((pass + 1)); echo "  ok    $*"; }
bad() { fail=$((fail + 1)); echo "  FAIL  $*"; }
lab() { bash "$LAB" "$@"; }
lx() { timeout 20 bash "$LAB" exec "$@"; }
# turnutils_stunclient prints its answers and then waits for ever: cut it off.
lx_short() { timeout 3 bash "$LAB" exec "$@"; }
within() { awk -v m="$1" -v w="$2" -v p="$3" 'BEGIN { d = m - w; if (d < 0) d = -d; exit !(m != "" && d <= w * p / 100) }'; }
key() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

ns_before=$(ip netns list 2>/dev/null | awk '{print $1}' | sort)
trap 'lab down --id "$ID" >/dev/null 2>&1' EXIT
trap 'echo "lab-check: interrupted"; exit 130' INT TERM HUP QUIT

if [ ! -x "$NP" ] || [ ! -x "$build/tests/netns/delayq" ]; then
  echo "== building natprobe and delayq in $build"
  cmake --build "$build" --target natprobe delayq >/dev/null || { echo "lab-check: build failed"; exit 1; }
fi

# The expected measurement for each type: "mapping filtering port-preserved".
expect() {
  case $1 in
    fullcone) echo "EIM EIF yes" ;;
    portrestricted) echo "EIM APDF yes" ;;
    symmetric) echo "APDM APDF -" ;; # random ports: preservation would be luck
    firewall) echo "none APDF yes" ;;
    doublenat) echo "EIM APDF yes" ;;
  esac
}
router_ip() { if [ "$1" = firewall ]; then [ "$2" = A ] && echo 198.51.100.129 || echo 203.0.113.129; else [ "$2" = A ] && echo 10.1.0.1 || echo 10.2.0.1; fi; }
public_ip() {
  local w; [ "$2" = A ] && w=198.51.100 || w=203.0.113
  if [ "$1" = firewall ]; then echo "$w.130"; else echo "$w.2"; fi
}

# ping_median NODE DST COUNT INTERVAL -> median RTT in ms (empty if none);
# the median, so that one late wake-up on a loaded machine does not count.
ping_median() {
  lx "$1" ping -n -c "$3" -i "$4" -W 2 "$2" 2>/dev/null | sed -n 's/.* time=\([0-9.]*\) ms.*/\1/p' |
    sort -n | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# probe ROUND TYPE SIDE: natprobe classify from the peer on SIDE.
probe() {
  local r=$1 t=$2 x=$3 out line m f p want
  out=$(lx "p$x" "$NP" classify $RELAY1 $RELAY2 3490 3491)
  line=$(grep '^result' <<<"$out")
  m=$(key mapping "$line"); f=$(key filtering "$line"); p=$(key preserved "$line")
  read -r wm wf wp <<<"$(expect "$t")"
  if [ "$m" = "$wm" ] && [ "$f" = "$wf" ] && { [ "$wp" = - ] || [ "$p" = "$wp" ]; }; then
    ok "$t peer $x: mapping $m, filtering $f, port preserved $p"
    verdict=ok
  else
    bad "$t peer $x: measured '${m:-?} ${f:-?} ${p:-?}', expected '$wm $wf $wp'"
    sed 's/^/        /' <<<"$out"
    verdict=FAIL
  fi
  last_m=${m:--}; last_f=${f:--}; last_p=${p:--}
}

# natpmp TYPE: a NAT-PMP mapping for peer A's UDP 40000 and whether the
# internet (the relay host) reaches it at the router's WAN address (for the
# firewall type too: miniupnpd forwards from its own address). The cone types
# must; doublenat's miniupnpd sees the restrictive CGN by STUN and must refuse.
natpmp() {
  local t=$1 gw pub=198.51.100.2 out bg
  gw=$(router_ip "$t" A)
  if lx relay "$NP" query -w 300 "$pub:40000" >/dev/null; then
    bad "$t: $pub:40000 reachable before any mapping"
    return
  fi
  out=$(lx pA natpmpc -g "$gw" -a 40000 40000 udp 60 2>&1)
  if [ "$t" = doublenat ]; then
    if grep -q 'Mapped public port' <<<"$out"; then bad "$t: NAT-PMP mapping granted behind a CGN"; else ok "$t: NAT-PMP mapping refused behind the CGN (miniupnpd saw it by STUN)"; fi
    return
  fi
  if ! grep -q 'Mapped public port 40000 protocol UDP to local port 40000' <<<"$out"; then
    bad "$t: natpmpc mapping failed"; sed 's/^/        /' <<<"$out"; return
  fi
  lx pA "$NP" server -t 5 0.0.0.0 40000 >/dev/null 2>&1 &
  bg=$!
  sleep 0.3
  if out=$(lx relay "$NP" query "$pub:40000"); then
    ok "$t: NAT-PMP mapping $pub:40000 -> peer A reachable from the internet ($(sed 's/.*rtt/rtt/' <<<"$out"))"
  else
    bad "$t: NAT-PMP mapping granted but $pub:40000 not reachable"
  fi
  kill "$bg" 2>/dev/null; wait "$bg" 2>/dev/null
}

# upnp TYPE: IGD status through upnpc -u (SSDP-found IGDs are "not connected"
# because of the TEST-NET address), then an AddPortMapping reached from outside.
upnp() {
  local t=$1 gw pub out bg
  gw=$(router_ip "$t" B); pub=203.0.113.2
  out=$(lx pB upnpc -u "http://$gw:5000/rootDesc.xml" -s 2>&1)
  if grep -q "ExternalIPAddress = $pub" <<<"$out"; then ok "$t: UPnP IGD reports external address $pub"; else bad "$t: UPnP status"; sed 's/^/        /' <<<"$out" | tail -5; return; fi
  out=$(lx pB upnpc -u "http://$gw:5000/rootDesc.xml" -a "$(lx pB ip -4 -o addr show dev eth0 | awk '{sub(/\/.*/, "", $4); print $4}')" 40001 40001 UDP 60 2>&1)
  lx pB "$NP" server -t 5 0.0.0.0 40001 >/dev/null 2>&1 &
  bg=$!
  sleep 0.3
  if lx relay "$NP" query "$pub:40001" >/dev/null; then ok "$t: UPnP mapping $pub:40001 -> peer B reachable from the internet"; else bad "$t: UPnP mapping $pub:40001 not reachable"; sed 's/^/        /' <<<"$out" | tail -3; fi
  kill "$bg" 2>/dev/null; wait "$bg" 2>/dev/null
}

# pcp TYPE: a PCP MAP (RFC 6887) for peer B's UDP 40002 through the nat
# layer's own codec (pcpmap), reached from the relay; refused behind the CGN.
# miniupnpd does not answer requests its permission rules deny (no
# NOT_AUTHORIZED), so a client must treat silence as refusal.
pcp() {
  local t=$1 gw pub=203.0.113.2 out bg
  if [ ! -x "$build/tests/netns/pcpmap" ]; then echo "  skip  $t: PCP (pcpmap not built: no nat layer)"; return; fi
  gw=$(router_ip "$t" B)
  out=$(lx pB "$build/tests/netns/pcpmap" "$gw" 40002 60)
  if [ "$t" = doublenat ]; then
    if grep -q 'result=SUCCESS' <<<"$out"; then bad "$t: PCP mapping granted behind a CGN"; else ok "$t: PCP mapping refused behind the CGN ($out)"; fi
    return
  fi
  if ! grep -q "result=SUCCESS external=$pub:40002" <<<"$out"; then bad "$t: PCP MAP: $out"; return; fi
  lx pB "$NP" server -t 5 0.0.0.0 40002 >/dev/null 2>&1 &
  bg=$!
  sleep 0.3
  if lx relay "$NP" query "$pub:40002" >/dev/null; then ok "$t: PCP MAP $pub:40002 -> peer B reachable from the internet"; else bad "$t: PCP mapping $pub:40002 not reachable"; fi
  kill "$bg" 2>/dev/null; wait "$bg" 2>/dev/null
}

stun() {
  local t=$1 out pub
  pub=$(public_ip "$t" A)
  out=$(lx_short pA turnutils_stunclient $RELAY1 2>&1)
  if grep -q "UDP reflexive addr: $pub:" <<<"$out" && grep -q "Other addr: : $RELAY2:3479" <<<"$out"; then
    ok "$t: coturn STUN (RFC 5780) answers peer A: reflexive $pub, other address $RELAY2:3479"
  else
    bad "$t: coturn STUN"; grep -v 'Protocol not supported' <<<"$out" | sed 's/^/        /' | head -8
  fi
}

delay() {
  local t=$1 rtt p2p
  rtt=$(ping_median pA $RELAY1 20 0.05)
  if within "$rtt" $((2 * DELAY)) 10; then ok "$t: ping peer A -> relay ${rtt} ms (2 x $DELAY ms)"; else bad "$t: ping peer A -> relay '${rtt}' ms, expected $((2 * DELAY)) +-10%"; fi
  last_rtt=${rtt:--}
  if [ "$t" = firewall ]; then # no NAT: the peers can ping each other
    p2p=$(ping_median pA "$(public_ip firewall B)" 20 0.05)
    if within "$p2p" $((4 * DELAY)) 10; then ok "$t: ping peer A -> peer B ${p2p} ms (4 x $DELAY ms)"; else bad "$t: ping peer A -> peer B '${p2p}' ms, expected $((4 * DELAY)) +-10%"; fi
    rows+=("$round|$t|A->B|peer-to-peer|ping|-|$p2p ($((4 * DELAY)))|$( within "$p2p" $((4 * DELAY)) 10 && echo ok || echo FAIL)")
  fi
}

gone() {
  local left
  left=$(ip netns list 2>/dev/null | awk -v p="p2pq-$ID-" 'index($1, p) == 1')
  if [ -z "$left" ] && [ ! -e "/run/p2pq-lab/$ID" ]; then ok "$1: down, nothing left"; else bad "$1: left behind: $left"; fi
}

one_type() {
  local t=$1
  echo "== round $round: $t (A:$t, B:$t, delay $DELAY ms per router)"
  if ! lab up --type "A:$t,B:$t" --delay "$DELAY"; then bad "$t: lab up"; lab down >/dev/null 2>&1; return; fi
  ok "$t: lab up"
  if [ "$round" = 1 ] && [ "$t" = fullcone ]; then
    if lab up --type A:fullcone,B:fullcone 2>/dev/null; then bad "second up with the same id was not refused"; else ok "second up with the same id refused"; fi
    lab status >/dev/null && ok "the first lab survived the refused up" || bad "refused up damaged the first lab"
  fi
  delay "$t"
  for x in A B; do
    probe "$round" "$t" $x
    rows+=("$round|$t|$x|$last_m|$last_f|$last_p|$([ $x = A ] && echo "$last_rtt ($((2 * DELAY)))" || echo '')|$verdict")
  done
  stun "$t"
  natpmp "$t"
  pcp "$t"
  case $t in portrestricted | symmetric) upnp "$t" ;; esac
  lab down >/dev/null
  gone "$t"
}

# Loss and mixed types: A full cone, B symmetric, 10% loss per router.
loss_check() {
  local out sent recv pct
  echo "== round $round: loss 10% per router, A:fullcone B:symmetric, no delay"
  if ! lab up --type A:fullcone,B:symmetric --loss 10; then bad "loss: lab up"; return; fi
  probe "$round" fullcone A
  rows+=("$round|fullcone (mixed, loss)|A|$last_m|$last_f|$last_p|-|$verdict")
  probe "$round" symmetric B
  rows+=("$round|symmetric (mixed, loss)|B|$last_m|$last_f|$last_p|-|$verdict")
  out=$(lx pA ping -q -n -c 300 -i 0.005 -W 1 $RELAY1 2>/dev/null)
  pct=$(sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p' <<<"$out" | awk '{ printf "%.1f", $1 }')
  # a ping crosses the lossy router twice: 1 - 0.9^2 = 19% expected
  if awk -v p="$pct" 'BEGIN { exit !(p != "" && p >= 9 && p <= 31) }'; then ok "loss: ping loss $pct% (expected ~19%)"; else bad "loss: ping loss '$pct'%, expected ~19%"; fi
  rows+=("$round|loss 10%/router|A|ping|-|-|loss $pct% (19%)|$(awk -v p="$pct" 'BEGIN { exit !(p != "" && p >= 9 && p <= 31) }' && echo ok || echo FAIL)")
  lab down >/dev/null
  gone loss
}

start=$SECONDS
for round in 1 2; do
  for t in $TYPES; do one_type "$t"; done
  [ "$round" = 2 ] && loss_check
done

# Other labs (another id, e.g. someone else's make check) may come and go
# meanwhile: what counts is that none of ours is left and every other
# namespace found is still there.
ns_after=$(ip netns list 2>/dev/null | awk '{print $1}' | sort)
missing=$(comm -23 <(grep -v '^p2pq-' <<<"$ns_before") <(echo "$ns_after"))
ours=$(grep "^p2pq-$ID-" <<<"$ns_after")
if [ -z "$missing$ours" ]; then ok "ip netns list as found (none of ours left, none of others touched)"; else bad "ip netns list: missing '$missing', left '$ours'"; fi
# (exited daemons may sit as zombies until init reaps them: those are gone)
lab_procs() {
  local d st
  for d in /proc/[0-9]*; do
    { st=$(<"$d/stat"); } 2>/dev/null || continue
    st=${st##*) }
    [ "${st%% *}" != Z ] || continue
    tr '\0' ' ' <"$d/cmdline" 2>/dev/null && echo
  done | grep -E "[/]run/p2pq-lab/$ID/|$build/tests/netns/([d]elayq|[n]atprobe)" # [x]: not grep itself
}
if lab_procs >/dev/null; then bad "lab processes left running: $(lab_procs)"; else ok "no lab processes left"; fi

echo
echo "NAT lab results (delay $DELAY ms per router; RTT: median of 20 pings (expected), ms)"
printf '%-5s %-24s %-5s %-12s %-10s %-9s %-16s %s\n' round "type asked" peer mapping filtering preserved "RTT to relay" result
for r in "${rows[@]}"; do
  IFS='|' read -r a b c d e f g h <<<"$r"
  printf '%-5s %-24s %-5s %-12s %-10s %-9s %-16s %s\n' "$a" "$b" "$c" "$d" "$e" "$f" "$g" "$h"
done
echo "lab-check took $((SECONDS - start)) s"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
