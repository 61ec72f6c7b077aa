package loadgen

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/c10k/c10k/loadgen/result"
)

// TLSOptions configure the client side of an https run.
//
// Resume is off by default: every new connection then does a full
// handshake (key exchange, the server's certificate and its signature),
// which is the cost a server pays for each new visitor and the honest
// figure of "what TLS costs". Browsers keep a session cache and resume
// on their next connection (TLS 1.3: a PSK ticket with a fresh key
// exchange, no certificate, no signature); turn Resume on to measure
// that case. A bench that compares both runs both.
type TLSOptions struct {
	// Insecure skips the verification of the server's certificate.
	Insecure bool
	// CAFile is a PEM file of the certificates that may sign the
	// server's (the runner's generated CA, a private CA); "": the
	// system's roots.
	CAFile string
	// Resume keeps a client session cache shared by every connection
	// of the run, so that new connections resume a session.
	Resume bool
	// Version, when not 0, is the one TLS version offered
	// (tls.VersionTLS12 or tls.VersionTLS13); 0: crypto/tls's default
	// range, TLS 1.2 to 1.3.
	Version uint16
	// ServerName is the SNI name sent and the name the certificate is
	// checked for; "": the URL's host.
	ServerName string
	// Curves are the key exchanges offered, in order of preference;
	// nil: crypto/tls's default, which puts the post-quantum hybrid
	// X25519MLKEM768 first, as current browsers do (a server that lacks
	// it, such as OpenSSL 3.0, picks X25519).
	Curves []tls.CurveID
}

// curveNames are the key exchanges --tls-curves accepts.
var curveNames = map[string]tls.CurveID{
	"x25519": tls.X25519, "x25519mlkem768": tls.X25519MLKEM768,
	"p-256": tls.CurveP256, "p256": tls.CurveP256, "curvep256": tls.CurveP256,
	"p-384": tls.CurveP384, "p384": tls.CurveP384, "curvep384": tls.CurveP384,
	"p-521": tls.CurveP521, "p521": tls.CurveP521, "curvep521": tls.CurveP521,
}

// ParseCurves parses a --tls-curves value: a comma list of X25519,
// X25519MLKEM768, P-256, P-384, P-521 (any case); "" is nil.
func ParseCurves(s string) ([]tls.CurveID, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []tls.CurveID
	for _, name := range strings.Split(s, ",") {
		c, ok := curveNames[strings.ToLower(strings.TrimSpace(name))]
		if !ok {
			return nil, fmt.Errorf("--tls-curves %q: unknown key exchange %q (want X25519, X25519MLKEM768, P-256, P-384 or P-521)", s, strings.TrimSpace(name))
		}
		out = append(out, c)
	}
	return out, nil
}

// ParseTLSVersion parses a --tls-version value: "1.2", "1.3" or ""
// (crypto/tls's default range, 0).
func ParseTLSVersion(s string) (uint16, error) {
	switch strings.TrimSpace(s) {
	case "":
		return 0, nil
	case "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("--tls-version %q: want 1.2 or 1.3", s)
}

// Config returns the crypto/tls client configuration of o toward t:
// HTTP/1.1 only (ALPN "http/1.1"), the CA file's pool or the system's
// roots, a session cache when Resume is set.
func (o TLSOptions) Config(t Target) (*tls.Config, error) {
	cfg := &tls.Config{
		ServerName:         o.ServerName,
		InsecureSkipVerify: o.Insecure,
		NextProtos:         []string{"http/1.1"},
	}
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(t.Addr)
		if err != nil {
			host = t.Addr
		}
		cfg.ServerName = host
	}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("loadgen: --cacert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("loadgen: --cacert %s: no PEM certificate in the file", o.CAFile)
		}
		cfg.RootCAs = pool
	}
	if o.Version != 0 {
		if o.Version != tls.VersionTLS12 && o.Version != tls.VersionTLS13 {
			return nil, fmt.Errorf("loadgen: TLS version %#04x: want TLS 1.2 or 1.3", o.Version)
		}
		cfg.MinVersion, cfg.MaxVersion = o.Version, o.Version
	}
	if o.Resume {
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(64)
	}
	cfg.CurvePreferences = o.Curves
	return cfg, nil
}

// tlsStats counts the handshakes of one kind of connection: the load's
// or the others' (idle set, probes, slow readers). Safe for concurrent
// use; a handshake costs far more than the lock.
type tlsStats struct {
	done, resumed, failed atomic.Int64

	mu    sync.Mutex
	hist  *hdrhistogram.Histogram
	state *tls.ConnectionState // of the first handshake
}

func newTLSStats() *tlsStats { return &tlsStats{hist: result.NewHistogram()} }

func (s *tlsStats) record(d time.Duration, cs tls.ConnectionState) {
	if s == nil {
		return
	}
	s.done.Add(1)
	if cs.DidResume {
		s.resumed.Add(1)
	}
	s.mu.Lock()
	result.Record(s.hist, d)
	if s.state == nil {
		s.state = &cs
	}
	s.mu.Unlock()
}

func (s *tlsStats) fail() {
	if s != nil {
		s.failed.Add(1)
	}
}

// summary returns the load's figures (PerSecond and Latency are filled
// by Summary.Finish) and its histogram; other is the others' count.
func (s *tlsStats) summary(resume bool, other *tlsStats) (*result.TLSStats, *hdrhistogram.Histogram) {
	t := &result.TLSStats{Resume: resume, Handshakes: s.done.Load(), Resumed: s.resumed.Load(), Failed: s.failed.Load()}
	if other != nil {
		t.Other = other.done.Load()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cs := s.state; cs != nil {
		t.Version = tls.VersionName(cs.Version)
		t.Cipher = tls.CipherSuiteName(cs.CipherSuite)
		if cs.CurveID != 0 {
			t.Curve = cs.CurveID.String()
		}
	}
	return t, s.hist
}

// tlsPreflight shakes hands once with t before any load, so that a
// certificate the client cannot trust gives one clear error instead of
// one per request. A target that does not accept the TCP connection is
// left to the run, which counts that as it counts any refusal.
func tlsPreflight(ctx context.Context, t Target, cfg *tls.Config, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, min(timeout, 10*time.Second))
	defer cancel()
	nd := net.Dialer{}
	c, err := nd.DialContext(ctx, "tcp", t.Addr)
	if err != nil {
		return nil
	}
	defer c.Close()
	cfg = cfg.Clone()
	cfg.ClientSessionCache = nil // the load's first handshake stays a full one
	tc := tls.Client(c, cfg)
	err = tc.HandshakeContext(ctx)
	if err == nil {
		tc.Close()
		return nil
	}
	return fmt.Errorf("loadgen: %w: handshake with %s (server name %q) failed: %v%s", ErrTLS, t.Addr, cfg.ServerName, err, tlsHint(err))
}

// tlsHint says what to change after a failed handshake.
func tlsHint(err error) string {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		record   tls.RecordHeaderError
		alert    tls.AlertError
	)
	switch {
	case errors.As(err, &unknown):
		return "; the certificate's signer is not trusted: pass --cacert FILE with the CA that signed it, or --insecure to skip the check"
	case errors.As(err, &hostname):
		return "; the certificate is for another name: use the name it was issued for in the URL, or --insecure"
	case errors.As(err, &invalid):
		return "; the certificate is not valid (expired, or not for a server): renew it, or --insecure"
	case errors.As(err, &record):
		return "; the server did not answer in TLS: is this port plain http? (use an http:// URL)"
	case errors.As(err, &alert) && (alert == 70 || alert == 40): // protocol_version, handshake_failure
		return "; no TLS version or cipher in common: try another --tls-version"
	case errors.Is(err, context.DeadlineExceeded):
		return "; the server did not finish the handshake in time"
	}
	return ""
}

// isTLSError reports whether err came from TLS itself (an alert, a
// certificate, a malformed record) rather than from the connection.
func isTLSError(err error) bool {
	var (
		alert  tls.AlertError
		verify *tls.CertificateVerificationError
		record tls.RecordHeaderError
	)
	return errors.As(err, &alert) || errors.As(err, &verify) || errors.As(err, &record) ||
		strings.Contains(err.Error(), "tls: ")
}
