package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/c10k/c10k/internal/atomicfile"
	"github.com/c10k/c10k/loadgen"
	"github.com/c10k/c10k/loadgen/result"
)

func init() {
	commands["attack"] = command{
		summary: "load any HTTP/1.1 URL: open (--rate) or closed (--connections) model, C10k connection control",
		run:     func(ctx context.Context, args []string) int { return attack(ctx, args, os.Stdout, os.Stderr) },
	}
}

// headerFlags collects repeated -H values.
type headerFlags []string

func (h *headerFlags) String() string { return strings.Join(*h, ", ") }
func (h *headerFlags) Set(v string) error {
	if _, _, err := loadgen.ParseHeader(v); err != nil {
		return err
	}
	*h = append(*h, v)
	return nil
}

const attackUsage = `usage: c10k attack [flags] URL

Models:
  open    --rate R (or a --shape with its own rates), with --duration or
          --requests: requests start on a schedule whatever the server does
          (vegeta's Attacker). Latency counts from each request's intended
          start (no coordinated omission); service time and schedule lag
          are reported beside it. --connections caps the connections.
  closed  --connections N without --rate: N connections sending
          back-to-back requests for maximum throughput (a lean raw
          HTTP/1.1 engine).
  C10k control, with either model or alone: --idle N keep-alive
          connections held quiet, --probe-rate fresh-connection probes.

https:// URLs: every model, the idle set, probes and slow readers speak
TLS (crypto/tls, HTTP/1.1 by ALPN). The certificate is verified against
the system's roots, or --cacert FILE, or not at all with --insecure; one
handshake is tried before the run, so a bad certificate is one clear
error (exit 2). Every new connection does a full handshake unless
--tls-resume keeps a session cache, as browsers do: off by default, so
that a keep-alive-off run measures what a new visitor costs. The summary
gives handshakes done, resumed and per second, and their latency.

A run whose generator could not keep the schedule (under 99 % of the
target rate while requests in flight were below the limit, or its CPU
saturated) is marked invalid, with the reason. Bad input exits 2, as does
a machine whose fd limit or port range cannot hold what was asked.

flags:
`

func attack(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("c10k attack", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o loadgen.Options
	fs.Float64Var(&o.Rate, "rate", 0, "open model: requests per `second` (0 with --connections: closed model)")
	shape := fs.String("shape", "constant", "open-model load `shape`: constant | ramp:FROM-TO | steps:R1,R2,...@D | sine:MEAN,AMP,PERIOD | poisson")
	fs.IntVar(&o.Connections, "connections", 0, "closed model: `N` connections back to back; open model: most connections and requests in flight (0: 100)")
	fs.IntVar(&o.Connections, "c", 0, "short for --connections")
	fs.DurationVar(&o.Duration, "duration", 0, "how long to run (default 10s unless --requests or a steps shape says)")
	fs.Int64Var(&o.Requests, "requests", 0, "stop after `N` requests (0: --duration decides)")
	fs.DurationVar(&o.Timeout, "timeout", 30*time.Second, "per request (and per idle-connection open and probe)")
	method := fs.String("method", "GET", "request `method`")
	var headers headerFlags
	fs.Var(&headers, "H", "request header \"Name: value\" (repeatable)")
	bodyFile := fs.String("body", "", "request body from `file`")
	keepalive := fs.Bool("keepalive", true, "reuse connections (false: a fresh connection per request)")
	fs.Uint64Var(&o.Workers, "workers", 0, "open model: initial vegeta workers (0: vegeta's default)")
	fs.Uint64Var(&o.MaxWorkers, "max-workers", 0, "open model: most requests in flight (0: unlimited, bounded by --connections)")
	fs.Uint64Var(&o.Seed, "seed", 1, "seed of Poisson arrivals")
	fs.IntVar(&o.Idle, "idle", 0, "idle keep-alive `connections` to open and hold during the run (each sends one request first)")
	fs.Float64Var(&o.OpenRate, "open-rate", 1000, "idle connections opened per `second`")
	fs.Float64Var(&o.ProbeRate, "probe-rate", 0, "fresh probe connections per `second` while the load runs, reported apart (0: none)")
	fs.DurationVar(&o.Settle, "settle", time.Second, "wait between the idle set being open and the memory sample")
	sources := fs.String("source-ips", "", "source `addresses` to spread connections over: 127.0.0.2-127.0.0.40 or a comma list")
	pids := fs.String("rss-pid", "", "server process `ids` (comma list) whose summed VmRSS is sampled before and while the idle set is held")
	shard := fs.String("shard", "", "run share `I/N` (0 <= I < N) of the rate, connections and requests; merge with c10k report")
	output := fs.String("output", "", "write results to `file`: vegeta results (open model, summary beside it in FILE.c10k) or a c10k summary")
	hdr := fs.String("hdr", "", "write the latency percentile distribution to `file` in HdrHistogram .hgrm format")
	format := fs.String("format", "text", "output `format`: text or json")
	asJSON := fs.Bool("json", false, "short for --format json")
	noBar := fs.Bool("no-progress", false, "no progress bar even on a terminal")
	fs.BoolVar(&o.TLS.Insecure, "insecure", false, "https: do not verify the server's certificate")
	fs.StringVar(&o.TLS.CAFile, "cacert", "", "https: trust the CA certificates of PEM `file` instead of the system's roots")
	fs.BoolVar(&o.TLS.Resume, "tls-resume", false, "https: keep a session cache so new connections resume (off: every connection a full handshake)")
	tlsVersion := fs.String("tls-version", "", "https: offer only TLS `version` 1.2 or 1.3 (default: both)")
	tlsCurves := fs.String("tls-curves", "", "https: key exchanges to offer, in order: X25519, X25519MLKEM768, P-256, P-384, P-521 (default: Go's, X25519MLKEM768 first)")
	fs.StringVar(&o.TLS.ServerName, "tls-server-name", "", "https: SNI `name` and the name the certificate is checked for (default: the URL's host)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), attackUsage)
		fs.PrintDefaults()
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "c10k attack: "+format+"\n", a...)
		return 2
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		return fail("want exactly one URL argument after the flags (got %d)", fs.NArg())
	}
	o.Request.URL = fs.Arg(0)
	if _, err := loadgen.ParseTarget(o.Request.URL); err != nil {
		return fail("%v", err)
	}
	if *asJSON {
		*format = "json"
	}
	if *format != "text" && *format != "json" {
		return fail("--format %q: want text or json", *format)
	}
	var err error
	if o.Shape, err = loadgen.ParseShape(*shape); err != nil {
		return fail("%v", err)
	}
	if !loadgen.ValidMethod(*method) {
		return fail("--method %q is not an HTTP method token", *method)
	}
	o.Request.Method = strings.ToUpper(*method)
	for _, h := range headers {
		name, value, _ := loadgen.ParseHeader(h)
		if o.Request.Header == nil {
			o.Request.Header = map[string][]string{}
		}
		o.Request.Header.Add(name, value)
	}
	if *bodyFile != "" {
		if o.Request.Body, err = os.ReadFile(*bodyFile); err != nil {
			return fail("--body: %v", err)
		}
	}
	o.NoReuse = !*keepalive
	if o.TLS.Version, err = loadgen.ParseTLSVersion(*tlsVersion); err != nil {
		return fail("%v", err)
	}
	if o.TLS.Curves, err = loadgen.ParseCurves(*tlsCurves); err != nil {
		return fail("%v", err)
	}
	for _, c := range []struct {
		name, want string
		bad        bool
	}{
		{"--rate", "not be negative", o.Rate < 0 || o.Rate != o.Rate},
		{"--connections", "not be negative", o.Connections < 0},
		{"--duration", "not be negative", o.Duration < 0},
		{"--requests", "not be negative", o.Requests < 0},
		{"--idle", "not be negative", o.Idle < 0},
		{"--open-rate", "be positive", o.OpenRate <= 0},
		{"--probe-rate", "not be negative", o.ProbeRate < 0},
		{"--timeout", "be positive", o.Timeout <= 0},
		{"--settle", "not be negative", o.Settle < 0},
		{"--shape " + *shape, "come with --rate", o.Shape.NeedsRate() && o.Shape.Kind == loadgen.ShapePoisson && o.Rate == 0},
		{"--rate", "not come with a --shape that sets its own rates", !o.Shape.NeedsRate() && o.Rate > 0},
	} {
		if c.bad {
			return fail("%s must %s", c.name, c.want)
		}
	}
	if o.Duration == 0 && o.Requests == 0 && o.Shape.Kind != loadgen.ShapeSteps {
		o.Duration = 10 * time.Second
	}
	if o.Shape.Kind == loadgen.ShapeSteps && o.Duration > 0 {
		return fail("--duration conflicts with --shape steps (its steps set the length)")
	}
	if o.Model() == result.ModelNone && o.Idle == 0 && o.ProbeRate == 0 {
		return fail("nothing to do: want --rate, --connections, --idle or --probe-rate")
	}
	if o.Sources, err = loadgen.ParseSourceIPs(*sources); err != nil {
		return fail("--source-ips: %v", err)
	}
	if o.Shard, err = loadgen.ParseShard(*shard); err != nil {
		return fail("%v", err)
	}
	if *pids != "" {
		for _, p := range strings.Split(*pids, ",") {
			pid, err := strconv.Atoi(strings.TrimSpace(p))
			if err != nil || pid <= 0 {
				return fail("--rss-pid: %q is not a process id", p)
			}
			o.RSSPIDs = append(o.RSSPIDs, pid)
		}
	}
	o.Output = *output
	var bar *loadgen.Bar
	if f, ok := stderr.(*os.File); ok && !*noBar && loadgen.IsTerminal(f) {
		bar = &loadgen.Bar{W: stderr}
		o.Progress = bar.Update
	}
	res, err := loadgen.Run(ctx, o)
	if bar != nil {
		bar.Done()
	}
	if res == nil {
		// Nothing was measured: bad input found late, or a preflight
		// check (fd limit, ports) that failed before any connection.
		fmt.Fprintf(stderr, "c10k attack: %v\n", err)
		return 2
	}
	if *hdr != "" {
		if herr := writeHgrm(*hdr, res); herr != nil {
			fmt.Fprintf(stderr, "c10k attack: --hdr: %v\n", herr)
			err = herr
		}
	}
	printSummary(stdout, *format, res)
	if err != nil {
		fmt.Fprintf(stderr, "c10k attack: %v\n", err)
		return 1
	}
	if res.Interrupted {
		return 130
	}
	return 0
}

func writeHgrm(path string, s *result.Summary) error {
	return atomicfile.Write(path, 0o644, func(w io.Writer) error { return result.WriteHgrm(w, s) })
}

func printSummary(w io.Writer, format string, s *result.Summary) {
	if format == "json" {
		json.NewEncoder(w).Encode(s)
		return
	}
	result.WriteText(w, s)
}
