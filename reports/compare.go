package reports

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/olekukonko/tablewriter/tw"
)

// Kinds of a Step's Core.
const (
	KindCore      = "core"      // a c10k core
	KindReference = "reference" // a real server run from the same scenario
	KindURL       = "url"       // an external target
)

// A Pairing sets one step of a c10k core beside the same step of the real
// server it models (our thread core beside Apache worker, event beside
// nginx, cgi beside mod_cgi).
type Pairing struct {
	Model, Real Step
}

// ThroughputRatio is the model's throughput over the real server's; 0
// when the real server served nothing.
func (p Pairing) ThroughputRatio() float64 {
	if p.Real.Throughput == 0 {
		return 0
	}
	return p.Model.Throughput / p.Real.Throughput
}

// Disagreement says how the model and the real server part ways on this
// step, or "" when they agree: one fails requests the other serves, one
// is invalid, or throughput differs by more than a factor of two.
func (p Pairing) Disagreement() string {
	m, r := p.Model, p.Real
	switch {
	case !m.Valid || !r.Valid:
		bad := m
		if m.Valid {
			bad = r
		}
		return fmt.Sprintf("not comparable: %s's run is invalid (%s)", bad.Core, orDash(bad.Invalid))
	case errorShare(m) > 0.01 && errorShare(r) <= 0.01:
		return fmt.Sprintf("%s fails %.1f%% of requests, %s %.1f%%", m.Core, 100*errorShare(m), r.Core, 100*errorShare(r))
	case errorShare(r) > 0.01 && errorShare(m) <= 0.01:
		return fmt.Sprintf("%s fails %.1f%% of requests, %s %.1f%%", r.Core, 100*errorShare(r), m.Core, 100*errorShare(m))
	}
	if x := p.ThroughputRatio(); x > 2 || (x > 0 && x < 0.5) {
		return fmt.Sprintf("throughput %.3gx the real server's", x)
	}
	if m.ProbeP99 > 0 && r.ProbeP99 > 0 {
		if x := m.ProbeP99 / r.ProbeP99; x > 4 || x < 0.25 {
			return fmt.Sprintf("probe p99 %.3gx the real server's (%.3g vs %.3g ms)", x, m.ProbeP99, r.ProbeP99)
		}
	}
	return ""
}

// errorShare is the step's failed share of its completed requests.
func errorShare(s Step) float64 {
	total := max(float64(s.Requests), float64(s.Errors))
	if total == 0 {
		return 0
	}
	return float64(s.Errors) / total
}

// Pairings returns every reference step beside the c10k core step it
// models: the reference's Pair, and the cgi core as well for steps whose
// label names CGI (mod_cgi beside the cgi core). Trials are folded by
// Medians first; skipped steps pair with nothing.
func Pairings(steps []Step) []Pairing {
	steps = Medians(steps)
	type key struct{ scenario, core, label string }
	ours := make(map[key]Step)
	for _, s := range steps {
		if s.Kind == KindCore && !s.Skipped {
			ours[key{s.Scenario, s.Core, baseName(s)}] = s
		}
	}
	var out []Pairing
	for _, r := range steps {
		if r.Kind != KindReference || r.Skipped {
			continue
		}
		models := []string{r.Pair}
		if strings.Contains(strings.ToLower(r.Label), "cgi") && r.Pair != "cgi" {
			models = append(models, "cgi")
		}
		for _, core := range models {
			if m, ok := ours[key{r.Scenario, core, baseName(r)}]; ok {
				out = append(out, Pairing{Model: m, Real: r})
			}
		}
	}
	return out
}

var (
	pairHeader = []string{"scenario", "step", "c10k", "real", "req/s c10k", "req/s real", "ratio", "p99 ms c10k", "p99 ms real", "RSS MiB c10k", "RSS MiB real", "verdict"}
	pairAlign  = []tw.Align{tw.AlignLeft, tw.AlignLeft, tw.AlignLeft, tw.AlignLeft, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignLeft}
)

// WriteComparison writes the model-vs-reality table: each c10k core beside
// the real server it models, step by step, with a verdict saying where
// they disagree. It writes nothing when the steps hold no reference runs.
func WriteComparison(w io.Writer, steps []Step, format Format) error {
	if format != Text && format != Markdown {
		return fmt.Errorf("%w: %d", ErrUnknownFormat, format)
	}
	rows := comparisonRows(steps)
	if len(rows) == 0 {
		return nil
	}
	if err := writeTable(w, format, comparisonTitle, pairHeader, pairAlign, rows); err != nil {
		return fmt.Errorf("reports: comparison: %w", err)
	}
	return nil
}

const comparisonTitle = "model vs reality"

func comparisonRows(steps []Step) (rows [][]string) {
	for _, p := range Pairings(steps) {
		verdict := "agree"
		if d := p.Disagreement(); d != "" {
			verdict = "disagree: " + d
		}
		ratio := "-"
		if x := p.ThroughputRatio(); x > 0 {
			ratio = strconv.FormatFloat(x, 'f', 2, 64) + "x"
		}
		rows = append(rows, []string{
			p.Model.Scenario, stepName(p.Model), p.Model.Core, p.Real.Core,
			strconv.FormatFloat(p.Model.Throughput, 'f', 0, 64), strconv.FormatFloat(p.Real.Throughput, 'f', 0, 64), ratio,
			ms(p.Model.Latency.P99), ms(p.Real.Latency.P99),
			optional(mib(float64(p.Model.RSSBytes)), 1), optional(mib(float64(p.Real.RSSBytes)), 1),
			verdict,
		})
	}
	return rows
}
