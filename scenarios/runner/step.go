package runner

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/c10k/c10k/loadgen"
	"github.com/c10k/c10k/loadgen/result"
	"github.com/c10k/c10k/reports"
	"github.com/c10k/c10k/scenarios"
)

// Quantiles are the points of a step's HDR percentile curve.
var Quantiles = []float64{0, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 99.999, 100}

// runStep runs step i of a scenario on target t and returns its record.
// An error means the run must stop (the context ended, the run directory
// cannot be written); what goes wrong with the target is in the step.
func (r *runner) runStep(ctx context.Context, sc *scenarioRun, t Target, trial, i int) (reports.Step, error) {
	st := sc.s.Steps[i]
	rec := reports.Step{
		Scenario: sc.s.Name, Core: t.Name, Kind: t.Kind, Label: st.Name(), Trial: trial,
		Concurrency: loadConns(st), IdleConns: st.Idle, RateTarget: st.Rate,
		Percentiles: []reports.Point{},
	}
	if ri := r.refs[t.Name]; ri != nil {
		rec.Pair = ri.ref.Pair
	}
	if st.TLS {
		// Set whatever happens to the step, so that the report pairs it
		// with its plain twin even when it measured nothing.
		rec.TLS = &reports.TLS{Resume: st.TLSResume}
	}
	if why := r.skipReason(sc, t, i); why != "" {
		rec.Skipped, rec.Invalid, rec.Note = true, "skipped", why
		return rec, nil
	}
	raw, err := r.rawDir(sc, t)
	if err != nil {
		return rec, err
	}
	k := r.newStack(sc, t, raw)
	defer k.down()
	r.prog.phase("starting")
	if t.Kind != reports.KindURL {
		if err := k.up(ctx, i); err != nil {
			if ctx.Err() != nil {
				return rec, ctx.Err()
			}
			rec.Invalid = "did not start: " + firstLine(err.Error())
			rec.Note = oneLine(err.Error())
			return rec, nil
		}
	}
	return r.measure(ctx, sc, t, trial, i, k, rec)
}

// skipReason says why target t cannot run step i; "" when it can.
func (r *runner) skipReason(sc *scenarioRun, t Target, i int) string {
	st := sc.s.Steps[i]
	_, direct := directBackend(st)
	switch {
	case sc.prep != "":
		return sc.prep
	case sc.skip[i] != "":
		return sc.skip[i]
	case t.Kind == reports.KindURL && direct:
		return fmt.Sprintf("the step goes straight to %s; a url target has no backends of the runner's", st.Target)
	case t.Kind == reports.KindURL && st.TLS:
		return "the step goes to the server's TLS listener with the runner's certificate; a url target has only its URL (give an https:// one to measure TLS there)"
	case t.Kind == reports.KindReference && r.refs[t.Name].err != nil:
		return r.refs[t.Name].err.Error()
	case t.Kind != reports.KindURL && sc.isCGI(i) && sc.noCGI != "":
		return "no CGI program: " + sc.noCGI
	case t.Kind == reports.KindReference && sc.isCGI(i) && !r.refs[t.Name].ref.CGI:
		return fmt.Sprintf("%s has no CGI (the step's path %s is the site's CGI location)", t.Name, st.Path)
	}
	return ""
}

// measure runs step i's warm-up and measured part against k.
func (r *runner) measure(ctx context.Context, sc *scenarioRun, t Target, trial, i int, k *stack, rec reports.Step) (reports.Step, error) {
	st := sc.s.Steps[i]
	log := &eventLog{}
	target := k.url(i)
	if t.Kind == reports.KindURL && len(stepEvents(sc.s, i)) > 0 {
		for _, e := range stepEvents(sc.s, i) {
			log.note("%s at %v not done: a url target has no server or backends of the runner's", describe(e), r.scaled(time.Duration(e.At)))
		}
	}
	if t.Kind == reports.KindURL && t.PID > 0 {
		if _, ok := readStat(t.PID); !ok {
			log.note("pid %d is not running here: no /proc figures", t.PID)
		}
	}
	if _, ok := directBackend(st); ok {
		log.note("requests go straight to backend %s, bypassing the server; /proc figures are the backend's", strings.TrimPrefix(st.Target, "backend:"))
	}

	// Before the load: does the path answer at all? A misconfigured
	// target measured at the speed of its error page is no result.
	{
		code, err := r.firstGet(ctx, sc, st, target)
		switch {
		case ctx.Err() != nil:
			return rec, ctx.Err()
		case err != nil:
			log.fail("GET %s before the step failed: %v", st.Path, err)
		case code >= 400:
			log.fail("GET %s answered %d before the step", st.Path, code)
		}
	}

	// Warm-up: the step's load, not measured.
	if warm := r.scaled(sc.s.WarmupFor(i)); warm > 0 && !idleOnly(st) {
		r.prog.phase("warm-up " + round(warm).String())
		wo := r.loadOptions(sc, i, target, false)
		wo.Duration = warm
		ws, err := loadgen.Run(ctx, wo)
		switch {
		case ctx.Err() != nil:
			return rec, ctx.Err()
		case err != nil:
			log.fail("warm-up failed: %v", err)
		case ws.Requests > 0 && okCount(ws) == 0:
			log.note("warm-up: none of %d requests succeeded (%s)", ws.Requests, firstErr(ws))
		}
	}
	if p := k.serverProc(); p != nil && p.exited() {
		rec.Invalid = firstLine(p.errExited("exited before the measured part").Error())
		rec.Note = joinNotes(log, p.errExited("exited before the measured part").Error())
		return rec, nil
	}

	// The measured part, with the sampler and the events beside it.
	var samples *sampler
	mctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	if pid := k.serverPID(); pid > 0 {
		f, err := r.samplesFile(k.raw)
		if err != nil {
			return rec, err
		}
		samples = newSampler(k.serverPID, sc.s.Metrics(),
			Sample{Scenario: sc.s.Name, Target: t.Name, Step: st.Name(), Trial: trial}, f)
		wg.Go(func() { samples.run(mctx, sc.s.IntervalOrDefault()) })
	}
	loadStart := make(chan time.Time, 1)
	var once sync.Once
	mark := func() {
		if samples != nil {
			samples.sample(false)
		}
	}
	if t.Kind != reports.KindURL {
		wg.Go(func() { k.runEvents(mctx, i, loadStart, log, mark) })
	}
	mo := r.loadOptions(sc, i, target, true)
	total := mo.Duration
	mo.Progress = func(p loadgen.Progress) {
		if p.Phase == "load" {
			once.Do(func() { loadStart <- time.Now().Add(-p.Elapsed) })
			r.prog.phase(fmt.Sprintf("load %s/%s, %d requests, %d errors", round(p.Elapsed), round(total), p.Requests, p.Errors))
		} else {
			r.prog.phase(fmt.Sprintf("opening %d idle connections", st.Idle))
		}
	}
	if pid := k.serverPID(); pid > 0 {
		if _, ok := readStat(pid); ok {
			mo.RSSPIDs = []int{pid} // loadgen's RSS per idle connection
		}
	}
	r.prog.phase("measuring")
	sum, lerr := loadgen.Run(mctx, mo)
	stop()
	wg.Wait()
	if samples != nil {
		samples.sample(true)
	}
	if ctx.Err() != nil {
		return rec, ctx.Err()
	}
	if p := k.serverProc(); p != nil && p.exited() {
		log.fail("%s", firstLine(p.errExited("exited during the step").Error()))
		log.note("%s", p.errExited("exited during the step").Error())
	}
	if lerr != nil || sum == nil {
		if lerr == nil {
			lerr = errors.New("no summary")
		}
		log.fail("load: %v", lerr)
		rec.Note = joinNotes(log)
		_, inv := log.get()
		rec.Invalid = strings.Join(inv, "; ")
		return rec, nil
	}
	name := sc.files[i]
	if r.trials > 1 {
		name += "-t" + strconv.Itoa(trial)
	}
	if err := result.WriteFile(filepath.Join(k.raw, name+".json"), sum); err != nil {
		return rec, fmt.Errorf("runner: raw result: %w", err)
	}
	r.fill(&rec, sc, i, sum, samples, log)
	return rec, nil
}

// firstGet fetches a step's target once before its load: over https
// with the run's CA for a TLS step, with Options.URLTLS for an https url
// target.
func (r *runner) firstGet(ctx context.Context, sc *scenarioRun, st scenarios.Step, target string) (int, error) {
	switch {
	case st.TLS:
		c, err := tlsClient(sc.tls.CA)
		if err != nil {
			return 0, err
		}
		return getWith(ctx, c, target)
	case strings.HasPrefix(target, "https://"):
		t, err := loadgen.ParseTarget(target)
		if err != nil {
			return 0, err
		}
		cfg, err := r.o.URLTLS.Config(t)
		if err != nil {
			return 0, err
		}
		c := *httpClient
		c.Transport = &http.Transport{Proxy: nil, DisableKeepAlives: true, TLSClientConfig: cfg}
		return getWith(ctx, &c, target)
	}
	return get(ctx, target)
}

// loadOptions are the generator's options for step i: the measured part,
// or its warm-up (the load alone: no idle set, probes or slow readers).
func (r *runner) loadOptions(sc *scenarioRun, i int, target string, measured bool) loadgen.Options {
	st := sc.s.Steps[i]
	o := loadgen.Options{Request: loadgen.Request{URL: target}, Timeout: sc.s.TimeoutFor(i),
		NoReuse: st.KeepAlive != nil && !*st.KeepAlive}
	if strings.HasPrefix(target, "https://") {
		o.TLS = r.o.URLTLS // an https url target
	}
	if st.TLS {
		// The run's own CA: the generator verifies the server as a
		// client would.
		o.TLS = loadgen.TLSOptions{CAFile: sc.tls.CA, Resume: st.TLSResume}
		// Validated when the scenario was parsed.
		o.TLS.Curves, _ = loadgen.ParseCurves(strings.Join(sc.s.Site.TLS.Curves, ","))
	}
	if st.Rate > 0 {
		o.Rate, o.Connections = st.Rate, st.RateConnections
	} else {
		o.Connections = st.Connections
	}
	if !measured {
		return o
	}
	o.Duration = r.scaled(sc.s.DurationFor(i))
	o.Idle, o.OpenRate, o.ProbeRate = st.Idle, st.OpenRate, st.ProbeRate
	if o.OpenRate <= 0 {
		o.OpenRate = DefaultOpenRate
	}
	o.SlowReaders, o.SlowPath, o.SlowRate = st.SlowReaders, st.SlowPath, st.SlowRate
	if st.Idle >= 1000 {
		switch {
		case r.o.Sources != nil:
			o.Sources = r.o.Sources
		case loopback(target):
			o.Sources = DefaultSources
		}
	}
	return o
}

// loopback reports whether a URL's host is a loopback address.
func loopback(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	a, err := netip.ParseAddr(u.Hostname())
	return err == nil && a.IsLoopback() && a.Is4()
}

// fill records the summary and the samples in rec.
func (r *runner) fill(rec *reports.Step, sc *scenarioRun, i int, s *result.Summary, smp *sampler, log *eventLog) {
	st := sc.s.Steps[i]
	if s.Model == result.ModelOpen && st.RateConnections == 0 {
		rec.Concurrency = loadgen.DefaultOpenConnections
	}
	rec.Throughput = s.ThroughputRPS
	rec.Requests = s.Requests
	if s.Fairness != nil && s.Model == result.ModelClosed {
		rec.Starved = s.Fairness.Starved
	}
	rec.Latency = reports.Latency{P50: s.Latency.P50, P90: s.Latency.P90, P99: s.Latency.P99, P999: s.Latency.P999, Max: s.Latency.Max}
	if t := s.TLS; t != nil && rec.TLS != nil {
		*rec.TLS = reports.TLS{Resume: t.Resume, Handshakes: t.Handshakes, Resumed: t.Resumed, PerSecond: t.PerSecond,
			P50: t.Latency.P50, P99: t.Latency.P99, Version: strings.TrimSpace(t.Version + " " + t.Curve)}
		if t.Failed > 0 {
			log.note("%d TLS handshakes failed", t.Failed)
		}
	}
	if h := s.Hist.Latency; h != nil && h.TotalCount() > 0 {
		for _, q := range Quantiles {
			v := h.ValueAtQuantile(q)
			switch q {
			case 0:
				v = h.Min()
			case 100:
				v = h.Max()
			}
			rec.Percentiles = append(rec.Percentiles, reports.Point{Percentile: q, Millis: float64(v) / 1000})
		}
	}
	if pr := s.Probe; pr != nil {
		// Failed probes (timeouts, refusals) are the slowest answers
		// of all: a p99 over the successes alone would make a server
		// that turns new clients away look fast. When more than 1 % of
		// the probes failed, the p99 is among them: the timeout.
		rec.ProbeP99 = pr.P99
		if failed := pr.Sent - pr.OK; pr.Sent > 0 && failed*100 > pr.Sent {
			rec.ProbeP99 = max(pr.P99, float64(sc.s.TimeoutFor(i))/float64(time.Millisecond))
			msg := fmt.Sprintf("%d of %d probes failed, so probe p99 is the timeout (%v)", failed, pr.Sent, sc.s.TimeoutFor(i))
			if pr.FirstError != "" {
				msg += ": " + pr.FirstError
			}
			log.note("%s", msg)
		}
	}
	for _, n := range s.Errors {
		rec.Errors += int(n)
	}
	// The report plots a timeline where something happens during the
	// step (a backend killed, a deploy); every step's timeline stays in
	// its raw result file.
	if len(stepEvents(sc.s, i)) > 0 {
		rec.Timeline = timeline(s)
	}
	ok := okCount(s)
	if !idleOnly(st) && ok == 0 {
		// The target answered before the step (or it would be
		// invalid already): failing under load is a result.
		if s.Requests == 0 {
			log.note("no request completed (%s)", firstErr(s))
		} else {
			log.note("none of %d requests succeeded (%s)", s.Requests, firstErr(s))
		}
	}
	if !s.Valid {
		log.fail("%s", s.InvalidReason)
	}
	if s.Note != "" {
		log.note("%s", s.Note)
	}
	if s.Idle != nil && s.Idle.Held < int64(s.Idle.Asked) {
		msg := fmt.Sprintf("held %d of %d idle connections", s.Idle.Held, s.Idle.Asked)
		if s.Idle.FirstError != "" {
			msg += " (" + s.Idle.FirstError + ")"
		}
		log.note("%s", msg)
	}
	if s.Slow != nil {
		log.note("slow readers: %d held, %d responses, %d errors", s.Slow.Readers, s.Slow.Responses, s.Slow.Errors)
	}
	if smp != nil {
		res := smp.result()
		m := sc.s.Metrics()
		if wants(m, scenarios.MetricRSS) {
			rec.RSSBytes, rec.RSSPeakBytes = res.RSSBytes, res.PeakRSS
		}
		if wants(m, scenarios.MetricCPU) {
			rec.CPUSeconds = res.CPUSeconds
			if ok > 0 {
				rec.CPUPerReqUS = res.CPUSeconds / float64(ok) * 1e6
			}
		}
		if wants(m, scenarios.MetricThreads) {
			rec.Threads, rec.Processes = res.Threads, res.Processes
		}
		if wants(m, scenarios.MetricFDs) {
			rec.FDs = res.FDs
		}
		if wants(m, scenarios.MetricCtxSw) {
			rec.CtxSwitches = res.CtxSwitches
		}
		if res.WriteErr != nil {
			log.note("samples.jsonl: %v", res.WriteErr)
		}
		r.judgeGenerator(s, res, log)
	}
	rec.Note = joinNotes(log)
	_, inv := log.get()
	rec.Valid = len(inv) == 0
	rec.Invalid = strings.Join(inv, "; ")
}

// judgeGenerator marks a closed-model step invalid when the generator,
// not the server, was the limit: the generator's CPU saturated while the
// server (pinned to one CPU) left a tenth of its CPU unused. Without
// pinning the server's share is unknown and a saturated generator is
// only noted. loadgen judges the open model itself.
func (r *runner) judgeGenerator(s *result.Summary, res samplerResult, log *eventLog) {
	g := s.Generator
	if s.Model != result.ModelClosed || !g.Saturated || s.DurationS <= 0 {
		return
	}
	server := res.CPUSeconds / s.DurationS
	if r.pin.Server >= 0 && server < 0.9 {
		log.fail("generator CPU saturated (%.0f%% of %d CPU) while the server used %.0f%% of its CPU: the generator was the limit",
			g.CPUPercent, g.CPUs, 100*server)
		return
	}
	if r.pin.Server < 0 {
		log.note("generator CPU saturated (%.0f%% of %d CPUs), server at %.0f%% of a CPU", g.CPUPercent, g.CPUs, 100*server)
	}
}

// timeline converts the summary's buckets to per-second rates.
func timeline(s *result.Summary) []reports.TimePoint {
	if len(s.Timeline) == 0 {
		return nil
	}
	width := result.TimelineBucket.Seconds()
	out := make([]reports.TimePoint, 0, len(s.Timeline))
	for _, b := range s.Timeline {
		w := width
		if s.DurationS > 0 && s.DurationS-b.T < w {
			w = s.DurationS - b.T // the last bucket, cut by the end
		}
		if w < width/4 {
			// A sliver at the end (or a bucket past it) makes a
			// spike, not a rate.
			continue
		}
		out = append(out, reports.TimePoint{Seconds: b.T, RPS: float64(b.OK) / w, Errors: float64(b.Errors) / w})
	}
	return out
}

// okCount is the summary's successful requests (2xx and 3xx).
func okCount(s *result.Summary) int64 {
	var ok int64
	for code, n := range s.StatusCodes {
		if c, err := strconv.Atoi(code); err == nil && c >= 200 && c < 400 {
			ok += n
		}
	}
	return ok
}

func firstErr(s *result.Summary) string {
	if s.FirstError != "" {
		return s.FirstError
	}
	var parts []string
	for _, c := range s.Codes() {
		parts = append(parts, "status "+c+": "+strconv.FormatInt(s.StatusCodes[c], 10))
	}
	for _, k := range slices.Sorted(maps.Keys(s.Errors)) {
		parts = append(parts, k+": "+strconv.FormatInt(s.Errors[k], 10))
	}
	if len(parts) == 0 {
		return "no answer"
	}
	return strings.Join(parts, ", ")
}

// joinNotes is the step's note: what the log noted, and extra, on one
// line (a log's tail keeps its line breaks as " | ").
func joinNotes(log *eventLog, extra ...string) string {
	notes, _ := log.get()
	return oneLine(strings.Join(append(notes, extra...), "; "))
}

func oneLine(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "\n", " | ") }

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
