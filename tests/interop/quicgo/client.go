package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lucas-clemente/quic-go"
)

type clientOpts struct {
	out        string
	pin        string
	timeout    time.Duration
	minUpdates int64
	verbose    bool
	discard    bool // read bodies and drop them (benchmarks)
	cipher     string
	wantRetry  bool
	ca         string
}

func runClient(args []string) error {
	fs := flag.NewFlagSet("client", flag.ExitOnError)
	var o clientOpts
	fs.StringVar(&o.out, "o", "", "output directory (each URL's last path part is saved there)")
	fs.StringVar(&o.pin, "pin", "", "accept only this server key (sha256:..., p2pquic's "+
		"fingerprint); default: accept any")
	fs.DurationVar(&o.timeout, "timeout", 120*time.Second, "give up after this long")
	keyUpdate := fs.Uint64("keyupdate", 0, "roll 1-RTT keys every N packets (0: quic-go default)")
	fs.Int64Var(&o.minUpdates, "min-key-updates", 0, "fail unless at least this many key "+
		"updates (by either side) happened")
	fs.BoolVar(&o.verbose, "v", false, "print per-file results")
	fs.StringVar(&o.cipher, "cipher", "", "offer only this TLS suite: aes128, aes256, chacha20")
	fs.StringVar(&o.ca, "ca", "", "verify the server's X.509 chain and name against these "+
		"CA certificates (PEM) instead of -pin / accepting any")
	fs.BoolVar(&o.wantRetry, "want-retry", false, "fail unless the server sent a Retry")
	fs.BoolVar(&o.discard, "discard", false, "drop the bodies instead of saving them (no -o)")
	migrate := fs.Bool("migrate", false, "not supported: quic-go 0.29 cannot migrate a client")
	fs.Parse(args)
	if *migrate {
		return errors.New("-migrate: quic-go 0.29 has no client connection migration")
	}
	if (o.out == "") == !o.discard || fs.NArg() == 0 {
		return errors.New("usage: quicgo-hq client (-o DIR | -discard) [-pin FP] " +
			"[-keyupdate N] URL...")
	}
	setKeyUpdateInterval(*keyUpdate)
	urls, err := parseURLs(fs.Args())
	if err != nil {
		return err
	}
	if o.discard {
		o.out = ""
	} else if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	return fetchAll(&o, urls)
}

// parseURLs checks that every URL is https://HOST:PORT/path on one server.
func parseURLs(args []string) ([]*url.URL, error) {
	var urls []*url.URL
	for _, a := range args {
		u, err := url.Parse(a)
		if err != nil {
			return nil, err
		}
		if u.Scheme != "https" || u.Port() == "" || u.Path == "" {
			return nil, fmt.Errorf("%q: want https://HOST:PORT/path", a)
		}
		if len(urls) > 0 && u.Host != urls[0].Host {
			return nil, fmt.Errorf("%q: all URLs must name the same server", a)
		}
		urls = append(urls, u)
	}
	return urls, nil
}

func tlsConfig(o *clientOpts, host string, suites []uint16) (*tls.Config, error) {
	c := &tls.Config{NextProtos: []string{alpn}, CipherSuites: suites}
	if o.ca != "" {
		pem, err := os.ReadFile(o.ca)
		if err != nil {
			return nil, err
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-ca %s: no PEM certificates", o.ca)
		}
		c.ServerName = host
		return c, nil
	}
	c.InsecureSkipVerify = true
	pin := o.pin
	if pin != "" {
		c.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return errors.New("no server certificate")
			}
			cert, err := x509.ParseCertificate(raw[0])
			if err != nil {
				return err
			}
			if fp := fingerprint(cert); fp != pin {
				return fmt.Errorf("server key %s does not match -pin %s", fp, pin)
			}
			return nil
		}
	}
	return c, nil
}

func fetchAll(o *clientOpts, urls []*url.URL) error {
	keys := &keyCounter{}
	suites, err := cipherSuites(o.cipher)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	start := time.Now()
	tlsConf, err := tlsConfig(o, urls[0].Hostname(), suites)
	if err != nil {
		return err
	}
	conn, err := quic.DialAddrContext(ctx, urls[0].Host, tlsConf, quicConfig(keys))
	if err != nil {
		return fmt.Errorf("handshake with %s: %w", urls[0].Host, err)
	}
	st := conn.ConnectionState().TLS
	if st.NegotiatedProtocol != alpn {
		return fmt.Errorf("server chose ALPN %q, not %s", st.NegotiatedProtocol, alpn)
	}
	if len(suites) > 0 && st.CipherSuite != suites[0] {
		return fmt.Errorf("negotiated %s, not the only suite offered",
			tls.CipherSuiteName(st.CipherSuite))
	}
	retries := atomic.LoadInt64(&keys.retries)
	if o.wantRetry && retries == 0 {
		return errors.New("the server sent no Retry (-want-retry)")
	}
	if o.verbose {
		fmt.Fprintf(os.Stderr, "quicgo-hq client: connected: %s, %d Retry\n",
			tls.CipherSuiteName(st.CipherSuite), retries)
	}
	var wg sync.WaitGroup
	var total int64
	errs := make([]error, len(urls))
	for i, u := range urls {
		wg.Add(1)
		go func(i int, u *url.URL) {
			defer wg.Done()
			n, err := fetchOne(ctx, conn, u, o.out)
			atomic.AddInt64(&total, n)
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w", u.Path, err)
				fmt.Fprintf(os.Stderr, "quicgo-hq client: %v\n", errs[i])
			} else if o.verbose {
				fmt.Fprintf(os.Stderr, "quicgo-hq client: %s: %d bytes\n", u.Path, n)
			}
		}(i, u)
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	conn.CloseWithError(0, "")
	fmt.Fprintf(os.Stderr, "quicgo-hq client: %d files, %d bytes in %.3f s (%.1f MB/s); %s\n",
		len(urls), total, secs, float64(total)/secs/1e6, keys)
	for _, err := range errs {
		if err != nil {
			return err // the first; each was printed by its goroutine when -v
		}
	}
	if n := atomic.LoadInt64(&keys.local) + atomic.LoadInt64(&keys.remote); n < o.minUpdates {
		return fmt.Errorf("only %d key updates happened, -min-key-updates %d", n, o.minUpdates)
	}
	return nil
}

// fetchOne sends "GET /path\r\n" on a new stream and saves the reply; a file
// is removed again if the stream did not end cleanly.
func fetchOne(ctx context.Context, conn quic.Connection, u *url.URL, dir string) (int64, error) {
	str, err := conn.OpenStreamSync(ctx)
	if err != nil {
		return 0, err
	}
	if _, err := io.WriteString(str, "GET "+u.Path+"\r\n"); err != nil {
		return 0, err
	}
	str.Close()
	if d, ok := ctx.Deadline(); ok {
		str.SetReadDeadline(d) // io.Copy does not watch ctx
	}
	if dir == "" {
		return io.Copy(io.Discard, str)
	}
	name := path.Base(u.Path)
	if name == "/" || name == "." {
		name = "index.html"
	}
	outPath := filepath.Join(dir, name)
	f, err := os.Create(outPath)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, str)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(outPath)
	}
	return n, err
}
