#!/usr/bin/env bash
# Builds quicgo-h3 (this directory: an HTTP/3 server and client) with Debian's Go and quic-go 0.29 source
# package, offline, in GOPATH mode. Usage: build.sh OUT_BINARY
set -euo pipefail
out=${1:?usage: build.sh OUT_BINARY}
here=$(cd "$(dirname "$0")" && pwd)
gocode=/usr/share/gocode
if ! command -v go >/dev/null; then
  echo "go not found: run scripts/install-deps.sh (package golang-go)" >&2
  exit 1
fi
if [ ! -d "$gocode/src/github.com/lucas-clemente/quic-go" ]; then
  echo "quic-go source not found in $gocode: run scripts/install-deps.sh" \
       "(package golang-github-lucas-clemente-quic-go-dev)" >&2
  exit 1
fi
outdir=$(cd "$(dirname "$out")" && pwd)
mkdir -p "$outdir/go-cache"
# Rebuild only when a source is newer than the binary.
if [ -x "$out" ] && [ -z "$(find "$here" -name '*.go' -newer "$out")" ]; then
  exit 0
fi
cd "$here"
GO111MODULE=off GOPATH=$gocode GOCACHE="$outdir/go-cache" GOFLAGS= CGO_ENABLED=0 \
  go build -o "$out.tmp" . && mv "$out.tmp" "$out"
