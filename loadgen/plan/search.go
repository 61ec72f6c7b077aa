package plan

import (
	"context"
	"fmt"
	"math"

	"github.com/c10k/c10k/loadgen/result"
)

// Measure runs one open-model step at rate requests per second — its own
// warm-up excluded — and returns what it measured. Summary.Valid false
// means the generator, not the server, was the limit.
type Measure func(ctx context.Context, rate float64) (*result.Summary, error)

// Options steer Search. The zero value of every field but SLO works.
type Options struct {
	SLO       SLO
	Start     float64 // first rate, req/s; 0: 50
	Max       float64 // highest rate tried; 0: 1,000,000
	Factor    float64 // growth per step of the stepped search; 0: 2
	Precision float64 // bisection stops when (high-low)/low is at most this; 0: 0.05
	Confirm   int     // extra runs at the found rate that must all pass; 0: 2, -1: none
	MaxSteps  int     // bound on measured steps, all phases; 0: 40
	// Progress, when set, is called after every step.
	Progress func(Step)
}

func (o *Options) defaults() {
	if o.Start <= 0 {
		o.Start = 50
	}
	if o.Max <= 0 {
		o.Max = 1e6
	}
	if o.Factor <= 1 {
		o.Factor = 2
	}
	if o.Precision <= 0 {
		o.Precision = 0.05
	}
	if o.Confirm == 0 {
		o.Confirm = 2
	}
	if o.MaxSteps <= 0 {
		o.MaxSteps = 40
	}
}

// Phases of a search step.
const (
	PhaseSearch  = "search"  // the stepped search: rates growing by Factor
	PhaseBisect  = "bisect"  // between the highest pass and the lowest failure
	PhaseConfirm = "confirm" // repeated runs at the rate found
)

// A Step is one measured rate.
type Step struct {
	Phase      string  `json:"phase"`
	Rate       float64 `json:"rate"`           // offered, req/s
	Achieved   float64 `json:"achieved_rps"`   // started, req/s
	Throughput float64 `json:"throughput_rps"` // successful responses, req/s
	Mean       float64 `json:"mean_ms"`
	P50        float64 `json:"p50_ms"`
	P90        float64 `json:"p90_ms"`
	P99        float64 `json:"p99_ms"`
	ErrorRatio float64 `json:"error_ratio"`
	Valid      bool    `json:"valid"`
	Invalid    string  `json:"invalid,omitempty"`
	Pass       bool    `json:"pass"`             // met the SLO (and was valid)
	Broken     string  `json:"broken,omitempty"` // the objective it broke

	Summary *result.Summary `json:"-"`
}

// Why a search stopped.
const (
	StopSLO       = "slo"       // the bracket around the SLO boundary is narrow enough
	StopGenerator = "generator" // the generator could not offer the next rate: the server sustains at least MaxRate
	StopMax       = "max"       // Options.Max passed
	StopSteps     = "steps"     // Options.MaxSteps used up
)

// A Result is what Search found.
type Result struct {
	SLO string `json:"slo"`
	// MaxRate is the highest rate that met the SLO in every run there:
	// the sustainable rate.
	MaxRate float64 `json:"max_rate_rps"`
	// Low and High bracket the boundary: Low met the SLO, High (0 when
	// never reached) did not.
	Low        float64    `json:"bracket_low_rps"`
	High       float64    `json:"bracket_high_rps"`
	Confidence Confidence `json:"confidence"`
	// Knee is the highest rate whose p99 is within twice the lowest p99
	// measured: past it, queueing shows.
	Knee    float64 `json:"knee_rps"`
	Stopped string  `json:"stopped_by"`
	Steps   []Step  `json:"steps"`
	Sizing  *Sizing `json:"sizing,omitempty"`
}

// Confidence says how much to trust MaxRate: every run at it passed
// (Passed of Trials), and the boundary lies within Margin above it.
type Confidence struct {
	Trials int     `json:"trials"`
	Passed int     `json:"passed"`
	Margin float64 `json:"margin_rps"` // High - MaxRate: the search's resolution
}

// Search finds the highest rate that meets the SLO: a stepped search
// from Start growing by Factor until a step fails, a bisection between
// the last pass and the first failure down to Precision, then Confirm
// more runs at the rate found (stepping down by Precision when one
// fails). A step the generator could not drive (Summary.Valid false)
// ends the search: its rate says nothing about the server.
func Search(ctx context.Context, o Options, measure Measure) (*Result, error) {
	if len(o.SLO) == 0 {
		return nil, fmt.Errorf("%w: no objective", ErrBadSLO)
	}
	o.defaults()
	r := &Result{SLO: o.SLO.String()}
	step := func(phase string, rate float64) (Step, error) {
		s, err := measure(ctx, rate)
		if err != nil {
			return Step{}, fmt.Errorf("step at %.0f req/s: %w", rate, err)
		}
		if ctx.Err() != nil {
			return Step{}, ctx.Err()
		}
		st := newStep(phase, rate, s, o.SLO)
		r.Steps = append(r.Steps, st)
		if o.Progress != nil {
			o.Progress(st)
		}
		return st, nil
	}
	budget := func() bool { return len(r.Steps) < o.MaxSteps }

	// Stepped search, up from Start; down from it when it already fails.
	lo, hi := 0.0, 0.0
	rate := math.Min(o.Start, o.Max)
	for budget() {
		st, err := step(PhaseSearch, rate)
		if err != nil {
			return r, err
		}
		if !st.Valid {
			r.Stopped = StopGenerator
			break
		}
		if st.Pass {
			lo = rate
			if hi > 0 {
				break
			}
			if rate >= o.Max {
				r.Stopped = StopMax
				break
			}
			rate = math.Min(rate*o.Factor, o.Max)
			continue
		}
		hi = rate
		if lo > 0 {
			break
		}
		if rate /= o.Factor; rate < 0.5 {
			break
		}
	}
	if lo == 0 {
		return r, noPass(r)
	}
	// Bisection.
	for r.Stopped == "" && hi > 0 && (hi-lo)/lo > o.Precision && budget() {
		mid := (lo + hi) / 2
		st, err := step(PhaseBisect, mid)
		if err != nil {
			return r, err
		}
		switch {
		case !st.Valid:
			r.Stopped = StopGenerator
		case st.Pass:
			lo = mid
		default:
			hi = mid
		}
	}
	// Confirmation at the rate found.
	trials, passed := 1, 1
	for i := 0; o.Confirm > 0 && i < o.Confirm && budget(); i++ {
		st, err := step(PhaseConfirm, lo)
		if err != nil {
			return r, err
		}
		trials++
		if st.Valid && st.Pass {
			passed++
			continue
		}
		// Not reliably sustainable: step down and start confirming again.
		hi, lo = lo, lo*(1-o.Precision)
		trials, passed, i = 0, 0, -1
	}
	if passed == 0 {
		return r, noPass(r)
	}
	if r.Stopped == "" {
		r.Stopped = StopSLO
		if hi == 0 {
			r.Stopped = StopSteps
		} else if (hi-lo)/lo > o.Precision || passed < trials {
			r.Stopped = StopSteps
		}
	}
	r.MaxRate, r.Low, r.High = lo, lo, hi
	r.Confidence = Confidence{Trials: trials, Passed: passed}
	if hi > 0 {
		r.Confidence.Margin = hi - lo
	}
	r.Knee = knee(r.Steps)
	return r, nil
}

func noPass(r *Result) error {
	for _, st := range r.Steps {
		if st.Valid && !st.Pass {
			return fmt.Errorf("%w: %.0f req/s broke it (%s)", ErrNoPassingRate, st.Rate, st.Broken)
		}
	}
	if len(r.Steps) > 0 && !r.Steps[0].Valid {
		return fmt.Errorf("%w: the generator could not drive %.0f req/s (%s)", ErrNoPassingRate, r.Steps[0].Rate, r.Steps[0].Invalid)
	}
	return ErrNoPassingRate
}

func newStep(phase string, rate float64, s *result.Summary, slo SLO) Step {
	st := Step{
		Phase: phase, Rate: rate, Achieved: s.RateAchieved, Throughput: s.ThroughputRPS,
		Mean: s.Latency.Mean, P50: s.Latency.P50, P90: s.Latency.P90, P99: s.Latency.P99,
		ErrorRatio: errorRatio(s), Valid: s.Valid, Invalid: s.InvalidReason, Summary: s,
	}
	if st.Valid {
		st.Pass, st.Broken = slo.Check(s)
	}
	return st
}

// knee returns the highest valid rate whose p99 is within twice the
// lowest p99 of any valid step: past it, queueing shows. The lowest p99,
// not the first step's, is the floor, so one noisy step at a low rate
// does not pull the knee down.
func knee(steps []Step) float64 {
	floor, k := math.Inf(1), 0.0
	for _, s := range steps {
		if s.Valid && s.ErrorRatio < 1 {
			floor = math.Min(floor, s.P99)
		}
	}
	for _, s := range steps {
		if s.Valid && s.ErrorRatio < 1 && s.P99 <= 2*floor {
			k = math.Max(k, s.Rate)
		}
	}
	return k
}
