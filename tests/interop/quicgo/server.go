package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/lucas-clemente/quic-go"
)

// hq-interop stream error codes, as p2pquic uses them.
const (
	errNotFound   = 0x1
	errBadRequest = 0x2
	errInternal   = 0x3
)

type server struct {
	root    string
	verbose bool
	keys    *keyCounter
}

func runServer(args []string) error {
	fs := flag.NewFlagSet("server", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:4433", "ADDR:PORT to listen on (port 0: any)")
	root := fs.String("root", "", "directory to serve (required)")
	certFile := fs.String("cert", "", "certificate chain PEM (default: ephemeral self-signed)")
	keyFile := fs.String("key", "", "private key PEM for -cert")
	keyUpdate := fs.Uint64("keyupdate", 0, "roll 1-RTT keys every N packets (0: quic-go default)")
	cipher := fs.String("cipher", "", "allow only this TLS suite: aes128, aes256, chacha20")
	verbose := fs.Bool("v", false, "log connections and requests")
	fs.Parse(args)
	if *root == "" || fs.NArg() != 0 {
		return errors.New("need -root DIR (and no other arguments)")
	}
	if st, err := os.Stat(*root); err != nil || !st.IsDir() {
		return fmt.Errorf("-root %s is not a directory", *root)
	}
	setKeyUpdateInterval(*keyUpdate)
	cert, err := loadOrMakeCert(*certFile, *keyFile)
	if err != nil {
		return err
	}
	s := &server{root: *root, verbose: *verbose, keys: &keyCounter{}}
	suites, err := cipherSuites(*cipher)
	if err != nil {
		return err
	}
	tlsConf := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{alpn},
		CipherSuites: suites}
	ln, err := quic.ListenAddr(*listen, tlsConf, quicConfig(s.keys))
	if err != nil {
		return err
	}
	fmt.Printf("listening on %s (hq-interop, serving %s)\nfingerprint %s\n", ln.Addr(), *root,
		fingerprint(cert.Leaf))
	os.Stdout.Sync()
	go func() { // SIGINT/SIGTERM: report and leave cleanly
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
		<-ch
		fmt.Fprintf(os.Stderr, "quicgo-hq server: stopping; %s\n", s.keys)
		os.Exit(0) // no ln.Close: Accept would fail first and exit 1
	}()
	for {
		conn, err := ln.Accept(context.Background())
		if err != nil {
			return err
		}
		go s.serveConn(conn)
	}
}

// quicConfig is shared by server and client: large windows so that a bulk
// transfer is not limited by flow control (p2pquic's maxima are 16/24 MiB).
func quicConfig(k *keyCounter) *quic.Config {
	return &quic.Config{
		MaxIdleTimeout:             30 * time.Second,
		HandshakeIdleTimeout:       10 * time.Second,
		MaxStreamReceiveWindow:     16 << 20,
		MaxConnectionReceiveWindow: 24 << 20,
		MaxIncomingStreams:         100,
		Tracer:                     keyTracer{k: k},
	}
}

func (s *server) serveConn(conn quic.Connection) {
	if s.verbose {
		log.Printf("connection from %s: %s", conn.RemoteAddr(),
			tls.CipherSuiteName(conn.ConnectionState().TLS.CipherSuite))
	}
	for {
		str, err := conn.AcceptStream(context.Background())
		if err != nil {
			if s.verbose {
				log.Printf("connection from %s closed: %v; %s", conn.RemoteAddr(), err, s.keys)
			}
			return
		}
		go s.serveStream(str)
	}
}

func (s *server) serveStream(str quic.Stream) {
	p, err := readRequest(str)
	if err != nil {
		s.refuse(str, errBadRequest, err)
		return
	}
	f, err := os.Open(filepath.Join(s.root, filepath.FromSlash(p)))
	if err == nil {
		var st os.FileInfo
		if st, err = f.Stat(); err == nil && !st.Mode().IsRegular() {
			err = errors.New("not a regular file")
		}
	}
	if err != nil {
		s.refuse(str, errNotFound, err)
		return
	}
	defer f.Close()
	n, err := io.Copy(str, f)
	if err != nil {
		s.refuse(str, errInternal, err)
		return
	}
	str.Close() // FIN after the last byte
	if s.verbose {
		log.Printf("stream %d: GET %s: %d bytes", str.StreamID(), p, n)
	}
}

func (s *server) refuse(str quic.Stream, code quic.StreamErrorCode, why error) {
	if s.verbose {
		log.Printf("stream %d: refused: %v", str.StreamID(), why)
	}
	str.CancelRead(code)
	str.CancelWrite(code)
}

// readRequest reads "GET /path" up to CRLF (or the end of the stream) and
// returns the cleaned path; paths that leave the root are refused.
func readRequest(r io.Reader) (string, error) {
	line, err := bufio.NewReaderSize(io.LimitReader(r, maxRequest), maxRequest).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if !strings.HasPrefix(line, "GET /") {
		return "", fmt.Errorf("bad request line %q", line)
	}
	p := line[4:]
	if strings.Contains(p, "..") || strings.ContainsAny(p, " \x00") {
		return "", fmt.Errorf("bad path %q", p)
	}
	return path.Clean(p), nil
}

func loadOrMakeCert(certFile, keyFile string) (tls.Certificate, error) {
	var cert tls.Certificate
	var err error
	if certFile != "" || keyFile != "" {
		cert, err = tls.LoadX509KeyPair(certFile, keyFile)
	} else {
		cert, err = selfSigned()
	}
	if err == nil && cert.Leaf == nil {
		cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0])
	}
	return cert, err
}

// selfSigned makes an ephemeral ECDSA P-256 certificate for "localhost".
func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(30 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
