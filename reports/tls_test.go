package reports

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tlsRun is a tls-cost run on two cores: keep-alive off plain, full and
// resumed handshakes; 1 MiB at a fixed rate plain and TLS; and a step
// with no twin.
func tlsRun() Run {
	var steps []Step
	for _, core := range []string{"event", "thread"} {
		k := 1.0
		if core == "thread" {
			k = 0.5
		}
		step := func(label string, tls *TLS, rps, rate, cpu float64) Step {
			return Step{Scenario: "tls-cost", Core: core, Label: label, Concurrency: 32, RateTarget: rate,
				Throughput: rps * k, CPUPerReqUS: cpu, Valid: true, TLS: tls, Latency: Latency{P50: 1, P99: 2}}
		}
		steps = append(steps,
			step("keepalive=off plain", nil, 8000, 0, 100),
			step("keepalive=off tls", &TLS{Handshakes: 4000, PerSecond: 1000 * k, P50: 1.5, P99: 4, Version: "TLS 1.3 X25519"}, 1000, 0, 900),
			step("keepalive=off tls-resume", &TLS{Resume: true, Handshakes: 12000, Resumed: 11990, PerSecond: 3000 * k, P50: 0.5, P99: 1, Version: "TLS 1.3 X25519"}, 3000, 0, 300),
			step("1m plain", nil, 200, 200, 400),
			step("1m tls", &TLS{Handshakes: 16, PerSecond: 4}, 200, 200, 1000),
			step("c=10", nil, 9000, 0, 50),
		)
	}
	return Run{ID: "tls", Steps: steps}
}

func TestTLSTable(t *testing.T) {
	run := tlsRun()
	if !HasTLS(run.Steps) {
		t.Fatal("HasTLS = false")
	}
	rows := tlsRows(run.Steps)
	want := [][]string{
		{"event", "keepalive=off", "req/s", "8000", "1000", "0.12", "3000", "0.38", "100, 900, 300", "1000, 3000", "0/4000, 11990/12000", "1.500/4.000, 0.500/1.000", "TLS 1.3 X25519"},
		{"thread", "keepalive=off", "req/s", "4000", "500", "0.12", "1500", "0.38", "100, 900, 300", "500, 1500", "0/4000, 11990/12000", "1.500/4.000, 0.500/1.000", "TLS 1.3 X25519"},
		{"event", "1m", "CPU µs/req", "400", "1000", "2.50", "-", "-", "400, 1000", "4", "0/16", "-/-", "-"},
		{"thread", "1m", "CPU µs/req", "400", "1000", "2.50", "-", "-", "400, 1000", "4", "0/16", "-/-", "-"},
	}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d: %q", len(rows), len(want), rows)
	}
	for i := range want {
		if strings.Join(rows[i], "|") != strings.Join(want[i], "|") {
			t.Errorf("row %d\n got %q\nwant %q", i, rows[i], want[i])
		}
	}
	// An invalid TLS step shows no figure, and no ratio.
	run.Steps[1].Valid = false
	if r := tlsRows(run.Steps)[0]; r[4] != "-" || r[5] != "-" {
		t.Errorf("invalid TLS step: row %q", r)
	}
	// No TLS at all: no table, no plot.
	if HasTLS(run.Steps[3:4]) || HasTLS(nil) {
		t.Error("HasTLS of plain steps")
	}
}

func TestTLSReport(t *testing.T) {
	dir := t.TempDir()
	run := tlsRun()
	if err := WriteReport(dir, run); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"tls-cost-tls.png", "tls-cost-tls.svg"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Size() < 1000 {
			t.Errorf("%s: %v", f, err)
		}
	}
	for _, f := range []string{"report.md", "report.html", "tables.txt"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte("TLS cost per core")) || !bytes.Contains(b, []byte("0.12")) {
			t.Errorf("%s lacks the TLS table", f)
		}
	}
	md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	if !bytes.Contains(md, []byte("tls-cost-tls.png")) {
		t.Error("report.md does not show the TLS plot")
	}
	if err := PlotTLS(run.Steps[5:6], filepath.Join(dir, "none")); err == nil {
		t.Error("PlotTLS of a plain step: no error")
	}
	bad := tlsRun()
	bad.Steps[2].TLS.Resumed = 99999
	if err := Validate(bad.Steps); err == nil {
		t.Error("more resumed than handshakes: valid")
	}
}
