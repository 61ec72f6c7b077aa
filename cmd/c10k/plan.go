package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/c10k/c10k/loadgen"
	"github.com/c10k/c10k/loadgen/plan"
	"github.com/c10k/c10k/reports"
)

func init() {
	commands["plan"] = command{
		summary: "find the highest rate that meets an SLO, and size a deployment for a target rate",
		run:     func(ctx context.Context, args []string) int { return planCmd(ctx, args, os.Stdout, os.Stderr) },
	}
}

const planUsage = `usage: c10k plan --slo 'p99<=50ms,errors<=0.1%' [flags] URL
       c10k plan --slo ... --core thread|event|cgi|nethttp -c FILE [--path /x] [flags]

Finds the highest open-model rate the server sustains within the SLO: a
stepped search (rates doubling from --start) until a step breaks it, a
bisection down to --precision, then --confirm more runs at the rate found.
Every step runs --warmup first (not measured), then --step measured;
latency counts from each request's intended start. A step whose generator
could not keep the schedule ends the search (the server sustains at least
the last rate). With --target-rps it sizes the deployment: instances with
--headroom kept free, and per instance the connections, worker threads
(Little's law), file descriptors and memory (measured when the server's
pid is known: --core, or --pid).

Exit codes: 0 found, 1 no rate met the SLO or the run failed, 2 bad input.

flags:
`

func planCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("c10k plan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sloFlag := fs.String("slo", "", "objectives, e.g. 'p99<=50ms,errors<=0.1%' (metrics p50 p90 p99 p999 max mean errors; required)")
	core := fs.String("core", "", "plan for a c10k `core` started here (thread, event, cgi, nethttp) instead of a URL")
	conf := fs.String("c", "", "with --core: the configuration `file`")
	path := fs.String("path", "/", "with --core: the request `path`")
	var o plan.Options
	fs.Float64Var(&o.Start, "start", 50, "first rate, req/s")
	fs.Float64Var(&o.Max, "max-rate", 1e6, "highest rate to try, req/s")
	fs.Float64Var(&o.Precision, "precision", 0.05, "stop bisecting when the bracket is within this `fraction`")
	fs.IntVar(&o.Confirm, "confirm", 2, "extra runs at the rate found that must all pass (-1: none)")
	fs.IntVar(&o.MaxSteps, "max-steps", 40, "most measured steps")
	step := fs.Duration("step", 5*time.Second, "measured `duration` of every step")
	warmup := fs.Duration("warmup", time.Second, "unmeasured warm-up before every step")
	conns := fs.Int("connections", 1000, "most connections (and requests in flight) the generator opens")
	timeout := fs.Duration("timeout", 10*time.Second, "per request")
	target := fs.Float64("target-rps", 0, "size a deployment for this `rate`, req/s")
	headroom := fs.String("headroom", "30%", "share of each instance's sustainable rate kept free (e.g. 30% or 0.3)")
	pid := fs.Int("pid", 0, "the server's `pid` (with a URL), to measure its memory per connection")
	upstream := fs.Float64("upstream-fds", 0, "file descriptors each connection adds upstream (1 for a proxy without upstream keep-alive)")
	format := fs.String("format", "text", "output `format`: text or json")
	plotPath := fs.String("plot", "", "write the latency-vs-rate plot to `file`.png and .svg")
	sources := fs.String("source-ips", "", "source addresses of the generator, e.g. 127.0.0.2-127.0.0.9")
	fs.Usage = func() { fmt.Fprint(fs.Output(), planUsage); fs.PrintDefaults() }
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "c10k plan: "+format+"\n", a...)
		return 2
	}
	var err error
	if o.SLO, err = plan.ParseSLO(*sloFlag); err != nil {
		return fail("--slo: %v", err)
	}
	head, err := parseFraction(*headroom)
	if err != nil {
		return fail("--headroom %q: %v", *headroom, err)
	}
	switch {
	case *format != "text" && *format != "json":
		return fail("--format %q: want text or json", *format)
	case o.Start <= 0 || o.Max < o.Start:
		return fail("--start %v, --max-rate %v: want 0 < start <= max-rate", o.Start, o.Max)
	case o.Precision <= 0 || o.Precision >= 1:
		return fail("--precision %v: want a fraction in (0, 1)", o.Precision)
	case o.Confirm < -1 || o.MaxSteps < 1:
		return fail("--confirm must be -1 or more and --max-steps positive")
	case *step < time.Second:
		return fail("--step %v: at least 1s, or the step is not steady", *step)
	case *warmup < 0 || *timeout <= 0 || *conns < 1:
		return fail("--warmup must not be negative, --timeout and --connections must be positive")
	case *target < 0 || *pid < 0 || *upstream < 0:
		return fail("--target-rps, --pid and --upstream-fds must not be negative")
	case (*core == "") == (fs.NArg() == 0):
		return fail("want a URL or --core with -c FILE (one of them)")
	case fs.NArg() > 1:
		return fail("want one URL, got %d arguments", fs.NArg())
	case *core != "" && *conf == "":
		return fail("--core needs -c FILE")
	case *core != "" && *pid != 0:
		return fail("--pid is for a URL; with --core the pid is known")
	}

	url := fs.Arg(0)
	if *core != "" {
		srv, err := startPlanCore(ctx, *core, *conf, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "c10k plan: %v\n", err)
			return 1
		}
		defer srv.stop()
		url, *pid = srv.url(*path), srv.pid()
	}
	if _, err := loadgen.ParseTarget(url); err != nil {
		return fail("%v", err)
	}
	base := loadgen.Options{Request: loadgen.Request{URL: url}, Connections: *conns, Timeout: *timeout}
	if *sources != "" {
		if base.Sources, err = loadgen.ParseSourceIPs(*sources); err != nil {
			return fail("--source-ips: %v", err)
		}
	}
	if _, err := loadgen.Preflight(*conns, len(base.Sources)); err != nil {
		return fail("%v", err)
	}

	var costs plan.Costs
	costs.UpstreamFDs = *upstream
	if *pid > 0 {
		if costs.BaseRSS, err = loadgen.RSS(*pid); err != nil {
			return fail("--pid %d: %v", *pid, err)
		}
	}
	o.Progress = func(s plan.Step) {
		fmt.Fprintf(stderr, "c10k plan: %-7s %9.1f req/s  p99 %9.2f ms  errors %6.2f%%  %s\n", s.Phase, s.Rate, s.P99, 100*s.ErrorRatio, verdict(s))
	}
	res, err := plan.Search(ctx, o, plan.Steady(base, *warmup, *step))
	if err != nil {
		if res != nil && len(res.Steps) > 0 {
			writePlan(stdout, *format, url, res)
		}
		fmt.Fprintf(stderr, "c10k plan: %v\n", err)
		return 1
	}
	if *target > 0 {
		if *pid > 0 {
			costs.PerConnRSS = perConnCost(ctx, base, *pid, stderr)
		}
		if res.Sizing, err = plan.Size(res, *target, head, costs); err != nil {
			fmt.Fprintf(stderr, "c10k plan: %v\n", err)
			return 1
		}
	}
	if *plotPath != "" {
		pts := make([]reports.RatePoint, 0, len(res.Steps))
		for _, s := range res.Steps {
			if s.Valid {
				pts = append(pts, reports.RatePoint{Rate: s.Rate, P50: s.P50, P99: s.P99, Pass: s.Pass})
			}
		}
		if err := reports.PlotRateLatency("Latency vs offered rate: "+url, pts, sloLatency(o.SLO), res.MaxRate, strings.TrimSuffix(*plotPath, ".png")); err != nil {
			fmt.Fprintf(stderr, "c10k plan: --plot: %v\n", err)
			return 1
		}
	}
	writePlan(stdout, *format, url, res)
	return 0
}

// perConnCost measures the server's memory per connection: RSS with
// 1,000 idle keep-alive connections held, over RSS without. 0 when it
// cannot be measured (the reason goes to stderr).
func perConnCost(ctx context.Context, base loadgen.Options, pid int, stderr io.Writer) int64 {
	o := loadgen.Options{Request: base.Request, Sources: base.Sources, Timeout: base.Timeout,
		Idle: 1000, OpenRate: 2000, Settle: 500 * time.Millisecond, Duration: time.Second, RSSPIDs: []int{pid}}
	s, err := loadgen.Run(ctx, o)
	if err != nil || s.Idle == nil || s.Idle.Held == 0 {
		fmt.Fprintf(stderr, "c10k plan: memory per connection not measured: %v\n", err)
		return 0
	}
	return int64(s.RSSPerIdleConnKB * 1024)
}

func verdict(s plan.Step) string {
	switch {
	case !s.Valid:
		return "invalid: " + s.Invalid
	case s.Pass:
		return "meets the SLO"
	}
	return "breaks it: " + s.Broken
}

// sloLatency is the tightest latency limit of slo, in ms (0: none).
func sloLatency(slo plan.SLO) float64 {
	v := 0.0
	for _, o := range slo {
		if o.Metric != "errors" && (v == 0 || o.Limit < v) {
			v = o.Limit
		}
	}
	return v
}

func writePlan(w io.Writer, format, url string, r *plan.Result) {
	if format == "json" {
		e := json.NewEncoder(w)
		e.SetIndent("", "  ")
		e.Encode(r)
		return
	}
	rows := make([][]string, 0, len(r.Steps))
	for _, s := range r.Steps {
		rows = append(rows, []string{s.Phase, f1(s.Rate), f1(s.Achieved), f1(s.Throughput), f2(s.P50), f2(s.P99),
			strconv.FormatFloat(100*s.ErrorRatio, 'f', 2, 64) + "%", verdict(s)})
	}
	reports.WriteGrid(w, reports.Text, "plan for "+url+" — SLO "+r.SLO,
		[]string{"phase", "rate", "achieved", "ok req/s", "p50 ms", "p99 ms", "errors", "verdict"}, rows)
	if r.MaxRate == 0 {
		return
	}
	fmt.Fprintf(w, "\nsustainable rate: %s req/s — %d of %d runs there met the SLO", f1(r.MaxRate), r.Confidence.Passed, r.Confidence.Trials)
	if r.High > 0 {
		fmt.Fprintf(w, "; the boundary is below %s req/s (+%s)", f1(r.High), f1(r.Confidence.Margin))
	}
	fmt.Fprintf(w, "; stopped by %s\nknee: %s req/s (the highest rate with p99 within 2x of the lowest p99 measured)\n", r.Stopped, f1(r.Knee))
	if z := r.Sizing; z != nil {
		fmt.Fprintf(w, "\nsizing for %s req/s with %.0f%% headroom: %d instance(s) at %s req/s each (each sustains %s)\n",
			f1(z.TargetRPS), 100*z.Headroom, z.Instances, f1(z.RatePerInstance), f1(z.PerInstanceMax))
		fmt.Fprintf(w, "per instance: %.1f requests in flight (Little: %s req/s x %s ms mean), %d connections (rate x p99 %s ms), %d worker threads, %d file descriptors",
			z.InFlight, f1(z.RatePerInstance), f2(z.MeanMS), z.Connections, f2(z.P99MS), z.WorkerThreads, z.FileDescriptors)
		if z.MemoryBytes > 0 {
			fmt.Fprintf(w, ", %.1f MiB memory", float64(z.MemoryBytes)/(1<<20))
		}
		fmt.Fprintln(w)
		for _, n := range z.Notes {
			fmt.Fprintf(w, "note: %s\n", n)
		}
	}
}

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
func f2(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

// parseFraction reads "30%" or "0.3" as a fraction in [0, 1).
func parseFraction(s string) (float64, error) {
	scale := 1.0
	if t, ok := strings.CutSuffix(strings.TrimSpace(s), "%"); ok {
		s, scale = t, 0.01
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || v*scale < 0 || v*scale >= 1 {
		return 0, errors.New("want a fraction in [0, 1), e.g. 30% or 0.3")
	}
	return v * scale, nil
}
