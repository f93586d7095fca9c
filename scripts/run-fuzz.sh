#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD for SECONDS each, on a scratch copy of its
# seed corpus (fuzz/corpus/<target>/), and fails if any target finds a crash.
set -euo pipefail
build=${1:?usage: run-fuzz.sh BUILD_DIR SECONDS}
secs=${2:-30}
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$top/fuzz/artifacts"
fail=0; n=0
for t in "$build"/fuzz/fuzz_*; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  n=$((n + 1))
  mkdir -p "$work/$name"
  for seeds in "$top/fuzz/corpus/$name" "$top"/tests/*/fuzz/corpus/"$name"; do
    [ -d "$seeds" ] && { cp -r "$seeds/." "$work/$name/"; break; }
  done
  printf 'fuzz: %-28s %3ss ... ' "$name" "$secs"
  if "$t" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$top/fuzz/artifacts/$name-" \
       "$work/$name" >"$work/$name.log" 2>&1; then
    echo "ok ($(grep -o 'stat::number_of_executed_units: [0-9]*' "$work/$name.log" | awk '{print $2}') runs)"
  else
    echo "FAILED"; tail -40 "$work/$name.log"; fail=1
  fi
done
[ "$n" -gt 0 ] || { echo "fuzz: no targets built" >&2; exit 1; }
[ "$fail" -eq 0 ] && echo "fuzz: $n targets, no crash" || { echo "fuzz: crashes in fuzz/artifacts/" >&2; exit 1; }
