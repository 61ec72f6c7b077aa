package loadgen

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/c10k/c10k/loadgen/result"
	"golang.org/x/sync/errgroup"
)

// IdleOptions configure an idle keep-alive set.
type IdleOptions struct {
	Target   Target
	Conns    int           // connections to open
	OpenRate float64       // connections opened per second
	Timeout  time.Duration // per connection: connect, request and response
	Dialer   *Dialer       // nil: a Dialer with no source addresses
}

// IdleStats counts an idle set's connections.
type IdleStats = result.IdleStats

// IdleSet is a set of keep-alive connections held open and quiet: each
// sent one request and read its response, then waits. A watcher per
// connection counts the ones the server closes. Close ends them all.
type IdleSet struct {
	opts    IdleOptions
	cancel  context.CancelFunc
	g       errgroup.Group
	closing atomic.Bool

	opened, failed, closed atomic.Int64
	openTime               atomic.Int64 // nanoseconds

	mu       sync.Mutex
	conns    []net.Conn
	firstErr error
}

// HoldIdle opens opts.Conns keep-alive connections at opts.OpenRate per
// second and returns once every one is open or failed: within
// Conns/OpenRate + Timeout, or sooner when ctx ends. The connections stay
// open until Close, which the caller must call.
func HoldIdle(ctx context.Context, opts IdleOptions) (*IdleSet, error) {
	if opts.Conns < 0 || opts.OpenRate <= 0 || opts.Timeout <= 0 {
		return nil, fmt.Errorf("loadgen: idle set: want conns >= 0, open rate > 0 and timeout > 0 (got %d, %g, %v)", opts.Conns, opts.OpenRate, opts.Timeout)
	}
	if opts.Dialer == nil {
		opts.Dialer = &Dialer{}
	}
	wctx, cancel := context.WithCancel(context.Background())
	s := &IdleSet{opts: opts, cancel: cancel, conns: make([]net.Conn, 0, opts.Conns)}
	req := opts.Target.request(true)
	start := time.Now()
	var opening sync.WaitGroup
	schedule(ctx, opts.Conns, opts.OpenRate, func(i int, intended time.Time) {
		opening.Add(1)
		s.g.Go(func() error {
			c, ok := s.open(ctx, req, intended)
			opening.Done()
			if ok {
				s.watch(wctx, c)
			}
			return nil
		})
	})
	opening.Wait()
	s.openTime.Store(int64(time.Since(start)))
	return s, nil
}

// open connects and does the first request; false when it failed.
func (s *IdleSet) open(ctx context.Context, req []byte, intended time.Time) (net.Conn, bool) {
	deadline := intended.Add(s.opts.Timeout)
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	c, err := s.opts.Dialer.DialContext(dctx, s.opts.Target.Addr)
	if err == nil {
		var status int
		status, err = roundTrip(c, bufio.NewReaderSize(c, 4096), req, deadline)
		if err == nil && status >= 400 {
			err = fmt.Errorf("status %d", status)
		}
		if err != nil {
			c.Close()
		}
	}
	if err != nil {
		s.failed.Add(1)
		s.mu.Lock()
		if s.firstErr == nil {
			s.firstErr = timeoutErr(err)
		}
		s.mu.Unlock()
		return nil, false
	}
	c.SetDeadline(time.Time{})
	s.mu.Lock()
	s.conns = append(s.conns, c)
	s.mu.Unlock()
	s.opened.Add(1)
	return c, true
}

// watch blocks reading c until the server closes it or Close does.
func (s *IdleSet) watch(ctx context.Context, c net.Conn) {
	var b [1]byte
	c.Read(b[:])
	if s.closing.Load() || ctx.Err() != nil {
		return // Close closed it
	}
	// EOF, a reset, or unsolicited bytes (nginx sends nothing before
	// closing; some servers send a 408): the connection is no longer held.
	s.closed.Add(1)
}

// Stats returns the counts now.
func (s *IdleSet) Stats() IdleStats {
	st := IdleStats{
		Asked:          s.opts.Conns,
		Opened:         s.opened.Load(),
		Failed:         s.failed.Load(),
		ClosedByServer: s.closed.Load(),
		OpenSeconds:    time.Duration(s.openTime.Load()).Seconds(),
	}
	st.Held = st.Opened - st.ClosedByServer
	s.mu.Lock()
	if s.firstErr != nil {
		st.FirstError = s.firstErr.Error()
	}
	s.mu.Unlock()
	return st
}

// Close closes every connection and waits for their watchers.
func (s *IdleSet) Close() error {
	s.closing.Store(true)
	s.cancel()
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.conns = nil
	s.mu.Unlock()
	return s.g.Wait()
}
