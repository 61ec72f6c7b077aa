package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/c10k/c10k/loadgen"
)

func init() {
	commands["attack"] = command{
		summary: "load an HTTP/1.1 URL: hold idle keep-alive connections and probe fresh requests (C10k control)",
		run:     runAttack,
	}
}

func runAttack(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("c10k attack", flag.ContinueOnError)
	var o loadgen.C10kOptions
	fs.IntVar(&o.Idle, "idle", 0, "idle keep-alive `connections` to open and hold (each sends one request first)")
	fs.Float64Var(&o.OpenRate, "open-rate", 1000, "idle connections opened per `second`")
	fs.Float64Var(&o.ProbeRate, "probe-rate", 100, "fresh probe connections per `second` while the idle set is held (0: no probes)")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "how long to probe")
	fs.DurationVar(&o.Timeout, "timeout", 5*time.Second, "per connection open and per probe, from its intended start")
	fs.DurationVar(&o.Settle, "settle", time.Second, "wait between the idle set being open and the memory sample")
	sources := fs.String("source-ips", "", "source `addresses` to spread connections over: 127.0.0.2-127.0.0.40 or a comma list")
	pids := fs.String("rss-pid", "", "server process `ids` (comma list) whose summed VmRSS is sampled before and while the idle set is held")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `usage: c10k attack [flags] URL

C10k control: open --idle keep-alive connections at --open-rate, hold them
quiet, and meanwhile start fresh probe connections at --probe-rate for
--duration, each doing one GET. Probe latency counts from the intended start
(open loop, no coordinated omission); a probe past --timeout is an error and
is recorded with its full time. Limits (RLIMIT_NOFILE, ephemeral ports per
source address) are checked first; a failed check exits 2.

The open (--rate) and closed (--connections) load models arrive with the
load-generator issue.

flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "c10k attack: want exactly one URL argument")
		return 2
	}
	o.URL = fs.Arg(0)
	if _, err := loadgen.ParseTarget(o.URL); err != nil {
		fmt.Fprintf(os.Stderr, "c10k attack: %v\n", err)
		return 2
	}
	for _, c := range []struct {
		name, want string
		bad        bool
	}{
		{"--idle", "not be negative", o.Idle < 0},
		{"--open-rate", "be positive", o.OpenRate <= 0},
		{"--probe-rate", "not be negative", o.ProbeRate < 0},
		{"--duration", "not be negative", o.Duration < 0},
		{"--timeout", "be positive", o.Timeout <= 0},
		{"--settle", "not be negative", o.Settle < 0},
	} {
		if c.bad {
			fmt.Fprintf(os.Stderr, "c10k attack: %s must %s\n", c.name, c.want)
			return 2
		}
	}
	var err error
	if o.Sources, err = loadgen.ParseSourceIPs(*sources); err != nil {
		fmt.Fprintf(os.Stderr, "c10k attack: --source-ips: %v\n", err)
		return 2
	}
	if *pids != "" {
		for _, p := range strings.Split(*pids, ",") {
			pid, err := strconv.Atoi(strings.TrimSpace(p))
			if err != nil || pid <= 0 {
				fmt.Fprintf(os.Stderr, "c10k attack: --rss-pid: %q is not a process id\n", p)
				return 2
			}
			o.RSSPIDs = append(o.RSSPIDs, pid)
		}
	}
	res, err := loadgen.RunC10k(ctx, o)
	if errors.Is(err, loadgen.ErrPreflight) {
		fmt.Fprintf(os.Stderr, "c10k attack: %v\n", err)
		return 2
	}
	if err != nil && res == nil {
		fmt.Fprintf(os.Stderr, "c10k attack: %v\n", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.Encode(res)
	} else {
		printC10k(res)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "c10k attack: %v\n", err)
		return 1
	}
	return 0
}

func printC10k(r *loadgen.C10kResult) {
	i := r.Idle
	fmt.Printf("target       %s (%d source addresses)\n", r.URL, r.Sources)
	fmt.Printf("idle set     asked %d, opened %d, failed %d, closed by server %d, held %d (open took %.1fs)\n",
		i.Asked, i.Opened, i.Failed, i.ClosedByServer, i.Held, i.OpenSeconds)
	if i.FirstError != "" {
		fmt.Printf("             first error: %s\n", i.FirstError)
	}
	if r.RSSHeld > 0 {
		fmt.Printf("server RSS   %.1f MiB before, %.1f MiB held: %.2f KB per idle connection\n",
			float64(r.RSSBefore)/(1<<20), float64(r.RSSHeld)/(1<<20), r.RSSPerIdleConnKB)
	}
	p := r.Probe
	if p.Sent > 0 {
		fmt.Printf("probes       %d sent, %d ok, %d errors (%d timeouts)\n", p.Sent, p.OK, p.Errors, p.Timeouts)
		fmt.Printf("latency      p50 %.2fms  p90 %.2fms  p99 %.2fms  max %.2fms (from intended start)\n", p.P50, p.P90, p.P99, p.Max)
		if p.FirstError != "" {
			fmt.Printf("             first error: %s\n", p.FirstError)
		}
	}
	fmt.Printf("idle at end  held %d, closed by server %d\n", r.IdleEnd.Held, r.IdleEnd.ClosedByServer)
}
