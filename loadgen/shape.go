package loadgen

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Shape kinds.
const (
	ShapeConstant = "constant" // --rate requests per second
	ShapeRamp     = "ramp"     // linear from one rate to another over the duration
	ShapeSteps    = "steps"    // a constant rate per step, each step the same length
	ShapeSine     = "sine"     // mean + amp*sin(2πt/period)
	ShapePoisson  = "poisson"  // exponential gaps with mean rate --rate
)

// Shape is how an open-model run's request rate changes over time. The
// zero value is a constant rate.
type Shape struct {
	Kind     string        // one of the Shape* constants; "" is ShapeConstant
	From, To float64       // ramp
	Rates    []float64     // steps
	StepLen  time.Duration // steps: length of each step
	Mean     float64       // sine
	Amp      float64       // sine
	Period   time.Duration // sine
}

// maxRate bounds any rate of a shape: one request per 10 ns.
const maxRate = 1e8

// ParseShape parses a --shape value: "constant", "ramp:FROM-TO",
// "steps:R1,R2,...@D", "sine:MEAN,AMP,PERIOD" or "poisson". Rates are
// requests per second; D and PERIOD are Go durations ("10s").
func ParseShape(s string) (Shape, error) {
	kind, arg, hasArg := strings.Cut(strings.TrimSpace(s), ":")
	bad := func(format string, a ...any) (Shape, error) {
		return Shape{}, fmt.Errorf("--shape %q: "+format, append([]any{s}, a...)...)
	}
	rate := func(v string) (float64, error) {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || math.IsNaN(f) || f < 0 || f > maxRate {
			return 0, fmt.Errorf("rate %q is not a number of requests per second in [0, %g]", v, float64(maxRate))
		}
		return f, nil
	}
	switch kind {
	case "", ShapeConstant, ShapePoisson:
		if hasArg {
			return bad("%s takes no argument (the rate is --rate)", kind)
		}
		if kind == "" {
			kind = ShapeConstant
		}
		return Shape{Kind: kind}, nil
	case ShapeRamp:
		lo, hi, ok := strings.Cut(arg, "-")
		if !ok {
			return bad("want ramp:FROM-TO, e.g. ramp:100-5000")
		}
		from, err := rate(lo)
		if err != nil {
			return bad("%v", err)
		}
		to, err := rate(hi)
		if err != nil {
			return bad("%v", err)
		}
		if from == 0 && to == 0 {
			return bad("a ramp from 0 to 0 sends nothing")
		}
		return Shape{Kind: ShapeRamp, From: from, To: to}, nil
	case ShapeSteps:
		list, d, ok := strings.Cut(arg, "@")
		if !ok {
			return bad("want steps:R1,R2,...@D, e.g. steps:1000,2000,4000@10s")
		}
		step, err := time.ParseDuration(strings.TrimSpace(d))
		if err != nil || step <= 0 {
			return bad("step length %q is not a positive duration", d)
		}
		sh := Shape{Kind: ShapeSteps, StepLen: step}
		for _, r := range strings.Split(list, ",") {
			f, err := rate(r)
			if err != nil {
				return bad("%v", err)
			}
			sh.Rates = append(sh.Rates, f)
		}
		if len(sh.Rates) > 10000 || time.Duration(len(sh.Rates)) > math.MaxInt64/step {
			return bad("too many steps")
		}
		return sh, nil
	case ShapeSine:
		f := strings.Split(arg, ",")
		if len(f) != 3 {
			return bad("want sine:MEAN,AMP,PERIOD, e.g. sine:2000,1000,30s")
		}
		mean, err := rate(f[0])
		if err != nil {
			return bad("mean: %v", err)
		}
		amp, err := rate(f[1])
		if err != nil {
			return bad("amplitude: %v", err)
		}
		period, err := time.ParseDuration(strings.TrimSpace(f[2]))
		if err != nil || period <= 0 {
			return bad("period %q is not a positive duration", f[2])
		}
		if mean <= 0 || amp > mean {
			return bad("want 0 < AMP <= MEAN so the rate never goes negative (mean %g, amplitude %g)", mean, amp)
		}
		return Shape{Kind: ShapeSine, Mean: mean, Amp: amp, Period: period}, nil
	}
	return bad("unknown shape %q (want constant, ramp:FROM-TO, steps:R1,R2,...@D, sine:MEAN,AMP,PERIOD or poisson)", kind)
}

// String returns the --shape form of sh.
func (sh Shape) String() string {
	switch sh.Kind {
	case ShapeRamp:
		return fmt.Sprintf("ramp:%g-%g", sh.From, sh.To)
	case ShapeSteps:
		r := make([]string, len(sh.Rates))
		for i, v := range sh.Rates {
			r[i] = strconv.FormatFloat(v, 'g', -1, 64)
		}
		return "steps:" + strings.Join(r, ",") + "@" + sh.StepLen.String()
	case ShapeSine:
		return fmt.Sprintf("sine:%g,%g,%s", sh.Mean, sh.Amp, sh.Period)
	case ShapePoisson:
		return ShapePoisson
	}
	return ShapeConstant
}

// NeedsRate reports whether the shape takes its rate from --rate.
func (sh Shape) NeedsRate() bool {
	return sh.Kind == "" || sh.Kind == ShapeConstant || sh.Kind == ShapePoisson
}

// Schedule gives the intended start of each request of one open-model
// step, counted from the step's start.
type Schedule interface {
	// Offset returns the intended start of request n (0-based).
	// Offsets never decrease with n; math.MaxInt64 means never.
	Offset(n int64) time.Duration
	// Rate returns the intended rate at elapsed, per second.
	Rate(elapsed time.Duration) float64
}

// Step is one stretch of an open-model run, driven by its own Attacker.
type Step struct {
	Schedule Schedule
	Duration time.Duration // the step ends when an offset reaches it
}

// Steps returns the steps of sh for a run of duration d at rate (used by
// constant and poisson), scaled by share (a shard's fraction of the
// load). d zero is only allowed for constant and poisson, bounded by a
// request count instead. seed drives Poisson arrivals.
func (sh Shape) Steps(rate float64, d time.Duration, share float64, seed uint64) ([]Step, error) {
	if share <= 0 || share > 1 {
		return nil, fmt.Errorf("shape: share %g not in (0, 1]", share)
	}
	forever := time.Duration(math.MaxInt64)
	if d <= 0 {
		if sh.Kind == ShapeRamp || sh.Kind == ShapeSine {
			return nil, fmt.Errorf("--shape %s needs --duration", sh)
		}
		d = forever
	}
	switch sh.Kind {
	case "", ShapeConstant:
		if rate <= 0 {
			return nil, fmt.Errorf("--rate must be positive for --shape constant")
		}
		return []Step{{Constant(rate * share), d}}, nil
	case ShapePoisson:
		if rate <= 0 {
			return nil, fmt.Errorf("--rate must be positive for --shape poisson")
		}
		return []Step{{NewPoisson(rate*share, seed), d}}, nil
	case ShapeRamp:
		return []Step{{Ramp{From: sh.From * share, To: sh.To * share, Over: d}, d}}, nil
	case ShapeSteps:
		out := make([]Step, len(sh.Rates))
		for i, r := range sh.Rates {
			out[i] = Step{Constant(r * share), sh.StepLen}
		}
		return out, nil
	case ShapeSine:
		return []Step{{Sine{Mean: sh.Mean * share, Amp: sh.Amp * share, Period: sh.Period}, d}}, nil
	}
	return nil, fmt.Errorf("shape: unknown kind %q", sh.Kind)
}

// seconds converts a float of seconds to a Duration, saturating.
func seconds(s float64) time.Duration {
	if math.IsNaN(s) || s >= float64(math.MaxInt64)/1e9 {
		return math.MaxInt64
	}
	return time.Duration(s * 1e9)
}

// Constant is a fixed rate per second.
type Constant float64

// Offset implements Schedule.
func (c Constant) Offset(n int64) time.Duration {
	if c <= 0 {
		return math.MaxInt64
	}
	return seconds(float64(n) / float64(c))
}

// Rate implements Schedule.
func (c Constant) Rate(time.Duration) float64 { return float64(c) }

// Ramp changes the rate linearly from From to To over Over.
type Ramp struct {
	From, To float64
	Over     time.Duration
}

// Offset implements Schedule: it solves From*t + k*t²/2 = n for t.
func (r Ramp) Offset(n int64) time.Duration {
	D := r.Over.Seconds()
	k := (r.To - r.From) / D
	x := float64(n)
	if math.Abs(k) < 1e-12 {
		if r.From <= 0 {
			return math.MaxInt64
		}
		return seconds(x / r.From)
	}
	disc := r.From*r.From + 2*k*x
	if disc < 0 {
		return math.MaxInt64 // a falling ramp that has already sent all it will
	}
	// Numerically stable form of (-From + sqrt(disc)) / k.
	t := 2 * x / (r.From + math.Sqrt(disc))
	if x == 0 {
		t = 0
	}
	if math.IsNaN(t) || math.IsInf(t, 0) || t > D*1.0000001 {
		return math.MaxInt64
	}
	return seconds(t)
}

// Rate implements Schedule.
func (r Ramp) Rate(elapsed time.Duration) float64 {
	f := min(max(elapsed.Seconds()/r.Over.Seconds(), 0), 1)
	return r.From + (r.To-r.From)*f
}

// Sine is a rate of Mean + Amp*sin(2πt/Period), Amp <= Mean.
type Sine struct {
	Mean, Amp float64
	Period    time.Duration
}

// hits is the cumulative count of requests by t seconds.
func (s Sine) hits(t float64) float64 {
	p := s.Period.Seconds()
	return s.Mean*t + s.Amp*p/(2*math.Pi)*(1-math.Cos(2*math.Pi*t/p))
}

// Offset implements Schedule by bisection: hits(t) lies within
// [Mean*t, Mean*t + Amp*Period/π].
func (s Sine) Offset(n int64) time.Duration {
	if s.Mean <= 0 {
		return math.MaxInt64
	}
	x := float64(n)
	lo := max(0, (x-s.Amp*s.Period.Seconds()/math.Pi)/s.Mean)
	hi := x / s.Mean
	for i := 0; i < 64 && hi-lo > 1e-10; i++ {
		mid := (lo + hi) / 2
		if s.hits(mid) < x {
			lo = mid
		} else {
			hi = mid
		}
	}
	return seconds(hi)
}

// Rate implements Schedule.
func (s Sine) Rate(elapsed time.Duration) float64 {
	return s.Mean + s.Amp*math.Sin(2*math.Pi*elapsed.Seconds()/s.Period.Seconds())
}

// Poisson is a Poisson arrival process: exponentially distributed gaps
// with mean 1/Rate, from a seeded generator so a run can be repeated. It
// remembers the offsets it handed out; it is safe for concurrent use.
type Poisson struct {
	rate float64
	mu   sync.Mutex
	rng  *rand.Rand
	offs []time.Duration
	at   float64
}

// NewPoisson returns a Poisson schedule of mean rate per second.
func NewPoisson(rate float64, seed uint64) *Poisson {
	return &Poisson{rate: rate, rng: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))}
}

// Offset implements Schedule.
func (p *Poisson) Offset(n int64) time.Duration {
	if p.rate <= 0 || n < 0 {
		return math.MaxInt64
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for int64(len(p.offs)) <= n {
		p.offs = append(p.offs, seconds(p.at))
		p.at += p.rng.ExpFloat64() / p.rate
	}
	return p.offs[n]
}

// Rate implements Schedule.
func (p *Poisson) Rate(time.Duration) float64 { return p.rate }
