#!/usr/bin/env bash
# Suites that ctest does not run: the fuzz smoke run (every parser for a few
# seconds) and, as root, the NAT lab. Called by `make check`.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
echo "== fuzz smoke (every target, ${FUZZ_SMOKE_SECONDS:-5}s each)"
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DP2PQ_FUZZ=ON >/dev/null
cmake --build build-fuzz -j "$(nproc)" >/dev/null
bash scripts/run-fuzz.sh build-fuzz "${FUZZ_SMOKE_SECONDS:-5}"
if [ -x tests/netns/lab-check.sh ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "== NAT lab (root)"
    bash tests/netns/lab-check.sh "${1:-build}"
    echo "== NAT lab scenarios: address discovery, STUN, port mapping (root)"
    bash tests/netns/scenarios/run-all.sh "${1:-build}"
  else
    echo "!! NAT lab SKIPPED: it needs root (network namespaces). Run: sudo make lab-check"
  fi
fi
