package reports

import (
	"fmt"
	"math"
)

// A Run is one bench invocation: where it ran and every step it measured.
type Run struct {
	ID        string `json:"id"`
	Commit    string `json:"commit"`
	GoVersion string `json:"go_version"`
	Kernel    string `json:"kernel"`
	CPU       string `json:"cpu"`
	Steps     []Step `json:"steps"`

	// Interrupted is set when the run was cut short (a signal, an
	// error): the steps are those finished before.
	Interrupted bool `json:"interrupted,omitempty"`
	// Notes are run-level remarks for the report: skipped targets,
	// missing tools, findings.
	Notes []string `json:"notes,omitempty"`
}

// A Step is one measured point: one scenario against one core at one load.
// Latencies are in milliseconds, rates in requests per second.
type Step struct {
	Scenario    string      `json:"scenario"`
	Core        string      `json:"core"`
	Concurrency int         `json:"concurrency"`       // active connections
	IdleConns   int         `json:"idle_conns"`        // idle keep-alive connections held open
	RateTarget  float64     `json:"rate_target"`       // offered rate, req/s; 0 for a closed model
	Throughput  float64     `json:"throughput"`        // achieved rate, req/s
	Latency     Latency     `json:"latency"`           // summary of the full histogram
	Percentiles []Point     `json:"percentiles"`       // HDR percentile curve
	RSSBytes    int64       `json:"rss_bytes"`         // server resident set size at the end of the step
	ProbeP99    float64     `json:"probe_p99_ms"`      // p99 of a light probe sent beside the load, ms
	Errors      int         `json:"errors"`            // failed requests
	Valid       bool        `json:"valid"`             // false when the generator, not the server, was the limit
	Invalid     string      `json:"invalid,omitempty"` // why Valid is false
	Timeline    []TimePoint `json:"timeline,omitempty"`

	// Label names the step within its scenario ("c=100", "idle=5000",
	// "cgi", "app"); Kind is what Core is: "core" (a c10k core),
	// "reference" (a real server, e.g. nginx) or "url" (an external
	// target). Pair is the c10k core a reference server models.
	Label string `json:"label,omitempty"`
	Kind  string `json:"kind,omitempty"`
	Pair  string `json:"pair,omitempty"`
	Trial int    `json:"trial,omitempty"` // 0-based repetition of the step

	// Server figures sampled from /proc over the measured part of the
	// step, for the server's whole process tree; zero when not sampled.
	CPUSeconds   float64 `json:"cpu_s,omitempty"`          // user+system CPU used
	CPUPerReqUS  float64 `json:"cpu_per_req_us,omitempty"` // CPUSeconds per successful request, µs
	RSSPeakBytes int64   `json:"rss_peak_bytes,omitempty"`
	Threads      int     `json:"threads,omitempty"`   // at the end of the step
	Processes    int     `json:"processes,omitempty"` // at the end of the step
	FDs          int     `json:"fds,omitempty"`       // at the end of the step
	CtxSwitches  int64   `json:"ctx_switches,omitempty"`
	Requests     int64   `json:"requests,omitempty"` // completed load requests
	// Starved counts the closed model's connections that completed
	// fewer than a tenth of the mean: clients a server left waiting
	// (in its listen backlog, say) while others were served.
	Starved int `json:"starved,omitempty"`
	// Note says what a reader should know about the step: skipped,
	// a feature the target lacks, an event that happened.
	Note string `json:"note,omitempty"`
	// Skipped steps were not run (the target cannot serve them).
	Skipped bool `json:"skipped,omitempty"`
	// TLS holds the handshake figures of a step over https; nil for a
	// plain one.
	TLS *TLS `json:"tls,omitempty"`

	trials int // steps this one stands for (Medians); not saved
}

// TLS is what a step over https measured of its TLS handshakes: those
// of its load connections, so with keep-alive off PerSecond is the
// server's handshake rate.
type TLS struct {
	Resume     bool    `json:"resume,omitempty"` // the client kept a session cache
	Handshakes int64   `json:"handshakes"`
	Resumed    int64   `json:"resumed"`           // of Handshakes
	PerSecond  float64 `json:"per_s"`             // handshakes per second
	P50        float64 `json:"p50_ms"`            // handshake latency
	P99        float64 `json:"p99_ms"`            //
	Version    string  `json:"version,omitempty"` // "TLS 1.3 X25519MLKEM768"
}

// Latency summarizes a latency histogram, in milliseconds.
type Latency struct {
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p999_ms"`
	Max  float64 `json:"max_ms"`
}

// A Point is one point of a percentile curve: Percentile in [0, 100] and its
// latency in milliseconds.
type Point struct {
	Percentile float64 `json:"percentile"`
	Millis     float64 `json:"ms"`
}

// A TimePoint is one interval of a request timeline: Seconds since the step
// began, and the requests and errors per second in that interval.
type TimePoint struct {
	Seconds float64 `json:"t"`
	RPS     float64 `json:"rps"`
	Errors  float64 `json:"errors"`
}

// Validate reports the first step holding a NaN, infinite or negative
// measurement, or ErrNoSteps when steps is empty.
func Validate(steps []Step) error {
	if len(steps) == 0 {
		return ErrNoSteps
	}
	for i := range steps {
		if err := steps[i].validate(); err != nil {
			return fmt.Errorf("reports: step %d (%s/%s): %w", i, steps[i].Scenario, steps[i].Core, err)
		}
	}
	return nil
}

func (s *Step) validate() error {
	if s.Concurrency < 0 || s.IdleConns < 0 || s.Errors < 0 || s.RSSBytes < 0 ||
		s.RSSPeakBytes < 0 || s.Threads < 0 || s.Processes < 0 || s.FDs < 0 || s.CtxSwitches < 0 || s.Requests < 0 || s.Starved < 0 {
		return fmt.Errorf("negative count: %w", ErrBadValue)
	}
	fields := []struct {
		name string
		v    float64
	}{
		{"rate target", s.RateTarget},
		{"throughput", s.Throughput},
		{"p50", s.Latency.P50},
		{"p90", s.Latency.P90},
		{"p99", s.Latency.P99},
		{"p99.9", s.Latency.P999},
		{"max", s.Latency.Max},
		{"probe p99", s.ProbeP99},
		{"cpu", s.CPUSeconds},
		{"cpu per request", s.CPUPerReqUS},
	}
	for _, f := range fields {
		if err := check(f.name, f.v); err != nil {
			return err
		}
	}
	if t := s.TLS; t != nil {
		if t.Handshakes < 0 || t.Resumed < 0 || t.Resumed > t.Handshakes {
			return fmt.Errorf("TLS handshakes %d, resumed %d: %w", t.Handshakes, t.Resumed, ErrBadValue)
		}
		for _, f := range []struct {
			name string
			v    float64
		}{{"handshakes per second", t.PerSecond}, {"handshake p50", t.P50}, {"handshake p99", t.P99}} {
			if err := check(f.name, f.v); err != nil {
				return err
			}
		}
	}
	for j, p := range s.Percentiles {
		if err := check(fmt.Sprintf("percentile point %d", j), p.Millis); err != nil {
			return err
		}
		if bad(p.Percentile) || p.Percentile > 100 {
			return fmt.Errorf("percentile point %d: percentile %v outside [0, 100]: %w", j, p.Percentile, ErrBadValue)
		}
	}
	for j, t := range s.Timeline {
		if bad(t.Seconds) || bad(t.RPS) || bad(t.Errors) {
			return fmt.Errorf("timeline point %d: %w", j, ErrBadValue)
		}
	}
	return nil
}

func check(name string, v float64) error {
	if bad(v) {
		return fmt.Errorf("%s is %v: %w", name, v, ErrBadValue)
	}
	return nil
}

func bad(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) || v < 0 }

// scenarios returns the steps grouped by scenario, in order of first
// appearance, each group keeping the input order.
func scenarios(steps []Step) (names []string, groups map[string][]Step) {
	groups = make(map[string][]Step)
	for _, s := range steps {
		if _, ok := groups[s.Scenario]; !ok {
			names = append(names, s.Scenario)
		}
		groups[s.Scenario] = append(groups[s.Scenario], s)
	}
	return names, groups
}

// cores returns the distinct cores of steps in order of first appearance.
func cores(steps []Step) []string {
	var names []string
	seen := make(map[string]bool)
	for _, s := range steps {
		if !seen[s.Core] {
			seen[s.Core] = true
			names = append(names, s.Core)
		}
	}
	return names
}
