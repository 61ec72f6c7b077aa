package plan

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/c10k/c10k/loadgen/result"
)

func TestParseSLO(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: "p99<=50ms,errors<=0.1%", want: "p99<=50ms,errors<=0.1%"},
		{in: " p50 < 2ms , p999<=1s ", want: "p50<=2ms,p999<=1s"},
		{in: "errors<=0.001", want: "errors<=0.1%"},
		{in: "mean<=10ms,max<=2s", want: "mean<=10ms,max<=2s"},
		{in: "", err: "no objective"},
		{in: "p99=50ms", err: "want METRIC<=LIMIT"},
		{in: "p98<=50ms", err: "unknown metric"},
		{in: "p99<=fast", err: "positive duration"},
		{in: "p99<=-1ms", err: "positive duration"},
		{in: "errors<=200%", err: "ratio"},
		{in: "p99<=5ms,p99<=6ms", err: "twice"},
	} {
		slo, err := ParseSLO(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrBadSLO) {
				t.Errorf("ParseSLO(%q) error %v, want one containing %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || slo.String() != tc.want {
			t.Errorf("ParseSLO(%q) = %q, %v; want %q", tc.in, slo.String(), err, tc.want)
		}
	}
}

// sim is a server of fixed capacity seen through an open-model step of
// stepSeconds: below capacity every request takes base ms; above it the
// queue grows for the whole step. The generator cannot offer more than
// genMax (0: no limit). flakyAt, when set, fails the first run at that
// rate and passes later ones.
type sim struct {
	capacity, base, stepSeconds, genMax float64
	flaky                               map[float64]bool
	runs                                int
}

func (s *sim) measure(_ context.Context, rate float64) (*result.Summary, error) {
	s.runs++
	sum := &result.Summary{Model: result.ModelOpen, RateTarget: rate, RateAchieved: rate, Requests: int64(rate * s.stepSeconds), SuccessRatio: 1, Valid: true}
	if s.genMax > 0 && rate > s.genMax {
		sum.RateAchieved, sum.Valid, sum.InvalidReason = s.genMax, false, "generator CPU saturated"
	}
	p99 := s.base
	if rate > s.capacity {
		// Requests queued by the end of the step wait for the backlog.
		p99 += 1000 * (rate - s.capacity) * s.stepSeconds / s.capacity
	}
	if s.flaky[rate] {
		delete(s.flaky, rate)
		p99 *= 100
	}
	sum.Latency = result.Latency{Mean: p99 / 2, P50: p99 / 2, P90: p99, P99: p99, Max: p99}
	sum.ThroughputRPS = math.Min(rate, s.capacity)
	return sum, nil
}

func TestSearchFindsCapacity(t *testing.T) {
	slo, _ := ParseSLO("p99<=100ms")
	for _, capacity := range []float64{7, 200, 333, 12000} {
		s := &sim{capacity: capacity, base: 20, stepSeconds: 4}
		r, err := Search(context.Background(), Options{SLO: slo}, s.measure)
		if err != nil {
			t.Fatalf("capacity %v: %v", capacity, err)
		}
		if r.MaxRate > capacity*1.05 || r.MaxRate < capacity*0.9 {
			t.Errorf("capacity %v: found %v (bracket %v-%v)", capacity, r.MaxRate, r.Low, r.High)
		}
		if r.Stopped != StopSLO || r.Confidence.Trials != 3 || r.Confidence.Passed != 3 {
			t.Errorf("capacity %v: stopped %q, confidence %+v", capacity, r.Stopped, r.Confidence)
		}
		if r.Knee > r.MaxRate*1.01 || r.Knee <= 0 {
			t.Errorf("capacity %v: knee %v beyond the max rate %v", capacity, r.Knee, r.MaxRate)
		}
	}
}

func TestSearchGeneratorLimit(t *testing.T) {
	slo, _ := ParseSLO("p99<=100ms")
	s := &sim{capacity: 1e5, base: 1, stepSeconds: 4, genMax: 3000}
	r, err := Search(context.Background(), Options{SLO: slo}, s.measure)
	if err != nil {
		t.Fatal(err)
	}
	if r.Stopped != StopGenerator || r.MaxRate != 1600 {
		t.Errorf("stopped %q at %v, want the generator limit after 1600", r.Stopped, r.MaxRate)
	}
	sz, err := Size(r, 5000, 0.3, Costs{})
	if err != nil || !strings.Contains(strings.Join(sz.Notes, " "), "generator") {
		t.Errorf("sizing after a generator limit does not say so: %+v, %v", sz, err)
	}
}

func TestSearchFlakyConfirmStepsDown(t *testing.T) {
	slo, _ := ParseSLO("p99<=100ms")
	s := &sim{capacity: 200, base: 20, stepSeconds: 4, flaky: map[float64]bool{}}
	seen, failed := map[float64]bool{}, false
	r, err := Search(context.Background(), Options{SLO: slo, Confirm: 2}, func(ctx context.Context, rate float64) (*result.Summary, error) {
		// The first repeated rate is the first confirmation: it fails once.
		if seen[rate] && !failed {
			s.flaky[rate], failed = true, true
		}
		seen[rate] = true
		return s.measure(ctx, rate)
	})
	if err != nil {
		t.Fatal(err)
	}
	if !failed {
		t.Fatal("no confirmation run happened")
	}
	if r.Confidence.Passed != r.Confidence.Trials || r.Confidence.Trials < 2 {
		t.Errorf("confidence %+v: the final rate must have passed every run", r.Confidence)
	}
	if r.MaxRate > 200 || r.MaxRate < 170 {
		t.Errorf("max rate %v, want just under the capacity 200", r.MaxRate)
	}
}

func TestSearchNothingPasses(t *testing.T) {
	slo, _ := ParseSLO("p99<=5ms")
	s := &sim{capacity: 1000, base: 20, stepSeconds: 4}
	r, err := Search(context.Background(), Options{SLO: slo}, s.measure)
	if !errors.Is(err, ErrNoPassingRate) || !strings.Contains(err.Error(), "p99") {
		t.Fatalf("error %v, want ErrNoPassingRate naming p99", err)
	}
	if len(r.Steps) == 0 || len(r.Steps) > 40 {
		t.Errorf("%d steps", len(r.Steps))
	}
}

func TestSearchErrorsObjective(t *testing.T) {
	slo, _ := ParseSLO("errors<=1%")
	r, err := Search(context.Background(), Options{SLO: slo}, func(_ context.Context, rate float64) (*result.Summary, error) {
		ok := 1.0
		if rate > 500 {
			ok = 0.5
		}
		return &result.Summary{Model: result.ModelOpen, RateTarget: rate, RateAchieved: rate, Requests: 100, SuccessRatio: ok, Valid: true}, nil
	})
	if err != nil || r.MaxRate < 475 || r.MaxRate > 500 {
		t.Fatalf("max rate %v, %v; want 475-500", r.MaxRate, err)
	}
}

func TestSize(t *testing.T) {
	r := &Result{MaxRate: 1000, Steps: []Step{
		{Rate: 500, Mean: 10, P99: 40, Valid: true, Pass: true},
		{Rate: 1000, Mean: 20, P99: 80, Valid: true, Pass: true},
	}}
	s, err := Size(r, 2500, 0.3, Costs{BaseRSS: 10 << 20, PerConnRSS: 1 << 10, UpstreamFDs: 1})
	if err != nil {
		t.Fatal(err)
	}
	// 700 req/s per instance -> 4 instances at 625 req/s; latency there
	// interpolates to mean 12.5 ms, p99 50 ms.
	if s.Instances != 4 || s.RatePerInstance != 625 {
		t.Fatalf("instances %d at %v", s.Instances, s.RatePerInstance)
	}
	if math.Abs(s.InFlight-7.8125) > 1e-9 || s.Connections != 32 || s.WorkerThreads != 32 || s.FileDescriptors != 128 {
		t.Errorf("in flight %v, connections %d, workers %d, fds %d", s.InFlight, s.Connections, s.WorkerThreads, s.FileDescriptors)
	}
	if s.MemoryBytes != 10<<20+32<<10 {
		t.Errorf("memory %d", s.MemoryBytes)
	}
	for _, bad := range []struct{ target, headroom float64 }{{0, 0.3}, {100, 1}, {100, -0.1}, {math.Inf(1), 0}} {
		if _, err := Size(r, bad.target, bad.headroom, Costs{}); err == nil {
			t.Errorf("Size(%v, %v) accepted", bad.target, bad.headroom)
		}
	}
}

func TestKnee(t *testing.T) {
	st := func(rate, p99 float64) Step { return Step{Rate: rate, P99: p99, Valid: true} }
	for _, tc := range []struct {
		name  string
		steps []Step
		want  float64
	}{
		{"flat then queueing", []Step{st(100, 20), st(200, 21), st(400, 22), st(800, 900), st(600, 300), st(500, 35)}, 500},
		{"a noisy low step", []Step{st(1000, 2.2), st(2000, 5.9), st(4000, 1.8), st(8000, 2.8)}, 8000},
		{"invalid steps ignored", []Step{st(10, 5), {Rate: 20, P99: 1, Valid: false}, st(40, 12)}, 10},
		{"nothing valid", []Step{{Rate: 5}}, 0},
	} {
		if got := knee(tc.steps); got != tc.want {
			t.Errorf("%s: knee %v, want %v", tc.name, got, tc.want)
		}
	}
}
