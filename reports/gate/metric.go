package gate

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A Metric is one figure the gate compares.
type Metric string

// The metrics, in the order outputs list them.
const (
	P50        Metric = "p50"         // latency median, ms
	P90        Metric = "p90"         // ms
	P99        Metric = "p99"         // ms
	P999       Metric = "p999"        // ms
	Throughput Metric = "throughput"  // successful requests per second
	Errors     Metric = "errors"      // failed share of requests, 0..1
	ProbeP99   Metric = "probe_p99"   // p99 of the probe beside the load, ms
	RSS        Metric = "rss"         // server resident set, bytes
	CPUPerReq  Metric = "cpu_per_req" // server CPU per request, µs
)

// Metrics lists every metric in output order.
var Metrics = []Metric{P50, P90, P99, P999, Throughput, Errors, ProbeP99, RSS, CPUPerReq}

// ParseMetric returns the metric named s.
func ParseMetric(s string) (Metric, error) {
	m := Metric(strings.TrimSpace(s))
	if !slices.Contains(Metrics, m) {
		return "", fmt.Errorf("%w: unknown metric %q (want one of %s)", ErrThreshold, s, metricList())
	}
	return m, nil
}

func metricList() string {
	names := make([]string, len(Metrics))
	for i, m := range Metrics {
		names[i] = string(m)
	}
	return strings.Join(names, ", ")
}

// LowerIsWorse reports whether a fall of m is the bad direction: true for
// throughput only.
func (m Metric) LowerIsWorse() bool { return m == Throughput }

// Unit is the unit of m's values as outputs label them.
func (m Metric) Unit() string {
	switch m {
	case Throughput:
		return "req/s"
	case Errors:
		return "ratio"
	case RSS:
		return "bytes"
	case CPUPerReq:
		return "µs"
	}
	return "ms"
}

func (m Metric) latency() bool {
	return m == P50 || m == P90 || m == P99 || m == P999 || m == ProbeP99
}

// zeroIsMissing reports whether a value of zero means "not measured".
func (m Metric) zeroIsMissing() bool { return m != Throughput && m != Errors }

// DisplayUnit is the unit values of m are shown in: "ms", "req/s", "%",
// "MiB", "µs".
func (m Metric) DisplayUnit() string {
	switch m {
	case Throughput:
		return "req/s"
	case Errors:
		return "%"
	case RSS:
		return "MiB"
	case CPUPerReq:
		return "µs"
	}
	return "ms"
}

// display converts a value of m to its DisplayUnit.
func (m Metric) display(v float64) float64 {
	switch m {
	case Errors:
		return 100 * v
	case RSS:
		return v / (1 << 20)
	}
	return v
}

// Format renders a value of m for a reader: "1.234 ms", "12345 req/s",
// "0.12%", "12.3 MiB", "45.6 µs"; "-" for NaN.
func (m Metric) Format(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	if m == Errors {
		return sig(m.display(v)) + "%"
	}
	return sig(m.display(v)) + " " + m.DisplayUnit()
}

// sig formats v with about four significant digits and no exponent.
func sig(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	a := math.Abs(v)
	prec := 0
	switch {
	case a == 0:
	case a < 1:
		prec = 4
	case a < 10:
		prec = 3
	case a < 100:
		prec = 2
	case a < 1000:
		prec = 1
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

// parseValue reads an absolute value of m: a duration ("50ms", "1.5s",
// "200us"; a bare number is ms, or µs for cpu_per_req), a rate ("5000",
// "5000/s", "5k"), a ratio ("1%", "0.01") or a size ("512MiB", "1GB",
// bytes when bare).
func (m Metric) parseValue(s string) (float64, error) {
	s = strings.TrimSpace(s)
	var v float64
	var err error
	switch {
	case m.latency(), m == CPUPerReq:
		unit := time.Millisecond
		if m == CPUPerReq {
			unit = time.Microsecond
		}
		if f, ferr := strconv.ParseFloat(s, 64); ferr == nil {
			v = f
		} else {
			d, derr := time.ParseDuration(s)
			if derr != nil {
				return 0, fmt.Errorf("%q is not a duration (want e.g. 50ms)", s)
			}
			v = float64(d) / float64(unit)
		}
	case m == Throughput:
		t := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(s, "/s"), "rps"), "req")
		mult := 1.0
		if strings.HasSuffix(t, "k") {
			t, mult = strings.TrimSuffix(t, "k"), 1e3
		}
		v, err = strconv.ParseFloat(strings.TrimSpace(t), 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a rate (want e.g. 5000 or 5k)", s)
		}
		v *= mult
	case m == Errors:
		if t, ok := strings.CutSuffix(s, "%"); ok {
			v, err = strconv.ParseFloat(t, 64)
			v /= 100
		} else {
			v, err = strconv.ParseFloat(s, 64)
		}
		if err != nil || v > 1 {
			return 0, fmt.Errorf("%q is not a ratio (want e.g. 1%% or 0.01)", s)
		}
	case m == RSS:
		v, err = parseSize(s)
		if err != nil {
			return 0, err
		}
	}
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0, fmt.Errorf("%q is out of range", s)
	}
	return v, nil
}

var sizeUnits = []struct {
	suffix string
	mult   float64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1},
}

func parseSize(s string) (float64, error) {
	mult := 1.0
	t := s
	for _, u := range sizeUnits {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			t, mult = rest, u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size (want e.g. 512MiB)", s)
	}
	return v * mult, nil
}

// Limits maps metrics to thresholds: absolute values in the metric's unit
// for --max, or relative changes as positive fractions for --regress.
type Limits map[Metric]float64

// ParseMax reads an --max specification: "p99=50ms,errors=1%,throughput=5k".
// For throughput the value is a floor (NEW's median must not fall below
// it); for every other metric a ceiling.
func ParseMax(spec string) (Limits, error) {
	return parseLimits(spec, func(m Metric, v string) (float64, error) { return m.parseValue(v) })
}

// ParseRegress reads an --regress specification: "p99=+10%,throughput=-5%".
// A sign, when given, must point the metric's bad way (+ for latency, -
// for throughput); the stored value is the positive fraction.
func ParseRegress(spec string) (Limits, error) {
	return parseLimits(spec, func(m Metric, v string) (float64, error) {
		t, ok := strings.CutSuffix(strings.TrimSpace(v), "%")
		if !ok {
			return 0, fmt.Errorf("%q is not a percentage (want e.g. +10%%)", v)
		}
		sign := 0
		switch {
		case strings.HasPrefix(t, "+"):
			sign, t = 1, t[1:]
		case strings.HasPrefix(t, "-"):
			sign, t = -1, t[1:]
		}
		f, err := strconv.ParseFloat(t, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f <= 0 {
			return 0, fmt.Errorf("%q is not a positive percentage (want e.g. +10%%)", v)
		}
		want := 1
		if m.LowerIsWorse() {
			want = -1
		}
		if sign != 0 && sign != want {
			way := "rises (+N%)"
			if want < 0 {
				way = "falls (-N%)"
			}
			return 0, fmt.Errorf("%q: %s gets worse when it %s", v, m, way)
		}
		return f / 100, nil
	})
}

func parseLimits(spec string, value func(Metric, string) (float64, error)) (Limits, error) {
	out := Limits{}
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, v, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("%w: %q: want metric=value", ErrThreshold, part)
		}
		m, err := ParseMetric(name)
		if err != nil {
			return nil, err
		}
		if _, dup := out[m]; dup {
			return nil, fmt.Errorf("%w: %s given twice", ErrThreshold, m)
		}
		f, err := value(m, v)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrThreshold, m, err)
		}
		out[m] = f
	}
	return out, nil
}

// formatMax renders absolute limits in metric order and display units.
func (l Limits) formatMax() string {
	var parts []string
	for _, m := range Metrics {
		if v, ok := l[m]; ok {
			parts = append(parts, string(m)+maxOp(m)+m.Format(v))
		}
	}
	return strings.Join(parts, ", ")
}

// formatRegress renders relative thresholds in metric order.
func (l Limits) formatRegress() string {
	var parts []string
	for _, m := range Metrics {
		if v, ok := l[m]; ok {
			parts = append(parts, string(m)+" "+relLimit(m, v))
		}
	}
	return strings.Join(parts, ", ")
}

// maxOp is how an absolute limit of m reads: a ceiling or a floor.
func maxOp(m Metric) string {
	if m.LowerIsWorse() {
		return " ≥ "
	}
	return " ≤ "
}

// relLimit renders a relative threshold of m with the sign of its bad
// direction: "+10%", "-5%".
func relLimit(m Metric, v float64) string {
	sign := "+"
	if m.LowerIsWorse() {
		sign = "-"
	}
	return sign + pct(v)
}

// pct renders a fraction as a percentage without a sign: "10%", "2.5%".
func pct(v float64) string {
	return strconv.FormatFloat(math.Round(v*1e6)/1e4, 'f', -1, 64) + "%"
}
