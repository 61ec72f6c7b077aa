package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/c10k/c10k/loadgen"
)

// Record is one JSON line of a run's results.jsonl.
type Record struct {
	Server string `json:"server"`
	Kind   string `json:"kind"` // "wrk", "c10k" or "skipped"
	// Baseline is the row a wrk record's "vs nginx" divides by: the
	// nginx run with the same file caching ("nginx +ofc" for "event
	// +ofc"); "" means "nginx".
	Baseline string `json:"baseline,omitempty"`
	// wrk
	RPS      float64 `json:"rps,omitempty"`
	Requests int64   `json:"requests,omitempty"`
	// CPUPerReq is the server's CPU time (user + system, all its
	// processes) per request in microseconds: a cost that other load on
	// the machine disturbs far less than req/s.
	CPUPerReq float64 `json:"cpu_us_per_req,omitempty"`
	P50       float64 `json:"p50_ms,omitempty"`
	P99       float64 `json:"p99_ms,omitempty"`
	// c10k
	Result *loadgen.C10kResult `json:"result,omitempty"`
	// skipped, or a remark on a measurement
	Note string `json:"note,omitempty"`
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchtable wrk --server NAME [--baseline ROW] < wrk-output | benchtable table [--md FILE] RESULTS.jsonl")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "wrk":
		err = runWrk(os.Args[2:], os.Stdin, os.Stdout)
	case "table":
		err = runTable(os.Args[2:], os.Stdout)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchtable: %v\n", err)
		os.Exit(1)
	}
}

func runWrk(args []string, in io.Reader, out io.Writer) error {
	fs := flag.NewFlagSet("benchtable wrk", flag.ContinueOnError)
	server := fs.String("server", "", "server `name`")
	baseline := fs.String("baseline", "", "the `row` to compare req/s with (default nginx)")
	cpu := fs.Float64("server-cpu", 0, "CPU `seconds` the server used during the run (0: unknown)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	r, err := parseWrk(in)
	if err != nil {
		return err
	}
	if *cpu > 0 && r.Requests > 0 {
		r.CPUPerReq = *cpu * 1e6 / float64(r.Requests)
	}
	r.Server, r.Baseline = *server, *baseline
	return json.NewEncoder(out).Encode(r)
}

// parseWrk reads `wrk --latency` output: Requests/sec and the 50% and
// 99% lines of the latency distribution.
func parseWrk(in io.Reader) (Record, error) {
	r := Record{Kind: "wrk"}
	sc := bufio.NewScanner(in)
	var haveRPS, have50, have99 bool
	var errs []string
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 3 && f[1] == "requests" && f[2] == "in":
			n, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return r, fmt.Errorf("wrk output: requests %q: %w", f[0], err)
			}
			r.Requests = n
		case len(f) == 2 && f[0] == "Requests/sec:":
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return r, fmt.Errorf("wrk output: Requests/sec %q: %w", f[1], err)
			}
			r.RPS, haveRPS = v, true
		case len(f) == 2 && (f[0] == "50%" || f[0] == "99%" || f[0] == "50.000%" || f[0] == "99.000%"):
			v, err := parseDuration(f[1])
			if err != nil {
				return r, fmt.Errorf("wrk output: %s latency: %w", f[0], err)
			}
			if strings.HasPrefix(f[0], "50") {
				r.P50, have50 = v, true
			} else {
				r.P99, have99 = v, true
			}
		case len(f) > 0 && (f[0] == "Non-2xx" || f[0] == "Socket"):
			errs = append(errs, strings.Join(f, " "))
		}
	}
	if err := sc.Err(); err != nil {
		return r, err
	}
	if !haveRPS || !have50 || !have99 {
		return r, errors.New("wrk output: no Requests/sec or no 50%/99% latency lines (was --latency given?)")
	}
	r.Note = strings.Join(errs, "; ")
	return r, nil
}

// parseDuration parses wrk's "812.00us", "1.23ms", "2.00s", "1.00m" into
// milliseconds.
func parseDuration(s string) (float64, error) {
	for _, u := range []struct {
		suffix string
		ms     float64
	}{{"us", 0.001}, {"ms", 1}, {"s", 1000}, {"m", 60000}} {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, fmt.Errorf("duration %q: %w", s, err)
			}
			return v * u.ms, nil
		}
	}
	return 0, fmt.Errorf("duration %q: unknown unit", s)
}

// header is the table's columns.
var header = []string{
	"server", "req/s (1 KB, 100 conns)", "p50", "p99", "vs nginx", "server CPU/req",
	"idle conns held", "KB per idle conn", "RSS held", "probe p50", "probe p99", "probe errors",
}

func runTable(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("benchtable table", flag.ContinueOnError)
	md := fs.String("md", "", "also write the table as Markdown to `file`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("table: want one results file")
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	rows, notes, err := buildRows(f)
	if err != nil {
		return err
	}
	t := tablewriter.NewTable(out, tablewriter.WithHeaderAutoFormat(tw.Off))
	t.Header(toAny(header)...)
	for _, r := range rows {
		t.Append(toAny(r)...)
	}
	if err := t.Render(); err != nil {
		return err
	}
	for _, n := range notes {
		fmt.Fprintln(out, "  "+n)
	}
	if *md == "" {
		return nil
	}
	mf, err := os.Create(*md)
	if err != nil {
		return err
	}
	mt := tablewriter.NewTable(mf, tablewriter.WithRenderer(renderer.NewMarkdown()), tablewriter.WithHeaderAutoFormat(tw.Off))
	mt.Header(toAny(header)...)
	for _, r := range rows {
		mt.Append(toAny(r)...)
	}
	if err := mt.Render(); err != nil {
		mf.Close()
		return err
	}
	fmt.Fprintln(mf)
	for _, n := range notes {
		fmt.Fprintln(mf, "- "+n)
	}
	return mf.Close()
}

func toAny(s []string) []any {
	a := make([]any, len(s))
	for i, v := range s {
		a[i] = v
	}
	return a
}

// buildRows merges the records of each server into one row, servers in
// the order they first appear, and collects notes.
func buildRows(in io.Reader) (rows [][]string, notes []string, err error) {
	type srv struct {
		wrk, c10k *Record
		skipped   string
	}
	var order []string
	by := map[string]*srv{}
	dec := json.NewDecoder(in)
	for {
		var r Record
		if err := dec.Decode(&r); err == io.EOF {
			break
		} else if err != nil {
			return nil, nil, fmt.Errorf("results: %w", err)
		}
		s := by[r.Server]
		if s == nil {
			s = &srv{}
			by[r.Server] = s
			order = append(order, r.Server)
		}
		switch r.Kind {
		case "wrk":
			s.wrk = &r
		case "c10k":
			s.c10k = &r
		case "skipped":
			s.skipped = r.Note
		}
		if r.Note != "" {
			notes = append(notes, r.Server+": "+r.Note)
		}
	}
	for _, name := range order {
		s := by[name]
		row := make([]string, len(header))
		for i := range row {
			row[i] = "-"
		}
		row[0] = name
		if s.skipped != "" {
			row[1] = "skipped"
		}
		if w := s.wrk; w != nil {
			row[1] = fmt.Sprintf("%.0f", w.RPS)
			row[2] = fmt.Sprintf("%.2f ms", w.P50)
			row[3] = fmt.Sprintf("%.2f ms", w.P99)
			base := w.Baseline
			if base == "" {
				base = "nginx"
			}
			if b := by[base]; b != nil && b.wrk != nil && b.wrk.RPS > 0 {
				row[4] = fmt.Sprintf("%.2fx", w.RPS/b.wrk.RPS)
				if base != "nginx" {
					row[4] += " (vs " + base + ")"
				}
			}
			if w.CPUPerReq > 0 {
				row[5] = fmt.Sprintf("%.1f µs", w.CPUPerReq)
			}
		}
		if c := s.c10k; c != nil && c.Result != nil {
			res := c.Result
			row[6] = fmt.Sprintf("%d / %d", res.Idle.Held, res.Idle.Asked)
			if res.RSSHeld > 0 && res.Idle.Held > 0 {
				row[7] = fmt.Sprintf("%.2f", res.RSSPerIdleConnKB)
				row[8] = fmt.Sprintf("%.1f MiB", float64(res.RSSHeld)/(1<<20))
			}
			if res.Probe.Sent > 0 {
				row[9] = fmt.Sprintf("%.2f ms", res.Probe.P50)
				row[10] = fmt.Sprintf("%.2f ms", res.Probe.P99)
				row[11] = fmt.Sprintf("%d / %d", res.Probe.Errors, res.Probe.Sent)
			}
		}
		rows = append(rows, row)
	}
	return rows, notes, nil
}
