package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/c10k/c10k/loadgen/result"
	"github.com/c10k/c10k/reports"
	"github.com/c10k/c10k/scenarios/runner"
)

func init() {
	commands["report"] = command{
		summary: "re-render a bench run directory, or merge result files of attack shards (or vegeta results)",
		run:     func(ctx context.Context, args []string) int { return report(args, os.Stdout, os.Stderr) },
	}
}

func report(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("c10k report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "text", "output `format`: text or json")
	hdr := fs.String("hdr", "", "write the merged latency distribution to `file` in HdrHistogram .hgrm format")
	output := fs.String("output", "", "also write the merged summary to `file` (c10k result format)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: c10k report DIR
       c10k report [flags] FILE...

With a directory written by c10k bench (results/<run-id>), re-renders its
report from its summary.json: the plots, tables.txt, report.md and
report.html, and prints the tables.

With files, reads the --output files of c10k attack runs (a c10k summary, or vegeta
results with their FILE.c10k summary beside them; plain vegeta results
work too, with fewer figures), merges them as shards of one run and
prints the summary.

flags:
`)
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(stderr, "c10k report: --format %q: want text or json\n", *format)
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "c10k report: want a bench run directory or at least one result file")
		return 2
	}
	if fi, err := os.Stat(fs.Arg(0)); err == nil && fi.IsDir() {
		if fs.NArg() > 1 {
			fmt.Fprintln(stderr, "c10k report: want one bench run directory")
			return 2
		}
		return rerender(fs.Arg(0), stdout, stderr)
	}
	var parts []*result.Summary
	for _, p := range fs.Args() {
		s, err := result.ReadFile(p)
		if err != nil {
			fmt.Fprintf(stderr, "c10k report: %v\n", err)
			return 2
		}
		parts = append(parts, s)
	}
	m, err := result.Merge(parts...)
	if err != nil {
		fmt.Fprintf(stderr, "c10k report: %v\n", err)
		return 2
	}
	if *output != "" {
		if err := result.WriteFile(*output, m); err != nil {
			fmt.Fprintf(stderr, "c10k report: --output: %v\n", err)
			return 1
		}
	}
	if *hdr != "" {
		if err := writeHgrm(*hdr, m); err != nil {
			fmt.Fprintf(stderr, "c10k report: --hdr: %v\n", err)
			return 1
		}
	}
	printSummary(stdout, *format, m)
	if m.Interrupted {
		fmt.Fprintf(stderr, "c10k report: the run was cut short: %s\n", m.InvalidReason)
	}
	return 0
}

// rerender writes the report of the bench run in dir again from its
// summary.json and prints its tables.
func rerender(dir string, stdout, stderr io.Writer) int {
	run, err := reports.ReadRun(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if cut, why, missing := runner.CutShort(dir, reports.Run{}); cut {
			fmt.Fprintf(stderr, "c10k report: %s: the run was cut short (%s) before any step finished; missing: %s\n", dir, why, strings.Join(missing, ", "))
			return 1
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "c10k report: %v\n", err)
		return 2
	}
	cut, why, missing := runner.CutShort(dir, run)
	run.Interrupted = run.Interrupted || cut
	if err := reports.WriteReport(dir, run); err != nil {
		fmt.Fprintf(stderr, "c10k report: %v\n", err)
		return 1
	}
	if err := reports.WriteTables(stdout, run, reports.Text); err != nil {
		fmt.Fprintf(stderr, "c10k report: %v\n", err)
		return 1
	}
	if run.Interrupted {
		if why == "" {
			why = "interrupted"
		}
		fmt.Fprintf(stderr, "c10k report: %s: the run was cut short (%s); these are the %d steps that finished\n", dir, why, len(run.Steps))
		if len(missing) > 0 {
			fmt.Fprintf(stderr, "c10k report: missing: %s\n", strings.Join(missing, ", "))
		}
	}
	fmt.Fprintf(stderr, "c10k report: wrote %s\n", filepath.Join(dir, "report.html"))
	return 0
}
