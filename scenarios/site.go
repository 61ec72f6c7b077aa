package scenarios

import (
	"slices"
	"strconv"
	"time"
)

// WarmupFor returns step i's warm-up: the scenario's Warmup, or
// DefaultWarmup when it is zero. Every step has the same warm-up; i is
// there so that callers need not know it.
func (s *Scenario) WarmupFor(i int) time.Duration {
	if s.Warmup > 0 {
		return time.Duration(s.Warmup)
	}
	return DefaultWarmup
}

// DurationFor returns step i's measured time: the step's Duration, else
// the scenario's, else DefaultDuration. An index out of range gets the
// scenario's.
func (s *Scenario) DurationFor(i int) time.Duration {
	if i >= 0 && i < len(s.Steps) && s.Steps[i].Duration > 0 {
		return time.Duration(s.Steps[i].Duration)
	}
	if s.Duration > 0 {
		return time.Duration(s.Duration)
	}
	return DefaultDuration
}

// TimeoutFor returns the bound on every request of step i: the step's
// Timeout, or DefaultTimeout.
func (s *Scenario) TimeoutFor(i int) time.Duration {
	if i >= 0 && i < len(s.Steps) && s.Steps[i].Timeout > 0 {
		return time.Duration(s.Steps[i].Timeout)
	}
	return DefaultTimeout
}

// IntervalOrDefault returns the /proc sampling period: Interval, or
// DefaultInterval.
func (s *Scenario) IntervalOrDefault() time.Duration {
	if s.Interval > 0 {
		return time.Duration(s.Interval)
	}
	return DefaultInterval
}

// Metrics returns the metrics to sample: Sample, or every Metric
// constant (rss, cpu, threads, fds, ctxsw) when it is empty. The slice
// is the caller's.
func (s *Scenario) Metrics() []string {
	if len(s.Sample) > 0 {
		return slices.Clone(s.Sample)
	}
	return slices.Clone(allMetrics)
}

// Runs reports whether the scenario runs on core (a core name as in
// `c10k serve --core`, or a reference server's name): Cores is empty or
// lists it.
func (s *Scenario) Runs(core string) bool {
	return len(s.Cores) == 0 || slices.Contains(s.Cores, core)
}

// Name returns the step's name in tables and file names: its Label, or
// one derived from the load: "c=100", "rate=500", "idle=5000", with
// "keepalive=off " in front when keep-alive is off and "tls " (or
// "tls-resume ") before that for a TLS step.
func (st Step) Name() string {
	if st.Label != "" {
		return st.Label
	}
	var n string
	switch {
	case st.Connections > 0:
		n = "c=" + strconv.Itoa(st.Connections)
	case st.Rate > 0:
		n = "rate=" + strconv.FormatFloat(st.Rate, 'f', -1, 64)
	case st.Idle > 0:
		n = "idle=" + strconv.Itoa(st.Idle)
	default:
		n = "idle=0"
	}
	if st.KeepAlive != nil && !*st.KeepAlive {
		n = "keepalive=off " + n
	}
	switch {
	case st.TLSResume:
		n = "tls-resume " + n
	case st.TLS:
		n = "tls " + n
	}
	return n
}

// Backend returns the backend of the proxy named name.
func (s *Site) Backend(name string) (Backend, bool) {
	if s.Proxy == nil {
		return Backend{}, false
	}
	for _, b := range s.Proxy.Backends {
		if b.Name == name {
			return b, true
		}
	}
	return Backend{}, false
}

// Upstream returns the backends in the upstream when it points at color:
// those without a color and those of that color, in the order of
// Proxy.Backends. Color "" is "blue", where a run starts; nil without a
// proxy.
func (s *Site) Upstream(color string) []Backend {
	if s.Proxy == nil {
		return nil
	}
	if color == "" {
		color = "blue"
	}
	var bs []Backend
	for _, b := range s.Proxy.Backends {
		if b.Color == "" || b.Color == color {
			bs = append(bs, b)
		}
	}
	return bs
}
