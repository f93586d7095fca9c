#!/usr/bin/env bash
# The p2pquic NAT lab: an "internet", a relay/STUN host and two NAT routers with
# one peer behind each, all in network namespaces. See docs/lab.md.
#
#   lab.sh up [--type A:TYPE,B:TYPE] [--delay MS|A:MS,B:MS] [--loss PCT|A:PCT,B:PCT] [--id ID]
#   lab.sh down [--id ID]
#   lab.sh status [--id ID]
#   lab.sh exec [--id ID] NODE CMD...     NODE: inet relay rA pA cA rB pB cB
#
# TYPE: fullcone portrestricted symmetric firewall doublenat (default portrestricted).
# Everything lives in namespaces named p2pq-ID-NODE (ID default "lab", or
# $P2PQ_LAB_ID); the root namespace's interfaces, routes and firewall are never
# touched. State (configs, logs, pids) is in /run/p2pq-lab/ID and goes on down.
# Programs come from $P2PQ_BUILD (default: build/) or --build DIR.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
ID=${P2PQ_LAB_ID:-lab}
BUILD=${P2PQ_BUILD:-$top/build}
STATE_ROOT=/run/p2pq-lab
TYPES="fullcone portrestricted symmetric firewall doublenat"

# Fixed addresses (docs/lab.md has the diagram).
RELAY_IP1=203.0.113.66
RELAY_IP2=198.51.100.66
PROBE_PORTS=3490,3491
STUN_PORT=3478
UPNP_PORT=5000

die() { echo "lab.sh: $*" >&2; exit 1; }
# die_log NAME MSG: dies showing the end of NAME's log (it goes on teardown).
die_log() { echo "lab.sh: $2; last lines of $1.log:" >&2; tail -n 15 "$(state)/$1.log" >&2 || true; exit 1; }
log() { [ -n "${LAB_QUIET:-}" ] || echo "lab.sh: $*"; }
ns() { echo "p2pq-$ID-$1"; }
state() { echo "$STATE_ROOT/$ID"; }
in_ns() { local n=$1; shift; ip netns exec "$(ns "$n")" "$@"; }
lab_namespaces() { ip netns list 2>/dev/null | awk -v p="p2pq-$ID-" 'index($1, p) == 1 { print $1 }'; }

# Per-side facts: the /24 of the side's internet link and its private LAN.
wnet() { [ "$1" = A ] && echo 198.51.100 || echo 203.0.113; }
lnum() { [ "$1" = A ] && echo 1 || echo 2; }
side_type() { sed -n "s/^type_$1=//p" "$(state)/config"; }
# The router the peer uses as gateway (runs miniupnpd and the delay line).
router_lan_ip() { if [ "$(side_type "$1")" = firewall ]; then echo "$(wnet "$1").129"; else echo "10.$(lnum "$1").0.1"; fi; }
peer_ip() { if [ "$(side_type "$1")" = firewall ]; then echo "$(wnet "$1").130"; else echo "10.$(lnum "$1").0.2"; fi; }
# The address the outside world sees for side X (the outermost NAT's WAN).
public_ip() { if [ "$(side_type "$1")" = firewall ]; then peer_ip "$1"; else echo "$(wnet "$1").2"; fi; }

need_root() { [ "$(id -u)" -eq 0 ] || die "needs root (network namespaces): run with sudo"; }

check_id() {
  [[ $ID =~ ^[a-zA-Z0-9]{1,10}$ ]] || die "bad --id '$ID' (1-10 letters or digits)"
}

# wait_ready NAME SECS CMD...: waits (bounded) until CMD succeeds; gives up
# at once if the process started as NAME has died.
wait_ready() {
  local name=$1 secs=$2; shift 2
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    pid_alive "$name" || return 1
    [ $SECONDS -lt $end ] || return 1
    sleep 0.05
  done
}

udp_listening() { in_ns "$1" ss -Hlun "sport = :$2" | grep -q .; }
queue_bound() { in_ns "$1" cat /proc/net/netfilter/nfnetlink_queue | grep -q .; }
pid_alive() { kill -0 "$(cat "$(state)/$1.pid")" 2>/dev/null; }

# start NAME NODE CMD...: runs CMD inside NODE in its own session (so a Ctrl-C
# at the terminal does not hit it; down kills it), output in NAME.log.
start() {
  local name=$1 node=$2; shift 2
  setsid ip netns exec "$(ns "$node")" "$@" >"$(state)/$name.log" 2>&1 </dev/null &
  echo $! >"$(state)/$name.pid"
}

# ------------------------------------------------------------------ topology

add_ns() {
  local n; n=$(ns "$1")
  ip netns add "$n"
  ip -n "$n" link set lo up
  # /proc/sys/net belongs to the namespace of whoever opens it; no procps needed
  in_ns "$1" sh -c 'cd /proc/sys/net && echo 1 >ipv4/ip_forward &&
    echo 0 >ipv4/conf/all/rp_filter && echo 0 >ipv4/conf/default/rp_filter &&
    echo 1 >ipv6/conf/all/disable_ipv6 && echo 1 >ipv6/conf/default/disable_ipv6'
}

# link NODE1 IF1 NODE2 IF2: a veth pair made inside NODE1, so it never exists
# in the root namespace.
link() {
  ip -n "$(ns "$1")" link add "$2" type veth peer name "$4" netns "$(ns "$3")"
  ip -n "$(ns "$1")" link set "$2" up
  ip -n "$(ns "$3")" link set "$4" up
}
addr() { ip -n "$(ns "$1")" addr add "$3" dev "$2"; }
route() { local n=$1; shift; ip -n "$(ns "$n")" route add "$@"; }

build_core() {
  add_ns inet
  add_ns relay
  link inet tR relay eth0
  addr inet tR 203.0.113.65/26
  addr inet tR 198.51.100.65/26
  addr relay eth0 $RELAY_IP1/26
  addr relay eth0 $RELAY_IP2/26
  route relay default via 203.0.113.65
}

# One side: [cgn -] router - peer, hung off the internet router.
build_side() {
  local x=$1 t; t=$(side_type "$1")
  local w; w=$(wnet "$x")
  local l; l=$(lnum "$x")
  local edge=r$x
  add_ns "r$x"
  add_ns "p$x"
  if [ "$t" = doublenat ]; then
    edge=c$x
    add_ns "c$x"
    link "c$x" lan "r$x" wan
    addr "c$x" lan "100.64.$l.1/24"
    addr "r$x" wan "100.64.$l.2/24"
    route "r$x" default via "100.64.$l.1"
  fi
  link inet "t$x" "$edge" wan
  addr inet "t$x" "$w.1/26"
  addr "$edge" wan "$w.2/26"
  route "$edge" default via "$w.1"
  link "r$x" lan "p$x" eth0
  if [ "$t" = firewall ]; then
    addr "r$x" lan "$w.129/25"
    addr "p$x" eth0 "$w.130/25"
    route "p$x" default via "$w.129"
    route inet "$w.128/25" via "$w.2"
  else
    addr "r$x" lan "10.$l.0.1/24"
    addr "p$x" eth0 "10.$l.0.2/24"
    route "p$x" default via "10.$l.0.1"
  fi
}

# ------------------------------------------------------------------ nftables

# The translation part of each router type (postrouting and prerouting). Only
# forwarded traffic (iifname lan) is translated: the router's own packets, e.g.
# miniupnpd's STUN, leave with its WAN address and port, as on a real router.
nat_rules() {
  local t=$1 wan_ip=$2
  case $t in
    portrestricted | doublenat)
      echo "chain postrouting { type nat hook postrouting priority srcnat; policy accept;
              iifname \"lan\" oifname \"wan\" masquerade
            }" ;;
    symmetric)
      echo "chain postrouting { type nat hook postrouting priority srcnat; policy accept;
              iifname \"lan\" oifname \"wan\" masquerade random,fully-random
            }" ;;
    fullcone)
      # Port-preserving SNAT; every UDP mapping it makes is learnt into a map
      # (after SNAT, so the key is the public port) and inbound packets to a
      # mapped port from anyone are sent to the inside source: EIM + EIF.
      echo "map fullcone { type inet_service : ipv4_addr . inet_service; flags dynamic,timeout; timeout 180s; }
            chain postrouting { type nat hook postrouting priority srcnat; policy accept;
              iifname \"lan\" oifname \"wan\" snat ip to $wan_ip
            }
            chain fullcone_learn { type filter hook postrouting priority 200; policy accept;
              iifname \"lan\" oifname \"wan\" ct direction original meta l4proto udp update @fullcone { udp sport : ct original ip saddr . ct original proto-src }
            }
            chain prerouting { type nat hook prerouting priority dstnat; policy accept;
              iifname \"wan\" ip daddr $wan_ip meta l4proto udp dnat ip addr . port to udp dport map @fullcone
            }" ;;
    firewall) ;;
  esac
}

# rules NODE TYPE WAN_IP LAN_IP LOSS
router_rules() {
  local node=$1 t=$2 wan_ip=$3 lan_ip=$4 loss=$5
  local lossrule="" ping=""
  [ "$loss" -gt 0 ] && lossrule="numgen random mod 100 < $loss drop"
  # RFC 6092 lets echo requests through a stateful firewall; it gives the lab
  # a real peer-to-peer ping.
  [ "$t" = firewall ] && ping='iifname "wan" icmp type echo-request accept'
  in_ns "$node" nft -f - <<EOF
table ip p2pqlab {
  # Loss on the access link, before conntrack sees the packet. Traffic to the
  # router's own LAN address (NAT-PMP, UPnP) is not on that link.
  chain shape { type filter hook prerouting priority -350; policy accept;
    iifname "lan" ip daddr $lan_ip accept
    $lossrule
  }
  chain forward { type filter hook forward priority filter; policy drop;
    ct state established,related accept
    iifname "lan" oifname "wan" accept
    iifname "wan" ct status dnat accept
    $ping
  }
  $(nat_rules "$t" "$wan_ip")
}
EOF
}

# The carrier-grade NAT of the doublenat type: plain masquerade.
cgn_rules() {
  in_ns "$1" nft -f - <<EOF
table ip p2pqlab {
  chain forward { type filter hook forward priority filter; policy drop;
    ct state established,related accept
    iifname "lan" oifname "wan" accept
  }
  $(nat_rules doublenat "")
}
EOF
}

# The tables and chains miniupnpd's nftables backend expects (Debian's
# nft_init.sh is broken).
miniupnpd_tables() {
  in_ns "$1" nft -f - <<'EOF'
table inet filter {
  chain forward { type filter hook forward priority filter; policy accept;
    jump miniupnpd
  }
  chain miniupnpd {
  }
  chain prerouting { type nat hook prerouting priority -100; policy accept;
    jump prerouting_miniupnpd
  }
  chain prerouting_miniupnpd {
  }
  chain postrouting { type nat hook postrouting priority 99; policy accept;
    jump postrouting_miniupnpd
  }
  chain postrouting_miniupnpd {
  }
}
EOF
}

# Delay: the router's ingress (both directions; not LAN traffic to the router
# itself) goes through an NFQUEUE served by delayq. The kernel has no nft
# queue expression here, but iptables' NFQUEUE target works; --queue-bypass
# lets packets through if delayq is gone. raw (-300) is before conntrack.
delay_start() {
  local x=$1 ms=$2 lan_ip=$3
  [ "$ms" -gt 0 ] || return 0
  [ -x "$BUILD/tests/netns/delayq" ] || die "no $BUILD/tests/netns/delayq (build it, or --build DIR)"
  # Real-time priority: on a busy 2-core machine a normal process wakes up
  # tens of ms late and the delay would follow the load.
  local rt=()
  chrt -f 10 true 2>/dev/null && rt=(chrt -f 10)
  start "delayq-$x" "r$x" "${rt[@]}" "$BUILD/tests/netns/delayq" -q 0 -d "$ms"
  wait_ready "delayq-$x" 5 queue_bound "r$x" || die_log "delayq-$x" "delayq on r$x did not bind its queue"
  in_ns "r$x" iptables -w -t raw -A PREROUTING -i lan -d "$lan_ip" -j ACCEPT
  in_ns "r$x" iptables -w -t raw -A PREROUTING -j NFQUEUE --queue-num 0 --queue-bypass
}

miniupnpd_start() {
  local x=$1 lan_net=$2
  local conf; conf=$(state)/miniupnpd-$x.conf
  cat >"$conf" <<EOF
ext_ifname=wan
listening_ip=lan
port=$UPNP_PORT
enable_natpmp=yes
enable_upnp=yes
# TEST-NET WAN addresses are on miniupnpd's reserved list; learning the public
# address by STUN (coturn on the relay, RFC 5780 capable) is what works.
ext_perform_stun=yes
ext_stun_host=$RELAY_IP1
ext_stun_port=$STUN_PORT
secure_mode=yes
system_uptime=yes
notify_interval=60
clean_ruleset_interval=600
uuid=00000000-0000-4000-8000-00000000000$(lnum "$x")
allow 1024-65535 $lan_net 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
EOF
  miniupnpd_tables "r$x"
  start "miniupnpd-$x" "r$x" miniupnpd -f "$conf" -d -P "$(state)/miniupnpd-$x.pidfile"
}

# miniupnpd listens only after its STUN test, which waits 3 s per missing
# answer behind a restrictive upstream NAT (doublenat): start both, then wait.
miniupnpd_wait() {
  wait_ready "miniupnpd-$1" 30 udp_listening "r$1" 5351 || die_log "miniupnpd-$1" "miniupnpd on r$1 did not start"
}

relay_start() {
  local s; s=$(state)
  start turnserver relay turnserver -n -S -z --no-tls --no-dtls --no-cli \
    -L $RELAY_IP1 -L $RELAY_IP2 -p $STUN_PORT --alt-listening-port $((STUN_PORT + 1)) \
    --pidfile "$s/turnserver.pidfile" --log-file "$s/turnserver.log.d" --simple-log \
    --db "$s/turndb" --no-software-attribute
  [ -x "$BUILD/tests/netns/natprobe" ] || die "no $BUILD/tests/netns/natprobe (build it, or --build DIR)"
  start natprobe relay "$BUILD/tests/netns/natprobe" server "$RELAY_IP1,$RELAY_IP2" "$PROBE_PORTS"
  wait_ready turnserver 10 udp_listening relay $STUN_PORT || die_log turnserver "coturn did not start"
  wait_ready natprobe 5 udp_listening relay "${PROBE_PORTS%,*}" || die_log natprobe "natprobe server did not start"
}

# ------------------------------------------------------------------ commands

# per_side SPEC X: "20" or "A:20,B:10" -> the value for side X.
per_side() {
  local spec=$1 x=$2 v
  if [[ $spec =~ ^[0-9]+$ ]]; then echo "$spec"; return; fi
  v=$(tr ',' '\n' <<<"$spec" | sed -n "s/^$x://p")
  echo "${v:-0}"
}

cmd_up() {
  local types="" delay=0 loss=0 ta tb
  while [ $# -gt 0 ]; do
    case $1 in
      --type) types=$2; shift 2 ;;
      --delay) delay=$2; shift 2 ;;
      --loss) loss=$2; shift 2 ;;
      --id) ID=$2; shift 2 ;;
      --build) BUILD=$2; shift 2 ;;
      *) die "up: unknown argument '$1'" ;;
    esac
  done
  need_root
  check_id
  ta=$(tr ',' '\n' <<<"$types" | sed -n 's/^A://p')
  tb=$(tr ',' '\n' <<<"$types" | sed -n 's/^B://p')
  ta=${ta:-portrestricted}
  tb=${tb:-portrestricted}
  for t in "$ta" "$tb"; do
    [[ " $TYPES " == *" $t "* ]] || die "unknown type '$t' (one of: $TYPES)"
  done
  for spec in "$delay" "$loss"; do
    [[ $spec =~ ^([0-9]+|([AB]:[0-9]+)(,[AB]:[0-9]+)?)$ ]] || die "bad delay/loss '$spec'"
  done
  for x in A B; do
    [ "$(per_side "$loss" $x)" -le 100 ] || die "loss is a percentage"
    [ "$(per_side "$delay" $x)" -le 10000 ] || die "delay above 10 s"
  done
  if [ -e "$(state)" ] || [ -n "$(lab_namespaces)" ]; then
    die "lab '$ID' is already up (lab.sh down --id $ID), or choose another --id"
  fi
  for tool in nft iptables ss miniupnpd turnserver setsid; do
    command -v "$tool" >/dev/null || die "missing $tool (run scripts/install-deps.sh)"
  done

  # From here on any failure, Ctrl-C or kill tears down what was built.
  trap 'up_abort' EXIT
  trap 'exit 130' INT TERM HUP QUIT
  mkdir -p "$(state)"
  printf 'type_A=%s\ntype_B=%s\ndelay_A=%s\ndelay_B=%s\nloss_A=%s\nloss_B=%s\n' \
    "$ta" "$tb" "$(per_side "$delay" A)" "$(per_side "$delay" B)" \
    "$(per_side "$loss" A)" "$(per_side "$loss" B)" >"$(state)/config"
  build_core
  build_side A
  build_side B
  relay_start
  for x in A B; do
    local t lan_net w
    t=$(side_type $x)
    w=$(wnet $x)
    if [ "$t" = firewall ]; then lan_net="$w.128/25"; else lan_net="10.$(lnum $x).0.0/24"; fi
    if [ "$t" = doublenat ]; then
      cgn_rules "c$x"
      router_rules "r$x" "$t" "100.64.$(lnum $x).2" "$(router_lan_ip $x)" "$(per_side "$loss" $x)"
    else
      router_rules "r$x" "$t" "$w.2" "$(router_lan_ip $x)" "$(per_side "$loss" $x)"
    fi
    delay_start $x "$(per_side "$delay" $x)" "$(router_lan_ip $x)"
    miniupnpd_start $x "$lan_net"
  done
  miniupnpd_wait A
  miniupnpd_wait B
  trap - EXIT INT TERM HUP QUIT
  log "lab '$ID' up: A=$ta B=$tb delay=$delay ms loss=$loss %"
  log "peer A $(peer_ip A) (public $(public_ip A)), peer B $(peer_ip B) (public $(public_ip B)), relay $RELAY_IP1 $RELAY_IP2"
}

up_abort() {
  trap '' INT TERM HUP QUIT
  echo "lab.sh: up failed or interrupted; tearing lab '$ID' down" >&2
  do_down
}

# Kills every process inside the lab's namespaces (they are all ours), bounded,
# then deletes the namespaces (which takes the veths with them).
do_down() {
  local nss pids end
  nss=$(lab_namespaces)
  for n in $nss; do
    for p in $(ip netns pids "$n" 2>/dev/null); do kill -TERM "$p" 2>/dev/null || true; done
  done
  end=$((SECONDS + 5))
  while [ $SECONDS -lt $end ]; do
    pids=""
    for n in $nss; do pids+=$(ip netns pids "$n" 2>/dev/null | tr '\n' ' '); done
    [ -z "${pids// /}" ] && break
    sleep 0.05
  done
  for n in $nss; do
    for p in $(ip netns pids "$n" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
  done
  for n in $nss; do ip netns del "$n" 2>/dev/null || true; done
  rm -rf "${STATE_ROOT:?}/$ID"
  rmdir "$STATE_ROOT" 2>/dev/null || true
}

cmd_down() {
  while [ $# -gt 0 ]; do
    case $1 in
      --id) ID=$2; shift 2 ;;
      *) die "down: unknown argument '$1'" ;;
    esac
  done
  need_root
  check_id
  trap '' INT TERM HUP QUIT # finish the teardown even on a second Ctrl-C
  do_down
  [ -z "$(lab_namespaces)" ] || die "namespaces of lab '$ID' are still there"
  log "lab '$ID' down"
}

cmd_status() {
  while [ $# -gt 0 ]; do
    case $1 in
      --id) ID=$2; shift 2 ;;
      *) die "status: unknown argument '$1'" ;;
    esac
  done
  need_root
  check_id
  local nss; nss=$(lab_namespaces)
  if [ -z "$nss" ]; then echo "lab '$ID' is down"; return 1; fi
  [ -f "$(state)/config" ] && tr '\n' ' ' <"$(state)/config" && echo
  for n in $nss; do
    echo "== $n"
    ip -n "$n" -br addr | grep -v '^lo '
    for p in $(ip netns pids "$n"); do echo "   pid $p $(tr '\0' ' ' <"/proc/$p/cmdline" | cut -c1-90)"; done
  done
}

cmd_exec() {
  if [ "${1:-}" = --id ]; then ID=$2; shift 2; fi
  [ $# -ge 2 ] || die "usage: lab.sh exec [--id ID] NODE CMD..."
  need_root
  check_id
  local node=$1; shift
  ip netns list | awk '{print $1}' | grep -qx "$(ns "$node")" || die "no node '$node' in lab '$ID'"
  exec ip netns exec "$(ns "$node")" "$@"
}

# Sourced by lab-check.sh for the helpers; run as a command otherwise.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  cmd=${1:-}
  [ $# -gt 0 ] && shift
  case $cmd in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    status) cmd_status "$@" ;;
    exec) cmd_exec "$@" ;;
    *) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
  esac
fi
