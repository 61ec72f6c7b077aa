package reports

import (
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// A RatePoint is one measured step of a capacity search: the offered
// rate and the latencies it got, in milliseconds.
type RatePoint struct {
	Rate     float64
	P50, P99 float64
	Pass     bool // met the SLO
}

// PlotRateLatency plots p50 and p99 latency against the offered rate —
// the curve a capacity plan reads — with the SLO's latency limit as a
// horizontal line (sloMS, 0: none) and the sustainable rate found as a
// vertical one (maxRate, 0: none). It writes path+".png" and path+".svg".
func PlotRateLatency(title string, points []RatePoint, sloMS, maxRate float64, path string) error {
	if len(points) == 0 {
		return fmt.Errorf("reports: %s: %w", path, ErrNoSteps)
	}
	for i, pt := range points {
		if bad(pt.Rate) || bad(pt.P50) || bad(pt.P99) || bad(sloMS) || bad(maxRate) {
			return fmt.Errorf("reports: %s: point %d: %w", path, i, ErrBadValue)
		}
	}
	pts := append([]RatePoint(nil), points...)
	sort.SliceStable(pts, func(i, j int) bool { return pts[i].Rate < pts[j].Rate })
	p := plot.New()
	p.Title.Text = title
	p.Title.Padding = vg.Points(6)
	p.X.Label.Text = "offered rate (req/s)"
	p.Y.Label.Text = "latency (ms, from the intended start)"
	p.Legend.Top, p.Legend.Left = true, true
	p.Add(plotter.NewGrid())
	p50 := make(plotter.XYs, len(pts))
	p99 := make(plotter.XYs, len(pts))
	top := 0.0
	for i, pt := range pts {
		p50[i] = plotter.XY{X: pt.Rate, Y: pt.P50}
		p99[i] = plotter.XY{X: pt.Rate, Y: pt.P99}
		top = math.Max(top, pt.P99)
	}
	if err := addLine(p, 0, "p50", p50, false); err != nil {
		return err
	}
	if err := addLine(p, 1, "p99", p99, false); err != nil {
		return err
	}
	lo, hi := pts[0].Rate, pts[len(pts)-1].Rate
	if sloMS > 0 {
		// Keep the SLO line readable when failed steps went far above it.
		if top > 20*sloMS {
			p.Y.Max = 20 * sloMS
		}
		if err := addLine(p, 2, fmt.Sprintf("SLO %.4g ms", sloMS), plotter.XYs{{X: lo, Y: sloMS}, {X: hi, Y: sloMS}}, true); err != nil {
			return err
		}
	}
	if maxRate > 0 {
		ymax := math.Max(top, sloMS)
		if p.Y.Max > 0 {
			ymax = p.Y.Max
		}
		if err := addLine(p, 3, fmt.Sprintf("sustainable %.4g req/s", maxRate), plotter.XYs{{X: maxRate, Y: 0}, {X: maxRate, Y: ymax}}, true); err != nil {
			return err
		}
	}
	p.Y.Min = 0
	return save(p, path)
}
