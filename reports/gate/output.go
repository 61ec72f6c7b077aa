package gate

import (
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/c10k/c10k/reports"
	"github.com/olekukonko/tablewriter/tw"
)

// A Format selects how Write renders a Result.
type Format string

// Formats.
const (
	Text      Format = "text"      // terminal tables
	Markdown  Format = "markdown"  // a pull-request comment
	JSON      Format = "json"      // machine-readable
	Benchstat Format = "benchstat" // benchstat-style text
	JUnit     Format = "junit"     // JUnit XML for CI test reports
)

// ParseFormat returns the format named s.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case Text, Markdown, JSON, Benchstat, JUnit:
		return f, nil
	}
	return "", fmt.Errorf("%w: format %q: want text, markdown, json, benchstat or junit", ErrOption, s)
}

// Write renders r in format f.
func (r *Result) Write(w io.Writer, f Format) error {
	switch f {
	case Text:
		return r.writeTables(w, false)
	case Markdown:
		return r.writeTables(w, true)
	case JSON:
		return r.WriteJSON(w)
	case Benchstat:
		return r.WriteBenchstat(w)
	case JUnit:
		return r.WriteJUnit(w)
	}
	return fmt.Errorf("%w: format %q", ErrOption, f)
}

var (
	tableHeader = []string{"core", "step", "metric", "base", "new", "change", "threshold", "p", "n", "verdict"}
	tableAlign  = []tw.Align{tw.AlignLeft, tw.AlignLeft, tw.AlignLeft, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignLeft}
)

// scenarioRows groups rows by scenario, in order of first appearance.
func (r *Result) scenarioRows() (names []string, groups map[string][]Row) {
	groups = make(map[string][]Row)
	for _, row := range r.Rows {
		if _, ok := groups[row.Key.Scenario]; !ok {
			names = append(names, row.Key.Scenario)
		}
		groups[row.Key.Scenario] = append(groups[row.Key.Scenario], row)
	}
	return names, groups
}

// describe names one side: its path, kind and commit.
func describe(s *Set) string {
	if s == nil {
		return "-"
	}
	d := s.Path
	if s.Commit != "" {
		d += " (commit " + s.Commit + ")"
	}
	return d
}

// describeMD names one side in Markdown: the path as code.
func describeMD(s *Set) string {
	d := "`" + s.Path + "`"
	if s.Commit != "" {
		d += " (commit " + s.Commit + ")"
	}
	return d
}

// thresholds says what the gate judged by, in one line.
func (r *Result) thresholds() string {
	o := r.Options
	var parts []string
	if len(o.Max) > 0 {
		parts = append(parts, "max "+o.Max.formatMax())
	}
	if len(o.Regress) > 0 {
		parts = append(parts, "regress "+o.Regress.formatRegress())
	}
	parts = append(parts, fmt.Sprintf("one-sided Mann-Whitney U at alpha %v with ≥%d trials a side", o.Alpha, o.MinTrials))
	if o.NoiseFactor > 0 {
		parts = append(parts, fmt.Sprintf("too noisy when BASE spreads over %v× the threshold", o.NoiseFactor))
	}
	if o.Filter != nil {
		parts = append(parts, fmt.Sprintf("filter %q", o.Filter.String()))
	}
	return strings.Join(parts, "; ")
}

// writeTables writes the terminal or Markdown form: a header, one table
// per scenario, the one-sided keys and notes, and the verdict.
func (r *Result) writeTables(w io.Writer, md bool) error {
	ew := &errWriter{w: w}
	if r.Base == nil { // the comparison could not run: say why
		if md {
			fmt.Fprintf(ew, "## c10k compare: %s %s\n\n**%s**\n", mark(r.Verdict), r.Verdict, escapeMD(r.Reason))
		} else {
			fmt.Fprintf(ew, "verdict: %s\n", r.Reason)
		}
		return ew.err
	}
	if md {
		fmt.Fprintf(ew, "## c10k compare: %s %s\n\n", mark(r.Verdict), r.Verdict)
		fmt.Fprintf(ew, "**%s**\n\n", escapeMD(r.Reason))
		fmt.Fprintf(ew, "BASE %s · NEW %s  \n", describeMD(r.Base), describeMD(r.New))
		fmt.Fprintf(ew, "%s\n\n", escapeMD(r.thresholds()))
	} else {
		fmt.Fprintf(ew, "BASE %s\nNEW  %s\n", describe(r.Base), describe(r.New))
		fmt.Fprintf(ew, "%s\n\n", r.thresholds())
	}
	if ew.err != nil {
		return ew.err
	}
	names, groups := r.scenarioRows()
	for _, name := range names {
		var cells [][]string
		for _, row := range groups[name] {
			cells = append(cells, row.cells())
		}
		if err := writeTable(w, md, "scenario "+name, tableHeader, tableAlign, cells); err != nil {
			return fmt.Errorf("gate: table %s: %w", name, err)
		}
		fmt.Fprintln(ew)
	}
	list := func(title string, items []string) {
		if len(items) == 0 {
			return
		}
		if md {
			fmt.Fprintf(ew, "%s:\n\n", title)
			for _, it := range items {
				fmt.Fprintf(ew, "- %s\n", escapeMD(it))
			}
		} else {
			fmt.Fprintf(ew, "%s:\n", title)
			for _, it := range items {
				fmt.Fprintf(ew, "  - %s\n", it)
			}
		}
		fmt.Fprintln(ew)
	}
	list("only in BASE (not judged)", r.OnlyBase)
	list("only in NEW (not judged)", r.OnlyNew)
	list("notes", r.Notes)
	var why []string
	for _, row := range r.Rows {
		if row.Verdict != OK && row.Verdict != Info && row.Reason != "" {
			why = append(why, fmt.Sprintf("%s %s: %s: %s", row.Key, row.Metric, row.Verdict, row.Reason))
		}
	}
	list("findings", why)
	if !md {
		fmt.Fprintf(ew, "verdict: %s\n", r.Reason)
	}
	return ew.err
}

// mark is the GitHub emoji shortcode of an overall verdict.
func mark(v Verdict) string {
	switch v {
	case Pass:
		return ":white_check_mark:"
	case Regression:
		return ":x:"
	}
	return ":warning:"
}

// escapeMD escapes the characters Markdown would take for emphasis or
// tables in running text.
func escapeMD(s string) string {
	return strings.NewReplacer("|", `\|`, "*", `\*`, "_", `\_`, "<", "&lt;").Replace(s)
}

// cells formats a row for the tables.
func (row Row) cells() []string {
	var th []string
	if row.HasRegress {
		th = append(th, relLimit(row.Metric, row.Regress))
	}
	if row.HasMax {
		th = append(th, strings.TrimSpace(maxOp(row.Metric))+" "+row.Metric.Format(row.Max))
	}
	threshold := strings.Join(th, ", ")
	if threshold == "" {
		threshold = "-"
	}
	p := pval(row.P)
	if !row.Tested && row.Base.N > 0 && row.New.N > 0 {
		p = fmt.Sprintf("no test: n<%d", row.minTrials)
	}
	verdict := string(row.Verdict)
	switch row.Verdict {
	case Noisy:
		verdict = fmt.Sprintf("too noisy (BASE spread %.0f%%)", 100*row.Base.Spread())
	case Noise:
		verdict = "noise (not confirmed)"
	case Invalid, Missing:
		verdict += ": " + row.Reason
	case Regression:
		verdict = "REGRESSION"
		if row.Broken == "max" {
			verdict = "REGRESSION (limit)"
		}
	}
	return []string{
		row.Key.Core, row.Key.Step, string(row.Metric),
		row.Metric.Format(row.Base.Median), row.Metric.Format(row.New.Median),
		signedPct(row.Change), threshold, p, fmt.Sprintf("%d+%d", row.Base.N, row.New.N), verdict,
	}
}

// writeTable renders one titled table in the reports package's style.
func writeTable(w io.Writer, md bool, title string, header []string, align []tw.Align, rows [][]string) error {
	format := reports.Text
	if md {
		format = reports.Markdown
	}
	return reports.WriteAligned(w, format, title, header, align, rows)
}

// errWriter keeps the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

// finite returns v, or nil when it is NaN or infinite (JSON has neither).
func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}
