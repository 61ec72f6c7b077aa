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
var tableHeader = []string{"core", "conc/idle", "req/s", "p50 ms", "p99 ms", "RSS MiB", "probe p99 ms", "errors", "valid"}

// tableAlign right-aligns the numeric columns of tableHeader.
var tableAlign = []tw.Align{tw.AlignLeft, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignLeft}

// WriteTable writes one table per scenario, in order of first appearance,
// each headed by the scenario name.
func WriteTable(w io.Writer, steps []Step, format Format) error {
	if format != Text && format != Markdown {
		return fmt.Errorf("%w: %d", ErrUnknownFormat, format)
	}
	if err := Validate(steps); err != nil {
		return err
	}
	names, groups := scenarios(steps)
	for i, name := range names {
		if i > 0 {
			fmt.Fprintln(w)
		}
		opts := []tablewriter.Option{
			tablewriter.WithHeaderAutoFormat(tw.Off),
			tablewriter.WithRowAlignmentConfig(tw.CellAlignment{PerColumn: tableAlign}),
		}
		if format == Markdown {
			fmt.Fprintf(w, "### %s\n\n", name)
			opts = append(opts, tablewriter.WithRenderer(renderer.NewMarkdown()))
		} else {
			fmt.Fprintf(w, "scenario %s\n", name)
		}
		t := tablewriter.NewTable(w, opts...)
		t.Header(anys(tableHeader)...)
		for _, s := range groups[name] {
			if err := t.Append(anys(row(s))...); err != nil {
				return fmt.Errorf("reports: table %s: %w", name, err)
			}
		}
		if err := t.Render(); err != nil {
			return fmt.Errorf("reports: table %s: %w", name, err)
		}
	}
	return nil
}

// row formats one step as table cells matching tableHeader. A zero latency,
// RSS or probe value means "not measured" and shows as "-".
func row(s Step) []string {
	valid := "yes"
	if !s.Valid {
		valid = "no"
		if s.Invalid != "" {
			valid = "no: " + s.Invalid
		}
	}
	return []string{
		s.Core,
		strconv.Itoa(s.Concurrency) + "/" + strconv.Itoa(s.IdleConns),
		strconv.FormatFloat(s.Throughput, 'f', 0, 64),
		ms(s.Latency.P50),
		ms(s.Latency.P99),
		optional(mib(float64(s.RSSBytes)), 1),
		ms(s.ProbeP99),
		strconv.Itoa(s.Errors),
		valid,
	}
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
