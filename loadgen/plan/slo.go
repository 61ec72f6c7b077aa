package plan

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/c10k/c10k/loadgen/result"
)

// An SLO is a set of objectives every measured step must meet.
type SLO []Objective

// An Objective bounds one metric: a latency percentile in milliseconds or
// the error ratio.
type Objective struct {
	Metric string  // p50, p90, p99, p999, max, mean, errors
	Limit  float64 // milliseconds for latencies; a ratio in [0, 1] for errors
}

// latencyMetrics maps an SLO metric to its field of a latency summary.
var latencyMetrics = map[string]func(result.Latency) float64{
	"p50":  func(l result.Latency) float64 { return l.P50 },
	"p90":  func(l result.Latency) float64 { return l.P90 },
	"p99":  func(l result.Latency) float64 { return l.P99 },
	"p999": func(l result.Latency) float64 { return l.P999 },
	"max":  func(l result.Latency) float64 { return l.Max },
	"mean": func(l result.Latency) float64 { return l.Mean },
}

// ParseSLO parses objectives like "p99<=50ms,errors<=0.1%": a metric
// (p50, p90, p99, p999, max, mean, errors), "<=" (or "<"), and a limit —
// a Go duration for latencies, a percentage or a ratio for errors.
func ParseSLO(s string) (SLO, error) {
	var slo SLO
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		metric, limit, ok := strings.Cut(part, "<=")
		if !ok {
			metric, limit, ok = strings.Cut(part, "<")
		}
		metric, limit = strings.ToLower(strings.TrimSpace(metric)), strings.TrimSpace(limit)
		if !ok || metric == "" || limit == "" {
			return nil, fmt.Errorf("%w: %q: want METRIC<=LIMIT, e.g. p99<=50ms or errors<=0.1%%", ErrBadSLO, part)
		}
		if seen[metric] {
			return nil, fmt.Errorf("%w: %q: %s given twice", ErrBadSLO, part, metric)
		}
		seen[metric] = true
		o := Objective{Metric: metric}
		switch {
		case metric == "errors":
			v, err := ratio(limit)
			if err != nil {
				return nil, fmt.Errorf("%w: %q: %v", ErrBadSLO, part, err)
			}
			o.Limit = v
		case latencyMetrics[metric] != nil:
			d, err := time.ParseDuration(limit)
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("%w: %q: want a positive duration such as 50ms", ErrBadSLO, part)
			}
			o.Limit = float64(d) / float64(time.Millisecond)
		default:
			return nil, fmt.Errorf("%w: %q: unknown metric %q (want p50, p90, p99, p999, max, mean or errors)", ErrBadSLO, part, metric)
		}
		slo = append(slo, o)
	}
	if len(slo) == 0 {
		return nil, fmt.Errorf("%w: %q: no objective", ErrBadSLO, s)
	}
	return slo, nil
}

// ratio parses "0.1%" or "0.001" as a ratio in [0, 1].
func ratio(s string) (float64, error) {
	scale := 1.0
	if t, ok := strings.CutSuffix(s, "%"); ok {
		s, scale = strings.TrimSpace(t), 0.01
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || v*scale > 1 {
		return 0, fmt.Errorf("want a ratio such as 0.1%% or 0.001")
	}
	return v * scale, nil
}

// String formats the SLO as ParseSLO reads it.
func (slo SLO) String() string {
	parts := make([]string, len(slo))
	for i, o := range slo {
		if o.Metric == "errors" {
			parts[i] = fmt.Sprintf("errors<=%s%%", strconv.FormatFloat(o.Limit*100, 'f', -1, 64))
		} else {
			parts[i] = fmt.Sprintf("%s<=%s", o.Metric, time.Duration(o.Limit*float64(time.Millisecond)))
		}
	}
	return strings.Join(parts, ",")
}

// Check reports whether s meets every objective, and names the first
// broken one ("p99 71.2ms > 50ms").
func (slo SLO) Check(s *result.Summary) (ok bool, broken string) {
	for _, o := range slo {
		if o.Metric == "errors" {
			if e := errorRatio(s); e > o.Limit {
				return false, fmt.Sprintf("errors %.3g%% > %.3g%%", 100*e, 100*o.Limit)
			}
			continue
		}
		if v := latencyMetrics[o.Metric](s.Latency); v > o.Limit {
			return false, fmt.Sprintf("%s %.3gms > %.3gms", o.Metric, v, o.Limit)
		}
	}
	return true, ""
}

// errorRatio is the failed share of a summary's requests; a step that
// completed nothing counts as all errors.
func errorRatio(s *result.Summary) float64 {
	if s.Requests == 0 {
		return 1
	}
	return 1 - s.SuccessRatio
}
