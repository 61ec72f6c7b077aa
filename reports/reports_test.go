package reports

import (
	"bytes"
	"errors"
	"flag"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	update   = flag.Bool("update", false, "rewrite the golden files in testdata")
	plotsDir = flag.String("plots", "", "also write the sample report into this directory")
)

// sampleRun is a deterministic run with three scenarios: a concurrency
// sweep, an idle-connection sweep and a backend failure with a timeline.
func sampleRun() Run {
	run := Run{ID: "20260101-000000", Commit: "abc1234", GoVersion: "go1.26.8", Kernel: "6.1.0", CPU: "test CPU @ 3.0GHz"}
	cores := []struct {
		name  string
		speed float64 // relative req/s
		rss   int64   // bytes per connection
	}{{"event", 1.0, 4 << 10}, {"thread", 0.7, 64 << 10}, {"nethttp", 0.8, 8 << 10}}
	for _, c := range cores {
		for _, conc := range []int{1, 16, 64, 256} {
			rps := c.speed * 50000 * (1 - math.Exp(-float64(conc)/32))
			base := float64(conc) / (rps / 1000)
			var pts []Point
			for _, p := range []float64{0, 50, 75, 90, 95, 99, 99.5, 99.9, 99.99, 100} {
				pts = append(pts, Point{Percentile: p, Millis: base * (1 + nines(p)*nines(p)/c.speed)})
			}
			run.Steps = append(run.Steps, Step{
				Scenario: "static-1k", Core: c.name, Concurrency: conc, Throughput: rps,
				Latency:     Latency{P50: pts[1].Millis, P90: pts[3].Millis, P99: pts[5].Millis, P999: pts[7].Millis, Max: pts[9].Millis},
				Percentiles: pts, RSSBytes: 8<<20 + int64(conc)*c.rss, Valid: true,
			})
		}
		for _, idle := range []int{1000, 4000, 10000} {
			run.Steps = append(run.Steps, Step{
				Scenario: "c10k-idle", Core: c.name, Concurrency: 1, IdleConns: idle, Throughput: 900 * c.speed,
				RSSBytes: 8<<20 + int64(idle)*c.rss, ProbeP99: 0.2 + float64(idle)/10000/c.speed,
				Valid: c.name != "thread" || idle < 10000, Invalid: invalidFor(c.name, idle),
			})
		}
		var tl []TimePoint
		for s := 0; s < 20; s++ {
			p := TimePoint{Seconds: float64(s), RPS: 1000 * c.speed}
			if s >= 8 && s < 11 {
				p.RPS, p.Errors = 500*c.speed, 500*c.speed
			}
			tl = append(tl, p)
		}
		run.Steps = append(run.Steps, Step{
			Scenario: "backend failure", Core: c.name, Concurrency: 32, RateTarget: 1000 * c.speed,
			Throughput: 925 * c.speed, Errors: int(1500 * c.speed), Valid: true, Timeline: tl,
		})
	}
	return run
}

func invalidFor(core string, idle int) string {
	if core == "thread" && idle >= 10000 {
		return "generator out of ports"
	}
	return ""
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden (run go test -update to accept):\n%s", path, got)
	}
}

func TestWriteTable(t *testing.T) {
	tests := []struct {
		golden string
		format Format
	}{
		{"table.txt", Text},
		{"table.md", Markdown},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteTable(&b, sampleRun().Steps, tt.format); err != nil {
				t.Fatal(err)
			}
			golden(t, tt.golden, b.Bytes())
		})
	}
}

func TestWriteMarkdown(t *testing.T) {
	var b bytes.Buffer
	plots := []string{"/some/dir/static-1k-throughput.png", "static-1k-latency.png"}
	if err := WriteMarkdown(&b, sampleRun(), plots); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.md", b.Bytes())
}

func TestWritePlots(t *testing.T) {
	dir := t.TempDir()
	plots, err := WritePlots(dir, sampleRun())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"static-1k-throughput.png", "static-1k-latency.png", "static-1k-rss.png",
		"c10k-idle-rss.png", "c10k-idle-probe.png",
		"backend_failure-timeline.png",
	}
	if len(plots) != len(want) {
		t.Fatalf("plots = %q, want %d files", plots, len(want))
	}
	for i, p := range plots {
		if got := filepath.Base(p); got != want[i] {
			t.Errorf("plot %d = %s, want %s", i, got, want[i])
		}
		checkPNG(t, p)
		checkSVG(t, strings.TrimSuffix(p, ".png")+".svg")
	}
}

func checkPNG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if b := img.Bounds(); b.Dx() < 400 || b.Dy() < 300 {
		t.Errorf("%s: %dx%d, want at least 400x300", path, b.Dx(), b.Dy())
	}
}

func checkSVG(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("<?xml")) && !bytes.HasPrefix(data, []byte("<svg")) {
		t.Errorf("%s: starts %q, want <?xml or <svg", path, data[:min(len(data), 20)])
	}
	if !bytes.Contains(data, []byte("</svg>")) {
		t.Errorf("%s: no closing </svg>", path)
	}
}

func TestWriteHTML(t *testing.T) {
	dir := t.TempDir()
	run := sampleRun()
	plots, err := WritePlots(dir, run)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteHTML(&b, run, plots); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	if n := strings.Count(html, `src="data:image/png;base64,`); n != len(plots) {
		t.Errorf("%d embedded PNGs, want %d", n, len(plots))
	}
	for _, bad := range []string{"http://", "https://", "<link", "<script", "url(", `src="/`, `href=`} {
		if strings.Contains(html, bad) {
			t.Errorf("html contains external reference %q", bad)
		}
	}
	if srcs := regexp.MustCompile(`src="([^"]*)"`).FindAllStringSubmatch(html, -1); len(srcs) != len(plots) {
		t.Errorf("%d src attributes, want %d", len(srcs), len(plots))
	}
	for _, want := range []string{"<h2>static-1k</h2>", "<th>probe p99 ms</th>", "no: generator out of ports", "abc1234"} {
		if !strings.Contains(html, want) {
			t.Errorf("html lacks %q", want)
		}
	}
}

func TestWriteHTMLBadPlot(t *testing.T) {
	tests := []struct {
		name string
		plot string
	}{
		{"missing", filepath.Join(t.TempDir(), "none.png")},
		{"not png", "plot.svg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := WriteHTML(&bytes.Buffer{}, sampleRun(), []string{tt.plot})
			if err == nil || !strings.HasPrefix(err.Error(), "reports: ") {
				t.Errorf("err = %v, want a reports: error", err)
			}
		})
	}
}

func TestWriteReport(t *testing.T) {
	dir := t.TempDir()
	if *plotsDir != "" {
		dir = *plotsDir
	}
	if err := WriteReport(dir, sampleRun()); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"tables.txt", "report.md", "report.html", "static-1k-latency.svg"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
}

func TestBadInput(t *testing.T) {
	one := func(f func(*Step)) []Step {
		s := sampleRun().Steps
		f(&s[len(s)/2])
		return s
	}
	tests := []struct {
		name  string
		steps []Step
		want  error
	}{
		{"empty", nil, ErrNoSteps},
		{"nan throughput", one(func(s *Step) { s.Throughput = math.NaN() }), ErrBadValue},
		{"inf p99", one(func(s *Step) { s.Latency.P99 = math.Inf(1) }), ErrBadValue},
		{"negative probe", one(func(s *Step) { s.ProbeP99 = -1 }), ErrBadValue},
		{"negative conns", one(func(s *Step) { s.IdleConns = -1 }), ErrBadValue},
		{"nan percentile", one(func(s *Step) { s.Percentiles = []Point{{Percentile: math.NaN(), Millis: 1}} }), ErrBadValue},
		{"percentile over 100", one(func(s *Step) { s.Percentiles = []Point{{Percentile: 101, Millis: 1}} }), ErrBadValue},
		{"nan timeline", one(func(s *Step) { s.Timeline = []TimePoint{{Seconds: 0, RPS: math.NaN()}} }), ErrBadValue},
	}
	funcs := []struct {
		name string
		call func([]Step) error
	}{
		{"WriteTable", func(s []Step) error { return WriteTable(&bytes.Buffer{}, s, Text) }},
		{"WriteMarkdown", func(s []Step) error { return WriteMarkdown(&bytes.Buffer{}, Run{Steps: s}, nil) }},
		{"WriteHTML", func(s []Step) error { return WriteHTML(&bytes.Buffer{}, Run{Steps: s}, nil) }},
		{"WritePlots", func(s []Step) error { _, err := WritePlots(t.TempDir(), Run{Steps: s}); return err }},
		{"PlotThroughput", func(s []Step) error { return PlotThroughput(s, filepath.Join(t.TempDir(), "p")) }},
		{"PlotLatency", func(s []Step) error { return PlotLatency(s, filepath.Join(t.TempDir(), "p")) }},
		{"PlotRSS", func(s []Step) error { return PlotRSS(s, filepath.Join(t.TempDir(), "p")) }},
		{"PlotProbe", func(s []Step) error { return PlotProbe(s, filepath.Join(t.TempDir(), "p")) }},
		{"PlotTimeline", func(s []Step) error { return PlotTimeline(s, filepath.Join(t.TempDir(), "p")) }},
	}
	for _, tt := range tests {
		for _, f := range funcs {
			t.Run(tt.name+"/"+f.name, func(t *testing.T) {
				err := f.call(tt.steps)
				if !errors.Is(err, tt.want) {
					t.Fatalf("err = %v, want %v", err, tt.want)
				}
				if msg := err.Error(); msg != strings.ToLower(msg[:1])+msg[1:] || !strings.HasPrefix(msg, "reports: ") {
					t.Errorf("error %q: want lowercase, prefixed reports:", msg)
				}
			})
		}
	}
}

func TestNothingToPlot(t *testing.T) {
	steps := []Step{{Scenario: "s", Core: "event", Throughput: 1, Valid: true}}
	tests := []struct {
		name string
		plot func([]Step, string) error
	}{
		{"throughput", PlotThroughput},
		{"latency", PlotLatency},
		{"rss", PlotRSS},
		{"probe", PlotProbe},
		{"timeline", PlotTimeline},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.plot(steps, filepath.Join(t.TempDir(), "p")); !errors.Is(err, ErrNoSteps) {
				t.Errorf("err = %v, want ErrNoSteps", err)
			}
		})
	}
	plots, err := WritePlots(t.TempDir(), Run{Steps: steps})
	if err != nil || len(plots) != 0 {
		t.Errorf("WritePlots = %q, %v; want no plots, no error", plots, err)
	}
}

func TestUnknownFormat(t *testing.T) {
	if err := WriteTable(&bytes.Buffer{}, sampleRun().Steps, Format(9)); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("err = %v, want ErrUnknownFormat", err)
	}
}

func TestNines(t *testing.T) {
	tests := []struct {
		percentile, nines float64
		label             string
	}{
		{0, 0, "0%"},
		{90, 1, "90%"},
		{99, 2, "99%"},
		{99.9, 3, "99.9%"},
		{99.99, 4, "99.99%"},
		{100, maxNines, "99.9999%"},
	}
	ticks := ninesTicks{}.Ticks(0, maxNines)
	for _, tt := range tests {
		if got := nines(tt.percentile); math.Abs(got-tt.nines) > 1e-9 {
			t.Errorf("nines(%v) = %v, want %v", tt.percentile, got, tt.nines)
		}
		if got := ticks[int(tt.nines)].Label; got != tt.label {
			t.Errorf("tick %v = %q, want %q", tt.nines, got, tt.label)
		}
	}
}

func TestPlotRateLatency(t *testing.T) {
	dir := t.TempDir()
	pts := []RatePoint{{Rate: 50, P50: 20, P99: 22, Pass: true}, {Rate: 100, P50: 20, P99: 23, Pass: true}, {Rate: 200, P50: 60, P99: 900}, {Rate: 150, P50: 21, P99: 30, Pass: true}}
	base := filepath.Join(dir, "plan")
	if err := PlotRateLatency("plan: http://x/", pts, 100, 150, base); err != nil {
		t.Fatal(err)
	}
	for _, ext := range []string{".png", ".svg"} {
		if fi, err := os.Stat(base + ext); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", ext, err)
		}
	}
	if err := PlotRateLatency("x", nil, 1, 1, base); !errors.Is(err, ErrNoSteps) {
		t.Errorf("no points: %v", err)
	}
	if err := PlotRateLatency("x", []RatePoint{{Rate: math.NaN()}}, 1, 1, base); !errors.Is(err, ErrBadValue) {
		t.Errorf("NaN: %v", err)
	}
}
