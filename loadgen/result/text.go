package result

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
)

// WriteText writes s as a human-readable table.
func WriteText(w io.Writer, s *Summary) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p := func(format string, a ...any) { fmt.Fprintf(tw, format+"\n", a...) }
	shards := ""
	if len(s.Shards) > 0 {
		shards = " shards " + strings.Join(s.Shards, ",")
	}
	p("target\t%s %s (%s model%s)", s.Method, s.URL, s.Model, shards)
	if s.Model != ModelNone {
		p("requests\t%d in %.2fs\tthroughput %.1f/s\tsuccess %.2f%%", s.Requests, s.DurationS, s.ThroughputRPS, 100*s.SuccessRatio)
		if s.RateTarget > 0 {
			p("rate\ttarget %.1f/s\tachieved %.1f/s (%.2f%%)\tscheduled %d", s.RateTarget, s.RateAchieved, 100*s.RateAchieved/s.RateTarget, s.Scheduled)
		} else {
			p("rate\tachieved %.1f/s", s.RateAchieved)
		}
		p("\tmin\tmean\tp50\tp90\tp99\tp99.9\tmax (ms)")
		row := func(name string, l Latency) {
			p("%s\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f", name, l.Min, l.Mean, l.P50, l.P90, l.P99, l.P999, l.Max)
		}
		if s.Model == ModelOpen {
			row("latency (from intended start)", s.Latency)
		} else {
			row("latency", s.Latency)
		}
		if s.Service != nil && s.Model == ModelOpen {
			row("service time", *s.Service)
		}
		if s.Lag != nil {
			row("schedule lag", *s.Lag)
		}
		if s.ProbeLatency != nil {
			row("probe latency", *s.ProbeLatency)
		}
	} else if s.ProbeLatency != nil {
		l := *s.ProbeLatency
		p("probe latency (ms)\tp50 %.3f\tp90 %.3f\tp99 %.3f\tmax %.3f", l.P50, l.P90, l.P99, l.Max)
	}
	var codes []string
	for _, c := range s.Codes() {
		codes = append(codes, fmt.Sprintf("%s×%d", c, s.StatusCodes[c]))
	}
	p("status codes\t%s", strings.Join(codes, "  "))
	if len(s.Errors) > 0 {
		var errs []string
		for _, k := range sortedKeys(s.Errors) {
			errs = append(errs, fmt.Sprintf("%s×%d", k, s.Errors[k]))
		}
		p("errors\t%s\tfirst: %s", strings.Join(errs, "  "), s.FirstError)
	}
	c := s.Connections
	p("connections\tactive %d\tidle %d\topened %d\tfailed %d", c.Active, c.Idle, c.Opened, c.Failed)
	if f := s.Fairness; f != nil {
		p("fairness\tper connection min %d\tmean %.1f\tmax %d\tcv %.3f\tstarved %d of %d", f.Min, f.Mean, f.Max, f.CV, f.Starved, f.Conns)
	}
	if s.Idle != nil {
		i := s.Idle
		p("idle set\tasked %d\topened %d\tfailed %d\tclosed by server %d\theld %d (open took %.1fs)", i.Asked, i.Opened, i.Failed, i.ClosedByServer, i.Held, i.OpenSeconds)
		if s.IdleEnd != nil {
			p("idle at end\theld %d\tclosed by server %d", s.IdleEnd.Held, s.IdleEnd.ClosedByServer)
		}
	}
	if s.RSSHeld > 0 {
		p("server RSS\t%.1f MiB before\t%.1f MiB held\t%.2f KB per idle connection", float64(s.RSSBefore)/(1<<20), float64(s.RSSHeld)/(1<<20), s.RSSPerIdleConnKB)
	}
	if pr := s.Probe; pr != nil && pr.Sent > 0 {
		p("probes\t%d sent\t%d ok\t%d errors (%d timeouts)", pr.Sent, pr.OK, pr.Errors, pr.Timeouts)
	}
	if t := s.TLS; t != nil {
		resume := "off"
		if t.Resume {
			resume = "on"
		}
		p("tls\t%s %s %s\tsession resumption %s", t.Version, t.Cipher, t.Curve, resume)
		p("handshakes\t%d done (%.1f/s)\t%d resumed\t%d failed\t%d by idle/probe/slow connections", t.Handshakes, t.PerSecond, t.Resumed, t.Failed, t.Other)
		l := t.Latency
		p("handshake (ms)\tp50 %.3f\tp90 %.3f\tp99 %.3f\tmax %.3f", l.P50, l.P90, l.P99, l.Max)
	}
	if sl := s.Slow; sl != nil {
		p("slow readers\t%d readers\t%d responses\t%d errors\t%d bytes read", sl.Readers, sl.Responses, sl.Errors, sl.Bytes)
	}
	g := s.Generator
	p("generator\tCPU %.0f%% of %d CPUs\tGOMAXPROCS %d\tmax in flight %d", g.CPUPercent, g.CPUs, g.GOMAXPROCS, g.MaxInFlight)
	switch {
	case s.Valid:
		p("valid\tyes")
	default:
		p("valid\tNO: %s", s.InvalidReason)
	}
	if s.Note != "" {
		p("note\t%s", s.Note)
	}
	return tw.Flush()
}

func sortedKeys(m map[string]int64) []string {
	return slices.Sorted(maps.Keys(m))
}

// WriteHgrm writes the latency distribution in HdrHistogram's .hgrm
// percentile text format, in milliseconds.
func WriteHgrm(w io.Writer, s *Summary) error {
	h := s.Hist.Latency
	if h == nil {
		h = NewHistogram()
	}
	_, err := h.PercentilesPrint(w, 5, 1000)
	return err
}
