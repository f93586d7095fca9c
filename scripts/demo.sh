#!/usr/bin/env bash
# The main demo. Grows with the stack; see README.md.
set -euo pipefail
build=${1:-build}
echo "p2pquic demo: library built in $build"
ls "$build"/libp2pq_*.a
