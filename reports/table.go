package reports

import (
	"fmt"
	"io"
	"strconv"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// A Format selects how WriteTable renders.
type Format int

const (
	// Text is a boxed table for a terminal.
	Text Format = iota
	// Markdown is a GitHub-flavoured Markdown table.
	Markdown
)

// tableHeader names the columns of every step table.
var tableHeader = []string{"core", "step", "conc/idle", "req/s", "p50 ms", "p99 ms", "probe p99 ms", "RSS MiB", "CPU µs/req", "thr/proc/fds", "errors", "valid"}

// tableAlign right-aligns the numeric columns of tableHeader.
var tableAlign = []tw.Align{tw.AlignLeft, tw.AlignLeft, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignLeft}

// WriteTable writes one table per scenario, in order of first appearance,
// each headed by the scenario name. Repeated trials of a step show as one
// row: the trial with the median throughput, its step named "(n trials)".
func WriteTable(w io.Writer, steps []Step, format Format) error {
	if format != Text && format != Markdown {
		return fmt.Errorf("%w: %d", ErrUnknownFormat, format)
	}
	if err := Validate(steps); err != nil {
		return err
	}
	names, groups := scenarios(Medians(steps))
	for i, name := range names {
		if i > 0 {
			fmt.Fprintln(w)
		}
		var rows [][]string
		for _, s := range groups[name] {
			rows = append(rows, row(s))
		}
		if err := writeTable(w, format, "scenario "+name, tableHeader, tableAlign, rows); err != nil {
			return fmt.Errorf("reports: table %s: %w", name, err)
		}
	}
	return nil
}

// writeTable renders one titled table: a "### title" Markdown heading
// or a plain title line for a terminal.
func writeTable(w io.Writer, format Format, title string, header []string, align []tw.Align, rows [][]string) error {
	return WriteAligned(w, format, title, header, align, rows)
}

// WriteAligned writes any titled table in the package's style, each
// column aligned as align says: a "### title" Markdown heading or a
// plain title line for a terminal, then the table.
func WriteAligned(w io.Writer, format Format, title string, header []string, align []tw.Align, rows [][]string) error {
	if format != Text && format != Markdown {
		return fmt.Errorf("%w: %d", ErrUnknownFormat, format)
	}
	opts := []tablewriter.Option{
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAlignmentConfig(tw.CellAlignment{PerColumn: align}),
	}
	if format == Markdown {
		fmt.Fprintf(w, "### %s\n\n", title)
		opts = append(opts, tablewriter.WithRenderer(renderer.NewMarkdown()))
	} else {
		fmt.Fprintln(w, title)
	}
	t := tablewriter.NewTable(w, opts...)
	t.Header(anys(header)...)
	for _, r := range rows {
		if err := t.Append(anys(r)...); err != nil {
			return err
		}
	}
	return t.Render()
}

// row formats one step as table cells matching tableHeader. A zero latency,
// RSS or probe value means "not measured" and shows as "-".
func row(s Step) []string {
	valid := "yes"
	switch {
	case s.Skipped:
		valid = "skipped"
		if s.Note != "" {
			valid += ": " + s.Note
		}
		return []string{s.Core, stepName(s), "-", "-", "-", "-", "-", "-", "-", "-", "-", valid}
	case !s.Valid:
		valid = "no"
		if s.Invalid != "" {
			valid = "no: " + s.Invalid
		}
	}
	procs := "-"
	if s.Threads > 0 || s.Processes > 0 || s.FDs > 0 {
		procs = fmt.Sprintf("%d/%d/%d", s.Threads, s.Processes, s.FDs)
	}
	return []string{
		s.Core,
		stepName(s),
		load(s),
		strconv.FormatFloat(s.Throughput, 'f', 0, 64),
		ms(s.Latency.P50),
		ms(s.Latency.P99),
		ms(s.ProbeP99),
		optional(mib(float64(s.RSSBytes)), 1),
		optional(s.CPUPerReqUS, 1),
		procs,
		strconv.Itoa(s.Errors),
		valid,
	}
}

// load formats the connections of a step, active/idle, with the starved
// ones: "1000/0 (987 starved)".
func load(s Step) string {
	out := strconv.Itoa(s.Concurrency) + "/" + strconv.Itoa(s.IdleConns)
	if s.Starved > 0 {
		out += " (" + strconv.Itoa(s.Starved) + " starved)"
	}
	return out
}

// stepName is the step's label, or its load when it has none, with the
// number of trials when the row stands for several.
func stepName(s Step) string {
	name := baseName(s)
	if s.trials > 1 {
		name += fmt.Sprintf(" (%d trials)", s.trials)
	}
	return name
}

// StepName names a step within its scenario and core: its label, or its
// load when it has none ("c=100", "rate=500", "c=0 idle=5000"). Trials of
// one step share the name.
func StepName(s Step) string { return baseName(s) }

// baseName is the step's label, or its load when it has none.
func baseName(s Step) string {
	name := s.Label
	if name == "" {
		name = "c=" + strconv.Itoa(s.Concurrency)
		if s.RateTarget > 0 {
			name = "rate=" + strconv.FormatFloat(s.RateTarget, 'f', -1, 64)
		}
		if s.IdleConns > 0 {
			name += " idle=" + strconv.Itoa(s.IdleConns)
		}
	}
	return name
}

// ms formats a latency in milliseconds with three decimals, or "-" for zero.
func ms(v float64) string { return optional(v, 3) }

func optional(v float64, prec int) string {
	if v == 0 {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

// mib converts bytes to mebibytes.
func mib(b float64) float64 { return b / (1 << 20) }

func anys(s []string) []any {
	a := make([]any, len(s))
	for i, v := range s {
		a[i] = v
	}
	return a
}

// WriteGrid writes any titled table in the package's style: text cells,
// the first column left-aligned and the others right-aligned.
func WriteGrid(w io.Writer, format Format, title string, header []string, rows [][]string) error {
	align := make([]tw.Align, len(header))
	for i := range align {
		align[i] = tw.AlignRight
	}
	if len(align) > 0 {
		align[0] = tw.AlignLeft
	}
	return WriteAligned(w, format, title, header, align, rows)
}
