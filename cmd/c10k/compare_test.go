package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/c10k/c10k/loadgen/result"
	"github.com/c10k/c10k/reports"
)

// benchDir writes a synthetic bench run of 5 interleaved trials of three
// keys into dir, each figure scattered ±3% from seed; slow scales the p99
// and fast the throughput of static-1k/event/c=100.
func benchDir(t *testing.T, dir string, seed uint64, trials int, slow, fast float64) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	j := func(v float64) float64 { return v * (1 + 0.03*(2*rng.Float64()-1)) }
	run := reports.Run{ID: "t", Commit: "c0ffee0", CPU: "test"}
	for tr := range trials {
		for _, k := range []struct {
			scenario, core string
			p99, rps       float64
		}{{"static-1k", "event", 1.2, 40000}, {"static-1k", "thread", 2.5, 20000}, {"c10k-idle", "event", 3, 500}} {
			s := reports.Step{Scenario: k.scenario, Core: k.core, Concurrency: 100, Trial: tr, Valid: true, Kind: reports.KindCore,
				Throughput: j(k.rps), Latency: reports.Latency{P50: 0.4, P90: 0.8, P99: j(k.p99), P999: 5, Max: 9}}
			if k.scenario == "static-1k" && k.core == "event" {
				s.Latency.P99 *= slow
				s.Throughput *= fast
			}
			run.Steps = append(run.Steps, s)
		}
	}
	os.MkdirAll(dir, 0o755)
	b, err := json.Marshal(run)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, reports.SummaryFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// attackFile writes one attack result whose latencies spread over
// [0.5, 2] × scale ms.
func attackFile(t *testing.T, path string, scale float64) string {
	t.Helper()
	s := &result.Summary{Model: result.ModelClosed, URL: "http://127.0.0.1:8080/", Method: "GET",
		StatusCodes: map[string]int64{"200": 1000}, Errors: map[string]int64{}, Valid: true, DurationS: 1, Requests: 1000,
		Started: time.Unix(1700000000, 0).UTC()}
	s.Hist.Latency = result.NewHistogram()
	for i := range 1000 {
		result.Record(s.Hist.Latency, time.Duration(scale*(0.5+1.5*float64(i)/999)*float64(time.Millisecond)))
	}
	s.Finish()
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := result.WriteFile(path, s); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCompareCommand(t *testing.T) {
	tmp := t.TempDir()
	base := benchDir(t, filepath.Join(tmp, "base"), 1, 5, 1, 1)
	same := benchDir(t, filepath.Join(tmp, "same"), 2, 5, 1, 1)
	slow := benchDir(t, filepath.Join(tmp, "slow"), 3, 5, 1.3, 1)
	drop := benchDir(t, filepath.Join(tmp, "drop"), 4, 5, 1, 0.7)
	base2 := benchDir(t, filepath.Join(tmp, "base2"), 5, 2, 1, 1)
	slow2 := benchDir(t, filepath.Join(tmp, "slow2"), 6, 2, 1.3, 1)

	data, _ := os.ReadFile(filepath.Join(base, reports.SummaryFile))
	trunc := filepath.Join(tmp, "trunc")
	os.MkdirAll(trunc, 0o755)
	os.WriteFile(filepath.Join(trunc, reports.SummaryFile), data[:len(data)*2/3], 0o644)
	foreign := filepath.Join(tmp, "foreign")
	os.MkdirAll(foreign, 0o755)
	os.WriteFile(filepath.Join(foreign, reports.SummaryFile), []byte(`{"kind": "something else", "values": [1, 2]}`), 0o644)
	png := filepath.Join(tmp, "plot.png")
	os.WriteFile(png, []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00"), 0o644)

	var fastFiles, slowFiles []string
	for i := range 5 {
		fastFiles = append(fastFiles, attackFile(t, filepath.Join(tmp, "a-base", "r"+string(rune('0'+i))), 1+0.01*float64(i)))
		slowFiles = append(slowFiles, attackFile(t, filepath.Join(tmp, "a-new", "r"+string(rune('0'+i))), 1.3+0.01*float64(i)))
	}
	os.MkdirAll(filepath.Join(tmp, "a-same"), 0o755)
	for i := range 5 {
		attackFile(t, filepath.Join(tmp, "a-same", "r"+string(rune('0'+i))), 1+0.01*float64(4-i))
	}
	truncFile := filepath.Join(tmp, "trunc.c10k")
	f, _ := os.ReadFile(slowFiles[0])
	os.WriteFile(truncFile, f[:len(f)/2], 0o644)

	tests := []struct {
		name string
		args []string
		code int
		want string // the last line of stderr contains it
	}{
		{"same build", []string{base, same}, 0, "c10k compare: no regression (3 keys)"},
		{"p99 +30%", []string{base, slow}, 1, "c10k compare: regression: static-1k/event/c=100 p99 +"},
		{"throughput -30%", []string{base, drop}, 1, "regression: static-1k/event/c=100 throughput -"},
		{"two trials", []string{base2, slow2}, 1, "no test: n<3"},
		{"flags after the arguments", []string{base, slow, "--filter", "thread"}, 0, "no regression (1 keys)"},
		{"absolute limit", []string{"--max", "p99=2ms", base, same}, 1, "static-1k/thread/c=100 p99 "},
		{"relative threshold given", []string{"--regress", "p99=+50%", base, slow}, 0, "no regression"},
		{"truncated summary", []string{base, trunc}, 2, "c10k compare: invalid: NEW: " + filepath.Join(trunc, "summary.json") + ": truncated"},
		{"truncated BASE", []string{trunc, base}, 2, "invalid: BASE: "},
		{"foreign json", []string{base, foreign}, 2, "not a c10k bench summary"},
		{"foreign file", []string{base, png}, 2, "invalid: NEW: " + png + ": not a c10k or vegeta result file"},
		{"missing", []string{base, filepath.Join(tmp, "nope")}, 2, "invalid: NEW: "},
		{"attack files", []string{filepath.Join(tmp, "a-base"), filepath.Join(tmp, "a-new")}, 1, "regression: attack/closed/http://127.0.0.1:8080/ p99 +"},
		{"attack files, same", []string{filepath.Join(tmp, "a-base"), filepath.Join(tmp, "a-same")}, 0, "no regression (1 keys)"},
		{"attack file list", []string{strings.Join(fastFiles[:2], ","), strings.Join(slowFiles[:2], ",")}, 1, "no test: n<3"},
		{"truncated attack file", []string{fastFiles[0], truncFile}, 2, "not a c10k or vegeta result file: truncated summary"},
		{"bad --max", []string{"--max", "p99=fast", base, same}, 2, `--max "p99=fast"`},
		{"bad --regress", []string{"--regress", "p99=-10%", base, same}, 2, `--regress "p99=-10%"`},
		{"bad --alpha", []string{"--alpha", "2", base, same}, 2, "--alpha 2"},
		{"bad --min-trials", []string{"--min-trials", "1", base, same}, 2, "--min-trials 1"},
		{"bad --filter", []string{"--filter", "(", base, same}, 2, "--filter"},
		{"bad --format", []string{"--format", "html", base, same}, 2, "--format"},
		{"bad --metrics", []string{"--metrics", "p42", base, same}, 2, "--metrics"},
		{"unknown flag", []string{"--bogus", base, same}, 2, "-bogus"},
		{"one argument", []string{base}, 2, "want BASE and NEW"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := compare(tt.args, &out, &errb)
			lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
			last := lines[len(lines)-1]
			if code != tt.code || !strings.Contains(last, tt.want) {
				t.Errorf("compare %q = %d, stderr %q; want %d and %q", tt.args, code, errb.String(), tt.code, tt.want)
			}
			if !strings.HasPrefix(last, "c10k compare: ") {
				t.Errorf("stderr %q: want a one-line reason", errb.String())
			}
		})
	}
}

func TestCompareOutputs(t *testing.T) {
	tmp := t.TempDir()
	base := benchDir(t, filepath.Join(tmp, "base"), 1, 5, 1, 1)
	slow := benchDir(t, filepath.Join(tmp, "slow"), 3, 5, 1.3, 1)
	md, js, xm, bs := filepath.Join(tmp, "c.md"), filepath.Join(tmp, "c.json"), filepath.Join(tmp, "c.xml"), filepath.Join(tmp, "c.txt")
	var out, errb bytes.Buffer
	code := compare([]string{base, slow, "--markdown", md, "--json", js, "--junit", xm, "--benchstat", bs, "--format", "json"}, &out, &errb)
	if code != 1 {
		t.Fatalf("code %d: %s", code, errb.String())
	}
	var j struct {
		Verdict  string `json:"verdict"`
		ExitCode int    `json:"exit_code"`
		Rows     []struct {
			Name, Metric, Verdict string
			P                     *float64
		} `json:"rows"`
	}
	if err := json.Unmarshal(out.Bytes(), &j); err != nil {
		t.Fatalf("stdout is not JSON: %v", err)
	}
	if j.Verdict != "regression" || j.ExitCode != 1 || len(j.Rows) != 6 {
		t.Errorf("json %+v", j)
	}
	file, _ := os.ReadFile(js)
	if !bytes.Equal(file, out.Bytes()) {
		t.Error("--json differs from --format json")
	}
	var x struct {
		Failures int `xml:"failures,attr"`
	}
	b, _ := os.ReadFile(xm)
	if err := xml.Unmarshal(b, &x); err != nil || x.Failures != 1 {
		t.Errorf("junit: %v, %d failures", err, x.Failures)
	}
	for path, want := range map[string]string{md: "## c10k compare: :x: regression", bs: "name                    base p99 (ms)"} {
		b, _ := os.ReadFile(path)
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %q:\n%s", path, want, b)
		}
	}

	// An unreadable input still writes the reports, saying why.
	code = compare([]string{base, filepath.Join(tmp, "nope"), "--junit", xm, "--markdown", md}, &out, &errb)
	b, _ = os.ReadFile(xm)
	if code != 2 || !strings.Contains(string(b), `<error message="invalid: NEW: `) {
		t.Errorf("code %d, junit %s", code, b)
	}
	// A report that cannot be written is an error.
	code = compare([]string{base, base, "--junit", filepath.Join(tmp, "no", "dir", "x.xml")}, &out, &errb)
	if code != 2 || !strings.Contains(errb.String(), "--junit") {
		t.Errorf("code %d, stderr %s", code, errb.String())
	}
}
