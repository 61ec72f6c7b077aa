package loadgen

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/c10k/c10k/loadgen/result"
)

// tlsServer serves testHandler over TLS (HTTP/1.1 only) with
// httptest's certificate for 127.0.0.1 and returns its base URL, a PEM
// file of that certificate (the CA to trust) and the count of TCP
// connections it accepted.
func tlsServer(t *testing.T) (base, caFile string, conns *atomic.Int64) {
	t.Helper()
	conns = new(atomic.Int64)
	ts := httptest.NewUnstartedServer(testHandler())
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw})
	if err := os.WriteFile(caFile, pemBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	return ts.URL, caFile, conns
}

// TestTLSModels runs each model against a TLS server and checks the
// handshake figures: one full handshake per request with keep-alive off,
// resumed ones with a session cache, one per connection with keep-alive.
func TestTLSModels(t *testing.T) {
	base, ca, _ := tlsServer(t)
	for _, tc := range []struct {
		name string
		o    Options
		// want checks the TLS figures against the requests done.
		want func(s *result.Summary) bool
	}{
		{"closed keepalive=off full", Options{Connections: 4, Requests: 40, NoReuse: true},
			func(s *result.Summary) bool { return s.TLS.Handshakes == s.Requests && s.TLS.Resumed == 0 }},
		{"closed keepalive=off resumed", Options{Connections: 4, Requests: 40, NoReuse: true, TLS: TLSOptions{Resume: true}},
			// Only the first connection of each of the 4 can be full:
			// later ones find the ticket of an earlier one.
			func(s *result.Summary) bool {
				return s.TLS.Handshakes == s.Requests && s.TLS.Resumed >= s.TLS.Handshakes-4
			}},
		{"closed keepalive=on", Options{Connections: 4, Requests: 40},
			func(s *result.Summary) bool { return s.TLS.Handshakes == 4 }},
		{"closed TLS 1.2", Options{Connections: 2, Requests: 10, NoReuse: true, TLS: TLSOptions{Version: tls.VersionTLS12}},
			func(s *result.Summary) bool { return s.TLS.Handshakes == 10 && s.TLS.Version == "TLS 1.2" }},
		{"closed X25519 only", Options{Connections: 2, Requests: 10, NoReuse: true, TLS: TLSOptions{Curves: []tls.CurveID{tls.X25519}}},
			func(s *result.Summary) bool { return s.TLS.Handshakes == 10 && s.TLS.Curve == "X25519" }},
		{"open keepalive=off", Options{Rate: 200, Duration: 200 * time.Millisecond, NoReuse: true},
			func(s *result.Summary) bool { return s.Requests > 0 && s.TLS.Handshakes == s.Requests }},
		{"open keepalive=on", Options{Rate: 200, Duration: 200 * time.Millisecond, Connections: 2},
			func(s *result.Summary) bool { return s.Requests > 0 && s.TLS.Handshakes <= 2 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			o.Request.URL = base + "/fixed"
			o.TLS.CAFile = ca
			o.Timeout = 5 * time.Second
			s, err := Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Errors) > 0 || s.StatusCodes["200"] != s.Requests {
				t.Fatalf("codes %v, errors %v (first %q); want only 200s", s.StatusCodes, s.Errors, s.FirstError)
			}
			if s.TLS == nil || s.Hist.Handshake == nil {
				t.Fatal("no TLS figures")
			}
			if !tc.want(s) {
				t.Errorf("%d requests, TLS %+v", s.Requests, *s.TLS)
			}
			if s.TLS.Failed != 0 || s.Hist.Handshake.TotalCount() != s.TLS.Handshakes || s.TLS.Latency.P50 <= 0 || s.TLS.PerSecond <= 0 || s.TLS.Version == "" || s.TLS.Cipher == "" {
				t.Errorf("TLS %+v: want no failures, a histogram of every handshake, a rate and the version", *s.TLS)
			}
			if s.Model == result.ModelClosed && s.BytesIn < s.Requests*1024 {
				t.Errorf("%d bytes in for %d responses of 1 KiB", s.BytesIn, s.Requests)
			}
		})
	}
}

// TestTLSPreflight checks that a certificate the client cannot trust,
// or a port that does not speak TLS, gives one clear error before any
// load and costs the server one connection, not one per request.
func TestTLSPreflight(t *testing.T) {
	base, ca, conns := tlsServer(t)
	plain := testServer(t, testHandler())
	for _, tc := range []struct {
		name    string
		url     string
		tlsOpts TLSOptions
		want    string // in the error; "" for none
	}{
		{"untrusted", base, TLSOptions{}, "--cacert"},
		{"wrong name", base, TLSOptions{CAFile: ca, ServerName: "other.test"}, "another name"},
		{"plain port", "https://" + strings.TrimPrefix(plain, "http://"), TLSOptions{Insecure: true}, "plain http"},
		{"trusted by --cacert", base, TLSOptions{CAFile: ca}, ""},
		{"--insecure", base, TLSOptions{Insecure: true}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := conns.Load()
			s, err := Run(context.Background(), Options{Request: Request{URL: tc.url + "/fixed"}, Connections: 8, Requests: 100, NoReuse: true, TLS: tc.tlsOpts, Timeout: 5 * time.Second})
			if tc.want == "" {
				if err != nil || s.StatusCodes["200"] != 100 {
					t.Fatalf("err %v, summary %+v", err, s)
				}
				return
			}
			if !errors.Is(err, ErrTLS) || !strings.Contains(err.Error(), tc.want) || s != nil {
				t.Fatalf("Run = %v, %v; want a nil summary and an ErrTLS error saying %q", s, err, tc.want)
			}
			if tc.url == base {
				if n := conns.Load() - before; n != 1 {
					t.Errorf("the server saw %d connections; want the preflight's one", n)
				}
			}
		})
	}
	if _, err := (TLSOptions{CAFile: filepath.Join(t.TempDir(), "none.pem")}).Config(Target{Addr: "h:1"}); err == nil || !strings.Contains(err.Error(), "--cacert") {
		t.Errorf("missing CA file: %v", err)
	}
}

// TestTLSIdleProbeSlow holds idle TLS connections with probes and slow
// readers beside a closed load: their handshakes count apart (Other).
func TestTLSIdleProbeSlow(t *testing.T) {
	base, ca, _ := tlsServer(t)
	s, err := Run(context.Background(), Options{
		Request: Request{URL: base + "/fixed"}, Connections: 1, Duration: 300 * time.Millisecond,
		Idle: 3, OpenRate: 1000, ProbeRate: 20, SlowReaders: 1, SlowRate: 1 << 20,
		TLS: TLSOptions{CAFile: ca}, Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.Idle == nil || s.Idle.Held != 3 {
		t.Errorf("idle %+v; want 3 held", s.Idle)
	}
	if s.Probe == nil || s.Probe.OK == 0 || s.Probe.Errors != 0 {
		t.Errorf("probes %+v; want answered ones and no errors", s.Probe)
	}
	if s.Slow == nil || s.Slow.Responses == 0 {
		t.Errorf("slow readers %+v; want responses", s.Slow)
	}
	if s.TLS == nil || s.TLS.Handshakes != 1 || s.TLS.Other < 3+s.Probe.Sent {
		t.Errorf("TLS %+v; want 1 load handshake and at least %d others", s.TLS, 3+s.Probe.Sent)
	}
}

func TestParseCurves(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []tls.CurveID
		bad  bool
	}{
		{"", nil, false},
		{"X25519", []tls.CurveID{tls.X25519}, false},
		{"x25519mlkem768, P-256,p384", []tls.CurveID{tls.X25519MLKEM768, tls.CurveP256, tls.CurveP384}, false},
		{"X448", nil, true},
		{"X25519,", nil, true},
	} {
		got, err := ParseCurves(tc.in)
		if fmt.Sprint(got) != fmt.Sprint(tc.want) || (err != nil) != tc.bad {
			t.Errorf("ParseCurves(%q) = %v, %v", tc.in, got, err)
		}
	}
}

func TestParseTLSVersion(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint16
		bad  bool
	}{
		{"", 0, false}, {"1.2", tls.VersionTLS12, false}, {"1.3", tls.VersionTLS13, false},
		{"1.1", 0, true}, {"tls1.3", 0, true},
	} {
		got, err := ParseTLSVersion(tc.in)
		if got != tc.want || (err != nil) != tc.bad {
			t.Errorf("ParseTLSVersion(%q) = %v, %v", tc.in, got, err)
		}
	}
}
