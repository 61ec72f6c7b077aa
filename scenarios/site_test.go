package scenarios

import (
	"slices"
	"testing"
	"time"
)

func TestScenarioTimes(t *testing.T) {
	s := &Scenario{
		Steps: []Step{
			{},
			{Duration: Duration(7 * time.Second), Timeout: Duration(time.Second)},
		},
	}
	tests := []struct {
		name                                           string
		warmup, duration                               Duration
		interval                                       Duration
		i                                              int
		wantWarmup, wantDur, wantTimeout, wantInterval time.Duration
	}{
		{"defaults", 0, 0, 0, 0, DefaultWarmup, DefaultDuration, DefaultTimeout, DefaultInterval},
		{"scenario's", Duration(2 * time.Second), Duration(3 * time.Second), Duration(time.Second), 0, 2 * time.Second, 3 * time.Second, DefaultTimeout, time.Second},
		{"step's own", 0, Duration(3 * time.Second), 0, 1, DefaultWarmup, 7 * time.Second, time.Second, DefaultInterval},
		{"out of range", 0, Duration(3 * time.Second), 0, 5, DefaultWarmup, 3 * time.Second, DefaultTimeout, DefaultInterval},
		{"negative index", 0, 0, 0, -1, DefaultWarmup, DefaultDuration, DefaultTimeout, DefaultInterval},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.Warmup, s.Duration, s.Interval = tt.warmup, tt.duration, tt.interval
			if got := s.WarmupFor(tt.i); got != tt.wantWarmup {
				t.Errorf("WarmupFor(%d) = %v, want %v", tt.i, got, tt.wantWarmup)
			}
			if got := s.DurationFor(tt.i); got != tt.wantDur {
				t.Errorf("DurationFor(%d) = %v, want %v", tt.i, got, tt.wantDur)
			}
			if got := s.TimeoutFor(tt.i); got != tt.wantTimeout {
				t.Errorf("TimeoutFor(%d) = %v, want %v", tt.i, got, tt.wantTimeout)
			}
			if got := s.IntervalOrDefault(); got != tt.wantInterval {
				t.Errorf("IntervalOrDefault() = %v, want %v", got, tt.wantInterval)
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	s := &Scenario{}
	all := s.Metrics()
	if want := []string{MetricRSS, MetricCPU, MetricThreads, MetricFDs, MetricCtxSw}; !slices.Equal(all, want) {
		t.Errorf("Metrics() = %v, want %v", all, want)
	}
	all[0] = "changed"
	if s.Metrics()[0] != MetricRSS {
		t.Error("Metrics() returned a shared slice")
	}
	s.Sample = []string{MetricFDs}
	got := s.Metrics()
	if !slices.Equal(got, []string{MetricFDs}) {
		t.Errorf("Metrics() = %v, want [fds]", got)
	}
	got[0] = "x"
	if s.Sample[0] != MetricFDs {
		t.Error("Metrics() returned Sample itself")
	}
}

func TestRuns(t *testing.T) {
	s := &Scenario{}
	for _, core := range []string{"thread", "event", "nginx"} {
		if !s.Runs(core) {
			t.Errorf("no Cores: Runs(%q) = false", core)
		}
	}
	s.Cores = []string{"event", "nginx"}
	for core, want := range map[string]bool{"event": true, "nginx": true, "thread": false, "": false} {
		if got := s.Runs(core); got != want {
			t.Errorf("Runs(%q) = %v, want %v", core, got, want)
		}
	}
}

func TestStepName(t *testing.T) {
	off, on := false, true
	tests := []struct {
		st   Step
		want string
	}{
		{Step{Label: "cgi", Connections: 8}, "cgi"},
		{Step{Connections: 100}, "c=100"},
		{Step{Rate: 500}, "rate=500"},
		{Step{Rate: 12.5}, "rate=12.5"},
		{Step{Idle: 5000, ProbeRate: 100}, "idle=5000"},
		{Step{Connections: 50, KeepAlive: &off}, "keepalive=off c=50"},
		{Step{Connections: 50, KeepAlive: &off, TLS: true}, "tls keepalive=off c=50"},
		{Step{Connections: 50, TLS: true, TLSResume: true}, "tls-resume c=50"},
		{Step{Connections: 50, KeepAlive: &on}, "c=50"},
		{Step{ProbeRate: 5}, "idle=0"},
	}
	for _, tt := range tests {
		if got := tt.st.Name(); got != tt.want {
			t.Errorf("%+v.Name() = %q, want %q", tt.st, got, tt.want)
		}
	}
}

func TestSiteBackends(t *testing.T) {
	site := &Site{Proxy: &Proxy{Location: "/app/", Backends: []Backend{
		{Name: "a"}, {Name: "blue1", Color: "blue"}, {Name: "green1", Color: "green"}, {Name: "b", Weight: 2}, {Name: "blue2", Color: "blue"},
	}}}
	if b, ok := site.Backend("b"); !ok || b.Weight != 2 {
		t.Errorf("Backend(b) = %+v, %v", b, ok)
	}
	if _, ok := site.Backend("zz"); ok {
		t.Error("Backend(zz) found")
	}
	names := func(bs []Backend) []string {
		var n []string
		for _, b := range bs {
			n = append(n, b.Name)
		}
		return n
	}
	for color, want := range map[string][]string{
		"":      {"a", "blue1", "b", "blue2"},
		"blue":  {"a", "blue1", "b", "blue2"},
		"green": {"a", "green1", "b"},
		"red":   {"a", "b"},
	} {
		if got := names(site.Upstream(color)); !slices.Equal(got, want) {
			t.Errorf("Upstream(%q) = %v, want %v", color, got, want)
		}
	}
	empty := &Site{}
	if _, ok := empty.Backend("a"); ok {
		t.Error("Backend without a proxy found")
	}
	if up := empty.Upstream("blue"); up != nil {
		t.Errorf("Upstream without a proxy = %v", up)
	}
}
