package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strings"

	"github.com/c10k/c10k/internal/atomicfile"
	"github.com/c10k/c10k/reports/gate"
)

func init() {
	commands["compare"] = command{
		summary: "the regression gate: judge NEW against BASE (bench runs or attack results); exit 0 pass, 1 regression, 2 invalid",
		run:     func(ctx context.Context, args []string) int { return compare(args, os.Stdout, os.Stderr) },
	}
}

const compareUsage = `usage: c10k compare [flags] BASE NEW

BASE and NEW are each a bench run directory (results/<run-id>, its
summary.json), several runs of one build (a directory of run
directories, or a comma-separated list of them), a directory of c10k
attack --output files or vegeta results, one such file, or a
comma-separated list of them (one trial each). Run c10k bench --trials N
for repeated, interleaved trials.

For every scenario/core/step and metric the medians of the trials are
compared. A row regresses when NEW's median breaks a --max limit, or
when its change breaks a --regress threshold and, with at least
--min-trials trials a side, a one-sided Mann-Whitney U test confirms it
at --alpha (with fewer trials the threshold alone decides: "no test").
A change beyond the threshold the test does not confirm is noise. A row
whose BASE trials spread (max-min)/median more than --noise-factor
times its threshold is too noisy to judge. Without --max and --regress
the thresholds are p99=+10%,throughput=-5%.

Metrics: p50 p90 p99 p999 probe_p99 (latency, e.g. 50ms), throughput
(req/s; for --max a floor), errors (e.g. 1%), rss (e.g. 512MiB),
cpu_per_req (e.g. 40us).

Exit status: 0 no regression, 1 regression, 2 invalid input or a run
too noisy or invalid to judge; stderr says why in one line.

flags:
`

func compare(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("c10k compare", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported on one line below
	maxSpec := fs.String("max", "", "absolute limits on NEW's median, `metric=value,...`: e.g. 'p99=50ms,errors=1%'")
	regressSpec := fs.String("regress", "", "relative thresholds on the change of the medians, `metric=±N%,...`: e.g. 'p99=+10%,throughput=-5%'")
	alpha := fs.Float64("alpha", gate.DefaultAlpha, "significance `level` of the Mann-Whitney U test")
	minTrials := fs.Int("min-trials", gate.DefaultMinTrials, "fewest trials (`n`) a side for the statistical test")
	noise := fs.Float64("noise-factor", gate.DefaultNoiseFactor, "too noisy when BASE's spread exceeds this `factor` times the threshold; 0 turns it off")
	filter := fs.String("filter", "", "compare only keys \"scenario/core/step\" matching this `regexp`")
	show := fs.String("metrics", "", "more `metrics` to report (not judged), comma-separated, or all")
	format := fs.String("format", "text", "stdout `format`: text, markdown, json, benchstat or junit")
	mdFile := fs.String("markdown", "", "also write Markdown to `file` (a pull-request comment)")
	jsonFile := fs.String("json", "", "also write JSON to `file`")
	junitFile := fs.String("junit", "", "also write JUnit XML to `file`")
	bsFile := fs.String("benchstat", "", "also write benchstat-style text to `file`")

	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "c10k compare: "+format+"\n", a...)
		return gate.ExitInvalid
	}
	pos, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stderr)
		fmt.Fprint(stderr, compareUsage)
		fs.PrintDefaults()
		return 0
	}
	if err != nil {
		return fail("%v", err)
	}

	opt := gate.DefaultOptions()
	opt.Alpha, opt.MinTrials, opt.NoiseFactor = *alpha, *minTrials, *noise
	if opt.Max, err = gate.ParseMax(*maxSpec); err != nil {
		return fail("--max %q: %v", *maxSpec, err)
	}
	if opt.Regress, err = gate.ParseRegress(*regressSpec); err != nil {
		return fail("--regress %q: %v", *regressSpec, err)
	}
	switch {
	case !(*alpha > 0 && *alpha < 1):
		return fail("--alpha %v: want a level in (0, 1)", *alpha)
	case *minTrials < 2:
		return fail("--min-trials %d: want at least 2", *minTrials)
	case !(*noise >= 0) || math.IsInf(*noise, 0):
		return fail("--noise-factor %v: want 0 (off) or more", *noise)
	}
	if err := opt.Check(); err != nil {
		return fail("%v", err)
	}
	if *filter != "" {
		if opt.Filter, err = regexp.Compile(*filter); err != nil {
			return fail("--filter %q: %v", *filter, err)
		}
	}
	if *show != "" {
		if *show == "all" {
			opt.Show = gate.Metrics
		} else {
			for _, name := range strings.Split(*show, ",") {
				m, err := gate.ParseMetric(name)
				if err != nil {
					return fail("--metrics %q: %v", *show, err)
				}
				opt.Show = append(opt.Show, m)
			}
		}
	}
	out, err := gate.ParseFormat(*format)
	if err != nil {
		return fail("--format: %v", err)
	}
	if len(pos) != 2 {
		return fail("want BASE and NEW, got %d argument(s); see c10k compare -h", len(pos))
	}

	var res *gate.Result
	base, err := gate.Load(pos[0])
	if err != nil {
		res = gate.Failed(opt, "BASE: "+err.Error())
	} else if next, err := gate.Load(pos[1]); err != nil {
		res = gate.Failed(opt, "NEW: "+err.Error())
	} else {
		res = gate.Compare(base, next, opt)
	}

	code := res.Code()
	var writeErrs []string
	if err := res.Write(stdout, out); err != nil {
		writeErrs = append(writeErrs, fmt.Sprintf("stdout: %v", err))
	}
	for _, f := range []struct {
		flag, path string
		format     gate.Format
	}{{"--markdown", *mdFile, gate.Markdown}, {"--json", *jsonFile, gate.JSON}, {"--junit", *junitFile, gate.JUnit}, {"--benchstat", *bsFile, gate.Benchstat}} {
		if f.path == "" {
			continue
		}
		var b bytes.Buffer
		err := res.Write(&b, f.format)
		if err == nil {
			err = atomicfile.WriteFile(f.path, b.Bytes(), 0o644)
		}
		if err != nil {
			writeErrs = append(writeErrs, fmt.Sprintf("%s %s: %v", f.flag, f.path, err))
		}
	}
	for _, e := range writeErrs {
		fmt.Fprintf(stderr, "c10k compare: %s\n", e)
	}
	fmt.Fprintf(stderr, "c10k compare: %s\n", res.Reason)
	if len(writeErrs) > 0 && code == gate.ExitPass {
		return gate.ExitInvalid
	}
	return code
}

// parseInterleaved parses flags placed before, between or after the
// positional arguments ("BASE NEW --junit x.xml"); everything after "--"
// is positional.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
