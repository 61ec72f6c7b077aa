package backend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
)

// A Server is a simulated application server. Create it with New.
type Server struct {
	opts  Options
	slots *fifo // nil with ModelAsync

	rng atomic.Uint64 // splitmix64 state

	served      atomic.Uint64
	errors      atomic.Uint64
	inFlight    atomic.Int64
	maxInFlight atomic.Int64
	queued      atomic.Int64

	// hook, when set by tests, runs inside the worker slot after the
	// request body was read.
	hook func(*http.Request)
}

// Stats is a snapshot of a Server's counters, also served as JSON at /stats.
type Stats struct {
	Served      uint64 `json:"served"`        // requests finished, whatever their outcome
	Errors      uint64 `json:"errors"`        // requests answered 500 by ErrorRate
	InFlight    int64  `json:"in_flight"`     // requests being processed now
	MaxInFlight int64  `json:"max_in_flight"` // the most ever processed at once
	Queued      int64  `json:"queued"`        // requests waiting for a sync worker
}

// New returns a Server for opts, or an *OptionError if opts is invalid.
func New(opts Options) (*Server, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	if opts.Name == "" {
		opts.Name = opts.Listen
	}
	s := &Server{opts: opts}
	if opts.Model == ModelSync {
		s.slots = newFIFO(opts.Workers)
	}
	seed := opts.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	s.rng.Store(seed)
	return s, nil
}

// Name returns the name the server answers with in X-Backend.
func (s *Server) Name() string { return s.opts.Name }

// Stats returns a snapshot of the server's counters.
func (s *Server) Stats() Stats {
	return Stats{
		Served:      s.served.Load(),
		Errors:      s.errors.Load(),
		InFlight:    s.inFlight.Load(),
		MaxInFlight: s.maxInFlight.Load(),
		Queued:      s.queued.Load(),
	}
}

// Handler returns the server's HTTP handler. Without Serve, stalled
// requests (stall=1) end only when their client goes away.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

type stopKey struct{}

// Serve answers requests on l until ctx is done, then stops accepting,
// waits up to Options.ShutdownTimeout for in-flight requests and returns
// nil. Requests still running after that are cut off and Serve returns an
// error. Serve closes l.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	addr := l.Addr().String()
	srv := &http.Server{
		Handler: s.Handler(),
		// A slowloris client must not pin the server (nor, with the
		// sync model, hold nothing but a connection) for ever.
		ReadHeaderTimeout: ReadHeaderTimeout,
		// Requests outlive ctx so that they can finish during shutdown;
		// stalled ones watch the value to give up.
		BaseContext: func(net.Listener) context.Context {
			return context.WithValue(context.WithoutCancel(ctx), stopKey{}, ctx.Done())
		},
		ErrorLog: log.New(io.Discard, "", 0),
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("backend: serve %s: %w", addr, err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.ShutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			srv.Close()
			return fmt.Errorf("backend: shutdown %s: %w", addr, err)
		}
		return nil
	})
	return g.Wait()
}

// Run listens on opts.Listen, calls ready (if not nil) with the bound
// address, and serves until ctx is done, as Serve does. An empty
// opts.Name becomes the bound address.
func Run(ctx context.Context, opts Options, ready func(addr net.Addr)) error {
	if err := opts.check(); err != nil {
		return err
	}
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", opts.Listen)
	if err != nil {
		return fmt.Errorf("backend: listen %s: %w", opts.Listen, err)
	}
	if opts.Name == "" {
		opts.Name = l.Addr().String()
	}
	s, err := New(opts)
	if err != nil {
		l.Close()
		return err
	}
	if ready != nil {
		ready(l.Addr())
	}
	return s.Serve(ctx, l)
}

// draw returns the next value of the server's splitmix64 generator.
// It takes no lock: the nth request gets the nth value.
func (s *Server) draw() uint64 {
	z := s.rng.Add(0x9e3779b97f4a7c15)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
