#!/usr/bin/env bash
# nat-type.sh BUILD_DIR TYPE: the NAT lab with both routers of TYPE, then, from
# peer A:
#  - address discovery: `p2pquic whoami` to `p2pquic serve` on the relay host
#    must report the NAT's public address; coturn (turnutils_stunclient), our
#    `p2pquic stun` against coturn and against serve's QUIC port (STUN on the
#    same socket) must agree, and the mapping verdict must match the type;
#  - port mapping with each of PCP, NAT-PMP, UPnP IGD (`p2pquic portmap
#    --proto P --hold 0`) against the router's miniupnpd: before, an
#    unsolicited packet from the internet does not reach peer A's port; while
#    mapped it does; after the deletion (SIGTERM) it no longer does. Behind the
#    doublenat CGN miniupnpd refuses, which must be a clear failure in time.
# Prints "row|..." lines for run-all's table and "N passed, M failed".
set -uo pipefail
BUILD=${1:?usage: nat-type.sh BUILD_DIR TYPE}
TYPE=${2:?usage: nat-type.sh BUILD_DIR TYPE}
. "$(dirname "$0")/common.sh"
need

PORT=40000
TIMEOUT=2 # per protocol
case $TYPE in
  firewall) PUB=198.51.100.130; GW=198.51.100.129; LOCAL=198.51.100.130 ;;
  *) PUB=198.51.100.2; GW=10.1.0.1; LOCAL=10.1.0.2 ;;
esac
case $TYPE in
  symmetric) VERDICT=dependent ;;
  firewall) VERDICT=none ;;
  *) VERDICT=endpoint-independent ;;
esac
MAPPED_PUB=198.51.100.2 # miniupnpd forwards at the router's WAN address
row_disc="-|-|-"
row_pm=()

echo "== $TYPE (lab $ID)"
if ! bash "$LAB" up --type "A:$TYPE,B:$TYPE" >"$TMP/up.log" 2>&1; then
  bad "$TYPE: lab up"; sed 's/^/        /' "$TMP/up.log" | tail -5
  summary; exit 1
fi

discovery() {
  local out obs st st2 ct fp
  mkdir -p "$TMP/root"
  setsid bash "$LAB" exec relay "$P2PQUIC" serve --root "$TMP/root" --listen "$RELAY1:4433" \
    >"$TMP/serve.log" 2>&1 </dev/null &
  if ! wait_line "$TMP/serve.log" '^fingerprint ' 10; then bad "$TYPE: serve on the relay did not start"; return; fi
  fp=$(sed -n 's/^fingerprint //p' "$TMP/serve.log")
  out=$(lx 15 pA "$P2PQUIC" whoami "$RELAY1:4433" --pin "$fp" --timeout 5 2>&1)
  obs=$(key observed "$(grep '^result' <<<"$out")")
  if [ "$(ip_of "$obs")" = "$PUB" ]; then ok "$TYPE: whoami (QUIC address discovery) observed $obs"; else bad "$TYPE: whoami observed '${obs:-nothing}', expected $PUB"; sed 's/^/        /' <<<"$out"; fi
  out=$(lx 15 pA "$P2PQUIC" stun "$RELAY1:3478" 2>&1)
  st=$(grep '^result' <<<"$out")
  if [ "$(ip_of "$(key mapped "$st")")" = "$PUB" ] && [ "$(key mapping "$st")" = "$VERDICT" ]; then
    ok "$TYPE: p2pquic stun to coturn (+ OTHER-ADDRESS): $(key mapped "$st"), mapping $(key mapping "$st")"
  else bad "$TYPE: p2pquic stun to coturn: '$st', expected $PUB mapping=$VERDICT"; sed 's/^/        /' <<<"$out"; fi
  out=$(lx 15 pA "$P2PQUIC" stun "$RELAY1:4433" "$RELAY2:3478" 2>&1)
  st2=$(grep '^result' <<<"$out")
  if [ "$(ip_of "$(key mapped "$st2")")" = "$PUB" ] && [ "$(key mapping "$st2")" = "$VERDICT" ]; then
    ok "$TYPE: p2pquic stun to serve's QUIC port and coturn: $(key mapped "$st2"), mapping $(key mapping "$st2")"
  else bad "$TYPE: p2pquic stun to the QUIC port: '$st2', expected $PUB mapping=$VERDICT"; sed 's/^/        /' <<<"$out"; fi
  out=$(lx 3 pA turnutils_stunclient $RELAY1 2>&1)
  ct=$(sed -n 's/.*UDP reflexive addr: \([0-9.:]*\).*/\1/p' <<<"$out" | head -1)
  if [ "$(ip_of "$ct")" = "$PUB" ]; then ok "$TYPE: coturn's turnutils_stunclient agrees: $ct"; else bad "$TYPE: turnutils_stunclient said '${ct:-nothing}', expected $PUB"; fi
  # and coturn's client against our endpoint: STUN on the QUIC port of serve
  out=$(lx 3 pA turnutils_stunclient -p 4433 $RELAY1 2>&1)
  local cq
  cq=$(sed -n 's/.*UDP reflexive addr: \([0-9.:]*\).*/\1/p' <<<"$out" | head -1)
  if [ "$(ip_of "$cq")" = "$PUB" ]; then ok "$TYPE: turnutils_stunclient against serve's QUIC port: $cq"; else bad "$TYPE: turnutils_stunclient against our endpoint said '${cq:-nothing}', expected $PUB"; sed 's/^/        /' <<<"$out"; fi
  row_disc="${obs:-none}|$(key mapped "$st") $(key mapping "$st")|${ct:-none}"
}

reachable() { lx 5 relay "$NP" query -w 300 "$MAPPED_PUB:$PORT" >/dev/null 2>&1; }

# portmap PROTO: one protocol, end to end
portmap() {
  local p=$1 pm rc t0 res ext
  if reachable; then bad "$TYPE/$p: $MAPPED_PUB:$PORT reachable before any mapping"; row_pm+=("open-before"); return; fi
  t0=$SECONDS
  bash "$LAB" exec pA "$P2PQUIC" portmap --port $PORT --proto "$p" --lifetime 120 \
    --timeout $TIMEOUT --hold 0 >"$TMP/pm-$p.log" 2>&1 </dev/null &
  pm=$!
  if ! wait_line "$TMP/pm-$p.log" '^result ' $((TIMEOUT + 5)); then
    bad "$TYPE/$p: no result within $((TIMEOUT + 5)) s"; kill -TERM $pm 2>/dev/null; wait_pid $pm 5; row_pm+=("no-result"); return
  fi
  res=$(grep -m1 '^result ' "$TMP/pm-$p.log")
  if [ "$TYPE" = doublenat ]; then
    wait_pid $pm 5; rc=$?
    if grep -q '^result failed' <<<"$res" && [ $rc -eq 1 ] && [ $((SECONDS - t0)) -le $((TIMEOUT + 3)) ]; then
      ok "$TYPE/$p: refused behind the CGN, exit 1 after $((SECONDS - t0)) s: $(grep -v '^result\|^gateway' "$TMP/pm-$p.log" | head -1)"
    else bad "$TYPE/$p: expected a refusal, got '$res' (exit $rc)"; sed 's/^/        /' "$TMP/pm-$p.log"; fi
    if reachable; then bad "$TYPE/$p: port reachable after a refusal"; fi
    row_pm+=("refused")
    return
  fi
  ext=$(key external "$res")
  if [ "$ext" = "$MAPPED_PUB:$PORT" ]; then ok "$TYPE/$p: mapped $LOCAL:$PORT -> $ext"; else bad "$TYPE/$p: '$res', expected external=$MAPPED_PUB:$PORT"; sed 's/^/        /' "$TMP/pm-$p.log"; fi
  if reachable; then ok "$TYPE/$p: an unsolicited packet from the internet reaches peer A through it"; else bad "$TYPE/$p: $MAPPED_PUB:$PORT not reachable while mapped"; fi
  kill -TERM $pm 2>/dev/null
  wait_pid $pm $((TIMEOUT + 5)); rc=$?
  if [ $rc -eq 0 ] && grep -q '^result deleted' "$TMP/pm-$p.log"; then ok "$TYPE/$p: deleted on SIGTERM"; else bad "$TYPE/$p: delete failed (exit $rc)"; sed 's/^/        /' "$TMP/pm-$p.log" | tail -3; fi
  if reachable; then bad "$TYPE/$p: still reachable after the deletion"; row_pm+=("$ext,still-open"); else ok "$TYPE/$p: no longer reachable after the deletion"; row_pm+=("$ext"); fi
}

discovery
# the target of the mapping: answers every probe that arrives on port 40000
bash "$LAB" exec pA "$NP" server -t 120 0.0.0.0 $PORT >/dev/null 2>&1 </dev/null &
sleep 0.3
for p in pcp natpmp upnp; do portmap $p; done
echo "row|$TYPE|$row_disc|${row_pm[0]:--}|${row_pm[1]:--}|${row_pm[2]:--}"
summary
