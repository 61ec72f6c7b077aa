package plan

import (
	"context"
	"time"

	"github.com/c10k/c10k/loadgen"
	"github.com/c10k/c10k/loadgen/result"
)

// Steady returns a Measure that drives base (its Request, Connections,
// Timeout, Sources...) in the open model at each rate: Warmup at the rate
// first, not measured, then Duration measured. A step shorter than a few
// seconds is not steady; the caller chooses.
func Steady(base loadgen.Options, warmup, duration time.Duration) Measure {
	return func(ctx context.Context, rate float64) (*result.Summary, error) {
		o := base
		o.Rate, o.Shape, o.Requests, o.Output, o.Progress = rate, loadgen.Shape{}, 0, "", nil
		if warmup > 0 {
			o.Duration = warmup
			if _, err := loadgen.Run(ctx, o); err != nil {
				return nil, err
			}
		}
		o.Duration = duration
		return loadgen.Run(ctx, o)
	}
}
