package gate

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"

	"github.com/aclements/go-moremath/stats"
	"golang.org/x/perf/benchmath"
)

// Defaults of Options.
const (
	DefaultAlpha       = 0.05
	DefaultMinTrials   = 3
	DefaultNoiseFactor = 3
	// Confidence is the level of the confidence intervals around the
	// medians, as benchstat reports them.
	Confidence = 0.95
)

// DefaultRegress is the relative threshold used when neither Max nor
// Regress is given: p99 +10 %, throughput -5 %.
func DefaultRegress() Limits { return Limits{P99: 0.10, Throughput: 0.05} }

// Options set what counts as a regression.
type Options struct {
	// Max holds absolute limits on NEW's median (a floor for
	// throughput), Regress relative thresholds on the change of the
	// medians, as positive fractions. When both are empty, Compare uses
	// DefaultRegress.
	Max, Regress Limits
	// Alpha is the significance level of the Mann-Whitney U test.
	Alpha float64
	// MinTrials is the fewest trials on each side for the test to run;
	// with fewer the relative threshold alone decides. It is also the
	// fewest valid trials a side with invalid ones must keep.
	MinTrials int
	// NoiseFactor sets the too-noisy rule: a row whose BASE spread
	// (max - min) / median exceeds NoiseFactor times its relative
	// threshold cannot be judged. Zero turns the rule off.
	NoiseFactor float64
	// Filter, when set, keeps the keys whose name it matches.
	Filter *regexp.Regexp
	// Show lists metrics to report beside those with a threshold;
	// they are informational and never fail.
	Show []Metric
}

// DefaultOptions returns the defaults: alpha 0.05, three trials for the
// test, noise factor 3, and the default relative thresholds.
func DefaultOptions() Options {
	return Options{Alpha: DefaultAlpha, MinTrials: DefaultMinTrials, NoiseFactor: DefaultNoiseFactor}
}

// Check reports a bad option, wrapping ErrOption.
func (o Options) Check() error {
	switch {
	case !(o.Alpha > 0 && o.Alpha < 1):
		return fmt.Errorf("%w: alpha %v: want a level in (0, 1)", ErrOption, o.Alpha)
	case o.MinTrials < 2:
		return fmt.Errorf("%w: min-trials %d: want at least 2", ErrOption, o.MinTrials)
	case o.NoiseFactor < 0 || math.IsNaN(o.NoiseFactor) || math.IsInf(o.NoiseFactor, 0):
		return fmt.Errorf("%w: noise factor %v: want 0 (off) or more", ErrOption, o.NoiseFactor)
	}
	return nil
}

// A Verdict is the outcome of one row or of the whole comparison.
type Verdict string

// Row verdicts. Regression fails the gate; Invalid and Noisy make it
// undecidable; the others pass.
const (
	OK         Verdict = "ok"
	Regression Verdict = "regression"
	Noise      Verdict = "noise"     // worse than the threshold, not confirmed by the test
	Noisy      Verdict = "too noisy" // BASE scatters too much to judge
	Invalid    Verdict = "invalid"   // too few valid trials
	Missing    Verdict = "missing"   // measured on one side only
	Info       Verdict = "info"      // no threshold: reported only
)

// Overall verdicts.
const (
	Pass      Verdict = "pass"
	Undecided Verdict = "invalid"
)

// Exit codes of c10k compare for Result.Code.
const (
	ExitPass       = 0
	ExitRegression = 1
	ExitInvalid    = 2
)

// A Summary is one side's figures for one row.
type Summary struct {
	N      int       `json:"n"`
	Values []float64 `json:"values"` // ascending
	Median float64   `json:"median"`
	// Lo and Hi bound the confidence interval of the median at level
	// Confidence (benchmath.AssumeNothing); infinite when the trials are
	// too few for one.
	Lo, Hi float64 `json:"-"`

	warnings []string // benchmath's, about the confidence interval
}

// Spread is (max - min) / median, or 0 when the median is not above zero
// or there are fewer than two values.
func (s Summary) Spread() float64 {
	if s.N < 2 || !(s.Median > 0) {
		return 0
	}
	return (s.Values[s.N-1] - s.Values[0]) / s.Median
}

// A Row is the comparison of one metric of one key.
type Row struct {
	Key    Key
	Metric Metric
	Base   Summary
	New    Summary
	// Change is (NEW - BASE) / BASE of the medians: NaN when either
	// side is missing, infinite when BASE is zero and NEW is not.
	Change float64
	// P is the one-sided Mann-Whitney U p-value of "NEW is worse than
	// BASE"; Tested says whether the test ran (enough trials a side).
	P      float64
	Tested bool
	// P2 is the two-sided p-value benchstat would show
	// (benchmath.AssumeNothing.Compare), with its warnings; NaN when a
	// side is empty.
	P2         float64
	P2Warnings []string
	// Max and Regress are the thresholds that applied; HasMax and
	// HasRegress say whether they are set.
	Max, Regress       float64
	HasMax, HasRegress bool
	Verdict            Verdict
	// Reason says why the verdict is not ok, in a few words.
	Reason string
	// Broken is the threshold a regression broke: "max" or "regress".
	Broken string

	minTrials int // Options.MinTrials, for "no test: n<3"
}

// Result is a finished comparison.
type Result struct {
	Base, New *Set
	Options   Options
	Rows      []Row
	// OnlyBase and OnlyNew are the keys measured on one side only
	// (skipped on the other, or absent).
	OnlyBase, OnlyNew []string
	// Notes are remarks for the reader: dropped invalid trials, an
	// interrupted run, different machines.
	Notes   []string
	Verdict Verdict // Pass, Regression or Undecided
	// Reason is the one-line reason of the verdict.
	Reason string
}

// Code is the exit code of the verdict.
func (r *Result) Code() int {
	switch r.Verdict {
	case Pass:
		return ExitPass
	case Regression:
		return ExitRegression
	}
	return ExitInvalid
}

// Failed returns the Result of a comparison that could not run, with the
// reason as its invalid verdict, so that the outputs still say why.
func Failed(opt Options, reason string) *Result {
	return &Result{Options: opt, Verdict: Undecided, Reason: "invalid: " + reason}
}

// metrics returns the metrics to report, in output order, and whether each
// is gated.
func (o Options) metrics() []Metric {
	var out []Metric
	for _, m := range Metrics {
		_, a := o.Max[m]
		_, b := o.Regress[m]
		if a || b || slices.Contains(o.Show, m) {
			out = append(out, m)
		}
	}
	return out
}

// Compare judges NEW against BASE. opt must pass Check.
func Compare(base, new *Set, opt Options) *Result {
	if len(opt.Max) == 0 && len(opt.Regress) == 0 {
		opt.Regress = DefaultRegress()
	}
	res := &Result{Base: base, New: new, Options: opt}
	if base.Kind != new.Kind {
		res.Notes = append(res.Notes, fmt.Sprintf("BASE is a %s, NEW a %s: their keys are named differently", kindName(base.Kind), kindName(new.Kind)))
	}
	if base.CPU != "" && new.CPU != "" && base.CPU != new.CPU {
		res.Notes = append(res.Notes, fmt.Sprintf("BASE ran on %q, NEW on %q: compare runs of one machine", base.CPU, new.CPU))
	}
	for _, s := range []*Set{base, new} {
		if s.Interrupted {
			res.Notes = append(res.Notes, fmt.Sprintf("%s was cut short: only its finished steps are compared", side(res, s)))
		}
	}
	keep := func(k Key) bool { return opt.Filter == nil || opt.Filter.MatchString(k.String()) }
	inNew := make(map[Key]bool)
	for _, k := range new.Keys {
		inNew[k] = len(new.Trials[k]) > 0
	}
	metrics := opt.metrics()
	compared := 0
	for _, k := range base.Keys {
		if !keep(k) {
			continue
		}
		bt, nt := base.Trials[k], new.Trials[k]
		switch {
		case len(bt) == 0 && len(nt) == 0:
			continue // skipped on both sides
		case len(bt) == 0:
			res.OnlyNew = append(res.OnlyNew, k.String()+" (skipped in BASE: "+base.Skipped[k]+")")
			continue
		case len(nt) == 0:
			why := "absent from NEW"
			if note, ok := new.Skipped[k]; ok {
				why = "skipped in NEW: " + note
			}
			res.OnlyBase = append(res.OnlyBase, k.String()+" ("+why+")")
			continue
		}
		compared++
		res.Rows = append(res.Rows, compareKey(res, k, bt, nt, metrics)...)
	}
	for _, k := range new.Keys {
		if !keep(k) || !inNew[k] {
			continue
		}
		if _, ok := base.Trials[k]; !ok {
			if _, skipped := base.Skipped[k]; !skipped {
				res.OnlyNew = append(res.OnlyNew, k.String()+" (absent from BASE)")
			}
		}
	}
	res.decide(compared)
	return res
}

func kindName(kind string) string {
	if kind == KindBench {
		return "bench run"
	}
	return "set of attack results"
}

func side(r *Result, s *Set) string {
	if s == r.Base {
		return "BASE"
	}
	return "NEW"
}

// usable returns the values of metric m from the valid trials.
func usable(trials []Trial, m Metric) []float64 {
	var out []float64
	for _, t := range trials {
		if t.Invalid != "" {
			continue
		}
		if v, ok := t.Values[m]; ok {
			out = append(out, v)
		}
	}
	return out
}

// validity checks one side of a key: "" when it can be judged, else why
// not. It notes dropped invalid trials.
func validity(res *Result, name string, k Key, trials []Trial) string {
	bad, first := 0, ""
	for _, t := range trials {
		if t.Invalid != "" {
			if bad == 0 {
				first = t.Invalid
			}
			bad++
		}
	}
	if bad == 0 {
		return ""
	}
	valid := len(trials) - bad
	if valid >= res.Options.MinTrials {
		res.Notes = append(res.Notes, fmt.Sprintf("%s: %s: dropped %d invalid of %d trials (%s); %d valid trials remain",
			k, name, bad, len(trials), first, valid))
		return ""
	}
	return fmt.Sprintf("%s: %d of %d trials valid, need %d: %s", name, valid, len(trials), res.Options.MinTrials, first)
}

func compareKey(res *Result, k Key, bt, nt []Trial, metrics []Metric) []Row {
	opt := res.Options
	invalid := validity(res, "BASE", k, bt)
	if why := validity(res, "NEW", k, nt); why != "" {
		invalid = strings.Join(nonEmpty(invalid, why), "; ")
	}
	var rows []Row
	for _, m := range metrics {
		r := Row{Key: k, Metric: m, Change: math.NaN(), P: math.NaN(), P2: math.NaN(), minTrials: opt.MinTrials}
		r.Max, r.HasMax = opt.Max[m]
		r.Regress, r.HasRegress = opt.Regress[m]
		bv, nv := usable(bt, m), usable(nt, m)
		if invalid == "" && len(bv) == 0 && len(nv) == 0 {
			continue // not measured on either side
		}
		r.Base, r.New = summarize(bv), summarize(nv)
		if len(bv) > 0 && len(nv) > 0 {
			r.Change = change(r.Base.Median, r.New.Median)
			r.P2, r.P2Warnings = twoSided(bv, nv, opt.Alpha)
		}
		switch {
		case invalid != "":
			r.Verdict, r.Reason = Invalid, invalid
		case len(bv) == 0:
			r.Verdict, r.Reason = Missing, "not measured in BASE"
		case len(nv) == 0:
			r.Verdict, r.Reason = Missing, "not measured in NEW"
		default:
			judge(&r, opt)
		}
		rows = append(rows, r)
	}
	return rows
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func summarize(values []float64) Summary {
	if len(values) == 0 {
		return Summary{Median: math.NaN(), Lo: math.NaN(), Hi: math.NaN()}
	}
	s := benchmath.NewSample(slices.Clone(values), &benchmath.Thresholds{CompareAlpha: DefaultAlpha})
	sum := benchmath.AssumeNothing.Summary(s, Confidence)
	out := Summary{N: len(s.Values), Values: s.Values, Median: sum.Center, Lo: sum.Lo, Hi: sum.Hi}
	for _, w := range sum.Warnings {
		out.warnings = append(out.warnings, w.Error())
	}
	return out
}

// change is the relative change from a to b.
func change(a, b float64) float64 {
	switch {
	case a == b:
		return 0
	case a == 0:
		return math.Inf(int(math.Copysign(1, b)))
	}
	return (b - a) / a
}

// worse is how much worse NEW is than BASE, as a fraction: the change,
// negated for metrics where lower is worse.
func (r *Row) worse() float64 {
	if r.Metric.LowerIsWorse() {
		return -r.Change
	}
	return r.Change
}

// judge sets the verdict of a row whose two sides both have values.
func judge(r *Row, opt Options) {
	if len(r.Base.Values) >= opt.MinTrials && len(r.New.Values) >= opt.MinTrials {
		r.P, r.Tested = uTest(r.Base.Values, r.New.Values, r.Metric.LowerIsWorse()), true
	}
	if !r.HasMax && !r.HasRegress {
		r.Verdict = Info
		return
	}
	if r.HasMax {
		broken := r.New.Median > r.Max
		if r.Metric.LowerIsWorse() {
			broken = r.New.Median < r.Max
		}
		if broken {
			bound := "limit"
			if r.Metric.LowerIsWorse() {
				bound = "floor"
			}
			r.Verdict, r.Broken = Regression, "max"
			r.Reason = fmt.Sprintf("%s (%s %s)", r.Metric.Format(r.New.Median), bound, r.Metric.Format(r.Max))
			return
		}
	}
	r.Verdict = OK
	if r.HasRegress && r.worse() > r.Regress {
		switch {
		case !r.Tested:
			r.Verdict, r.Broken = Regression, "regress"
			r.Reason = fmt.Sprintf("%s (no test: n<%d; threshold %s)", signedPct(r.Change), opt.MinTrials, relLimit(r.Metric, r.Regress))
			return
		case r.P <= opt.Alpha*(1+1e-9):
			r.Verdict, r.Broken = Regression, "regress"
			r.Reason = fmt.Sprintf("%s (p=%s; threshold %s)", signedPct(r.Change), pval(r.P), relLimit(r.Metric, r.Regress))
			return
		}
		r.Verdict = Noise
		r.Reason = fmt.Sprintf("%s not confirmed (p=%s > %v; threshold %s)", signedPct(r.Change), pval(r.P), opt.Alpha, relLimit(r.Metric, r.Regress))
	}
	if r.HasRegress && opt.NoiseFactor > 0 {
		if sp := r.Base.Spread(); sp > opt.NoiseFactor*r.Regress {
			r.Verdict = Noisy
			r.Reason = fmt.Sprintf("BASE trials spread %.1f%% of their median, more than %v × %s", 100*sp, opt.NoiseFactor, pct(r.Regress))
		}
	}
}

// uTest is the one-sided Mann-Whitney U p-value of "NEW is worse than
// BASE": NEW tends higher, or lower when lowerWorse. Identical samples
// give 1.
func uTest(base, new []float64, lowerWorse bool) float64 {
	alt := stats.LocationGreater
	if lowerWorse {
		alt = stats.LocationLess
	}
	res, err := stats.MannWhitneyUTest(new, base, alt)
	if err != nil {
		if errors.Is(err, stats.ErrSamplesEqual) {
			return 1
		}
		return math.NaN()
	}
	return res.P
}

// twoSided is benchstat's comparison: benchmath's two-sided Mann-Whitney
// U test, with its warnings.
func twoSided(base, new []float64, alpha float64) (float64, []string) {
	th := &benchmath.Thresholds{CompareAlpha: alpha}
	c := benchmath.AssumeNothing.Compare(benchmath.NewSample(slices.Clone(base), th), benchmath.NewSample(slices.Clone(new), th))
	var warnings []string
	for _, w := range c.Warnings {
		if !errors.Is(w, stats.ErrSamplesEqual) {
			warnings = append(warnings, w.Error())
		}
	}
	return c.P, warnings
}

// signedPct renders a change with its sign: "+31.2%", "-4.0%", "+inf%".
func signedPct(c float64) string {
	switch {
	case math.IsNaN(c):
		return "-"
	case math.IsInf(c, 1):
		return "+inf%"
	case math.IsInf(c, -1):
		return "-inf%"
	}
	return fmt.Sprintf("%+.1f%%", 100*c)
}

// pval renders a p-value with three decimals, or "<0.001".
func pval(p float64) string {
	switch {
	case math.IsNaN(p):
		return "-"
	case p < 0.001:
		return "<0.001"
	}
	return fmt.Sprintf("%.3f", p)
}

// decide sets the overall verdict and its one-line reason.
func (r *Result) decide(compared int) {
	var regs, undecided, noise []Row
	for _, row := range r.Rows {
		switch row.Verdict {
		case Regression:
			regs = append(regs, row)
		case Invalid, Noisy:
			undecided = append(undecided, row)
		case Noise:
			noise = append(noise, row)
		}
	}
	more := func(n int) string {
		if n > 1 {
			return fmt.Sprintf(" and %d more", n-1)
		}
		return ""
	}
	switch {
	case len(regs) > 0:
		r.Verdict = Regression
		r.Reason = fmt.Sprintf("regression: %s %s %s%s", regs[0].Key, regs[0].Metric, regs[0].Reason, more(len(regs)))
	case len(undecided) > 0:
		u := undecided[0]
		r.Verdict = Undecided
		if u.Verdict == Invalid {
			r.Reason = fmt.Sprintf("invalid: %s: %s%s", u.Key, u.Reason, more(len(undecided)))
		} else {
			r.Reason = fmt.Sprintf("too noisy to judge: %s %s: %s%s", u.Key, u.Metric, u.Reason, more(len(undecided)))
		}
	case compared == 0:
		r.Verdict = Undecided
		r.Reason = "invalid: no key measured in both BASE and NEW"
		if r.Options.Filter != nil {
			r.Reason += fmt.Sprintf(" matches --filter %q", r.Options.Filter.String())
		}
	case len(r.Rows) == 0:
		r.Verdict = Undecided
		r.Reason = fmt.Sprintf("invalid: none of the %d keys measures %s", compared, metricNames(r.Options.metrics()))
	default:
		r.Verdict = Pass
		r.Reason = fmt.Sprintf("no regression (%d keys)", compared)
		var extra []string
		if len(noise) > 0 {
			extra = append(extra, fmt.Sprintf("%d within noise", len(noise)))
		}
		if n := len(r.OnlyBase) + len(r.OnlyNew); n > 0 {
			extra = append(extra, fmt.Sprintf("%d on one side only", n))
		}
		if len(extra) > 0 {
			r.Reason = fmt.Sprintf("no regression (%d keys; %s)", compared, strings.Join(extra, ", "))
		}
	}
}

func metricNames(ms []Metric) string {
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = string(m)
	}
	return strings.Join(names, " or ")
}
