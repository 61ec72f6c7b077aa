package loadgen

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/c10k/c10k/loadgen/result"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"
)

// Options configure a run of `c10k attack`. The model follows from them:
// open when Rate is set or the Shape carries its own rates, closed when
// Connections is set without a rate, and C10k control only (idle set and
// probes, no load) otherwise. The zero value of every field but Request
// works.
type Options struct {
	Request Request

	// Open model.
	Rate       float64 // requests per second (constant and poisson shapes)
	Shape      Shape
	Workers    uint64 // initial vegeta workers; 0: vegeta's default
	MaxWorkers uint64 // 0: unlimited (bounded by Connections when set)
	Seed       uint64 // Poisson arrivals

	// Closed model: the connections. Open model: the most connections
	// (and requests in flight); 0 is DefaultOpenConnections.
	Connections int

	Duration  time.Duration // 0 with Requests: until Requests are done
	Requests  int64         // 0: until Duration ends
	Timeout   time.Duration // per request; 0: 30s
	NoReuse   bool          // a fresh connection per request (--keepalive=false)
	Shard     Shard
	Sources   []netip.Addr
	Idle      int     // idle keep-alive connections held during the run
	OpenRate  float64 // idle connections opened per second; 0: 1000
	ProbeRate float64 // probes per second on fresh connections; 0: none
	Settle    time.Duration
	RSSPIDs   []int

	// Slow readers, held during the load phase: SlowReaders clients
	// (split over the shards like Idle) that each send GET SlowPath ("":
	// the request's path) with keep-alive, read the answer at SlowRate
	// bytes per second (0: DefaultSlowRate; at most a tenth of a second's
	// bytes every tenth of a second) and ask again when it is read in
	// full, on the same connection while the server keeps it. Timeout
	// bounds the time to an answer's head, not the slow reading of its
	// body. Their counts are in Summary.Slow.
	SlowReaders int
	SlowPath    string
	SlowRate    int64

	// TLS configures the client of an https URL; unused for http.
	TLS TLSOptions

	// Output is where results go: for the open model vegeta gob
	// results, with the summary beside them (result.SidecarPath); for the
	// other models the summary. "" writes nothing.
	Output string
	// Progress, when set, is called about four times a second.
	Progress func(Progress)
}

// DefaultOpenConnections caps the open model's connections when Options
// does not: an unbounded pool turns a slow server into thousands of new
// connections (and refused ones) instead of queueing, as wrk2's fixed -c
// does.
const DefaultOpenConnections = 100

// Progress is a run's state for a progress display.
type Progress struct {
	Elapsed, Total   time.Duration // Total 0: unknown
	Requests, Errors int64
	Phase            string // "idle", "load"
}

// Model returns the load model o asks for.
func (o *Options) Model() string {
	switch {
	case o.Rate > 0 || !o.Shape.NeedsRate():
		return result.ModelOpen
	case o.Connections > 0:
		return result.ModelClosed
	}
	return result.ModelNone
}

// Shard is one generator's part of a load split over Count generators:
// Index in [0, Count).
type Shard struct{ Index, Count int }

// ParseShard parses "I/N" (0 <= I < N); "" is the whole load.
func ParseShard(s string) (Shard, error) {
	if s == "" {
		return Shard{0, 1}, nil
	}
	i, n, ok := strings.Cut(s, "/")
	a, err1 := strconv.Atoi(strings.TrimSpace(i))
	b, err2 := strconv.Atoi(strings.TrimSpace(n))
	if !ok || err1 != nil || err2 != nil || b < 1 || b > 1<<20 || a < 0 || a >= b {
		return Shard{}, fmt.Errorf("--shard %q: want I/N with 0 <= I < N, e.g. 0/4", s)
	}
	return Shard{a, b}, nil
}

func (s Shard) count() int { return max(s.Count, 1) }

// share splits n: this shard's part, the remainder going to the first.
func (s Shard) share(n int64) int64 {
	c := int64(s.count())
	part := n / c
	if int64(s.Index) < n%c {
		part++
	}
	return part
}

func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.count()) }

// Run checks the machine's limits, holds the idle set, runs the load and
// the probes together and returns what it measured. A preflight failure
// wraps ErrPreflight and happens before any connection. When ctx ends
// early the summary of what was measured comes back with
// Summary.Interrupted set and no error.
func Run(ctx context.Context, o Options) (*result.Summary, error) {
	t, err := ParseTarget(o.Request.URL)
	if err != nil {
		return nil, err
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.OpenRate <= 0 {
		o.OpenRate = 1000
	}
	model := o.Model()
	share := 1 / float64(o.Shard.count())
	if model == result.ModelOpen && o.Connections == 0 {
		o.Connections = DefaultOpenConnections * o.Shard.count()
	}
	conns := int(o.Shard.share(int64(o.Connections)))
	requests := o.Shard.share(o.Requests)
	o.Idle = int(o.Shard.share(int64(o.Idle)))
	o.SlowReaders = int(o.Shard.share(int64(o.SlowReaders)))
	st, err := o.slowTarget(t)
	if err != nil {
		return nil, err
	}
	if o.Requests > 0 && requests == 0 {
		return nil, fmt.Errorf("--requests %d is fewer than the %d shards", o.Requests, o.Shard.count())
	}
	var steps []Step
	if model == result.ModelOpen {
		seed := o.Seed + uint64(o.Shard.Index)*0x9e3779b9
		if steps, err = o.Shape.Steps(o.Rate, o.Duration, share, seed); err != nil {
			return nil, err
		}
	} else if model == result.ModelClosed && conns == 0 {
		return nil, fmt.Errorf("--connections %d is fewer than the %d shards", o.Connections, o.Shard.count())
	}
	if model != result.ModelOpen && o.Duration <= 0 && requests == 0 && !(model == result.ModelNone && o.Idle > 0) {
		return nil, fmt.Errorf("want --duration or --requests")
	}
	inflight := conns
	probes := int(o.ProbeRate*o.Timeout.Seconds()) + 1
	lim, err := Preflight(o.Idle+inflight+probes+o.SlowReaders, len(o.Sources))
	if err != nil {
		return nil, err
	}
	s := &result.Summary{
		Model: model, URL: o.Request.URL, Method: o.Request.method(), Started: time.Now().UTC(),
		StatusCodes: map[string]int64{}, Errors: map[string]int64{},
		Sources: len(o.Sources), Limits: result.Limits(lim),
	}
	if o.Shard.count() > 1 {
		s.Shards = []string{o.Shard.String()}
		s.Generator.Shard = o.Shard.String()
	}
	// The load's connections and the others (idle set, probes, slow
	// readers) share the TLS configuration and its session cache but
	// count their handshakes apart: the load's make the TLS figures.
	d := &Dialer{Sources: o.Sources, Timeout: o.Timeout}
	dx := &Dialer{Sources: o.Sources, Timeout: o.Timeout}
	if t.TLS {
		cfg, err := o.TLS.Config(t)
		if err != nil {
			return nil, err
		}
		if err := tlsPreflight(ctx, t, cfg, o.Timeout); err != nil {
			return nil, err
		}
		d.TLS, d.stats = cfg, newTLSStats()
		dx.TLS, dx.stats = cfg, newTLSStats()
	}

	var out *output
	if o.Output != "" {
		if out, err = openOutput(o.Output, model, s); err != nil {
			return nil, err
		}
		defer out.close()
	}

	if len(o.RSSPIDs) > 0 {
		if s.RSSBefore, err = RSS(o.RSSPIDs...); err != nil {
			return nil, err
		}
	}
	var set *IdleSet
	if o.Idle > 0 {
		if o.Progress != nil {
			o.Progress(Progress{Phase: "idle", Total: time.Duration(float64(o.Idle) / o.OpenRate * float64(time.Second))})
		}
		set, err = HoldIdle(ctx, IdleOptions{Target: t, Conns: o.Idle, OpenRate: o.OpenRate, Timeout: o.Timeout, Dialer: dx})
		if err != nil {
			return nil, err
		}
		defer set.Close()
		if o.Settle > 0 {
			sleep(ctx, o.Settle)
		}
		st := set.Stats()
		s.Idle = &st
		if len(o.RSSPIDs) > 0 {
			if s.RSSHeld, err = RSS(o.RSSPIDs...); err != nil {
				return nil, err
			}
			if st.Held > 0 {
				s.RSSPerIdleConnKB = float64(s.RSSHeld-s.RSSBefore) / 1024 / float64(st.Held)
			}
		}
	}

	// The load phase: engine, probes and progress, all owned here.
	var (
		progress  func() (int64, int64)
		runLoad   func(context.Context, time.Time)
		summarise func(*result.Summary) error
		total     time.Duration
	)
	switch model {
	case result.ModelOpen:
		oo := openOptions{Request: o.Request, Steps: steps, Requests: requests, Conns: conns,
			Workers: o.Workers, MaxWorkers: o.MaxWorkers, Timeout: o.Timeout, KeepAlive: !o.NoReuse,
			Dialer: d, Name: "c10k"}
		if out != nil {
			oo.Results, oo.ResultsMu = out, out
		}
		e := newOpen(oo)
		progress, runLoad, summarise = e.progress, e.run, e.summarise
		for _, st := range steps {
			total += st.Duration
		}
	case result.ModelClosed:
		e := newClosed(closedOptions{Target: t, Wire: o.Request.wire(t, !o.NoReuse), Head: o.Request.method() == "HEAD",
			Conns: conns, Requests: requests, Timeout: o.Timeout, KeepAlive: !o.NoReuse, Dialer: d})
		progress, runLoad = e.progress, e.run
		summarise = func(s *result.Summary) error { e.summarise(s); return nil }
		total = o.Duration
	default:
		progress = func() (int64, int64) { return 0, 0 }
		runLoad = func(ctx context.Context, _ time.Time) { <-ctx.Done() }
		summarise = func(*result.Summary) error { return nil }
		total = o.Duration
	}
	if total > time.Duration(1<<62) {
		total = 0
	}

	lctx, cancel := context.WithCancel(ctx)
	if model != result.ModelOpen && o.Duration > 0 {
		lctx, cancel = context.WithTimeout(ctx, o.Duration)
	}
	defer cancel()
	var ru0 unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru0)
	start := time.Now()
	if out != nil {
		out.start(progress, start)
	}
	var g errgroup.Group
	var pr *ProbeResult
	loadDone := make(chan struct{})
	// The slow readers stop when the load does, whatever ended it.
	sctx, stopSlow := context.WithCancel(lctx)
	defer stopSlow()
	g.Go(func() error {
		defer close(loadDone)
		defer stopSlow()
		runLoad(lctx, start)
		return nil
	})
	var slow *slowReaders
	if o.SlowReaders > 0 {
		slow = newSlow(slowOptions{Target: st, Wire: Request{Header: o.Request.Header}.wire(st, true),
			Readers: o.SlowReaders, Rate: o.SlowRate, Timeout: o.Timeout, Dialer: dx})
		g.Go(func() error {
			slow.run(sctx)
			return nil
		})
	}
	if o.ProbeRate > 0 {
		pd := o.Duration
		if pd <= 0 {
			pd = total
		}
		if pd > 0 {
			g.Go(func() error {
				var perr error
				pr, perr = Probe(lctx, ProbeOptions{Target: t, Rate: o.ProbeRate, Duration: pd, Timeout: o.Timeout, Dialer: dx})
				return perr
			})
		}
	}
	if o.Progress != nil {
		g.Go(func() error {
			tk := time.NewTicker(250 * time.Millisecond)
			defer tk.Stop()
			for {
				select {
				case <-loadDone:
					return nil
				case <-tk.C:
					n, e := progress()
					o.Progress(Progress{Phase: "load", Elapsed: time.Since(start), Total: total, Requests: n, Errors: e})
				}
			}
		})
	}
	perr := g.Wait()
	elapsed := time.Since(start)
	var ru1 unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) * time.Nanosecond

	s.DurationS = elapsed.Seconds()
	s.Interrupted = ctx.Err() != nil
	if pr != nil {
		ps := pr.Summary()
		s.Probe = &ps
		s.Hist.Probe = pr.Latency
	}
	if slow != nil {
		s.Slow = slow.stats()
	}
	if set != nil {
		st := set.Stats()
		s.IdleEnd = &st
		s.Connections.Idle = st.Held
		s.Connections.Opened += st.Opened
		s.Connections.Failed += st.Failed
	}
	g2 := &s.Generator
	g2.CPUs = cpusAllowed()
	g2.GOMAXPROCS = runtime.GOMAXPROCS(0)
	g2.CPUPercent = 100 * cpu.Seconds() / elapsed.Seconds()
	g2.Saturated = g2.CPUPercent >= 95*float64(min(g2.CPUs, g2.GOMAXPROCS))
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	g2.HeapMB = float64(ms.HeapAlloc) / (1 << 20)
	serr := summarise(s)
	if d.stats != nil {
		s.TLS, s.Hist.Handshake = d.stats.summary(o.TLS.Resume, dx.stats)
	}
	if model == result.ModelClosed && s.DurationS > 0 {
		s.RateAchieved = float64(s.Requests) / s.DurationS
	}
	s.Finish()
	s.Judge()
	if perr == nil {
		perr = serr
	}
	if out != nil {
		if werr := out.finish(s); werr != nil && perr == nil {
			perr = werr
		}
	}
	return s, perr
}

// slowTarget returns the target of the slow readers: t with SlowPath as
// its path when set. It checks SlowPath and SlowRate.
func (o *Options) slowTarget(t Target) (Target, error) {
	if o.SlowRate < 0 {
		return t, fmt.Errorf("loadgen: Options.SlowRate %d: want bytes per second >= 0", o.SlowRate)
	}
	if o.SlowReaders < 0 {
		return t, fmt.Errorf("loadgen: Options.SlowReaders %d: want >= 0", o.SlowReaders)
	}
	if o.SlowPath == "" {
		return t, nil
	}
	bad := strings.IndexFunc(o.SlowPath, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '#' })
	if o.SlowPath[0] != '/' || bad >= 0 {
		return t, fmt.Errorf("loadgen: Options.SlowPath %q: want a request path starting with '/' (printable, no spaces or '#'), e.g. /big", o.SlowPath)
	}
	t.Path = o.SlowPath
	return t, nil
}

func cpusAllowed() int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return runtime.NumCPU()
	}
	return set.Count()
}
