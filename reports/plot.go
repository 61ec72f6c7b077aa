package reports

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/c10k/c10k/internal/atomicfile"
)

// Plot size, in vg units (1/72 inch); PNGs render at 96 dpi.
const (
	plotWidth  = 8 * vg.Inch
	plotHeight = 5 * vg.Inch
)

// maxNines caps the percentile axis: 100% maps to infinity on a nines scale,
// so points beyond 99.9999% are drawn at 99.9999%.
const maxNines = 6

// PlotThroughput plots throughput (req/s) against concurrency, one line per
// core, and writes path+".png" and path+".svg". Concurrency is on a log axis
// when it spans a factor of 16 or more, as doubling sweeps do. Only
// closed-model steps count: an open-model step's connections are a cap,
// not its load.
func PlotThroughput(steps []Step, path string) error {
	return plotPerCore(steps, path, axes{
		title: "Throughput vs concurrency",
		x:     "concurrency (connections)",
		y:     "throughput (req/s)",
		logX:  true,
	}, func(s Step) (x, y float64, ok bool) {
		return float64(s.Concurrency), s.Throughput, closedLoad(s)
	})
}

// PlotRSS plots server memory (MiB) against total connections, active plus
// idle, one line per core, and writes path+".png" and path+".svg".
func PlotRSS(steps []Step, path string) error {
	return plotPerCore(steps, path, axes{
		title: "Server memory vs connections",
		x:     "connections, active + idle (count)",
		y:     "RSS (MiB)",
	}, func(s Step) (x, y float64, ok bool) {
		return float64(s.Concurrency + s.IdleConns), mib(float64(s.RSSBytes)), s.RSSBytes > 0 && s.RateTarget == 0
	})
}

// PlotProbe plots the p99 latency (ms) of a light probe against the number of
// idle connections held open, one line per core, and writes path+".png" and
// path+".svg".
func PlotProbe(steps []Step, path string) error {
	return plotPerCore(steps, path, axes{
		title: "Probe p99 latency vs idle connections",
		x:     "idle connections (count)",
		y:     "probe p99 latency (ms)",
	}, func(s Step) (x, y float64, ok bool) {
		return float64(s.IdleConns), s.ProbeP99, s.IdleConns > 0
	})
}

// PlotLatency plots latency percentile curves on a "nines" axis (90%, 99%,
// 99.9%, ...), one line per core drawn from that core's step with the highest
// concurrency, and writes path+".png" and path+".svg".
func PlotLatency(steps []Step, path string) error {
	if err := Validate(steps); err != nil {
		return err
	}
	p := newPlot(steps, axes{
		title: "Latency by percentile",
		x:     "percentile (%, log nines scale)",
		y:     "latency (ms)",
	})
	top := 0.0
	n := 0
	for _, core := range cores(steps) {
		s, ok := heaviest(steps, core)
		if !ok {
			continue
		}
		xys := make(plotter.XYs, 0, len(s.Percentiles))
		for _, pt := range s.Percentiles {
			x := nines(pt.Percentile)
			top = math.Max(top, x)
			xys = append(xys, plotter.XY{X: x, Y: pt.Millis})
		}
		sort.Slice(xys, func(i, j int) bool { return xys[i].X < xys[j].X })
		label := core + " (c=" + strconv.Itoa(s.Concurrency) + ")"
		if err := addLine(p, n, label, xys, false); err != nil {
			return err
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("reports: %s: no percentile curves: %w", path, ErrNoSteps)
	}
	p.X.Min = 0
	p.X.Max = math.Max(3, math.Ceil(top))
	p.X.Tick.Marker = ninesTicks{}
	return save(p, path)
}

// PlotTimeline plots requests and errors per second over time, one pair of
// lines per core (errors dashed), and writes path+".png" and path+".svg".
// It suits failure and blue-green scenarios, whose steps carry a Timeline.
func PlotTimeline(steps []Step, path string) error {
	if err := Validate(steps); err != nil {
		return err
	}
	p := newPlot(steps, axes{
		title: "Request timeline",
		x:     "time (s)",
		y:     "rate (req/s)",
	})
	n := 0
	for _, s := range steps {
		if len(s.Timeline) == 0 {
			continue
		}
		rps := make(plotter.XYs, len(s.Timeline))
		errs := make(plotter.XYs, len(s.Timeline))
		for i, t := range s.Timeline {
			rps[i] = plotter.XY{X: t.Seconds, Y: t.RPS}
			errs[i] = plotter.XY{X: t.Seconds, Y: t.Errors}
		}
		if err := addLine(p, n, s.Core+" ok req/s", rps, false); err != nil {
			return err
		}
		if err := addLine(p, n, s.Core+" errors/s", errs, true); err != nil {
			return err
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("reports: %s: no timeline: %w", path, ErrNoSteps)
	}
	p.Y.Min = 0
	return save(p, path)
}

// WritePlots writes into dir every plot that run's data supports, per
// scenario, and returns the paths of the PNGs written (each has an SVG
// beside it). A scenario without the data a plot needs gets no such plot.
func WritePlots(dir string, run Run) ([]string, error) {
	if err := Validate(run.Steps); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("reports: %w", err)
	}
	kinds := []struct {
		name     string
		supports func([]Step) bool
		plot     func([]Step, string) error
	}{
		{"throughput", sweep(func(s Step) (float64, bool) { return float64(s.Concurrency), closedLoad(s) }), PlotThroughput},
		{"latency", func(steps []Step) bool {
			return slices.ContainsFunc(steps, func(s Step) bool { return len(s.Percentiles) > 1 })
		}, PlotLatency},
		{"rss", sweep(func(s Step) (float64, bool) {
			return float64(s.Concurrency + s.IdleConns), s.RSSBytes > 0 && s.RateTarget == 0
		}), PlotRSS},
		{"probe", sweep(func(s Step) (float64, bool) { return float64(s.IdleConns), s.IdleConns > 0 && s.ProbeP99 > 0 }), PlotProbe},
		{"timeline", func(steps []Step) bool {
			return slices.ContainsFunc(steps, func(s Step) bool { return len(s.Timeline) > 1 })
		}, PlotTimeline},
		{"tls", HasTLS, PlotTLS},
	}
	var out []string
	names, groups := scenarios(run.Steps)
	for _, name := range names {
		steps := groups[name]
		for _, k := range kinds {
			if !k.supports(steps) {
				continue
			}
			base := filepath.Join(dir, fileName(name)+"-"+k.name)
			if err := k.plot(steps, base); err != nil {
				return out, err
			}
			out = append(out, base+".png")
		}
	}
	return out, nil
}

// sweep reports whether some core has steps at two or more distinct x values
// among those f accepts: a line needs at least two points to say anything.
func sweep(f func(Step) (x float64, ok bool)) func([]Step) bool {
	return func(steps []Step) bool {
		first := make(map[string]float64)
		for _, s := range steps {
			x, ok := f(s)
			if !ok {
				continue
			}
			if x0, seen := first[s.Core]; !seen {
				first[s.Core] = x
			} else if x0 != x {
				return true
			}
		}
		return false
	}
}

// fileName turns a scenario name into a safe file name.
func fileName(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, s)
	s = strings.Trim(s, ".")
	if s == "" {
		return "scenario"
	}
	return s
}

type axes struct {
	title, x, y string
	logX        bool // log x axis when the data spans a factor of 16 or more
}

// newPlot returns a plot titled a.title, prefixed by the scenario when all
// steps share one.
func newPlot(steps []Step, a axes) *plot.Plot {
	p := plot.New()
	p.Title.Text = a.title
	if sc := steps[0].Scenario; sc != "" && !slices.ContainsFunc(steps, func(s Step) bool { return s.Scenario != sc }) {
		p.Title.Text = sc + ": " + a.title
	}
	p.Title.Padding = vg.Points(6)
	p.X.Label.Text = a.x
	p.Y.Label.Text = a.y
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	return p
}

// plotPerCore draws one line per core through the points f accepts, sorted by x.
func plotPerCore(steps []Step, path string, a axes, f func(Step) (x, y float64, ok bool)) error {
	if err := Validate(steps); err != nil {
		return err
	}
	p := newPlot(steps, a)
	n := 0
	for _, core := range cores(steps) {
		var xys plotter.XYs
		for _, s := range steps {
			if s.Core != core {
				continue
			}
			if x, y, ok := f(s); ok {
				xys = append(xys, plotter.XY{X: x, Y: y})
			}
		}
		if len(xys) == 0 {
			continue
		}
		sort.SliceStable(xys, func(i, j int) bool { return xys[i].X < xys[j].X })
		if err := addLine(p, n, core, xys, false); err != nil {
			return err
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("reports: %s: nothing to plot: %w", path, ErrNoSteps)
	}
	p.Y.Min = 0
	if a.logX && p.X.Min > 0 && p.X.Max >= 16*p.X.Min {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	return save(p, path)
}

// addLine adds a line with points in the i-th palette colour and shape.
func addLine(p *plot.Plot, i int, label string, xys plotter.XYs, dashed bool) error {
	l, pts, err := plotter.NewLinePoints(xys)
	if err != nil {
		return fmt.Errorf("reports: line %s: %w", label, err)
	}
	l.Color = plotutil.Color(i)
	l.Width = vg.Points(1.5)
	if dashed {
		l.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
	}
	pts.Color = l.Color
	pts.Shape = plotutil.Shape(i)
	p.Add(l, pts)
	p.Legend.Add(label, l, pts)
	return nil
}

// legendRoom is the share of the y range left empty above the data so the
// legend, top left, does not cover it.
const legendRoom = 0.35

// save writes p as path+".png" and path+".svg", after leaving room for the
// legend above the data.
func save(p *plot.Plot, path string) error {
	if p.Y.Max > p.Y.Min {
		p.Y.Max += (p.Y.Max - p.Y.Min) * legendRoom
	}
	for _, ext := range []string{".png", ".svg"} {
		wt, err := p.WriterTo(plotWidth, plotHeight, ext[1:])
		if err == nil {
			err = atomicfile.Write(path+ext, 0o644, func(w io.Writer) error {
				_, err := wt.WriteTo(w)
				return err
			})
		}
		if err != nil {
			return fmt.Errorf("reports: save %s%s: %w", path, ext, err)
		}
	}
	return nil
}

// heaviest returns core's step with the highest concurrency that has a
// percentile curve.
func heaviest(steps []Step, core string) (Step, bool) {
	var best Step
	ok := false
	for _, s := range steps {
		if s.Core != core || len(s.Percentiles) == 0 {
			continue
		}
		if !ok || s.Concurrency > best.Concurrency {
			best, ok = s, true
		}
	}
	return best, ok
}

// nines maps a percentile to the number of nines it holds: 90% → 1,
// 99% → 2, 99.9% → 3, capped at maxNines.
func nines(percentile float64) float64 {
	rest := 1 - percentile/100
	if rest <= math.Pow(10, -maxNines) {
		return maxNines
	}
	return -math.Log10(rest)
}

// ninesTicks labels a nines axis at 0%, 90%, 99%, 99.9%, ...
type ninesTicks struct{}

func (ninesTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for n := math.Ceil(lo); n <= hi; n++ {
		// Precision n-2 rounds away float noise: 99.9%, not 99.90000000000001%.
		prec := max(int(n)-2, 0)
		label := strconv.FormatFloat(100-100*math.Pow(10, -n), 'f', prec, 64) + "%"
		ticks = append(ticks, plot.Tick{Value: n, Label: label})
	}
	return ticks
}

// closedLoad reports whether s ran a closed-model load: Concurrency
// connections back to back.
func closedLoad(s Step) bool { return s.Concurrency > 0 && s.RateTarget == 0 && !s.Skipped }
