package gate

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/c10k/c10k/loadgen/result"
	"github.com/c10k/c10k/reports"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// fixed is one comparison with a bit of everything: a regression, noise,
// dropped invalid trials and a key on one side only.
func fixed() *Result {
	base := mkRun(1, 5, 0.03, on("proxy-balance/thread/app", setP99(5.64, 5.82, 6.0, 7.08, 7.2)))
	base.Commit = "1111111"
	next := mkRun(2, 5, 0.03,
		on("static-1k/event/c=100", scaleP99(1.3)),
		on("proxy-balance/thread/app", setP99(5.7, 6.66, 6.78, 6.9, 7.26)),
		on("static-1k/thread/c=100", invalidTrials(1)),
	)
	next.Commit = "2222222"
	next.Steps = append(next.Steps, reports.Step{Scenario: "static-1k", Core: "nethttp", Concurrency: 100, Throughput: 30000, Valid: true,
		Latency: reports.Latency{P50: 0.5, P90: 1, P99: 1.5, P999: 3, Max: 4}})
	return Compare(FromRuns("results/base", base), FromRuns("results/new", next), DefaultOptions())
}

func TestGolden(t *testing.T) {
	r := fixed()
	if r.Code() != ExitRegression {
		t.Fatalf("fixed comparison: %d %s", r.Code(), r.Reason)
	}
	for _, tc := range []struct {
		format Format
		file   string
	}{{Markdown, "compare.md"}, {JUnit, "compare.xml"}, {Benchstat, "compare.benchstat.txt"}, {Text, "compare.txt"}, {JSON, "compare.json"}} {
		t.Run(string(tc.format), func(t *testing.T) {
			var b bytes.Buffer
			if err := r.Write(&b, tc.format); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.file, b.Bytes())
		})
	}
}

func TestOutputsParse(t *testing.T) {
	for _, r := range []*Result{fixed(), Failed(DefaultOptions(), "NEW: x: truncated")} {
		var b bytes.Buffer
		if err := r.WriteJSON(&b); err != nil {
			t.Fatal(err)
		}
		var j jsonResult
		if err := json.Unmarshal(b.Bytes(), &j); err != nil {
			t.Fatalf("json: %v", err)
		}
		if j.ExitCode != r.Code() || j.Reason != r.Reason || len(j.Rows) != len(r.Rows) {
			t.Errorf("json %+v", j)
		}
		b.Reset()
		if err := r.WriteJUnit(&b); err != nil {
			t.Fatal(err)
		}
		var x junitSuites
		if err := xml.Unmarshal(b.Bytes(), &x); err != nil {
			t.Fatalf("junit: %v", err)
		}
		fails, errs := 0, 0
		for _, row := range r.Rows {
			if row.Verdict == Regression {
				fails++
			}
		}
		if r.Verdict == Undecided {
			errs = 1
		}
		if x.Failures != fails || x.Errors != errs {
			t.Errorf("junit: %d failures %d errors, want %d %d", x.Failures, x.Errors, fails, errs)
		}
		for _, f := range []Format{Text, Markdown, Benchstat} {
			b.Reset()
			if err := r.Write(&b, f); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.String(), r.Reason) && !strings.Contains(b.String(), escapeMD(r.Reason)) {
				t.Errorf("%s output lacks the reason %q:\n%s", f, r.Reason, b.String())
			}
		}
	}
	if _, err := ParseFormat("html"); !errors.Is(err, ErrOption) {
		t.Errorf("ParseFormat(html) = %v", err)
	}
}

// summary builds an attack result of 1000 requests whose latencies spread
// evenly over [0.5, 2] × scale ms, at rps successful requests per second.
func summary(url string, scale, rps float64) *result.Summary {
	s := &result.Summary{Model: result.ModelOpen, URL: url, Method: "GET", RateTarget: 1000, RateAchieved: 1000,
		StatusCodes: map[string]int64{"200": int64(rps)}, Errors: map[string]int64{}, Valid: true,
		DurationS: 1, Requests: int64(rps), Started: time.Unix(1700000000, 0).UTC()}
	s.Hist.Latency = result.NewHistogram()
	for i := range 1000 {
		ms := scale * (0.5 + 1.5*float64(i)/999)
		result.Record(s.Hist.Latency, time.Duration(ms*float64(time.Millisecond)))
	}
	s.Finish()
	return s
}

// writeAttack writes trials result files of two URLs into dir, p99 scaled
// by slow for the first URL.
func writeAttack(t *testing.T, dir string, seed uint64, trials int, slow float64) []string {
	t.Helper()
	os.MkdirAll(dir, 0o755)
	rng := rand.New(rand.NewPCG(seed, 7))
	j := func() float64 { return 1 + 0.03*(2*rng.Float64()-1) }
	var files []string
	for i := range trials {
		for u, url := range []string{"http://127.0.0.1:8080/", "http://127.0.0.1:8080/app/"} {
			scale := j()
			if u == 0 {
				scale *= slow
			}
			f := filepath.Join(dir, fmt.Sprintf("trial%d-%d.c10k", i, u))
			if err := result.WriteFile(f, summary(url, scale, 950*j())); err != nil {
				t.Fatal(err)
			}
			files = append(files, f)
		}
	}
	return files
}

func TestAttackFiles(t *testing.T) {
	tmp := t.TempDir()
	writeAttack(t, filepath.Join(tmp, "base"), 1, 5, 1)
	writeAttack(t, filepath.Join(tmp, "same"), 2, 5, 1)
	slowFiles := writeAttack(t, filepath.Join(tmp, "slow"), 3, 5, 1.3)
	twoFiles := writeAttack(t, filepath.Join(tmp, "two"), 4, 2, 1.3)
	os.WriteFile(filepath.Join(tmp, "image.png"), []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), 0o644)
	f, _ := os.ReadFile(slowFiles[0])
	os.WriteFile(filepath.Join(tmp, "truncated.c10k"), f[:len(f)/2], 0o644)

	base, err := Load(filepath.Join(tmp, "base"))
	if err != nil {
		t.Fatal(err)
	}
	if base.Kind != KindAttack || len(base.Keys) != 2 || len(base.Trials[Key{"attack", "open rate=1000", "http://127.0.0.1:8080/"}]) != 5 {
		t.Fatalf("loaded %+v", base)
	}
	tests := []struct {
		name string
		new  string
		code int
		want string
	}{
		{"same build", filepath.Join(tmp, "same"), ExitPass, "no regression (2 keys)"},
		{"p99 +30%", filepath.Join(tmp, "slow"), ExitRegression, "regression: attack/open rate=1000/http://127.0.0.1:8080/ p99 +"},
		{"two files listed", strings.Join(twoFiles[:2], ","), ExitRegression, "no test: n<3"},
		{"one file", twoFiles[1], ExitPass, "no regression (1 keys; 1 on one side only)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next, err := Load(tt.new)
			if err != nil {
				t.Fatal(err)
			}
			r := Compare(base, next, DefaultOptions())
			if r.Code() != tt.code || !strings.Contains(r.Reason, tt.want) {
				t.Errorf("code %d %q, want %d with %q", r.Code(), r.Reason, tt.code, tt.want)
			}
		})
	}
	for _, bad := range []struct{ path, want string }{
		{filepath.Join(tmp, "image.png"), "image.png: not a c10k or vegeta result file"},
		{filepath.Join(tmp, "truncated.c10k"), "truncated.c10k: not a c10k or vegeta result file: truncated summary"},
		{slowFiles[0] + "," + filepath.Join(tmp, "image.png"), "image.png: not a c10k or vegeta result file"},
		{tmp, "image.png: not a c10k or vegeta result file"}, // a directory with a foreign file
	} {
		_, err := Load(bad.path)
		if !errors.Is(err, ErrInput) || !errors.Is(err, result.ErrFormat) || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("Load(%s) = %v, want ErrInput and ErrFormat with %q", bad.path, err, bad.want)
		}
	}
}
