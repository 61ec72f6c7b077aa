package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/c10k/c10k/loadgen"
	"github.com/c10k/c10k/reports"
	"github.com/c10k/c10k/scenarios"
	"github.com/c10k/c10k/scenarios/runner"
)

func init() {
	commands["bench"] = command{
		summary: "run scenarios against the cores (and real servers, or any URL) and write a report",
		run:     func(ctx context.Context, args []string) int { return bench(ctx, args, os.Stdout, os.Stderr) },
	}
}

// benchCores are the targets of a bench without --cores: the three cores
// and the net/http baseline.
var benchCores = []string{"thread", "event", "cgi", "nethttp"}

const benchUsage = `usage: c10k bench [flags]

Runs scenarios (scenarios/*.json: the quick set by default, --full for
all) against the c10k cores, server and generator pinned to different
CPUs, and writes results/<run-id>/: raw loadgen results and /proc
samples, meta.json, summary.json, report.md, report.html and the plots.
With --reference the real servers (nginx, Apache 2.4 event/worker/prefork,
lighttpd; 'make reference' installs them) run the same scenarios from
configs generated from them, and the report sets each core beside the
server it models. With --url the scenarios' load goes to any server.

flags:
`

func bench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("c10k bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	names := fs.String("scenarios", "", "comma-separated scenario `names` (default: the quick set; see --list)")
	full := fs.Bool("full", false, "run every scenario, not just the quick set")
	var files listFlag
	fs.Var(&files, "scenario-file", "also run the scenario in `file` (repeatable)")
	cores := fs.String("cores", strings.Join(benchCores, ","), "comma-separated c10k `cores` to bench (\"\" for none)")
	reference := fs.Bool("reference", false, "also bench the real servers: nginx, apache-event, apache-worker, apache-prefork, lighttpd")
	refs := fs.String("references", "", "comma-separated reference server `names` (implies --reference)")
	url := fs.String("url", "", "bench this external base `URL` instead of the cores (unless --cores is given too)")
	pid := fs.Int("pid", 0, "with --url: the server's `pid`, to sample its /proc figures")
	cacert := fs.String("cacert", "", "with an https --url: trust the CA certificates of PEM `file`")
	insecure := fs.Bool("insecure", false, "with an https --url: do not verify the server's certificate")
	out := fs.String("out", "", "run `directory` (default results/<run-id>)")
	scale := fs.Float64("scale", 1, "multiply every warm-up and step duration by `factor`")
	trials := fs.Int("trials", 1, "run every step `N` times, interleaved across targets")
	serverCPU := fs.Int("server-cpu", 0, "CPU to pin the server to (-1: no pinning)")
	clientCPU := fs.Int("client-cpu", 1, "CPU to pin the generator to (-1: no pinning)")
	sources := fs.String("source-ips", "", "source addresses for C10k steps, e.g. 127.0.0.2-127.0.0.21 (default that)")
	list := fs.Bool("list", false, "list the scenarios and exit")
	quiet := fs.Bool("quiet", false, "no progress line")
	fs.Usage = func() { fmt.Fprint(fs.Output(), benchUsage); fs.PrintDefaults() }
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "c10k bench: "+format+"\n", a...)
		return 2
	}
	if fs.NArg() > 0 {
		return fail("unexpected argument %q", fs.Arg(0))
	}
	all, err := scenarios.All()
	if err != nil {
		fmt.Fprintf(stderr, "c10k bench: %v\n", err)
		return 1
	}
	if *list {
		for _, s := range all {
			set := "full"
			if s.Quick {
				set = "quick"
			}
			fmt.Fprintf(stdout, "%-16s %-5s %s\n", s.Name, set, s.Description)
		}
		return 0
	}
	switch {
	case *scale <= 0:
		return fail("--scale %v: must be positive", *scale)
	case *trials < 1 || *trials > 100:
		return fail("--trials %d: want 1 to 100", *trials)
	case *serverCPU < -1 || *clientCPU < -1:
		return fail("--server-cpu and --client-cpu: want a CPU number or -1")
	case *pid != 0 && *url == "":
		return fail("--pid needs --url")
	case *pid < 0:
		return fail("--pid %d: must be positive", *pid)
	}

	var o runner.Options
	if o.Scenarios, err = pickScenarios(all, *names, *full, files); err != nil {
		return fail("%v", err)
	}
	coresSet := false
	fs.Visit(func(f *flag.Flag) { coresSet = coresSet || f.Name == "cores" })
	if *url == "" || coresSet {
		for _, c := range splitList(*cores) {
			if !slices.Contains(benchCores, c) {
				return fail("--cores: unknown core %q (want %s)", c, strings.Join(benchCores, ", "))
			}
			o.Targets = append(o.Targets, runner.Target{Name: c, Kind: reports.KindCore})
		}
	}
	if *refs != "" || *reference {
		want := splitList(*refs)
		if len(want) == 0 {
			for _, r := range scenarios.References() {
				want = append(want, r.Name)
			}
		}
		for _, name := range want {
			if _, ok := scenarios.LookupReference(name); !ok {
				return fail("--references: unknown server %q (want nginx, apache-event, apache-worker, apache-prefork or lighttpd)", name)
			}
			o.Targets = append(o.Targets, runner.Target{Name: name, Kind: reports.KindReference})
		}
	}
	if *url != "" {
		if _, err := loadgen.ParseTarget(*url); err != nil {
			return fail("--url: %v", err)
		}
		o.Targets = append(o.Targets, runner.Target{Name: "url", Kind: reports.KindURL, URL: strings.TrimSuffix(*url, "/"), PID: *pid})
	}
	o.URLTLS = loadgen.TLSOptions{CAFile: *cacert, Insecure: *insecure}
	if len(o.Targets) == 0 {
		return fail("nothing to bench: --cores is empty and there is no --reference or --url")
	}
	if *sources != "" {
		if o.Sources, err = loadgen.ParseSourceIPs(*sources); err != nil {
			return fail("--source-ips: %v", err)
		}
	}
	if o.Exe, err = os.Executable(); err != nil {
		fmt.Fprintf(stderr, "c10k bench: cannot find my own binary: %v\n", err)
		return 1
	}
	o.Dir = *out
	if o.Dir == "" {
		o.Dir = filepath.Join("results", runID())
	}
	if runtime.NumCPU() < 2 && (*serverCPU >= 0 || *clientCPU >= 0) {
		fmt.Fprintln(stderr, "c10k bench: one CPU: server and generator not pinned apart")
		*serverCPU, *clientCPU = -1, -1
	}
	o.ServerCPU, o.ClientCPU = *serverCPU, *clientCPU
	o.Scale, o.Trials = *scale, *trials
	o.Log = stderr
	if !*quiet {
		if f, ok := stderr.(*os.File); ok && loadgen.IsTerminal(f) {
			o.Progress = stderr
		}
	}

	run, err := runner.Run(ctx, o)
	if run == nil {
		fmt.Fprintf(stderr, "c10k bench: %v\n", err)
		return 1
	}
	code := 0
	if err != nil {
		fmt.Fprintf(stderr, "c10k bench: %v\n", err)
		code = 1
	}
	if len(run.Steps) == 0 {
		fmt.Fprintf(stderr, "c10k bench: no step finished; %s holds what there is\n", o.Dir)
		return 1
	}
	if rerr := reports.WriteReport(o.Dir, *run); rerr != nil {
		fmt.Fprintf(stderr, "c10k bench: report: %v\n", rerr)
		return 1
	}
	if terr := reports.WriteTables(stdout, *run, reports.Text); terr != nil {
		fmt.Fprintf(stderr, "c10k bench: %v\n", terr)
		return 1
	}
	fmt.Fprintf(stderr, "c10k bench: report in %s (report.html, report.md)\n", o.Dir)
	return code
}

// pickScenarios selects the scenarios of a run: the named ones (in the
// order named), every one with full, else the quick set; then those
// read from files.
func pickScenarios(all []*scenarios.Scenario, names string, full bool, files []string) ([]*scenarios.Scenario, error) {
	var out []*scenarios.Scenario
	switch {
	case names != "" && full:
		return nil, errors.New("--scenarios and --full: choose one")
	case names != "":
		for _, n := range splitList(names) {
			s, err := scenarios.Lookup(n)
			if err != nil {
				return nil, fmt.Errorf("--scenarios: %w", err)
			}
			out = append(out, s)
		}
	case len(files) > 0:
	default:
		for _, s := range all {
			if full || s.Quick {
				out = append(out, s)
			}
		}
	}
	for _, f := range files {
		s, err := scenarios.Load(f)
		if err != nil {
			return nil, fmt.Errorf("--scenario-file: %w", err)
		}
		out = append(out, s)
	}
	return out, nil
}

// runID names a run directory: the UTC time and the commit.
func runID() string {
	id := time.Now().UTC().Format("20060102T150405Z")
	if c, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		id += "-" + strings.TrimSpace(string(c))
	}
	return id
}

// listFlag collects a repeated flag's values.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
