package result

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram bounds: microseconds from 1 µs to 10 minutes, 3 significant
// digits. Every histogram of a summary has this geometry, so they merge
// without loss.
const (
	HistMin    = 1
	HistMax    = int64(10 * time.Minute / time.Microsecond)
	HistDigits = 3
)

// NewHistogram returns an empty latency histogram in microseconds.
func NewHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(HistMin, HistMax, HistDigits)
}

// Record adds d to h, clamped to the histogram's range.
func Record(h *hdrhistogram.Histogram, d time.Duration) {
	h.RecordValue(min(max(d.Microseconds(), HistMin), HistMax))
}

// Models of a run.
const (
	ModelOpen   = "open"   // requests on a schedule (--rate, --shape)
	ModelClosed = "closed" // N connections back to back (--connections)
	ModelNone   = "none"   // C10k control only: idle set and probes
)

// Latency is a percentile summary in milliseconds.
type Latency struct {
	Min  float64 `json:"min"`
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
}

// LatencyOf summarises a histogram in microseconds as milliseconds.
func LatencyOf(h *hdrhistogram.Histogram) Latency {
	if h == nil || h.TotalCount() == 0 {
		return Latency{}
	}
	ms := func(v int64) float64 { return float64(v) / 1000 }
	return Latency{
		Min: ms(h.Min()), Mean: h.Mean() / 1000,
		P50: ms(h.ValueAtQuantile(50)), P90: ms(h.ValueAtQuantile(90)),
		P99: ms(h.ValueAtQuantile(99)), P999: ms(h.ValueAtQuantile(99.9)),
		Max: ms(h.Max()),
	}
}

// Connections counts the generator's connections.
type Connections struct {
	Active int64 `json:"active"` // load connections (closed model: --connections; open model: opened by the transport)
	Idle   int64 `json:"idle"`   // idle keep-alive connections held (--idle)
	Opened int64 `json:"opened"` // successful connects, load and idle
	Failed int64 `json:"failed"` // failed connects, load and idle
}

// Fairness describes how evenly requests spread over the load
// connections. Starved connections completed fewer than a tenth of the
// mean: with a fair server there are none.
type Fairness struct {
	Conns   int     `json:"connections"`
	Min     int64   `json:"min"`
	Max     int64   `json:"max"`
	Mean    float64 `json:"mean"`
	CV      float64 `json:"cv"`     // standard deviation / mean
	Spread  float64 `json:"spread"` // (max - min) / mean
	Starved int     `json:"starved"`
}

// FairnessOf computes Fairness from per-connection request counts.
func FairnessOf(counts []int64) *Fairness {
	if len(counts) == 0 {
		return nil
	}
	f := &Fairness{Conns: len(counts), Min: math.MaxInt64}
	var sum float64
	for _, c := range counts {
		f.Min, f.Max = min(f.Min, c), max(f.Max, c)
		sum += float64(c)
	}
	f.Mean = sum / float64(len(counts))
	var sq float64
	for _, c := range counts {
		d := float64(c) - f.Mean
		sq += d * d
		if float64(c) < f.Mean/10 {
			f.Starved++
		}
	}
	if f.Mean > 0 {
		f.CV = math.Sqrt(sq/float64(len(counts))) / f.Mean
		f.Spread = float64(f.Max-f.Min) / f.Mean
	}
	return f
}

// Generator is the load generator's own health during the run.
type Generator struct {
	CPUs       int     `json:"cpus"`        // CPUs the process may run on
	CPUPercent float64 `json:"cpu_percent"` // user+system time / wall time, 100 = one CPU
	Saturated  bool    `json:"cpu_saturated"`
	// Open model: ticks the pacer issued late (more than LateAfter behind
	// the schedule), split by whether requests in flight were below the
	// worker/connection limit (the generator was slow) or at it (every
	// worker waited on the server).
	LateFree    int64   `json:"late_ticks_free,omitempty"`
	LateBlocked int64   `json:"late_ticks_blocked,omitempty"`
	MaxInFlight int64   `json:"max_in_flight,omitempty"`
	InFlightCap int64   `json:"in_flight_limit,omitempty"` // 0: unlimited
	Shard       string  `json:"shard,omitempty"`
	GOMAXPROCS  int     `json:"gomaxprocs"`
	HeapMB      float64 `json:"heap_mb,omitempty"`
}

// IdleStats counts an idle keep-alive set's connections.
type IdleStats struct {
	Asked          int     `json:"asked"`            // connections asked for
	Opened         int64   `json:"opened"`           // connected and answered their one request
	Failed         int64   `json:"failed"`           // did not connect or were not answered within the timeout
	ClosedByServer int64   `json:"closed_by_server"` // opened, then closed by the server while held
	Held           int64   `json:"held"`             // Opened - ClosedByServer
	FirstError     string  `json:"first_error,omitempty"`
	OpenSeconds    float64 `json:"open_seconds"` // how long opening took
}

// ProbeSummary is the compact form of a probe run, in milliseconds.
type ProbeSummary struct {
	Sent       int64            `json:"sent"`
	OK         int64            `json:"ok"`
	Errors     int64            `json:"errors"`
	Timeouts   int64            `json:"timeouts"`
	P50        float64          `json:"p50_ms"`
	P90        float64          `json:"p90_ms"`
	P99        float64          `json:"p99_ms"`
	Max        float64          `json:"max_ms"`
	Kinds      map[string]int64 `json:"error_kinds,omitempty"`
	FirstError string           `json:"first_error,omitempty"`
}

// Limits are the machine limits the preflight checked.
type Limits struct {
	NoFile    uint64 `json:"nofile"`     // soft RLIMIT_NOFILE after raising it to the hard limit
	NoFileMax uint64 `json:"nofile_max"` // hard RLIMIT_NOFILE
	PortLow   int    `json:"port_low"`   // net.ipv4.ip_local_port_range
	PortHigh  int    `json:"port_high"`
}

// Summary is the record of one run, or of several merged. Its JSON form
// is what `c10k attack --format json` prints; the histograms travel in
// the file form only (Write).
type Summary struct {
	Model   string    `json:"model"` // ModelOpen, ModelClosed or ModelNone
	URL     string    `json:"url"`
	Method  string    `json:"method"`
	Shards  []string  `json:"shards,omitempty"` // "I/N" of each merged shard
	Started time.Time `json:"started"`

	Requests      int64            `json:"requests"`       // completed (answered or failed) load requests
	DurationS     float64          `json:"duration_s"`     // of the load phase
	ThroughputRPS float64          `json:"throughput_rps"` // successful responses per second
	RateTarget    float64          `json:"rate_target"`    // open model: scheduled requests per second
	RateAchieved  float64          `json:"rate_achieved"`  // requests started per second
	Scheduled     int64            `json:"scheduled,omitempty"`
	SuccessRatio  float64          `json:"success_ratio"` // 2xx and 3xx / requests
	StatusCodes   map[string]int64 `json:"status_codes"`
	Errors        map[string]int64 `json:"errors"` // by kind: timeout, refused, reset, status, tls, other
	FirstError    string           `json:"first_error,omitempty"`
	BytesIn       int64            `json:"bytes_in"`
	BytesOut      int64            `json:"bytes_out"`

	// Latency counts from each request's intended start in the open
	// model (coordinated omission corrected) and from its send in the
	// closed one; Service from the send; Lag is intended to actual start.
	Latency      Latency  `json:"latency_ms"`
	Service      *Latency `json:"service_latency_ms,omitempty"`
	Lag          *Latency `json:"schedule_lag_ms,omitempty"`
	ProbeLatency *Latency `json:"probe_latency_ms,omitempty"`

	Connections Connections `json:"connections"`
	Fairness    *Fairness   `json:"fairness,omitempty"`
	Generator   Generator   `json:"generator"`

	Valid         bool   `json:"valid"`
	InvalidReason string `json:"invalid_reason"`
	Interrupted   bool   `json:"interrupted,omitempty"`
	Note          string `json:"note,omitempty"`
	// InProgress marks the summary a run leaves while it runs (its
	// --output until the final summary replaces it): found afterwards,
	// the generator was killed. It counts requests and errors only.
	InProgress bool `json:"in_progress,omitempty"`

	// C10k control (kept compatible with scripts/benchtable).
	Sources          int           `json:"source_ips"`
	Limits           Limits        `json:"limits"`
	Idle             *IdleStats    `json:"idle,omitempty"`     // when the set was open
	IdleEnd          *IdleStats    `json:"idle_end,omitempty"` // after the load
	Probe            *ProbeSummary `json:"probe,omitempty"`
	RSSBefore        int64         `json:"rss_before_bytes,omitempty"`
	RSSHeld          int64         `json:"rss_held_bytes,omitempty"`
	RSSPerIdleConnKB float64       `json:"rss_per_idle_conn_kb,omitempty"`

	// Timeline counts the load requests by the moment they finished, in
	// TimelineBucket steps from the start of the load phase; nil when
	// no request finished.
	Timeline []TimeBucket `json:"timeline,omitempty"`
	// Slow counts the slow readers' work; nil without slow readers.
	Slow *SlowStats `json:"slow,omitempty"`
	// TLS holds the handshake figures of an https run; nil for http.
	TLS *TLSStats `json:"tls,omitempty"`

	// Histograms in microseconds; nil when not measured.
	Hist Histograms `json:"-"`
	// PerConn are the load connections' request counts (fairness).
	PerConn []int64 `json:"-"`
}

// SlowStats counts the work of slow readers: clients that fetch a path
// and read the answer at a fixed, low rate, re-requesting when done.
type SlowStats struct {
	Readers   int   `json:"readers"`   // slow readers run
	Responses int64 `json:"responses"` // 2xx/3xx responses read in full
	Errors    int64 `json:"errors"`    // failed connects, writes, heads, reads and 4xx/5xx responses
	Bytes     int64 `json:"bytes"`     // bytes read, heads included
}

// Histograms are a summary's latency distributions in microseconds.
// Handshake is the TLS handshakes' of the load connections.
type Histograms struct {
	Latency, Service, Lag, Probe, Handshake *hdrhistogram.Histogram
}

// Finish recomputes the derived figures (percentiles, ratios, fairness)
// from the histograms and counts. DurationS must be set.
func (s *Summary) Finish() {
	if s.Hist.Latency != nil {
		s.Latency = LatencyOf(s.Hist.Latency)
	}
	opt := func(h *hdrhistogram.Histogram) *Latency {
		if h == nil || h.TotalCount() == 0 {
			return nil
		}
		l := LatencyOf(h)
		return &l
	}
	s.Service, s.Lag, s.ProbeLatency = opt(s.Hist.Service), opt(s.Hist.Lag), opt(s.Hist.Probe)
	var ok int64
	for code, n := range s.StatusCodes {
		if c, err := strconv.Atoi(code); err == nil && c >= 200 && c < 400 {
			ok += n
		}
	}
	s.SuccessRatio = 0
	if s.Requests > 0 {
		s.SuccessRatio = float64(ok) / float64(s.Requests)
	}
	if s.DurationS > 0 {
		s.ThroughputRPS = float64(ok) / s.DurationS
	}
	if len(s.PerConn) > 0 {
		s.Fairness = FairnessOf(s.PerConn)
	}
	if t := s.TLS; t != nil {
		t.Latency = LatencyOf(s.Hist.Handshake)
		t.PerSecond = 0
		if s.DurationS > 0 {
			t.PerSecond = float64(t.Handshakes) / s.DurationS
		}
	}
	if s.StatusCodes == nil {
		s.StatusCodes = map[string]int64{}
	}
	if s.Errors == nil {
		s.Errors = map[string]int64{}
	}
}

// Judge decides Valid and InvalidReason for an open-model run from the
// rule stated in the package loadgen documentation: a run is invalid when
// it started fewer than 99 % of its scheduled requests per second and the
// generator, not the server, was the cause — its CPU was saturated, or
// most late ticks came while requests in flight were below the limit.
// Other models are always valid unless interrupted.
func (s *Summary) Judge() {
	s.Valid, s.InvalidReason = true, ""
	if s.Interrupted {
		s.Valid, s.InvalidReason = false, "interrupted before the end of the run"
		return
	}
	if s.Model != ModelOpen || s.RateTarget <= 0 {
		return
	}
	ratio := s.RateAchieved / s.RateTarget
	if ratio >= 0.99 {
		return
	}
	g := s.Generator
	switch {
	case g.Saturated:
		s.Valid = false
		s.InvalidReason = fmt.Sprintf("generator could not keep the schedule: achieved %.0f of %.0f req/s (%.1f%%) with its CPU saturated (%.0f%% of %d CPUs)",
			s.RateAchieved, s.RateTarget, 100*ratio, g.CPUPercent, g.CPUs)
	case g.LateFree >= g.LateBlocked:
		s.Valid = false
		s.InvalidReason = fmt.Sprintf("generator could not keep the schedule: achieved %.0f of %.0f req/s (%.1f%%); %d of %d late ticks came with requests in flight below the limit",
			s.RateAchieved, s.RateTarget, 100*ratio, g.LateFree, g.LateFree+g.LateBlocked)
	default:
		s.Note = fmt.Sprintf("server-bound: achieved %.0f of %.0f req/s (%.1f%%) because every allowed request (%d) was waiting on the server; latency from intended start includes that wait",
			s.RateAchieved, s.RateTarget, 100*ratio, g.InFlightCap)
	}
}

// Codes returns the status codes in ascending order.
func (s *Summary) Codes() []string {
	out := make([]string, 0, len(s.StatusCodes))
	for c := range s.StatusCodes {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}
