// quicgo-h3: an HTTP/3 file server and client built on quic-go 0.29's http3
// package, to test p2pquic's HTTP/3 against another implementation.
//
//	quicgo-h3 server -listen 127.0.0.1:0 -root DIR
//	quicgo-h3 client [-pin sha256:HEX] -o DIR URL...
package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"syscall"
	"time"

	"github.com/lucas-clemente/quic-go"
	"github.com/lucas-clemente/quic-go/http3"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: quicgo-h3 server|client [options]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "server":
		err = runServer(os.Args[2:])
	case "client":
		err = runClient(os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "quicgo-h3 %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

// fingerprint is what p2pquic prints and pins: SHA-256 of the SubjectPublicKeyInfo.
func fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// quicConfig: large windows so a bulk transfer is not limited by flow control.
func quicConfig() *quic.Config {
	return &quic.Config{
		MaxIdleTimeout:             30 * time.Second,
		HandshakeIdleTimeout:       10 * time.Second,
		MaxStreamReceiveWindow:     16 << 20,
		MaxConnectionReceiveWindow: 24 << 20,
	}
}

// selfSigned makes an ephemeral ECDSA P-256 certificate for localhost.
func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(30 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

func runServer(args []string) error {
	fs := flag.NewFlagSet("server", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:4433", "ADDR:PORT to listen on (port 0: any)")
	root := fs.String("root", "", "directory to serve (required)")
	fs.Parse(args)
	if *root == "" || fs.NArg() != 0 {
		return errors.New("need -root DIR (and no other arguments)")
	}
	if st, err := os.Stat(*root); err != nil || !st.IsDir() {
		return fmt.Errorf("-root %s is not a directory", *root)
	}
	cert, err := selfSigned()
	if err != nil {
		return err
	}
	// ConfigureTLSConfig sets the h3 ALPN for the negotiated QUIC version.
	tlsConf := http3.ConfigureTLSConfig(&tls.Config{Certificates: []tls.Certificate{cert}})
	ln, err := quic.ListenAddrEarly(*listen, tlsConf, quicConfig())
	if err != nil {
		return err
	}
	fmt.Printf("listening on %s (h3, serving %s)\nfingerprint %s\n", ln.Addr(), *root,
		fingerprint(cert.Leaf))
	os.Stdout.Sync()
	go func() { // SIGINT/SIGTERM: leave cleanly
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
		<-ch
		fmt.Fprintln(os.Stderr, "quicgo-h3 server: stopping")
		os.Exit(0)
	}()
	srv := &http3.Server{Handler: http.FileServer(http.Dir(*root)), QuicConfig: quicConfig()}
	return srv.ServeListener(ln)
}

// pinCheck accepts exactly the certificate whose SPKI hash is pin.
func pinCheck(pin string) func([][]byte, [][]*x509.Certificate) error {
	return func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 {
			return errors.New("no server certificate")
		}
		c, err := x509.ParseCertificate(raw[0])
		if err != nil {
			return err
		}
		if got := fingerprint(c); got != pin {
			return fmt.Errorf("certificate fingerprint %s does not match the pin %s", got, pin)
		}
		return nil
	}
}

func runClient(args []string) error {
	fs := flag.NewFlagSet("client", flag.ExitOnError)
	pin := fs.String("pin", "", "accept only a server key with this fingerprint (sha256:HEX); default: no check")
	out := fs.String("o", ".", "directory to write the files to")
	timeout := fs.Duration("timeout", 120*time.Second, "limit for all requests together")
	fs.Parse(args)
	if fs.NArg() == 0 {
		return errors.New("need at least one URL")
	}
	tlsConf := &tls.Config{InsecureSkipVerify: true}
	if *pin != "" {
		tlsConf.VerifyPeerCertificate = pinCheck(*pin)
	}
	rt := &http3.RoundTripper{TLSClientConfig: tlsConf, QuicConfig: quicConfig(),
		DisableCompression: true}
	defer rt.Close()
	client := &http.Client{Transport: rt}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	for _, u := range fs.Args() {
		if err := get(ctx, client, u, *out); err != nil {
			return err
		}
	}
	return nil
}

// get saves URL's body as OUT/<last path element>; no file is left on failure.
func get(ctx context.Context, client *http.Client, rawurl, out string) error {
	pu, err := url.Parse(rawurl)
	if err != nil {
		return err
	}
	name := path.Base(pu.Path)
	if name == "/" || name == "." {
		return fmt.Errorf("%s: no file name in the URL", rawurl)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawurl, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		return fmt.Errorf("%s: status %d %s", rawurl, resp.StatusCode, bytes.TrimSpace(msg))
	}
	dst := filepath.Join(out, name)
	f, err := os.Create(dst + ".part")
	if err != nil {
		return err
	}
	n, err := io.Copy(f, resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && resp.ContentLength >= 0 && n != resp.ContentLength {
		err = fmt.Errorf("got %d bytes, Content-Length %d", n, resp.ContentLength)
	}
	if err != nil {
		os.Remove(dst + ".part")
		return fmt.Errorf("%s: %v", rawurl, err)
	}
	fmt.Printf("%s: %d bytes -> %s\n", rawurl, n, dst)
	return os.Rename(dst+".part", dst)
}
