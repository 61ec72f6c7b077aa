package reports

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/olekukonko/tablewriter/tw"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// TLS variants of a load: the same load plain, over TLS with a full
// handshake per new connection, and over TLS resuming sessions.
const (
	variantPlain = iota
	variantTLS
	variantResume
	variants
)

var variantNames = [variants]string{"plain", "tls", "tls-resume"}

func variantOf(s Step) int {
	switch {
	case s.TLS == nil:
		return variantPlain
	case s.TLS.Resume:
		return variantResume
	}
	return variantTLS
}

// tlsLoad is one load of a scenario measured plain and over TLS, per
// core: the steps whose names differ only by the words "plain", "tls"
// and "tls-resume" ("keepalive=off plain", "keepalive=off tls").
type tlsLoad struct {
	scenario, name string
	// open: the load ran at a fixed rate, so its cost is the server's
	// CPU per request, not its throughput.
	open  bool
	cores []string
	steps map[string]*[variants]*Step // by core
}

// metric is what a load's figure is: req/s, or server CPU µs per request
// for a fixed-rate load.
func (l *tlsLoad) metric() string {
	if l.open {
		return "CPU µs/req"
	}
	return "req/s"
}

func (l *tlsLoad) value(s *Step) (float64, bool) {
	if s == nil || s.Skipped || !s.Valid {
		return 0, false
	}
	if l.open {
		return s.CPUPerReqUS, s.CPUPerReqUS > 0
	}
	return s.Throughput, s.Throughput > 0
}

// loadName is a step's name without the words that say plain or TLS.
func loadName(s Step) string {
	var keep []string
	for _, f := range strings.Fields(StepName(s)) {
		if f != "plain" && f != "tls" && f != "tls-resume" {
			keep = append(keep, f)
		}
	}
	return strings.Join(keep, " ")
}

// tlsLoads groups the medians of steps into the loads measured both
// plain and over TLS, in order of first appearance; loads without both
// are left out.
func tlsLoads(steps []Step) []*tlsLoad {
	var out []*tlsLoad
	byKey := make(map[string]*tlsLoad)
	meds := Medians(steps)
	for i := range meds {
		s := &meds[i]
		key := s.Scenario + "\x00" + loadName(*s)
		l := byKey[key]
		if l == nil {
			l = &tlsLoad{scenario: s.Scenario, name: loadName(*s), steps: make(map[string]*[variants]*Step)}
			byKey[key] = l
			out = append(out, l)
		}
		if s.RateTarget > 0 {
			l.open = true
		}
		vs := l.steps[s.Core]
		if vs == nil {
			vs = new([variants]*Step)
			l.steps[s.Core] = vs
			l.cores = append(l.cores, s.Core)
		}
		vs[variantOf(*s)] = s
	}
	return slices.DeleteFunc(out, func(l *tlsLoad) bool {
		var plain, tls bool
		for _, vs := range l.steps {
			plain = plain || vs[variantPlain] != nil
			tls = tls || vs[variantTLS] != nil || vs[variantResume] != nil
		}
		return !plain || !tls
	})
}

// HasTLS reports whether steps hold a load measured both plain and over
// TLS, which PlotTLS and WriteTLSTable show.
func HasTLS(steps []Step) bool { return len(tlsLoads(steps)) > 0 }

// PlotTLS plots what TLS costs per core: one panel per load measured
// plain and over TLS, grouped bars per core — plain, TLS (full
// handshakes) and TLS with resumed sessions — of the throughput (req/s;
// with keep-alive off that is new connections, and handshakes, per
// second) or, for a fixed-rate load, the server's CPU per request, each
// TLS bar labelled with its ratio to the plain one. It writes
// path+".png" and path+".svg".
func PlotTLS(steps []Step, path string) error {
	if err := Validate(steps); err != nil {
		return err
	}
	loads := tlsLoads(steps)
	if len(loads) == 0 {
		return fmt.Errorf("reports: %s: no load measured both plain and over TLS: %w", path, ErrNoSteps)
	}
	var row []*plot.Plot
	for _, l := range loads {
		p, err := tlsPanel(l, len(loads) > 1 && slices.ContainsFunc(loads, func(o *tlsLoad) bool { return o.scenario != l.scenario }))
		if err != nil {
			return err
		}
		row = append(row, p)
	}
	w := max(plotWidth, vg.Length(len(row))*4*vg.Inch)
	return saveRow(row, w, plotHeight, path)
}

// tlsPanel is one load's grouped bars.
func tlsPanel(l *tlsLoad, withScenario bool) (*plot.Plot, error) {
	p := plot.New()
	name := l.name
	if name == "" {
		name = "load"
	}
	if withScenario {
		name = l.scenario + " " + name
	}
	p.Title.Text = "TLS cost per core: " + name
	p.Title.Padding = vg.Points(6)
	p.Y.Label.Text = l.metric()
	if l.open {
		p.Y.Label.Text = "server CPU per request (µs)"
	}
	p.Legend.Top = true
	grid := plotter.NewGrid()
	grid.Vertical.Color = nil // categories, not a scale
	p.Add(grid)
	var present []int
	for v := range variants {
		for _, core := range l.cores {
			if l.steps[core][v] != nil {
				present = append(present, v)
				break
			}
		}
	}
	width := vg.Points(min(24, 60/float64(len(present))))
	top := 0.0
	var texts []plot.Plotter
	for k, v := range present {
		vals := make(plotter.Values, len(l.cores))
		for i, core := range l.cores {
			vals[i], _ = l.value(l.steps[core][v])
			top = max(top, vals[i])
		}
		bars, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return nil, fmt.Errorf("reports: TLS bars %s: %w", variantNames[v], err)
		}
		bars.Color = plotutil.Color(v)
		bars.LineStyle.Width = 0
		bars.Offset = width * vg.Length(float64(k)-float64(len(present)-1)/2)
		p.Add(bars)
		p.Legend.Add(variantNames[v], bars)
		// Over each TLS bar, its ratio to the plain one; where a step
		// ran but has no figure (invalid, skipped), an upright word
		// says so rather than a bar of zero. Drawn after every bar.
		var ratios, missing plotter.XYLabels
		for i, core := range l.cores {
			st := l.steps[core][v]
			x, okX := l.value(st)
			base, okB := l.value(l.steps[core][variantPlain])
			switch {
			case st != nil && !okX:
				missing.XYs = append(missing.XYs, plotter.XY{X: float64(i), Y: 0})
				missing.Labels = append(missing.Labels, "invalid")
			case okX && okB && v != variantPlain:
				ratios.XYs = append(ratios.XYs, plotter.XY{X: float64(i), Y: x})
				ratios.Labels = append(ratios.Labels, ratio(x, base, true)+"×")
			}
		}
		for _, set := range []struct {
			xys     plotter.XYLabels
			upright bool
		}{{ratios, false}, {missing, true}} {
			if len(set.xys.XYs) == 0 {
				continue
			}
			labels, err := plotter.NewLabels(set.xys)
			if err != nil {
				return nil, fmt.Errorf("reports: TLS bar labels: %w", err)
			}
			for i := range labels.TextStyle {
				ts := &labels.TextStyle[i]
				ts.XAlign, ts.Font.Size = draw.XCenter, vg.Points(8)
				if set.upright {
					ts.Rotation, ts.XAlign, ts.YAlign = math.Pi/2, draw.XLeft, draw.YCenter
				}
			}
			labels.Offset = vg.Point{X: bars.Offset, Y: vg.Points(2)}
			texts = append(texts, labels)
		}
	}
	for _, t := range texts {
		p.Add(t)
	}
	p.Y.Tick.Marker = plainTicks{}
	p.NominalX(l.cores...)
	p.X.Min, p.X.Max = -0.6, float64(len(l.cores))-0.4
	p.Y.Min = 0
	if top > 0 {
		p.Y.Max = top * (1 + legendRoom)
	}
	return p, nil
}

// plainTicks are gonum's default ticks labelled without trailing zeros
// ("25000", not "25000.00").
type plainTicks struct{}

func (plainTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = strconv.FormatFloat(ts[i].Value, 'f', -1, 64)
		}
	}
	return ts
}

// saveRow draws plots side by side on one w×h page and writes it as
// path+".png" and path+".svg".
func saveRow(row []*plot.Plot, w, h vg.Length, path string) error {
	for _, ext := range []string{".png", ".svg"} {
		var c interface {
			vg.CanvasSizer
			io.WriterTo
		}
		if ext == ".png" {
			c = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(96))}
		} else {
			c = vgsvg.New(w, h)
		}
		dc := draw.New(c)
		dc.SetColor(color.White)
		dc.Fill(dc.Rectangle.Path())
		tiles := draw.Tiles{Rows: 1, Cols: len(row), PadX: vg.Points(12), PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(4)}
		canvases := plot.Align([][]*plot.Plot{row}, tiles, dc)
		for i, p := range row {
			p.Draw(canvases[0][i])
		}
		f, err := os.Create(path + ext)
		if err != nil {
			return fmt.Errorf("reports: %w", err)
		}
		if _, err := c.WriteTo(f); err != nil {
			f.Close()
			return fmt.Errorf("reports: save %s%s: %w", path, ext, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("reports: save %s%s: %w", path, ext, err)
		}
	}
	return nil
}

// tlsTitle heads the TLS table.
const tlsTitle = "TLS cost per core"

var tlsHeader = []string{"core", "load", "metric", "plain", "tls", "tls/plain", "tls-resume", "resume/plain", "CPU µs/req plain, tls, resume", "handshakes/s", "resumed", "handshake p50/p99 ms", "tls"}

// tlsRows are the rows of the TLS table: per load and core, the plain
// and TLS figures and their ratio (throughput: below 1 is what TLS
// costs; CPU per request: above 1), the server's CPU per request of
// each, and the handshakes of the TLS steps.
func tlsRows(steps []Step) [][]string {
	var rows [][]string
	for _, l := range tlsLoads(steps) {
		for _, core := range l.cores {
			vs := l.steps[core]
			plain, okP := l.value(vs[variantPlain])
			row := []string{core, l.name, l.metric(), figure(plain, okP)}
			for _, v := range []int{variantTLS, variantResume} {
				x, ok := l.value(vs[v])
				row = append(row, figure(x, ok), ratio(x, plain, ok && okP))
			}
			var cpu []string
			for _, s := range vs {
				if s != nil && !s.Skipped && s.Valid {
					cpu = append(cpu, optional(s.CPUPerReqUS, 0))
				} else if s != nil {
					cpu = append(cpu, "-")
				}
			}
			row = append(row, strings.Join(cpu, ", "))
			var rates, resumed, lat, version []string
			for _, v := range []int{variantTLS, variantResume} {
				s := vs[v]
				if s == nil || s.TLS == nil || s.Skipped {
					continue
				}
				t := s.TLS
				rates = append(rates, strconv.FormatFloat(t.PerSecond, 'f', 0, 64))
				resumed = append(resumed, fmt.Sprintf("%d/%d", t.Resumed, t.Handshakes))
				lat = append(lat, ms(t.P50)+"/"+ms(t.P99))
				if t.Version != "" && !slices.Contains(version, t.Version) {
					version = append(version, t.Version)
				}
			}
			row = append(row, orDash(strings.Join(rates, ", ")), orDash(strings.Join(resumed, ", ")),
				orDash(strings.Join(lat, ", ")), orDash(strings.Join(version, ", ")))
			rows = append(rows, row)
		}
	}
	return rows
}

func figure(v float64, ok bool) string {
	if !ok {
		return "-"
	}
	if v >= 100 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

func ratio(x, base float64, ok bool) string {
	if !ok || base == 0 {
		return "-"
	}
	return strconv.FormatFloat(x/base, 'f', 2, 64)
}

// WriteTLSTable writes the TLS cost table: for every load measured both
// plain and over TLS, per core, the plain figure, the TLS one with full
// handshakes and with resumed sessions, their ratios to plain, the
// server's CPU per request of each, and the TLS steps' handshakes per
// second, resumed count and latency (several
// values: the full-handshake step's, then the resumed one's).
func WriteTLSTable(w io.Writer, steps []Step, format Format) error {
	if err := Validate(steps); err != nil {
		return err
	}
	align := make([]tw.Align, len(tlsHeader))
	for i := range align {
		align[i] = tw.AlignRight
	}
	align[0], align[1], align[2], align[len(align)-1] = tw.AlignLeft, tw.AlignLeft, tw.AlignLeft, tw.AlignLeft
	return WriteAligned(w, format, tlsTitle, tlsHeader, align, tlsRows(steps))
}
