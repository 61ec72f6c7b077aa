package gate

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/c10k/c10k/reports"
)

// keys of the synthetic runs: scenario, core, label, p99 ms, req/s.
var synth = []struct {
	scenario, core, label string
	p99, rps              float64
}{
	{"static-1k", "event", "", 1.2, 40000},
	{"static-1k", "thread", "", 2.5, 20000},
	{"proxy-balance", "event", "app", 4.0, 9000},
	{"proxy-balance", "thread", "app", 6.0, 7000},
}

// tweak changes one step of a synthetic run: scale its figures or mark it.
type tweak func(k Key, trial int, s *reports.Step)

// mkRun builds a bench run of trials interleaved trials of every synthetic
// key, each figure scattered by ±noise (uniform) from seed.
func mkRun(seed uint64, trials int, noise float64, tweaks ...tweak) reports.Run {
	rng := rand.New(rand.NewPCG(seed, 42))
	// Rounded, so that golden files do not depend on the last bit of
	// float arithmetic (fused multiply-add on some architectures).
	jitter := func(v float64) float64 { return math.Round(v*(1+noise*(2*rng.Float64()-1))*1e6) / 1e6 }
	run := reports.Run{ID: "synthetic", Commit: "abc1234", CPU: "test cpu"}
	for t := range trials {
		for _, k := range synth {
			p99 := jitter(k.p99)
			s := reports.Step{
				Scenario: k.scenario, Core: k.core, Label: k.label, Concurrency: 100, Kind: reports.KindCore,
				Throughput: jitter(k.rps), Valid: true, Trial: t, Requests: int64(k.rps * 10),
				Latency:  reports.Latency{P50: p99 / 4, P90: p99 / 2, P99: p99, P999: p99 * 2, Max: p99 * 3},
				RSSBytes: int64(jitter(50 << 20)), CPUPerReqUS: jitter(30),
			}
			key := Key{Scenario: s.Scenario, Core: s.Core, Step: reports.StepName(s)}
			for _, tw := range tweaks {
				tw(key, t, &s)
			}
			run.Steps = append(run.Steps, s)
		}
	}
	return run
}

// on applies f to the steps of the key named name.
func on(name string, f func(trial int, s *reports.Step)) tweak {
	return func(k Key, trial int, s *reports.Step) {
		if k.String() == name {
			f(trial, s)
		}
	}
}

func scaleP99(x float64) func(int, *reports.Step) {
	return func(_ int, s *reports.Step) {
		s.Latency.P99 *= x
	}
}

func scaleRPS(x float64) func(int, *reports.Step) {
	return func(_ int, s *reports.Step) { s.Throughput *= x }
}

// setP99 sets the p99 of trial i to v[i].
func setP99(v ...float64) func(int, *reports.Step) {
	return func(t int, s *reports.Step) { s.Latency.P99 = v[t] }
}

func invalidTrials(n int) func(int, *reports.Step) {
	return func(t int, s *reports.Step) {
		if t < n {
			s.Valid, s.Invalid = false, "generator CPU saturated"
		}
	}
}

func TestCompareBench(t *testing.T) {
	const hot = "static-1k/event/c=100"
	defaults := DefaultOptions()
	tests := []struct {
		name      string
		base, new reports.Run
		opt       func(*Options)
		code      int
		want      []string // substrings of the reason
		check     func(t *testing.T, r *Result)
	}{
		{
			name: "same build, different noise",
			base: mkRun(1, 5, 0.03), new: mkRun(2, 5, 0.03),
			code: ExitPass, want: []string{"no regression (4 keys)"},
		},
		{
			name: "p99 +30% on one key",
			base: mkRun(1, 5, 0.03), new: mkRun(2, 5, 0.03, on(hot, scaleP99(1.3))),
			code: ExitRegression, want: []string{"regression: " + hot + " p99 +", "(p=0.004; threshold +10%)"},
			check: func(t *testing.T, r *Result) {
				n := 0
				for _, row := range r.Rows {
					if row.Verdict == Regression {
						n++
						if row.Key.String() != hot || row.Metric != P99 || !row.Tested || row.Broken != "regress" {
							t.Errorf("regression row %+v", row)
						}
						if row.Change < 0.2 || row.Change > 0.4 {
							t.Errorf("change %v, want about +30%%", row.Change)
						}
					}
				}
				if n != 1 {
					t.Errorf("%d regression rows, want 1", n)
				}
			},
		},
		{
			name: "throughput -30%",
			base: mkRun(1, 5, 0.03), new: mkRun(2, 5, 0.03, on("proxy-balance/thread/app", scaleRPS(0.7))),
			code: ExitRegression, want: []string{"regression: proxy-balance/thread/app throughput -", "threshold -5%"},
		},
		{
			name: "two trials: the threshold alone decides",
			base: mkRun(1, 2, 0.03), new: mkRun(2, 2, 0.03, on(hot, scaleP99(1.3))),
			code: ExitRegression, want: []string{hot + " p99 +", "no test: n<3"},
		},
		{
			name: "two trials, same build",
			base: mkRun(1, 2, 0.03), new: mkRun(2, 2, 0.03),
			code: ExitPass, want: []string{"no regression (4 keys)"},
		},
		{
			name: "beyond the threshold, not confirmed: noise",
			base: mkRun(1, 5, 0, on(hot, setP99(0.94, 0.97, 1.00, 1.18, 1.20))),
			new:  mkRun(2, 5, 0, on(hot, setP99(0.95, 1.11, 1.13, 1.15, 1.21))),
			code: ExitPass, want: []string{"no regression (4 keys; 1 within noise)"},
			check: func(t *testing.T, r *Result) {
				row := find(t, r, hot, P99)
				if row.Verdict != Noise || !(row.P > 0.05) {
					t.Errorf("row %+v, want noise with p > 0.05", row)
				}
			},
		},
		{
			name: "BASE too noisy to judge",
			base: mkRun(1, 5, 0, on(hot, setP99(0.7, 1.0, 1.0, 1.05, 1.3))),
			new:  mkRun(2, 5, 0, on(hot, setP99(0.7, 1.0, 1.0, 1.05, 1.3))),
			code: ExitInvalid, want: []string{"too noisy to judge: " + hot + " p99: BASE trials spread 60.0% of their median, more than 3 × 10%"},
		},
		{
			name: "noise factor 0 turns the rule off",
			base: mkRun(1, 5, 0, on(hot, setP99(0.7, 1.0, 1.0, 1.05, 1.3))),
			new:  mkRun(2, 5, 0, on(hot, setP99(0.7, 1.0, 1.0, 1.05, 1.3))),
			opt:  func(o *Options) { o.NoiseFactor = 0 },
			code: ExitPass,
		},
		{
			name: "a regression wins over noisy rows",
			base: mkRun(1, 5, 0.03, on(hot, setP99(0.7, 1.0, 1.0, 1.05, 1.3))),
			new:  mkRun(2, 5, 0.03, on("static-1k/thread/c=100", scaleP99(1.5))),
			code: ExitRegression, want: []string{"static-1k/thread/c=100 p99"},
		},
		{
			name: "absolute limit",
			base: mkRun(1, 5, 0.03), new: mkRun(2, 5, 0.03),
			opt:  func(o *Options) { o.Max = Limits{P99: 5} },
			code: ExitRegression, want: []string{"proxy-balance/thread/app p99 ", "(limit 5.000 ms)"},
			check: func(t *testing.T, r *Result) {
				if len(r.Options.Regress) != 0 {
					t.Errorf("regress %v: the defaults apply only without --max", r.Options.Regress)
				}
			},
		},
		{
			name: "throughput floor",
			base: mkRun(1, 5, 0.03), new: mkRun(2, 5, 0.03),
			opt:  func(o *Options) { o.Max = Limits{Throughput: 8000} },
			code: ExitRegression, want: []string{"proxy-balance/thread/app throughput ", "(floor 8000 req/s)"},
		},
		{
			name: "dropped invalid trials, enough remain",
			base: mkRun(1, 5, 0.03), new: mkRun(2, 5, 0.03, on(hot, invalidTrials(2))),
			code: ExitPass,
			check: func(t *testing.T, r *Result) {
				if !hasString(r.Notes, hot+": NEW: dropped 2 invalid of 5 trials (generator CPU saturated); 3 valid trials remain") {
					t.Errorf("notes %q", r.Notes)
				}
				if row := find(t, r, hot, P99); row.New.N != 3 {
					t.Errorf("NEW n=%d, want 3", row.New.N)
				}
			},
		},
		{
			name: "too few valid trials",
			base: mkRun(1, 5, 0.03), new: mkRun(2, 5, 0.03, on(hot, invalidTrials(3))),
			code: ExitInvalid, want: []string{"invalid: " + hot + ": NEW: 2 of 5 trials valid, need 3: generator CPU saturated"},
		},
		{
			name: "a key on one side only does not fail",
			base: mkRun(1, 5, 0.03),
			new: func() reports.Run {
				r := mkRun(2, 5, 0.03)
				var keep []reports.Step
				for _, s := range r.Steps {
					if s.Scenario != "proxy-balance" || s.Core != "thread" {
						keep = append(keep, s)
					} else {
						s.Skipped, s.Note = true, "the thread core cannot serve it"
						keep = append(keep, s)
					}
				}
				r.Steps = keep
				return r
			}(),
			code: ExitPass, want: []string{"no regression (3 keys; 1 on one side only)"},
			check: func(t *testing.T, r *Result) {
				if len(r.OnlyBase) != 1 || r.OnlyBase[0] != "proxy-balance/thread/app (skipped in NEW: the thread core cannot serve it)" {
					t.Errorf("only in BASE %q", r.OnlyBase)
				}
			},
		},
		{
			name: "filter",
			base: mkRun(1, 5, 0.03), new: mkRun(2, 5, 0.03, on(hot, scaleP99(1.3))),
			opt:  func(o *Options) { o.Filter = regexp.MustCompile("/thread/") },
			code: ExitPass, want: []string{"no regression (2 keys)"},
		},
		{
			name: "filter matching nothing",
			base: mkRun(1, 5, 0.03), new: mkRun(2, 5, 0.03),
			opt:  func(o *Options) { o.Filter = regexp.MustCompile("^nginx") },
			code: ExitInvalid, want: []string{`invalid: no key measured in both BASE and NEW matches --filter "^nginx"`},
		},
		{
			name: "an improvement passes",
			base: mkRun(1, 5, 0.03), new: mkRun(2, 5, 0.03, on(hot, scaleP99(0.5)), on(hot, scaleRPS(2))),
			code: ExitPass,
		},
		{
			name: "informational metrics never fail",
			base: mkRun(1, 5, 0.03), new: mkRun(2, 5, 0.03, on(hot, func(_ int, s *reports.Step) { s.RSSBytes *= 3 })),
			opt:  func(o *Options) { o.Show = []Metric{RSS} },
			code: ExitPass,
			check: func(t *testing.T, r *Result) {
				if row := find(t, r, hot, RSS); row.Verdict != Info || !row.Tested || row.P > 0.01 {
					t.Errorf("rss row %+v", row)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opt := defaults
			if tt.opt != nil {
				tt.opt(&opt)
			}
			if err := opt.Check(); err != nil {
				t.Fatal(err)
			}
			r := Compare(FromRuns("base", tt.base), FromRuns("new", tt.new), opt)
			if r.Code() != tt.code {
				t.Errorf("code %d (%s), want %d", r.Code(), r.Reason, tt.code)
				for _, row := range r.Rows {
					t.Logf("%s %s: %s %s %v p=%v", row.Key, row.Metric, row.Verdict, row.Reason, row.Change, row.P)
				}
			}
			for _, w := range tt.want {
				if !strings.Contains(r.Reason, w) {
					t.Errorf("reason %q lacks %q", r.Reason, w)
				}
			}
			if strings.Contains(r.Reason, "\n") {
				t.Errorf("reason %q spans lines", r.Reason)
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

func find(t *testing.T, r *Result, key string, m Metric) Row {
	t.Helper()
	for _, row := range r.Rows {
		if row.Key.String() == key && row.Metric == m {
			return row
		}
	}
	t.Fatalf("no row %s %s", key, m)
	return Row{}
}

func hasString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestUTest(t *testing.T) {
	lo := []float64{1, 2, 3, 4, 5}
	hi := []float64{6, 7, 8, 9, 10}
	tests := []struct {
		base, new  []float64
		lowerWorse bool
		want       float64
	}{
		{lo, hi, false, 1.0 / 252},             // NEW entirely higher: the smallest p of 5+5
		{hi, lo, true, 1.0 / 252},              // NEW entirely lower, lower is worse
		{hi, lo, false, 1},                     // an improvement
		{lo[:3], hi[:3], false, 1.0 / 20},      // 3+3 can reach 0.05 one-sided
		{lo, lo, false, 0.5 + 0.5*(126.0/252)}, // identical: not rejected
		{[]float64{1, 1}, []float64{1, 1}, false, 1},
	}
	for i, tt := range tests {
		got := uTest(tt.base, tt.new, tt.lowerWorse)
		if i == 4 {
			if got < 0.5 {
				t.Errorf("identical samples: p=%v", got)
			}
			continue
		}
		if math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("case %d: p=%v, want %v", i, got, tt.want)
		}
	}
}

func TestParseLimits(t *testing.T) {
	m, err := ParseMax("p99=50ms, errors=1%,throughput=5k,rss=512MiB,cpu_per_req=40us,p50=0.5,probe_p99=1s")
	if err != nil {
		t.Fatal(err)
	}
	want := Limits{P99: 50, Errors: 0.01, Throughput: 5000, RSS: 512 << 20, CPUPerReq: 40, P50: 0.5, ProbeP99: 1000}
	for k, v := range want {
		if math.Abs(m[k]-v) > 1e-9 {
			t.Errorf("max %s = %v, want %v", k, m[k], v)
		}
	}
	r, err := ParseRegress("p99=+10%,throughput=-5%,p50=20%")
	if err != nil {
		t.Fatal(err)
	}
	if r[P99] != 0.10 || r[Throughput] != 0.05 || r[P50] != 0.20 {
		t.Errorf("regress %v", r)
	}
	for _, bad := range []string{"p99", "p98=1ms", "p99=abc", "p99=-1ms", "errors=150%", "p99=1ms,p99=2ms", "rss=lots"} {
		if _, err := ParseMax(bad); !errors.Is(err, ErrThreshold) {
			t.Errorf("ParseMax(%q) = %v, want ErrThreshold", bad, err)
		}
	}
	for _, bad := range []string{"p99=10", "p99=-10%", "throughput=+5%", "p99=0%", "p99=+x%", "foo=1%"} {
		if _, err := ParseRegress(bad); !errors.Is(err, ErrThreshold) {
			t.Errorf("ParseRegress(%q) = %v, want ErrThreshold", bad, err)
		}
	}
	if l, err := ParseRegress(""); err != nil || len(l) != 0 {
		t.Errorf("empty: %v %v", l, err)
	}
}

func TestOptionsCheck(t *testing.T) {
	for _, o := range []Options{
		{Alpha: 0, MinTrials: 3}, {Alpha: 1, MinTrials: 3}, {Alpha: 0.05, MinTrials: 1}, {Alpha: 0.05, MinTrials: 3, NoiseFactor: -1},
	} {
		if err := o.Check(); !errors.Is(err, ErrOption) {
			t.Errorf("%+v: %v, want ErrOption", o, err)
		}
	}
	if err := DefaultOptions().Check(); err != nil {
		t.Error(err)
	}
}

// writeRun writes run as dir/summary.json.
func writeRun(t *testing.T, dir string, run reports.Run) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(run)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, reports.SummaryFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestLoadBench(t *testing.T) {
	tmp := t.TempDir()
	base := writeRun(t, filepath.Join(tmp, "base"), mkRun(1, 5, 0.03))
	next := writeRun(t, filepath.Join(tmp, "new"), mkRun(2, 5, 0.03, on("static-1k/event/c=100", scaleP99(1.3))))
	b, err := Load(base)
	if err != nil {
		t.Fatal(err)
	}
	if b.Kind != KindBench || len(b.Keys) != 4 || len(b.Trials[Key{"static-1k", "event", "c=100"}]) != 5 || b.Commit != "abc1234" {
		t.Fatalf("loaded %+v", b)
	}
	n, err := Load(filepath.Join(next, reports.SummaryFile)) // the file itself works too
	if err != nil {
		t.Fatal(err)
	}
	if r := Compare(b, n, DefaultOptions()); r.Code() != ExitRegression {
		t.Errorf("code %d: %s", r.Code(), r.Reason)
	}

	// Rounds of one build: run directories under one directory, or listed.
	rounds := filepath.Join(tmp, "rounds")
	var listed []string
	for i := range 3 {
		run := mkRun(uint64(10+i), 2, 0.03)
		run.Commit = "abc1234"
		listed = append(listed, writeRun(t, filepath.Join(rounds, fmt.Sprint("round", i)), run))
	}
	for _, p := range []string{rounds, strings.Join(listed, ","), strings.Join(listed[:2], ",") + "," + filepath.Join(listed[2], reports.SummaryFile)} {
		r, err := Load(p)
		if err != nil {
			t.Fatalf("Load(%s): %v", p, err)
		}
		if got := len(r.Trials[Key{"static-1k", "event", "c=100"}]); got != 6 || r.Commit != "abc1234" {
			t.Errorf("Load(%s): %d trials, commit %q; want 6 and abc1234", p, got, r.Commit)
		}
		if c := Compare(b, r, DefaultOptions()); c.Code() != ExitPass {
			t.Errorf("rounds: %s", c.Reason)
		}
	}
	os.WriteFile(filepath.Join(rounds, "stray.txt"), []byte("x"), 0o644)
	if _, err := Load(rounds); !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "holds both bench runs") {
		t.Errorf("runs beside a file: %v", err)
	}
	if _, err := Load(listed[0] + "," + filepath.Join(rounds, "stray.txt")); !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "mixes bench runs and result files") {
		t.Errorf("mixed list: %v", err)
	}

	data, _ := os.ReadFile(filepath.Join(base, reports.SummaryFile))
	bad := map[string]struct {
		content []byte
		want    string
	}{
		"truncated": {data[:len(data)/2], "summary.json: truncated: unexpected EOF"},
		"foreign":   {[]byte(`{"name": "not a run", "items": [1, 2, 3]}`), "summary.json: not a c10k bench summary: json: unknown field \"name\""},
		"png":       {[]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), "summary.json: not a c10k bench summary: invalid character"},
		"empty run": {[]byte(`{"id": "x", "steps": []}`), "summary.json: a bench summary without steps"},
		"nan":       {[]byte(`{"id": "x", "steps": [{"scenario": "s", "core": "c", "throughput": -1, "valid": true}]}`), "summary.json: step 0 (s/c): throughput is -1: reports: bad value"},
	}
	for name, tc := range bad {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(tmp, strings.ReplaceAll(name, " ", "-"))
			os.MkdirAll(dir, 0o755)
			os.WriteFile(filepath.Join(dir, reports.SummaryFile), tc.content, 0o644)
			_, err := Load(dir)
			if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load = %v, want ErrInput with %q", err, tc.want)
			}
		})
	}
	for _, missing := range []string{filepath.Join(tmp, "nope"), t.TempDir()} {
		if _, err := Load(missing); !errors.Is(err, ErrInput) {
			t.Errorf("Load(%s) = %v, want ErrInput", missing, err)
		}
	}
}
