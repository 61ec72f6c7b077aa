package plan

import (
	"fmt"
	"math"
	"slices"
)

// Costs are what one server instance costs beside its load, measured on
// the server planned for; zero fields are unknown.
type Costs struct {
	BaseRSS    int64 // resident memory at rest, bytes
	PerConnRSS int64 // resident memory per open connection, bytes
	// UpstreamFDs is the file descriptors each client connection adds on
	// the upstream side (1 for a reverse proxy without upstream keep-alive,
	// 0 for a static server); it only scales the fd figure.
	UpstreamFDs float64
}

// A Sizing is how many instances a target rate needs, and what each one
// must be configured for.
type Sizing struct {
	TargetRPS       float64 `json:"target_rps"`
	Headroom        float64 `json:"headroom"`          // fraction of MaxRate kept free, in [0, 1)
	PerInstanceMax  float64 `json:"per_instance_rps"`  // MaxRate × (1 - Headroom)
	Instances       int     `json:"instances"`         // ceil(TargetRPS / PerInstanceMax)
	RatePerInstance float64 `json:"rate_per_instance"` // TargetRPS / Instances
	MeanMS          float64 `json:"mean_ms"`           // latency at RatePerInstance (interpolated)
	P99MS           float64 `json:"p99_ms"`
	// InFlight is Little's law, L = λW: the requests in flight on average
	// at RatePerInstance with the mean latency there.
	InFlight float64 `json:"in_flight"`
	// Connections carry the p99 burst: ceil(rate × p99 latency), at least
	// InFlight. A thread-per-connection server needs a worker thread
	// each (WorkerThreads); an event server needs them within
	// worker_connections.
	Connections     int      `json:"connections"`
	WorkerThreads   int      `json:"worker_threads"`
	FileDescriptors int      `json:"file_descriptors"` // connections × (1 + upstream) + 64 reserved
	MemoryBytes     int64    `json:"memory_bytes"`     // BaseRSS + PerConnRSS × Connections; 0 unknown
	Notes           []string `json:"notes,omitempty"`
}

// Size sizes a deployment for target req/s from a search result, keeping
// headroom (a fraction, e.g. 0.3) of each instance's sustainable rate
// free.
func Size(r *Result, target, headroom float64, c Costs) (*Sizing, error) {
	switch {
	case r == nil || r.MaxRate <= 0:
		return nil, fmt.Errorf("plan: no sustainable rate to size from")
	case target <= 0 || math.IsInf(target, 0) || math.IsNaN(target):
		return nil, fmt.Errorf("plan: target rate %v: must be positive", target)
	case headroom < 0 || headroom >= 1 || math.IsNaN(headroom):
		return nil, fmt.Errorf("plan: headroom %v: want a fraction in [0, 1)", headroom)
	}
	s := &Sizing{TargetRPS: target, Headroom: headroom, PerInstanceMax: r.MaxRate * (1 - headroom)}
	s.Instances = int(math.Ceil(target / s.PerInstanceMax))
	s.RatePerInstance = target / float64(s.Instances)
	s.MeanMS, s.P99MS = latencyAt(r.Steps, s.RatePerInstance)
	s.InFlight = s.RatePerInstance * s.MeanMS / 1000
	s.Connections = int(math.Ceil(math.Max(s.RatePerInstance*s.P99MS/1000, s.InFlight)))
	s.Connections = max(s.Connections, 1)
	s.WorkerThreads = s.Connections
	s.FileDescriptors = int(math.Ceil(float64(s.Connections)*(1+c.UpstreamFDs))) + 64
	if c.BaseRSS > 0 || c.PerConnRSS > 0 {
		s.MemoryBytes = c.BaseRSS + c.PerConnRSS*int64(s.Connections)
	} else {
		s.Notes = append(s.Notes, "memory unknown: the server's RSS was not measured (give --pid, or plan with --core)")
	}
	if r.Stopped == StopGenerator {
		s.Notes = append(s.Notes, "the generator was the limit: the server may sustain more, so this sizing is conservative")
	}
	s.Notes = append(s.Notes, "connections assume clients keep them alive and send one request at a time; idle keep-alive clients add a connection (and, on a thread-per-connection server, a worker) each")
	return s, nil
}

// latencyAt interpolates the mean and p99 latency at rate from the valid,
// passing steps, averaging repeated runs of one rate.
func latencyAt(steps []Step, rate float64) (mean, p99 float64) {
	type point struct{ rate, mean, p99 float64 }
	var pts []point
	for _, s := range steps {
		if !s.Valid || !s.Pass {
			continue
		}
		if i := slices.IndexFunc(pts, func(p point) bool { return p.rate == s.Rate }); i >= 0 {
			pts[i].mean, pts[i].p99 = (pts[i].mean+s.Mean)/2, (pts[i].p99+s.P99)/2
			continue
		}
		pts = append(pts, point{s.Rate, s.Mean, s.P99})
	}
	if len(pts) == 0 {
		return 0, 0
	}
	slices.SortFunc(pts, func(a, b point) int { return int(math.Copysign(1, a.rate-b.rate)) })
	if rate <= pts[0].rate {
		return pts[0].mean, pts[0].p99
	}
	for i := 1; i < len(pts); i++ {
		if rate <= pts[i].rate {
			a, b := pts[i-1], pts[i]
			f := (rate - a.rate) / (b.rate - a.rate)
			return a.mean + f*(b.mean-a.mean), a.p99 + f*(b.p99-a.p99)
		}
	}
	last := pts[len(pts)-1]
	return last.mean, last.p99
}
