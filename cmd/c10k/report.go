package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/c10k/c10k/loadgen/result"
)

func init() {
	commands["report"] = command{
		summary: "merge result files of attack shards (or vegeta results) into one summary",
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
		fmt.Fprint(fs.Output(), `usage: c10k report [flags] FILE...

Reads the --output files of c10k attack runs (a c10k summary, or vegeta
results with their FILE.c10k summary beside them; plain vegeta results
work too, with fewer figures), merges them as shards of one run and
prints the summary.

flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(stderr, "c10k report: --format %q: want text or json\n", *format)
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "c10k report: want at least one result file")
		return 2
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
	return 0
}
