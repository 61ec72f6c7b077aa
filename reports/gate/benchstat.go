package gate

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
)

// WriteBenchstat writes r in the style of benchstat: one table per metric,
// one line per key with the BASE and NEW medians ± their confidence
// interval, the delta ("~" when the two-sided test does not reject at
// alpha) and "(p=… n=…)", then benchmath's warnings. Its p-values are
// benchstat's two-sided ones; the gate decides on the one-sided test (see
// the JSON or text output).
func (r *Result) WriteBenchstat(w io.Writer) error {
	ew := &errWriter{w: w}
	if r.Base != nil {
		fmt.Fprintf(ew, "base: %s\nnew:  %s\n", describe(r.Base), describe(r.New))
	}
	var warnings []string
	for _, m := range Metrics {
		var rows []Row
		for _, row := range r.Rows {
			if row.Metric == m {
				rows = append(rows, row)
			}
		}
		if len(rows) == 0 {
			continue
		}
		fmt.Fprintln(ew)
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
		unit := fmt.Sprintf("%s (%s)", m, m.DisplayUnit())
		fmt.Fprintf(tw, "name\tbase %s\tnew %s\tdelta\n", unit, unit)
		for _, row := range rows {
			fmt.Fprintf(tw, "%s\t%s ± %s\t%s ± %s\t%s\n", row.Key, sig(m.display(row.Base.Median)), ciPct(row.Base),
				sig(m.display(row.New.Median)), ciPct(row.New), benchDelta(row, r.Options.Alpha))
			for _, w := range ciWarnings(row) {
				if !slices.Contains(warnings, w) {
					warnings = append(warnings, w)
				}
			}
			for _, w := range row.P2Warnings {
				if !slices.Contains(warnings, w) {
					warnings = append(warnings, w)
				}
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(warnings) > 0 {
		fmt.Fprintln(ew)
		for _, w := range warnings {
			fmt.Fprintf(ew, "note: %s\n", w)
		}
	}
	fmt.Fprintf(ew, "\nverdict: %s\n", r.Reason)
	return ew.err
}

// ciPct is the confidence interval of s as benchstat shows it: the larger
// distance from the median to a bound, as a percentage of the median.
func ciPct(s Summary) string {
	switch {
	case s.N == 0:
		return "-"
	case math.IsInf(s.Lo, 0) || math.IsInf(s.Hi, 0):
		return "∞"
	case math.Signbit(s.Lo) != math.Signbit(s.Median) || math.Signbit(s.Hi) != math.Signbit(s.Median):
		return "?"
	case s.Median == 0:
		return "0%"
	}
	return fmt.Sprintf("%.0f%%", 100*math.Max(s.Hi/s.Median-1, 1-s.Lo/s.Median))
}

func ciWarnings(row Row) []string {
	return append(slices.Clone(row.Base.warnings), row.New.warnings...)
}

// benchDelta is benchstat's delta column: "~" when the test does not
// reject, else the change of the medians, then "(p=0.008 n=5)" or
// "(p=0.008 n=5+4)".
func benchDelta(row Row, alpha float64) string {
	n := fmt.Sprintf("n=%d", row.Base.N)
	if row.Base.N != row.New.N {
		n = fmt.Sprintf("n=%d+%d", row.Base.N, row.New.N)
	}
	if math.IsNaN(row.P2) {
		return "?  (" + n + ")"
	}
	d := "~"
	switch {
	case row.P2 > alpha:
	case row.Base.Median == row.New.Median:
		d = "0.00%"
	case row.Base.Median == 0:
		d = "?"
	default:
		d = fmt.Sprintf("%+.2f%%", 100*row.Change)
	}
	return strings.TrimSpace(fmt.Sprintf("%s  (p=%.3f %s)", d, row.P2, n))
}
