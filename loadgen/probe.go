package loadgen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/c10k/c10k/loadgen/result"
	"golang.org/x/sync/errgroup"
)

// Histogram bounds: microseconds from 1 µs to 10 minutes, 3 significant
// digits.
const (
	histMin    = 1
	histMax    = int64(10 * time.Minute / time.Microsecond)
	histDigits = 3
)

// ProbeOptions configure a probe run.
type ProbeOptions struct {
	Target   Target
	Rate     float64       // probes started per second
	Duration time.Duration // how long to probe: Rate*Duration probes
	Timeout  time.Duration // per probe, from its intended start
	Dialer   *Dialer       // nil: a Dialer with no source addresses
}

// ProbeResult is the outcome of a probe run. Latency is in microseconds,
// counted from each probe's intended start on the open-loop schedule, so a
// stalled server or a late generator cannot hide queueing (no coordinated
// omission). A probe that times out is recorded with its full time (at
// least the timeout) and counted in Errors and Timeouts.
type ProbeResult struct {
	Sent     int64
	OK       int64 // a 2xx or 3xx response read in full
	Errors   int64 // timeouts, connection errors and 4xx/5xx statuses
	Timeouts int64
	Latency  *hdrhistogram.Histogram // µs; completed responses and timeouts
	// Kinds counts errors by kind: timeout, refused, reset, status, tls, other.
	Kinds map[string]int64
	// FirstError is the text of the first error, for the report.
	FirstError string
}

// ProbeSummary is the compact form of a probe run, in milliseconds.
type ProbeSummary = result.ProbeSummary

// Summary returns r's counts and percentiles in milliseconds.
func (r *ProbeResult) Summary() ProbeSummary {
	ms := func(q float64) float64 { return float64(r.Latency.ValueAtQuantile(q)) / 1000 }
	return ProbeSummary{
		Sent: r.Sent, OK: r.OK, Errors: r.Errors, Timeouts: r.Timeouts,
		P50: ms(50), P90: ms(90), P99: ms(99), Max: float64(r.Latency.Max()) / 1000,
		FirstError: r.FirstError, Kinds: r.Kinds,
	}
}

// Probe starts a fresh connection at every tick of an open-loop schedule
// (Rate per second for Duration), each doing one GET with "Connection:
// close", whatever the server does with the previous ones. It returns
// when every probe finished or timed out: within Duration + Timeout.
func Probe(ctx context.Context, opts ProbeOptions) (*ProbeResult, error) {
	if opts.Rate <= 0 || opts.Duration <= 0 || opts.Timeout <= 0 {
		return nil, fmt.Errorf("loadgen: probe: want rate, duration and timeout > 0 (got %g, %v, %v)", opts.Rate, opts.Duration, opts.Timeout)
	}
	if opts.Dialer == nil {
		opts.Dialer = &Dialer{}
	}
	n := int(opts.Rate * opts.Duration.Seconds())
	if n < 1 {
		n = 1
	}
	req := opts.Target.request(false)
	r := &ProbeResult{Latency: hdrhistogram.New(histMin, histMax, histDigits), Kinds: map[string]int64{}}
	var mu sync.Mutex
	var g errgroup.Group
	schedule(ctx, n, opts.Rate, func(i int, intended time.Time) {
		g.Go(func() error {
			lat, err := probeOnce(ctx, opts, req, intended)
			mu.Lock()
			defer mu.Unlock()
			r.Sent++
			timedOut := errors.Is(err, ErrTimeout)
			if err == nil || timedOut {
				r.Latency.RecordValue(min(max(lat.Microseconds(), histMin), histMax))
			}
			if err != nil {
				r.Errors++
				r.Kinds[errorKind(err)]++
				if timedOut {
					r.Timeouts++
				}
				if r.FirstError == "" {
					r.FirstError = err.Error()
				}
				return nil
			}
			r.OK++
			return nil
		})
	})
	g.Wait()
	return r, nil
}

// probeOnce does one probe; its latency is measured from intended.
func probeOnce(ctx context.Context, opts ProbeOptions, req []byte, intended time.Time) (time.Duration, error) {
	deadline := intended.Add(opts.Timeout)
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	c, err := opts.Dialer.DialContext(dctx, opts.Target.Addr)
	if err != nil {
		if dctx.Err() == context.DeadlineExceeded {
			return time.Since(intended), fmt.Errorf("%w: %v", ErrTimeout, err)
		}
		return time.Since(intended), err
	}
	defer c.Close()
	status, err := roundTrip(c, bufio.NewReader(c), req, deadline)
	lat := time.Since(intended)
	if err == nil && status >= 400 {
		err = fmt.Errorf("%w %d", errStatus, status)
	}
	return lat, err
}

// errorKind classifies an error for the report: timeout, refused,
// reset, status, tls or other.
func errorKind(err error) string {
	switch {
	case errors.Is(err, ErrTimeout):
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "reset"
	case errors.Is(err, errStatus):
		return "status"
	case isTLSError(err):
		return "tls"
	}
	return "other"
}

// errStatus is a 4xx or 5xx response.
var errStatus = errors.New("error status")
