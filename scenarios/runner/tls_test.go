package runner

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/c10k/c10k/loadgen"
	"github.com/c10k/c10k/loadgen/result"
	"github.com/c10k/c10k/reports"
	"github.com/c10k/c10k/scenarios"
)

// TestRunTLS runs a site with TLS on the event core: the runner writes a
// CA and certificate into the run directory, the server listens plain
// and TLS, TLS steps go over https with the CA and record their
// handshakes with the site's key exchange, and a url target skips them.
func TestRunTLS(t *testing.T) {
	s := parse(t, `{
  "name": "tls",
  "description": "plain and TLS",
  "site": {"files": [{"path": "1k.txt", "size": 1024}], "tls": {"curves": ["X25519"]}},
  "warmup": "50ms",
  "duration": "300ms",
  "steps": [
    {"label": "plain", "path": "/1k.txt", "connections": 2, "keepalive": false},
    {"label": "tls", "path": "/1k.txt", "connections": 2, "keepalive": false, "tls": true},
    {"label": "tls-resume", "path": "/1k.txt", "connections": 2, "keepalive": false, "tls": true, "tls_resume": true}
  ]
}`)
	dir := t.TempDir()
	var log strings.Builder
	run, err := Run(context.Background(), Options{
		Scenarios: []*scenarios.Scenario{s},
		Targets:   []Target{{Name: "event", Kind: reports.KindCore}, {Name: "url", Kind: reports.KindURL, URL: "http://127.0.0.1:1/"}},
		Exe:       exe, Dir: dir, ServerCPU: -1, ClientCPU: -1, Log: &log,
	})
	if err != nil {
		t.Fatalf("Run: %v\nlog:\n%s", err, log.String())
	}
	checkNoLeftovers(t)
	for _, f := range []string{"ca.pem", "cert.pem", "key.pem"} {
		if _, err := os.Stat(filepath.Join(dir, "tls", "tls", f)); err != nil {
			t.Error(err)
		}
	}
	if len(run.Steps) != 6 {
		t.Fatalf("%d steps, want 6\nlog:\n%s", len(run.Steps), log.String())
	}
	for _, st := range run.Steps[:3] {
		if !st.Valid || st.Throughput <= 0 || st.Errors != 0 {
			t.Errorf("event %s: valid %v (%s), %v req/s, %d errors; note %q", st.Label, st.Valid, st.Invalid, st.Throughput, st.Errors, st.Note)
		}
		if (st.TLS != nil) != (st.Label != "plain") {
			t.Errorf("event %s: TLS figures %+v", st.Label, st.TLS)
			continue
		}
		if st.TLS == nil {
			continue
		}
		if st.TLS.Handshakes < st.Requests || st.TLS.Handshakes > st.Requests+int64(st.Concurrency) || st.TLS.PerSecond <= 0 || st.TLS.P50 <= 0 || st.TLS.Version != "TLS 1.3 X25519" {
			t.Errorf("event %s: %d requests, TLS %+v; want a handshake per request", st.Label, st.Requests, *st.TLS)
		}
		if resumed := st.TLS.Resumed > 0; resumed != st.TLS.Resume {
			t.Errorf("event %s: TLS %+v; want resumed sessions exactly with tls_resume", st.Label, *st.TLS)
		}
	}
	if sum, err := result.ReadFile(filepath.Join(dir, "raw", "tls", "event", "tls.json")); err != nil || sum.TLS == nil || sum.Hist.Handshake == nil {
		t.Errorf("raw result of the TLS step: %v, %+v", err, sum)
	}
	if conf, err := os.ReadFile(filepath.Join(dir, "raw", "tls", "event", "nginx.conf")); err != nil || !strings.Contains(string(conf), " ssl;") {
		t.Errorf("nginx.conf: %v\n%s", err, conf)
	}
	for _, st := range run.Steps[4:] {
		if !st.Skipped || !strings.Contains(st.Note, "TLS listener") || st.TLS == nil {
			t.Errorf("url %s: skipped %v, note %q; want skipped for its TLS", st.Label, st.Skipped, st.Note)
		}
	}
	if !reports.HasTLS(run.Steps) {
		t.Error("the report finds no TLS load")
	}
}

// TestRunURLTLS benches an external https URL whose certificate only
// Options.URLTLS makes trusted.
func TestRunURLTLS(t *testing.T) {
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hello\n")) }))
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // refused and cut handshakes are expected
	ts.StartTLS()
	defer ts.Close()
	s := parse(t, `{
  "name": "ext",
  "description": "an external https server",
  "warmup": "50ms",
  "duration": "200ms",
  "steps": [{"path": "/hello", "connections": 2, "keepalive": false}]
}`)
	for _, tc := range []struct {
		name  string
		tls   loadgen.TLSOptions
		valid bool
	}{
		{"insecure", loadgen.TLSOptions{Insecure: true}, true},
		{"untrusted", loadgen.TLSOptions{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			run, err := Run(context.Background(), Options{
				Scenarios: []*scenarios.Scenario{s},
				Targets:   []Target{{Name: "url", Kind: reports.KindURL, URL: ts.URL}},
				Dir:       dir, ServerCPU: -1, ClientCPU: -1, URLTLS: tc.tls,
			})
			if err != nil {
				t.Fatal(err)
			}
			st := run.Steps[0]
			if st.Valid != tc.valid || (tc.valid && st.Throughput <= 0) {
				t.Fatalf("step valid %v (%s), %v req/s; want valid %v", st.Valid, st.Invalid, st.Throughput, tc.valid)
			}
			if !tc.valid {
				if !strings.Contains(st.Invalid, "certificate") {
					t.Errorf("invalid %q: want the certificate named", st.Invalid)
				}
				return
			}
			sum, err := result.ReadFile(filepath.Join(dir, "raw", "ext", "url", "keepalive=off_c=2.json"))
			if err != nil {
				t.Fatal(err)
			}
			if sum.TLS == nil || sum.TLS.Handshakes < sum.Requests {
				t.Errorf("raw result TLS %+v for %d requests", sum.TLS, sum.Requests)
			}
		})
	}
}
