// quicgo-hq: a small hq-interop (HTTP/0.9 over QUIC) server and client built on
// quic-go 0.29, used as an independent QUIC v1 peer in p2pquic's interop tests
// and benchmark. Usage: quicgo-hq server ... | quicgo-hq client ... (-h for flags).
package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
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
	retries       int64 // Retry packets received (client)
}

type keyConnTracer struct {
	logging.NullConnectionTracer
	k *keyCounter
}

func (t keyConnTracer) ReceivedRetry(*logging.Header) {
	atomic.AddInt64(&t.k.retries, 1)
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

// cipherSuites maps -cipher to the one TLS 1.3 suite to allow (quic-go's qtls
// honours CipherSuites for TLS 1.3 on both sides); "" allows the default set.
func cipherSuites(name string) ([]uint16, error) {
	switch name {
	case "":
		return nil, nil
	case "aes128":
		return []uint16{tls.TLS_AES_128_GCM_SHA256}, nil
	case "aes256":
		return []uint16{tls.TLS_AES_256_GCM_SHA384}, nil
	case "chacha20":
		return []uint16{tls.TLS_CHACHA20_POLY1305_SHA256}, nil
	}
	return nil, fmt.Errorf("-cipher %q: want aes128, aes256 or chacha20", name)
}
