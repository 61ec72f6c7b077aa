package result

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Merge combines the summaries of shards that ran at the same time into
// one: counts, rates, connections, slow-reader and TLS handshake counts
// add up,
// histograms merge exactly, timelines add up bucket by bucket (each
// shard's counted from its own load start), the duration is the longest,
// and the result is valid only when every shard was. The inputs are not
// modified.
func Merge(parts ...*Summary) (*Summary, error) {
	if len(parts) == 0 {
		return nil, fmt.Errorf("result: merge: no summaries")
	}
	m := &Summary{Model: parts[0].Model, URL: parts[0].URL, Method: parts[0].Method,
		StatusCodes: map[string]int64{}, Errors: map[string]int64{}, Valid: true}
	var reasons, notes []string
	for i, p := range parts {
		if p.Model != m.Model {
			return nil, fmt.Errorf("result: merge: part %d is a %s-model run, part 0 a %s-model run", i, p.Model, m.Model)
		}
		label := fmt.Sprintf("part %d", i)
		if len(p.Shards) > 0 {
			m.Shards = append(m.Shards, p.Shards...)
			label = "shard " + strings.Join(p.Shards, ",")
		}
		if m.Started.IsZero() || (!p.Started.IsZero() && p.Started.Before(m.Started)) {
			m.Started = p.Started
		}
		m.Requests += p.Requests
		m.Scheduled += p.Scheduled
		m.DurationS = max(m.DurationS, p.DurationS)
		m.RateTarget += p.RateTarget
		m.RateAchieved += p.RateAchieved
		m.BytesIn += p.BytesIn
		m.BytesOut += p.BytesOut
		addCounts(m.StatusCodes, p.StatusCodes)
		addCounts(m.Errors, p.Errors)
		if m.FirstError == "" {
			m.FirstError = p.FirstError
		}
		m.Connections.Active += p.Connections.Active
		m.Connections.Idle += p.Connections.Idle
		m.Connections.Opened += p.Connections.Opened
		m.Connections.Failed += p.Connections.Failed
		m.PerConn = append(m.PerConn, p.PerConn...)
		m.Timeline = MergeTimeline(m.Timeline, p.Timeline)
		if p.Slow != nil {
			if m.Slow == nil {
				m.Slow = &SlowStats{}
			}
			m.Slow.Readers += p.Slow.Readers
			m.Slow.Responses += p.Slow.Responses
			m.Slow.Errors += p.Slow.Errors
			m.Slow.Bytes += p.Slow.Bytes
		}
		m.Hist.Latency = mergeHist(m.Hist.Latency, p.Hist.Latency)
		m.Hist.Service = mergeHist(m.Hist.Service, p.Hist.Service)
		m.Hist.Lag = mergeHist(m.Hist.Lag, p.Hist.Lag)
		m.Hist.Probe = mergeHist(m.Hist.Probe, p.Hist.Probe)
		m.Hist.Handshake = mergeHist(m.Hist.Handshake, p.Hist.Handshake)
		if p.TLS != nil {
			if m.TLS == nil {
				m.TLS = &TLSStats{}
			}
			m.TLS.merge(p.TLS)
		}
		g := &m.Generator
		g.CPUs += p.Generator.CPUs
		g.CPUPercent += p.Generator.CPUPercent
		g.Saturated = g.Saturated || p.Generator.Saturated
		g.LateFree += p.Generator.LateFree
		g.LateBlocked += p.Generator.LateBlocked
		g.MaxInFlight += p.Generator.MaxInFlight
		g.InFlightCap += p.Generator.InFlightCap
		g.GOMAXPROCS += p.Generator.GOMAXPROCS
		m.Interrupted = m.Interrupted || p.Interrupted
		m.InProgress = m.InProgress || p.InProgress
		if !p.Valid {
			m.Valid = false
			reasons = append(reasons, label+": "+p.InvalidReason)
		}
		if p.Note != "" {
			notes = append(notes, label+": "+p.Note)
		}
		m.Sources += p.Sources
		if p.Idle != nil {
			m.Idle = addIdle(m.Idle, p.Idle)
		}
		if p.IdleEnd != nil {
			m.IdleEnd = addIdle(m.IdleEnd, p.IdleEnd)
		}
	}
	m.Finish()
	if m.Hist.Probe != nil && m.Hist.Probe.TotalCount() > 0 {
		var ps ProbeSummary
		for _, p := range parts {
			if p.Probe != nil {
				ps.Sent += p.Probe.Sent
				ps.OK += p.Probe.OK
				ps.Errors += p.Probe.Errors
				ps.Timeouts += p.Probe.Timeouts
			}
		}
		l := m.ProbeLatency
		ps.P50, ps.P90, ps.P99, ps.Max = l.P50, l.P90, l.P99, l.Max
		m.Probe = &ps
	}
	m.InvalidReason = strings.Join(reasons, "; ")
	m.Note = strings.Join(notes, "; ")
	if len(m.Shards) > 1 {
		m.checkShards()
	}
	return m, nil
}

// checkShards notes shards that are missing or repeated.
func (m *Summary) checkShards() {
	seen := map[string]int{}
	for _, s := range m.Shards {
		seen[s]++
	}
	var dup []string
	for _, s := range slices.Sorted(maps.Keys(seen)) {
		if seen[s] > 1 {
			dup = append(dup, s)
		}
	}
	if len(dup) > 0 {
		m.Valid = false
		m.InvalidReason = strings.TrimPrefix(m.InvalidReason+"; shards given more than once: "+strings.Join(dup, ","), "; ")
	}
}

func addCounts(dst, src map[string]int64) {
	for k, v := range src {
		dst[k] += v
	}
}

func mergeHist(dst, src *hdrhistogram.Histogram) *hdrhistogram.Histogram {
	if src == nil {
		return dst
	}
	if dst == nil {
		dst = NewHistogram()
	}
	dst.Merge(src)
	return dst
}

func addIdle(dst, src *IdleStats) *IdleStats {
	if dst == nil {
		dst = &IdleStats{}
	}
	dst.Asked += src.Asked
	dst.Opened += src.Opened
	dst.Failed += src.Failed
	dst.ClosedByServer += src.ClosedByServer
	dst.Held += src.Held
	dst.OpenSeconds = max(dst.OpenSeconds, src.OpenSeconds)
	if dst.FirstError == "" {
		dst.FirstError = src.FirstError
	}
	return dst
}
