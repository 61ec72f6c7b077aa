package loadgen

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/c10k/c10k/loadgen/result"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// LateAfter is how far behind its schedule the pacer must be for a tick to
// count as late in the validity rule (see Summary.Judge).
const LateAfter = time.Millisecond

// openOptions configure the open-model engine.
type openOptions struct {
	Request    Request
	Steps      []Step
	Requests   int64 // total requests over all steps; 0: the steps decide
	Conns      int   // connection limit; 0: unlimited
	Workers    uint64
	MaxWorkers uint64 // 0: unlimited
	Timeout    time.Duration
	KeepAlive  bool
	Dialer     *Dialer
	Results    io.Writer   // vegeta gob results; nil: none
	ResultsMu  sync.Locker // held around each record written to Results; nil: none
	Name       string      // vegeta attack name
}

// openEngine runs the steps of an open-model run, one vegeta Attacker per
// step over one shared *http.Transport, and measures every result from
// its intended start.
type openEngine struct {
	o      openOptions
	tr     *http.Transport
	client *http.Client

	ticks    atomic.Int64 // ticks issued over all steps
	received atomic.Int64 // results received
	errs     atomic.Int64
	late     [2]atomic.Int64 // free, blocked
	maxIn    atomic.Int64
	cap      int64

	opened, failed atomic.Int64
	mu             sync.Mutex
	conns          []*countedConn

	// Owned by the consumer (run's goroutine).
	lat, svc, lag *hdrhistogram.Histogram
	codes, kinds  map[string]int64
	first         string
	bytesIn       int64
	bytesOut      int64
	scheduled     int64
	targetSpan    time.Duration
	actualSpan    time.Duration
	enc           vegeta.Encoder
	encErr        error
	start         time.Time           // the load phase's start
	timeline      []result.TimeBucket // by completion since start
}

func newOpen(o openOptions) *openEngine {
	e := &openEngine{o: o, codes: map[string]int64{}, kinds: map[string]int64{},
		lat: result.NewHistogram(), svc: result.NewHistogram(), lag: result.NewHistogram()}
	switch {
	case o.Conns > 0:
		e.cap = int64(o.Conns)
	case o.MaxWorkers > 0:
		e.cap = int64(o.MaxWorkers)
	}
	idle := o.Conns
	if idle <= 0 {
		idle = 10000
	}
	e.tr = &http.Transport{
		DialContext:         e.dial,
		MaxIdleConns:        0,
		MaxIdleConnsPerHost: idle,
		MaxConnsPerHost:     o.Conns,
		DisableKeepAlives:   !o.KeepAlive,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
		// A non-nil empty map turns HTTP/2 off: HTTP/1.1 always.
		TLSNextProto:    map[string]func(string, *tls.Conn) http.RoundTripper{},
		IdleConnTimeout: 90 * time.Second,
	}
	if o.Dialer.TLS != nil {
		// https: the Dialer shakes hands (and counts the handshake);
		// the transport takes the connection as past TLS.
		e.tr.DialTLSContext = e.dial
	}
	e.client = &http.Client{
		Transport:     countingTransport{e.tr},
		Timeout:       o.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if o.Results != nil {
		e.enc = vegeta.NewEncoder(o.Results)
	}
	return e
}

// countedConn counts the requests one connection carried.
type countedConn struct {
	net.Conn
	reqs atomic.Int64
}

func (e *openEngine) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := e.o.Dialer.DialContext(ctx, addr)
	if err != nil {
		e.failed.Add(1)
		return nil, err
	}
	e.opened.Add(1)
	cc := &countedConn{Conn: c}
	if e.o.KeepAlive {
		e.mu.Lock()
		e.conns = append(e.conns, cc)
		e.mu.Unlock()
	}
	return cc, nil
}

// countingTransport credits each request to the connection that carried
// it.
type countingTransport struct{ rt http.RoundTripper }

var connTrace = &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
	if cc, ok := info.Conn.(*countedConn); ok {
		cc.reqs.Add(1)
	}
}}

func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return t.rt.RoundTrip(r.WithContext(httptrace.WithClientTrace(r.Context(), connTrace)))
}

// progress returns requests and errors so far.
func (e *openEngine) progress() (done, errs int64) { return e.received.Load(), e.errs.Load() }

// pacer adapts a Schedule to vegeta.Pacer and watches the schedule lag.
type pacer struct {
	e     *openEngine
	sched Schedule
	dur   time.Duration
	grace time.Duration
	base  int64        // ticks issued before this step
	began atomic.Int64 // unix ns of the step's start, set on the first Pace
	hits  atomic.Int64 // ticks issued in this step
	last  atomic.Int64 // elapsed ns at the last Pace
}

func (p *pacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	if p.began.Load() == 0 {
		p.began.Store(time.Now().Add(-elapsed).UnixNano())
	}
	p.hits.Store(int64(hits))
	p.last.Store(int64(elapsed))
	total := p.base + int64(hits)
	p.e.ticks.Store(total)
	if p.e.o.Requests > 0 && total >= p.e.o.Requests {
		return 0, true
	}
	off := p.sched.Offset(int64(hits))
	if off >= p.dur || elapsed >= p.dur+p.grace {
		return 0, true
	}
	wait := off - elapsed
	inflight := total - p.e.received.Load()
	if inflight > p.e.maxIn.Load() {
		p.e.maxIn.Store(inflight)
	}
	if wait < -LateAfter {
		if p.e.cap == 0 || inflight < p.e.cap {
			p.e.late[0].Add(1)
		} else {
			p.e.late[1].Add(1)
		}
	}
	return wait, false
}

func (p *pacer) Rate(elapsed time.Duration) float64 { return p.sched.Rate(elapsed) }

// run runs every step in turn until they end or ctx does; start is the
// load phase's start, the origin of the timeline.
func (e *openEngine) run(ctx context.Context, start time.Time) {
	e.start = start
	defer e.tr.CloseIdleConnections()
	tgt := vegeta.Target{Method: e.o.Request.method(), URL: e.o.Request.URL, Body: e.o.Request.Body, Header: e.o.Request.Header.Clone()}
	if tgt.Header == nil {
		tgt.Header = http.Header{}
	}
	if tgt.Header.Get("User-Agent") == "" {
		tgt.Header.Set("User-Agent", "c10k-attack")
	}
	targeter := vegeta.NewStaticTargeter(tgt)
	for i, st := range e.o.Steps {
		if ctx.Err() != nil {
			return
		}
		if e.o.Requests > 0 && e.ticks.Load() >= e.o.Requests {
			return
		}
		opts := []func(*vegeta.Attacker){vegeta.Client(e.client), vegeta.MaxBody(0)}
		if e.o.Workers > 0 {
			opts = append(opts, vegeta.Workers(e.o.Workers))
		}
		mw := e.o.MaxWorkers
		if e.o.Conns > 0 && (mw == 0 || mw > uint64(e.o.Conns)) {
			mw = uint64(e.o.Conns) // more workers than connections only queue in the transport
		}
		if mw > 0 {
			opts = append(opts, vegeta.MaxWorkers(mw))
		}
		atk := vegeta.NewAttacker(opts...)
		grace := max(time.Second, st.Duration/10)
		if st.Duration > time.Duration(1<<62) {
			grace = 0
		}
		p := &pacer{e: e, sched: st.Schedule, dur: st.Duration, grace: grace, base: e.ticks.Load()}
		stop := context.AfterFunc(ctx, func() { atk.Stop() })
		name := e.o.Name
		if len(e.o.Steps) > 1 {
			name = fmt.Sprintf("%s step %d", name, i+1)
		}
		var lastStart time.Time
		for res := range atk.Attack(targeter, p, 0, name) {
			lastStart = e.record(p, res, lastStart)
		}
		stop()
		e.closeStep(p, lastStart, ctx.Err() != nil)
	}
}

// record folds one result in and writes it to the results file.
func (e *openEngine) record(p *pacer, res *vegeta.Result, lastStart time.Time) time.Time {
	began := time.Unix(0, p.began.Load())
	intended := began.Add(p.sched.Offset(int64(res.Seq)))
	lag := max(res.Timestamp.Sub(intended), 0)
	total := lag + res.Latency
	result.Record(e.lat, total)
	result.Record(e.svc, res.Latency)
	result.Record(e.lag, lag)
	if res.Code != 0 {
		e.codes[strconv.Itoa(int(res.Code))]++
	}
	if res.Error != "" {
		e.errs.Add(1)
		k := vegetaErrorKind(res)
		e.kinds[k]++
		if e.first == "" {
			e.first = res.Error
		}
	}
	e.bytesIn += int64(res.BytesIn)
	e.bytesOut += int64(res.BytesOut)
	ok := res.Code >= 200 && res.Code < 400 // as Summary.Finish counts successes
	e.timeline = result.AddToTimeline(e.timeline, res.Timestamp.Add(res.Latency).Sub(e.start), ok)
	if res.Timestamp.After(lastStart) {
		lastStart = res.Timestamp
	}
	e.received.Add(1)
	if e.enc != nil && e.encErr == nil {
		// vegeta's fields, made honest: the intended start and the
		// latency from it, so `vegeta report` shows corrected figures.
		res.Timestamp, res.Latency = intended, total
		res.Body, res.Headers = nil, nil
		if e.o.ResultsMu != nil {
			e.o.ResultsMu.Lock()
			e.encErr = e.enc.Encode(res)
			e.o.ResultsMu.Unlock()
		} else {
			e.encErr = e.enc.Encode(res)
		}
	}
	return lastStart
}

// closeStep adds the step's scheduled count and spans.
func (e *openEngine) closeStep(p *pacer, lastStart time.Time, interrupted bool) {
	hits := p.hits.Load()
	end := p.dur
	if interrupted {
		end = min(end, time.Duration(p.last.Load()))
	}
	if e.o.Requests > 0 && p.base+hits >= e.o.Requests || end > time.Duration(1<<62) {
		end = p.sched.Offset(hits) // bounded by the count: where the next would go
	}
	// Scheduled: the requests whose intended start falls before end.
	// The search bound grows from the hits sent: a stalled server holds
	// the hits far below the schedule, which must still count in full.
	bound := max(hits*2, 16)
	for bound < 1<<40 && p.sched.Offset(bound) < end {
		bound *= 2
	}
	sched := int64(sort.Search(int(min(bound, 1<<40)), func(n int) bool { return p.sched.Offset(int64(n)) >= end }))
	if e.o.Requests > 0 {
		sched = min(sched, e.o.Requests-p.base)
	}
	e.scheduled += sched
	actual := end
	if b := p.began.Load(); b != 0 && !lastStart.IsZero() {
		actual = max(end, lastStart.Sub(time.Unix(0, b)))
	}
	e.targetSpan += end
	e.actualSpan += actual
}

// vegetaErrorKind classifies a vegeta result's error like errorKind.
func vegetaErrorKind(res *vegeta.Result) string {
	if res.Code != 0 {
		return "status"
	}
	s := res.Error
	switch {
	case strings.Contains(s, "Client.Timeout") || strings.Contains(s, "deadline exceeded") || strings.Contains(s, "timeout"):
		return "timeout"
	case strings.Contains(s, "connection refused"):
		return "refused"
	case strings.Contains(s, "reset by peer") || strings.Contains(s, "EOF") || strings.Contains(s, "broken pipe"):
		return "reset"
	case strings.Contains(s, "tls: ") || strings.Contains(s, "x509: "):
		return "tls"
	}
	return "other"
}

// summarise folds the engine's counters into s.
func (e *openEngine) summarise(s *result.Summary) error {
	s.Hist.Latency, s.Hist.Service, s.Hist.Lag = e.lat, e.svc, e.lag
	s.Requests = e.received.Load()
	s.StatusCodes, s.Errors, s.FirstError = e.codes, e.kinds, e.first
	s.BytesIn, s.BytesOut = e.bytesIn, e.bytesOut
	s.Scheduled = e.scheduled
	s.Timeline = result.MergeTimeline(s.Timeline, e.timeline)
	if e.targetSpan > 0 {
		s.RateTarget = float64(e.scheduled) / e.targetSpan.Seconds()
	}
	if e.actualSpan > 0 {
		s.RateAchieved = float64(s.Requests) / e.actualSpan.Seconds()
	}
	s.Connections.Opened += e.opened.Load()
	s.Connections.Failed += e.failed.Load()
	s.Connections.Active += e.opened.Load()
	e.mu.Lock()
	for _, c := range e.conns {
		s.PerConn = append(s.PerConn, c.reqs.Load())
	}
	e.mu.Unlock()
	g := &s.Generator
	g.LateFree, g.LateBlocked = e.late[0].Load(), e.late[1].Load()
	g.MaxInFlight, g.InFlightCap = e.maxIn.Load(), e.cap
	if e.encErr != nil {
		return fmt.Errorf("write results: %w", e.encErr)
	}
	return nil
}
