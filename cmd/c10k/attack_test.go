package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sync/errgroup"
)

func serve(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })}
	var g errgroup.Group
	g.Go(func() error { hs.Serve(l); return nil })
	t.Cleanup(func() { hs.Close(); g.Wait() })
	return "http://" + l.Addr().String() + "/"
}

func TestAttackBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string // in stderr
	}{
		{[]string{}, "want exactly one URL"},
		{[]string{"ftp://x/"}, "scheme"},
		{[]string{"--rate", "-1", "http://127.0.0.1:1/"}, "--rate"},
		{[]string{"--rate", "x", "http://127.0.0.1:1/"}, "invalid value"},
		{[]string{"--shape", "square", "--rate", "1", "http://127.0.0.1:1/"}, "unknown shape"},
		{[]string{"--shape", "ramp:1-2", "--rate", "5", "http://127.0.0.1:1/"}, "--rate must not"},
		{[]string{"--shape", "steps:1,2@1s", "--duration", "2s", "http://127.0.0.1:1/"}, "conflicts"},
		{[]string{"-H", "bad header", "-c", "1", "http://127.0.0.1:1/"}, "Name: value"},
		{[]string{"--body", filepath.Join(dir, "missing"), "-c", "1", "http://127.0.0.1:1/"}, "--body"},
		{[]string{"--method", "GE T", "-c", "1", "http://127.0.0.1:1/"}, "--method"},
		{[]string{"--source-ips", "1.2.3.9-1.2.3.1", "-c", "1", "http://127.0.0.1:1/"}, "--source-ips"},
		{[]string{"--shard", "2/2", "-c", "1", "http://127.0.0.1:1/"}, "--shard"},
		{[]string{"--format", "xml", "-c", "1", "http://127.0.0.1:1/"}, "--format"},
		{[]string{"http://127.0.0.1:1/"}, "nothing to do"},
		{[]string{"-c", "100000000", "http://127.0.0.1:1/"}, "RLIMIT_NOFILE"},
		{[]string{"--tls-version", "1.1", "-c", "1", "https://127.0.0.1:1/"}, "--tls-version"},
		{[]string{"--tls-curves", "X448", "-c", "1", "https://127.0.0.1:1/"}, "--tls-curves"},
		{[]string{"--cacert", filepath.Join(dir, "missing.pem"), "-c", "1", "https://127.0.0.1:1/"}, "--cacert"},
	} {
		var out, errb bytes.Buffer
		code := attack(context.Background(), tc.args, &out, &errb)
		if code != 2 || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("attack %q = %d, stderr %q; want 2 and %q", tc.args, code, errb.String(), tc.want)
		}
	}
}

func TestAttackAndReport(t *testing.T) {
	url := serve(t)
	dir := t.TempDir()
	var files []string
	for i, shard := range []string{"0/2", "1/2"} {
		f := filepath.Join(dir, "s"+shard[:1]+".bin")
		files = append(files, f)
		var out, errb bytes.Buffer
		code := attack(context.Background(), []string{"--rate", "400", "--duration", "250ms", "-c", "4", "--shard", shard,
			"--output", f, "--hdr", f + ".hgrm", "--format", "json", url}, &out, &errb)
		if code != 0 {
			t.Fatalf("shard %d: exit %d: %s", i, code, errb.String())
		}
		var res map[string]any
		if err := json.Unmarshal(out.Bytes(), &res); err != nil {
			t.Fatalf("shard %d: %v: %s", i, err, out.String())
		}
		for _, k := range []string{"requests", "duration_s", "throughput_rps", "rate_target", "rate_achieved", "success_ratio",
			"status_codes", "errors", "latency_ms", "service_latency_ms", "connections", "valid"} {
			if _, ok := res[k]; !ok {
				t.Errorf("shard %d: JSON lacks %q", i, k)
			}
		}
		if res["rate_target"].(float64) != 200 {
			t.Errorf("shard %d: rate_target %v, want half of 400", i, res["rate_target"])
		}
		if b, err := os.ReadFile(f + ".hgrm"); err != nil || !bytes.Contains(b, []byte("Percentile")) {
			t.Errorf("hgrm: %v %q", err, b)
		}
	}
	var out, errb bytes.Buffer
	if code := report(append([]string{"--format", "json"}, files...), &out, &errb); code != 0 {
		t.Fatalf("report: exit %d: %s", code, errb.String())
	}
	var m struct {
		Requests   int64   `json:"requests"`
		RateTarget float64 `json:"rate_target"`
		Shards     []string
	}
	if err := json.Unmarshal(out.Bytes(), &m); err != nil || m.Requests != 100 || m.RateTarget != 400 || len(m.Shards) != 2 {
		t.Errorf("merged %+v, %v: want 100 requests at 400/s over 2 shards", m, err)
	}
	// A foreign file is a clear error.
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("not results"), 0o644)
	errb.Reset()
	if code := report([]string{bad}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "not a c10k or vegeta result") {
		t.Errorf("report of a foreign file: %d %q", code, errb.String())
	}
}

func TestAttackC10kJSONCompat(t *testing.T) {
	url := serve(t)
	var out, errb bytes.Buffer
	code := attack(context.Background(), []string{"--idle", "5", "--open-rate", "1000", "--probe-rate", "50", "--duration", "200ms", "--settle", "0",
		"--rss-pid", "1", "--json", url}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	// The fields scripts/benchtable reads (loadgen.C10kResult).
	var r struct {
		Idle  struct{ Held, Asked int64 }
		Probe struct {
			Sent, Errors int64
			P50          float64 `json:"p50_ms"`
		}
		RSSHeld int64 `json:"rss_held_bytes"`
	}
	if err := json.Unmarshal(out.Bytes(), &r); err != nil || r.Idle.Held != 5 || r.Idle.Asked != 5 || r.Probe.Sent != 10 || r.RSSHeld == 0 {
		t.Errorf("%+v %v: %s", r, err, out.String())
	}
}

// TestAttackTLS attacks an https server: with its CA the summary holds
// the handshake figures; without it the run stops before any load with
// one error that names the fix.
func TestAttackTLS(t *testing.T) {
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.StartTLS()
	defer ts.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string // in stdout (0) or stderr (2)
	}{
		{[]string{"--cacert", ca, "-c", "2", "--requests", "20", "--keepalive=false", "--json", ts.URL + "/"}, 0, `"handshakes":20`},
		{[]string{"--insecure", "--tls-resume", "-c", "1", "--requests", "5", "--keepalive=false", ts.URL + "/"}, 0, "4 resumed"},
		{[]string{"-c", "2", "--requests", "20", ts.URL + "/"}, 2, "--cacert"},
	} {
		var out, errb bytes.Buffer
		code := attack(context.Background(), tc.args, &out, &errb)
		got := out.String()
		if tc.code != 0 {
			got = errb.String()
		}
		if code != tc.code || !strings.Contains(got, tc.want) {
			t.Errorf("attack %q = %d, stdout %q, stderr %q; want %d and %q", tc.args, code, out.String(), errb.String(), tc.code, tc.want)
		}
		if tc.code == 2 && strings.Count(errb.String(), "\n") != 1 {
			t.Errorf("attack %q: stderr %q; want one line", tc.args, errb.String())
		}
	}
}
