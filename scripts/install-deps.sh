#!/usr/bin/env bash
# Installs, idempotently, every Debian 12 package p2pquic needs to build, test,
# fuzz, run its NAT lab and run its reference peers. Installs only what is missing.
set -euo pipefail

PKGS=(
  # build
  build-essential cmake pkg-config clang libclang-rt-14-dev llvm
  libgnutls28-dev gnutls-bin libcmocka-dev
  # port mapping and lab helpers
  libnatpmp-dev libminiupnpc-dev libnetfilter-queue-dev libmnl-dev
  nftables iptables conntrack iproute2 iputils-ping miniupnpd miniupnpc natpmp-utils coturn
  # reference peers and benchmarks
  ngtcp2-server ngtcp2-client golang-go golang-github-lucas-clemente-quic-go-dev iperf3
  libnghttp3-dev
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root (or: sudo $0) to install them" >&2
  exit 1
fi

echo "install-deps: installing ${#missing[@]} packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
