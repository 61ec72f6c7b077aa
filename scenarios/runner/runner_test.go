package runner

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/c10k/c10k/loadgen/result"
	"github.com/c10k/c10k/reports"
	"github.com/c10k/c10k/scenarios"
	"github.com/c10k/c10k/scenarios/internal/testexe"
	"golang.org/x/sys/unix"
)

// exe is the c10k binary the tests run, built once by TestMain.
var exe string

func TestMain(m *testing.M) { os.Exit(testexe.Main(m, &exe)) }

func parse(t *testing.T, text string) *scenarios.Scenario {
	t.Helper()
	s, err := scenarios.Parse("inline", []byte(text))
	if err != nil {
		t.Fatalf("parse the test scenario: %v", err)
	}
	return s
}

// leftovers lists the processes still running the test's c10k binary
// (servers, backends, CGI children): after Run there must be none.
func leftovers() []string {
	var out []string
	for pid, p := range allProcs() {
		if p.State == 'Z' {
			continue
		}
		if target, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe"); err == nil && target == exe {
			out = append(out, fmt.Sprintf("%d (%s)", pid, p.Comm))
		}
	}
	return out
}

func checkNoLeftovers(t *testing.T) {
	t.Helper()
	// A process killed a moment ago may still be on its way out.
	for range 50 {
		if len(leftovers()) == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("processes of %s left running: %v", exe, leftovers())
}

func readSummary(t *testing.T, dir string) reports.Run {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var run reports.Run
	if err := json.Unmarshal(b, &run); err != nil {
		t.Fatalf("summary.json: %v", err)
	}
	return run
}

func readSamples(t *testing.T, path string) []Sample {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []Sample
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var s Sample
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatalf("%s: %q: %v", path, sc.Text(), err)
		}
		out = append(out, s)
	}
	return out
}

const tinyScenario = `{
  "name": "tiny",
  "description": "a 1 KB file at 2 and 4 connections",
  "site": {"files": [{"path": "1k.txt", "size": 1024}]},
  "warmup": "100ms",
  "duration": "500ms",
  "steps": [
    {"path": "/1k.txt", "connections": 2},
    {"path": "/1k.txt", "connections": 4}
  ]
}`

func TestRunCores(t *testing.T) {
	s := parse(t, tinyScenario)
	dir := filepath.Join(t.TempDir(), "run-1")
	var log, progress strings.Builder
	run, err := Run(context.Background(), Options{
		Scenarios: []*scenarios.Scenario{s},
		Targets:   []Target{{Name: "event", Kind: reports.KindCore}, {Name: "thread", Kind: reports.KindCore}},
		Exe:       exe, Dir: dir, ServerCPU: -1, ClientCPU: -1, Log: &log, Progress: &progress,
	})
	if err != nil {
		t.Fatalf("Run: %v\nlog:\n%s", err, log.String())
	}
	checkNoLeftovers(t)
	if run.ID != "run-1" || run.GoVersion == "" || run.Kernel == "" || run.Interrupted {
		t.Errorf("run = id %q go %q kernel %q interrupted %v", run.ID, run.GoVersion, run.Kernel, run.Interrupted)
	}
	disk := readSummary(t, dir)
	if len(disk.Steps) != 4 || len(run.Steps) != 4 {
		t.Fatalf("summary.json has %d steps, Run returned %d; want 4 (2 cores x 2 steps)\nlog:\n%s", len(disk.Steps), len(run.Steps), log.String())
	}
	var meta Meta
	b, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		t.Fatalf("meta.json: %v", err)
	}
	if meta.GoVersion == "" || meta.Ended.IsZero() || meta.Limits.NoFileHard == 0 || len(meta.Options.Targets) != 2 ||
		meta.Options.Scenarios[0] != "tiny" || meta.Options.PinnedServer != -1 {
		t.Errorf("meta.json = %s", b)
	}
	// Targets interleave within the scenario: event's steps, then thread's.
	wantOrder := []string{"event c=2", "event c=4", "thread c=2", "thread c=4"}
	for i, st := range disk.Steps {
		name := st.Core + " " + st.Label
		if name != wantOrder[i] {
			t.Errorf("step %d is %q, want %q", i, name, wantOrder[i])
		}
		if !st.Valid || st.Throughput <= 0 || st.Requests <= 0 || st.Errors != 0 || st.Skipped {
			t.Errorf("%s: valid %v (%s) throughput %v requests %d errors %d; note %q", name, st.Valid, st.Invalid, st.Throughput, st.Requests, st.Errors, st.Note)
		}
		if st.Kind != reports.KindCore || st.Scenario != "tiny" || st.Concurrency != map[string]int{"c=2": 2, "c=4": 4}[st.Label] {
			t.Errorf("%s: kind %q scenario %q concurrency %d", name, st.Kind, st.Scenario, st.Concurrency)
		}
		if len(st.Percentiles) != len(Quantiles) || st.Latency.P99 <= 0 || st.Latency.Max < st.Latency.P50 {
			t.Errorf("%s: percentiles %v latency %+v", name, st.Percentiles, st.Latency)
		}
		if st.RSSBytes <= 0 || st.RSSPeakBytes < st.RSSBytes || st.Threads <= 0 || st.Processes != 1 || st.FDs <= 0 {
			t.Errorf("%s: rss %d peak %d threads %d processes %d fds %d", name, st.RSSBytes, st.RSSPeakBytes, st.Threads, st.Processes, st.FDs)
		}
		if len(st.Timeline) != 0 {
			t.Errorf("%s: a timeline in the report for a step without events", name)
		}
		raw := filepath.Join(dir, "raw", "tiny", st.Core, st.Label+".json")
		sum, err := result.ReadFile(raw)
		if err != nil {
			t.Errorf("%s: raw result: %v", name, err)
		} else if sum.Requests != st.Requests || sum.Hist.Latency == nil || len(sum.Timeline) == 0 {
			t.Errorf("%s: raw result has %d requests (step %d), histogram %v", name, sum.Requests, st.Requests, sum.Hist.Latency != nil)
		}
	}
	if err := reports.Validate(disk.Steps); err != nil {
		t.Errorf("reports.Validate: %v", err)
	}
	for _, core := range []string{"event", "thread"} {
		d := filepath.Join(dir, "raw", "tiny", core)
		smp := readSamples(t, filepath.Join(d, "samples.jsonl"))
		if len(smp) == 0 {
			t.Errorf("%s: samples.jsonl is empty", core)
		}
		for _, x := range smp {
			if x.Scenario != "tiny" || x.Target != core || (x.Step != "c=2" && x.Step != "c=4") || x.PID <= 0 {
				t.Errorf("%s: sample %+v", core, x)
				break
			}
		}
		for _, f := range []string{"nginx.conf", "server.log"} {
			if _, err := os.Stat(filepath.Join(d, f)); err != nil {
				t.Errorf("%s: %v", core, err)
			}
		}
	}
	if !strings.Contains(log.String(), "tiny event c=2:") {
		t.Errorf("log has no line for a finished step:\n%s", log.String())
	}
	if p := progress.String(); !strings.Contains(p, "\r[4/4] tiny · thread · c=4 (2/2)") || !strings.Contains(p, "left") || strings.Contains(p, "\n") {
		t.Errorf("progress line: %q", p)
	}
}

func TestRunServerFails(t *testing.T) {
	s := parse(t, tinyScenario)
	dir := t.TempDir()
	run, err := Run(context.Background(), Options{
		Scenarios: []*scenarios.Scenario{s}, Targets: []Target{{Name: "bogus", Kind: reports.KindCore}},
		Exe: exe, Dir: dir, ServerCPU: -1, ClientCPU: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Steps) != 2 {
		t.Fatalf("%d steps, want 2: a target that fails does not stop the run", len(run.Steps))
	}
	for _, st := range run.Steps {
		if st.Valid || !strings.Contains(st.Invalid, "did not start") || !strings.Contains(st.Invalid, "server bogus") ||
			!strings.Contains(st.Note, `unknown core "bogus"`) {
			t.Errorf("step %s: valid %v, invalid %q, note %q: want the server's own complaint", st.Label, st.Valid, st.Invalid, st.Note)
		}
	}
	checkNoLeftovers(t)
}

func TestRunProxyKill(t *testing.T) {
	s := parse(t, `{
  "name": "kill",
  "description": "one backend killed during the step",
  "site": {"proxy": {"location": "/app/", "backends": [{"name": "a", "latency": "1ms"}]}},
  "warmup": "100ms",
  "duration": "1s",
  "interval": "100ms",
  "steps": [{"path": "/app/x", "connections": 2}],
  "events": [{"step": 0, "at": "300ms", "action": "kill-backend", "backend": "a"}]
}`)
	// The server under test dies: a step straight at a backend that is
	// killed.
	died := parse(t, `{
  "name": "died",
  "description": "the server under test is killed during the step",
  "site": {"proxy": {"location": "/app/", "backends": [{"name": "a"}]}},
  "warmup": "50ms",
  "duration": "600ms",
  "steps": [{"path": "/x", "target": "backend:a", "connections": 1}],
  "events": [{"step": 0, "at": "200ms", "action": "kill-backend", "backend": "a"}]
}`)
	dir := t.TempDir()
	run, err := Run(context.Background(), Options{
		Scenarios: []*scenarios.Scenario{s, died}, Targets: []Target{{Name: "event", Kind: reports.KindCore}},
		Exe: exe, Dir: dir, ServerCPU: -1, ClientCPU: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	checkNoLeftovers(t)
	if len(run.Steps) != 2 {
		t.Fatalf("%d steps, want 2", len(run.Steps))
	}
	if d := run.Steps[1]; d.Valid || !strings.Contains(d.Invalid, "backend a exited during the step") {
		t.Errorf("step at a killed backend: valid %v, invalid %q", d.Valid, d.Invalid)
	}
	st := run.Steps[0]
	if !strings.Contains(st.Note, "backend a killed (SIGKILL)") {
		t.Errorf("note %q does not say the backend was killed", st.Note)
	}
	if len(st.Timeline) == 0 || st.Requests == 0 {
		t.Errorf("timeline %v, requests %d", st.Timeline, st.Requests)
	}
	var errs float64
	for _, p := range st.Timeline {
		errs += p.Errors
	}
	if errs == 0 || st.Errors == 0 {
		t.Errorf("no errors after the only backend was killed: timeline %v, errors %d", st.Timeline, st.Errors)
	}
	smp := readSamples(t, filepath.Join(dir, "raw", "kill", "event", "samples.jsonl"))
	if len(smp) < 2 || smp[0].Processes < 1 || smp[0].RSSBytes <= 0 {
		t.Errorf("samples %+v", smp)
	}
	if _, err := os.Stat(filepath.Join(dir, "raw", "kill", "event", "backend-a.log")); err != nil {
		t.Error(err)
	}
}

func TestRunDeploy(t *testing.T) {
	s := parse(t, `{
  "name": "deploy",
  "description": "blue to green during the step",
  "site": {"proxy": {"location": "/app/", "backends": [
    {"name": "blue", "color": "blue"}, {"name": "green", "color": "green"}]}},
  "warmup": "100ms",
  "duration": "1500ms",
  "steps": [{"path": "/app/x", "connections": 2}],
  "events": [{"step": 0, "at": "200ms", "action": "deploy"}]
}`)
	dir := t.TempDir()
	run, err := Run(context.Background(), Options{
		Scenarios: []*scenarios.Scenario{s}, Targets: []Target{{Name: "thread", Kind: reports.KindCore}},
		Exe: exe, Dir: dir, ServerCPU: -1, ClientCPU: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	checkNoLeftovers(t)
	st := run.Steps[0]
	for _, want := range []string{"deploy at ", "green green healthy", "reloaded (hangup)", "blue blue stopped"} {
		if !strings.Contains(st.Note, want) {
			t.Errorf("note %q lacks %q", st.Note, want)
		}
	}
	if st.Invalid != "" || st.Requests == 0 {
		t.Errorf("invalid %q, %d requests", st.Invalid, st.Requests)
	}
	// A reload, not a restart: no request fails across the switch.
	if st.Errors != 0 {
		t.Errorf("%d of %d requests failed across the blue-green switch", st.Errors, st.Requests)
	}
	raw := filepath.Join(dir, "raw", "deploy", "thread")
	green, err := os.ReadFile(filepath.Join(raw, "nginx-green.conf"))
	if err != nil {
		t.Fatal(err)
	}
	blue, err := os.ReadFile(filepath.Join(raw, "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if string(green) == string(blue) {
		t.Error("the green config is the blue one")
	}
	// The server reloaded in place: one pid in the samples.
	pids := make(map[int]bool)
	for _, x := range readSamples(t, filepath.Join(raw, "samples.jsonl")) {
		if x.Processes > 0 {
			pids[x.PID] = true
		}
	}
	if len(pids) != 1 {
		t.Errorf("samples of %d server pids, want 1 (reloaded, not restarted)", len(pids))
	}
}

func TestRunCancel(t *testing.T) {
	s := parse(t, `{
  "name": "long",
  "description": "a short step, then a long one cut short",
  "site": {"files": [{"path": "1k.txt", "size": 1024}]},
  "warmup": "50ms",
  "steps": [
    {"label": "short", "path": "/1k.txt", "connections": 1, "duration": "200ms"},
    {"label": "long", "path": "/1k.txt", "connections": 1, "duration": "1m"}
  ]
}`)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type ret struct {
		run *reports.Run
		err error
	}
	done := make(chan ret, 1)
	go func() {
		run, err := Run(ctx, Options{
			Scenarios: []*scenarios.Scenario{s}, Targets: []Target{{Name: "cgi", Kind: reports.KindCore}},
			Exe: exe, Dir: dir, ServerCPU: -1, ClientCPU: -1,
		})
		done <- ret{run, err}
	}()
	// Cancel once the first step is in summary.json and the second runs.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "summary.json")); err == nil {
			var run reports.Run
			if json.Unmarshal(b, &run) == nil && len(run.Steps) == 1 {
				break
			}
		}
		if time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatal("the first step did not finish within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	cancel()
	var r ret
	select {
	case r = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30s of the cancellation")
	}
	if !errors.Is(r.err, context.Canceled) {
		t.Errorf("Run error = %v, want context.Canceled", r.err)
	}
	if r.run == nil || !r.run.Interrupted || len(r.run.Steps) != 1 {
		t.Fatalf("run = %+v", r.run)
	}
	disk := readSummary(t, dir)
	if !disk.Interrupted || len(disk.Steps) != 1 || disk.Steps[0].Label != "short" {
		t.Errorf("summary.json: interrupted %v, %d steps", disk.Interrupted, len(disk.Steps))
	}
	checkNoLeftovers(t)
	if kids := children(); len(kids) > 0 {
		t.Errorf("child processes left: %v", kids)
	}
}

// children lists this process's children that are not zombies.
func children() []string {
	var out []string
	for pid, p := range allProcs() {
		if p.PPID == os.Getpid() && p.State != 'Z' {
			out = append(out, fmt.Sprintf("%d (%s)", pid, p.Comm))
		}
	}
	return out
}

func TestRunURL(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/hello" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("hello\n"))
	}))
	defer ts.Close()
	s := parse(t, `{
  "name": "ext",
  "description": "an external server",
  "warmup": "50ms",
  "duration": "300ms",
  "sample": ["rss", "cpu"],
  "steps": [{"path": "/hello", "connections": 2}]
}`)
	dir := t.TempDir()
	run, err := Run(context.Background(), Options{
		Scenarios: []*scenarios.Scenario{s},
		Targets:   []Target{{Name: "url", Kind: reports.KindURL, URL: ts.URL + "/", PID: os.Getpid()}},
		Dir:       dir, ServerCPU: -1, ClientCPU: -1, Trials: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Steps) != 2 || run.Steps[0].Trial != 0 || run.Steps[1].Trial != 1 {
		t.Fatalf("%d steps, want trials 0 and 1", len(run.Steps))
	}
	for _, tr := range []string{"t0", "t1"} {
		if _, err := result.ReadFile(filepath.Join(dir, "raw", "ext", "url", "c=2-"+tr+".json")); err != nil {
			t.Error(err)
		}
	}
	st := run.Steps[0]
	if !st.Valid || st.Throughput <= 0 || st.Kind != reports.KindURL || st.Core != "url" {
		t.Errorf("step %+v", st)
	}
	// Only the metrics asked for: rss and cpu, not threads or fds.
	if st.RSSBytes <= 0 || st.Threads != 0 || st.FDs != 0 || st.CtxSwitches != 0 {
		t.Errorf("rss %d threads %d fds %d ctxsw %d: want rss only among them", st.RSSBytes, st.Threads, st.FDs, st.CtxSwitches)
	}
	if smp := readSamples(t, filepath.Join(dir, "raw", "ext", "url", "samples.jsonl")); len(smp) == 0 || smp[0].PID != os.Getpid() {
		t.Errorf("samples %+v", smp)
	}
}

func TestRunSkips(t *testing.T) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	if rl.Max > 59000 {
		t.Skipf("RLIMIT_NOFILE hard limit %d fits the step meant not to fit", rl.Max)
	}
	s := parse(t, `{
  "name": "skips",
  "description": "steps no target here can run",
  "site": {"files": [{"path": "1k.txt", "size": 1024}], "cgi": {"location": "/cgi-bin/hello", "program": "hello.sh"}},
  "steps": [
    {"path": "/cgi-bin/hello", "connections": 1},
    {"path": "/1k.txt", "idle": 59000}
  ]
}`)
	dir := t.TempDir()
	run, err := Run(context.Background(), Options{
		Scenarios: []*scenarios.Scenario{s}, Targets: []Target{{Name: "nginx", Kind: reports.KindReference}},
		Exe: exe, Dir: dir, ServerCPU: -1, ClientCPU: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Steps) != 2 {
		t.Fatalf("%d steps, want 2", len(run.Steps))
	}
	for _, st := range run.Steps {
		if !st.Skipped || st.Valid || st.Note == "" || st.Pair != "event" || st.Kind != reports.KindReference {
			t.Errorf("step %s: skipped %v valid %v note %q pair %q", st.Label, st.Skipped, st.Valid, st.Note, st.Pair)
		}
	}
	if !strings.Contains(run.Steps[1].Note, "RLIMIT_NOFILE") {
		t.Errorf("the idle step's note does not name the limit: %q", run.Steps[1].Note)
	}
	checkNoLeftovers(t)
}

func TestOptionsErrors(t *testing.T) {
	s := parse(t, tinyScenario)
	good := Options{Scenarios: []*scenarios.Scenario{s}, Targets: []Target{{Name: "event", Kind: reports.KindCore}}, Exe: exe, Dir: t.TempDir()}
	for _, tc := range []struct {
		name string
		edit func(*Options)
	}{
		{"no scenarios", func(o *Options) { o.Scenarios = nil }},
		{"no targets", func(o *Options) { o.Targets = nil }},
		{"no dir", func(o *Options) { o.Dir = "" }},
		{"no exe", func(o *Options) { o.Exe = "" }},
		{"bad kind", func(o *Options) { o.Targets[0].Kind = "server" }},
		{"bad url", func(o *Options) { o.Targets = []Target{{Name: "u", Kind: reports.KindURL, URL: "ftp://x"}} }},
		{"unknown reference", func(o *Options) { o.Targets = []Target{{Name: "iis", Kind: reports.KindReference}} }},
		{"twice", func(o *Options) { o.Targets = append(o.Targets, o.Targets[0]) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := good
			o.Targets = append([]Target(nil), good.Targets...)
			tc.edit(&o)
			if _, err := Run(context.Background(), o); !errors.Is(err, ErrOptions) {
				t.Errorf("Run: %v, want ErrOptions", err)
			}
		})
	}
}
