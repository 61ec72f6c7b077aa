package loadgen

import (
	"context"
	"fmt"
	"net/netip"
	"time"
)

// C10kOptions configure a C10k-control run: hold Idle keep-alive
// connections, then probe fresh requests while they sit idle.
type C10kOptions struct {
	URL       string
	Idle      int           // idle keep-alive connections to hold
	OpenRate  float64       // idle connections opened per second
	ProbeRate float64       // probes per second while the idle set is held
	Duration  time.Duration // how long to probe
	Timeout   time.Duration // per connection open and per probe
	Sources   []netip.Addr  // source addresses to spread connections over
	// RSSPIDs, when set, are the server's processes: their summed VmRSS
	// is sampled before the idle set opens and once it is held (after
	// Settle), giving the memory per idle connection.
	RSSPIDs []int
	Settle  time.Duration // wait between the set being open and the RSS sample
	// TLS configures the client of an https URL.
	TLS TLSOptions
}

// C10kResult is the outcome of RunC10k, JSON-encodable.
type C10kResult struct {
	URL     string       `json:"url"`
	Sources int          `json:"source_ips"`
	Limits  Limits       `json:"limits"`
	Idle    IdleStats    `json:"idle"`     // when the set was open
	IdleEnd IdleStats    `json:"idle_end"` // after probing
	Probe   ProbeSummary `json:"probe"`
	// Memory of RSSPIDs; zero without them.
	RSSBefore        int64     `json:"rss_before_bytes,omitempty"`
	RSSHeld          int64     `json:"rss_held_bytes,omitempty"`
	RSSPerIdleConnKB float64   `json:"rss_per_idle_conn_kb,omitempty"`
	Started          time.Time `json:"started"`
	Seconds          float64   `json:"seconds"`
}

// RunC10k checks the limits (Preflight), opens the idle set, samples the
// server's memory, probes for Duration and closes the set. A preflight
// failure wraps ErrPreflight and happens before any connection.
func RunC10k(ctx context.Context, o C10kOptions) (*C10kResult, error) {
	t, err := ParseTarget(o.URL)
	if err != nil {
		return nil, err
	}
	// Probes in flight at once: at most Rate*Timeout, plus the set.
	inflight := int(o.ProbeRate*o.Timeout.Seconds()) + 1
	lim, err := Preflight(o.Idle+inflight, len(o.Sources))
	if err != nil {
		return nil, err
	}
	res := &C10kResult{URL: o.URL, Sources: len(o.Sources), Limits: lim, Started: time.Now().UTC()}
	if len(o.RSSPIDs) > 0 {
		if res.RSSBefore, err = RSS(o.RSSPIDs...); err != nil {
			return nil, err
		}
	}
	d := &Dialer{Sources: o.Sources}
	if t.TLS {
		if d.TLS, err = o.TLS.Config(t); err != nil {
			return nil, err
		}
		if err := tlsPreflight(ctx, t, d.TLS, o.Timeout); err != nil {
			return nil, err
		}
	}
	set, err := HoldIdle(ctx, IdleOptions{Target: t, Conns: o.Idle, OpenRate: o.OpenRate, Timeout: o.Timeout, Dialer: d})
	if err != nil {
		return nil, err
	}
	defer set.Close()
	if o.Settle > 0 {
		sleep(ctx, o.Settle)
	}
	res.Idle = set.Stats()
	if len(o.RSSPIDs) > 0 {
		if res.RSSHeld, err = RSS(o.RSSPIDs...); err != nil {
			return nil, err
		}
		if res.Idle.Held > 0 {
			res.RSSPerIdleConnKB = float64(res.RSSHeld-res.RSSBefore) / 1024 / float64(res.Idle.Held)
		}
	}
	if o.ProbeRate > 0 && o.Duration > 0 {
		pr, err := Probe(ctx, ProbeOptions{Target: t, Rate: o.ProbeRate, Duration: o.Duration, Timeout: o.Timeout, Dialer: d})
		if err != nil {
			return nil, err
		}
		res.Probe = pr.Summary()
	}
	res.IdleEnd = set.Stats()
	res.Seconds = time.Since(res.Started).Seconds()
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("loadgen: c10k run interrupted: %w", err)
	}
	return res, nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
