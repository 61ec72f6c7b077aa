package reports

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// referenceRun has our thread and event cores beside Apache worker and
// nginx on two steps, one of them run three times, and a skipped step.
func referenceRun() Run {
	step := func(core, kind, pair, label string, rps float64, errs int, trial int) Step {
		return Step{
			Scenario: "static-1k", Core: core, Kind: kind, Pair: pair, Label: label, Trial: trial,
			Concurrency: 100, Throughput: rps, Requests: int64(rps * 4), Errors: errs,
			Latency: Latency{P50: 1, P99: 5}, RSSBytes: 10 << 20, Valid: true,
		}
	}
	run := Run{ID: "ref", Notes: []string{"apache-event: not installed (make reference)"}}
	for trial, rps := range []float64{900, 1100, 1000} {
		run.Steps = append(run.Steps, step("event", KindCore, "", "c=100", rps, 0, trial))
	}
	run.Steps = append(run.Steps,
		step("thread", KindCore, "", "c=100", 800, 0, 0),
		step("nginx", KindReference, "event", "c=100", 1000, 0, 0),
		step("apache-worker", KindReference, "thread", "c=100", 300, 0, 0),
		starved(step("thread", KindCore, "", "c=1000", 100, 300, 0), 600),
		step("apache-worker", KindReference, "thread", "c=1000", 400, 0, 0),
	)
	skipped := step("nginx", KindReference, "event", "cgi", 0, 0, 0)
	skipped.Skipped, skipped.Valid, skipped.Note = true, false, "nginx has no CGI"
	run.Steps = append(run.Steps, skipped)
	return run
}

func starved(s Step, n int) Step { s.Starved = n; return s }

func TestMedians(t *testing.T) {
	got := Medians(referenceRun().Steps)
	if len(got) != len(referenceRun().Steps)-2 {
		t.Fatalf("got %d steps, want the three trials folded into one", len(got))
	}
	if got[0].Core != "event" || got[0].Throughput != 1000 || got[0].trials != 3 {
		t.Errorf("folded step = %s %v (%d trials), want event 1000 (3 trials)", got[0].Core, got[0].Throughput, got[0].trials)
	}
	if name := stepName(got[0]); name != "c=100 (3 trials)" {
		t.Errorf("step name %q", name)
	}
}

func TestPairings(t *testing.T) {
	pairs := Pairings(referenceRun().Steps)
	want := []struct {
		model, real, label string
		agree              bool
	}{
		{"event", "nginx", "c=100", true},
		{"thread", "apache-worker", "c=100", false},  // 2.67x
		{"thread", "apache-worker", "c=1000", false}, // errors on one side
	}
	if len(pairs) != len(want) {
		t.Fatalf("got %d pairings, want %d", len(pairs), len(want))
	}
	for i, w := range want {
		p := pairs[i]
		if p.Model.Core != w.model || p.Real.Core != w.real || p.Model.Label != w.label {
			t.Errorf("pair %d = %s/%s %s, want %s/%s %s", i, p.Model.Core, p.Real.Core, p.Model.Label, w.model, w.real, w.label)
		}
		if agree := p.Disagreement() == ""; agree != w.agree {
			t.Errorf("pair %d: disagreement %q, want agree=%v", i, p.Disagreement(), w.agree)
		}
	}
}

func TestWriteTablesComparison(t *testing.T) {
	var b bytes.Buffer
	if err := WriteTables(&b, referenceRun(), Text); err != nil {
		t.Fatal(err)
	}
	golden(t, "comparison.txt", b.Bytes())
	var none bytes.Buffer
	if err := WriteComparison(&none, sampleRun().Steps, Text); err != nil || none.Len() != 0 {
		t.Errorf("a run without reference servers wrote %q, %v", none.String(), err)
	}
}

func TestReadRun(t *testing.T) {
	dir := t.TempDir()
	run := referenceRun()
	run.Interrupted = true
	if err := WriteReport(dir, run); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadRun(dir); err == nil {
		t.Fatal("ReadRun of a directory without summary.json succeeded")
	}
	data := []byte(`{"id":"x","steps":[{"scenario":"s","core":"event","throughput":5,"valid":true,"label":"c=1"}],"interrupted":true}`)
	if err := os.WriteFile(filepath.Join(dir, SummaryFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ReadRun(dir)
	if err != nil || !got.Interrupted || len(got.Steps) != 1 {
		t.Fatalf("ReadRun = %+v, %v", got, err)
	}
	var md bytes.Buffer
	if err := WriteMarkdown(&md, got, nil); err != nil || !strings.Contains(md.String(), "interrupted") {
		t.Errorf("markdown of an interrupted run does not say so: %v\n%s", err, md.String())
	}
	for name, body := range map[string]string{
		"foreign":   `{"model":"open","requests":3}`,
		"truncated": `{"id":"x","steps":[{"scenario"`,
		"negative":  `{"id":"x","steps":[{"scenario":"s","core":"c","throughput":-1}]}`,
	} {
		if err := os.WriteFile(filepath.Join(dir, SummaryFile), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := ReadRun(dir)
		if err == nil || !strings.Contains(err.Error(), SummaryFile) {
			t.Errorf("%s: ReadRun error %v, want one naming %s", name, err, SummaryFile)
		}
		if name == "foreign" && !errors.Is(err, ErrNotRun) {
			t.Errorf("foreign: %v is not ErrNotRun", err)
		}
	}
}
