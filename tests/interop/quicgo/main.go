// quicgo-hq: a small hq-interop (HTTP/0.9 over QUIC) server and client built on
// quic-go 0.29, used as an independent QUIC v1 peer in p2pquic's interop tests
// and benchmark. Usage: quicgo-hq server ... | quicgo-hq client ... (-h for flags).
package main

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"os"
	"sync/atomic"

	"github.com/lucas-clemente/quic-go/logging"
)

const alpn = "hq-interop"

// Largest request line we accept: "GET " + path + CRLF.
const maxRequest = 4096

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "server":
		err = runServer(os.Args[2:])
	case "client":
		err = runClient(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "quicgo-hq %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: quicgo-hq server|client [flags] (quicgo-hq server -h)")
	os.Exit(2)
}

// fingerprint is p2pquic's key fingerprint: sha256 of the SubjectPublicKeyInfo.
func fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// keyCounter counts 1-RTT key updates of every connection of an endpoint, so
// a test can check that they really happened (quic-go has no API to ask).
type keyCounter struct {
	local, remote int64
}

type keyConnTracer struct {
	logging.NullConnectionTracer
	k *keyCounter
}

func (t keyConnTracer) UpdatedKey(_ logging.KeyPhase, remote bool) {
	if remote {
		atomic.AddInt64(&t.k.remote, 1)
	} else {
		atomic.AddInt64(&t.k.local, 1)
	}
}

type keyTracer struct {
	logging.NullTracer
	k *keyCounter
}

func (t keyTracer) TracerForConnection(_ context.Context, _ logging.Perspective,
	_ logging.ConnectionID) logging.ConnectionTracer {
	return keyConnTracer{k: t.k}
}

func (k *keyCounter) String() string {
	return fmt.Sprintf("key updates: %d initiated here, %d by the peer",
		atomic.LoadInt64(&k.local), atomic.LoadInt64(&k.remote))
}
