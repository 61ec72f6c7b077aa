package cgi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/c10k/c10k/servers/engine"
	"github.com/c10k/c10k/servers/http1"
	"github.com/c10k/c10k/servers/internal/cgirun"
	"github.com/c10k/c10k/servers/internal/coreio"
)

// Server is the cgi core serving one Engine.
type Server struct {
	ref    *coreio.EngineRef // the engine; Reload swaps it
	opts   Options
	runner *cgirun.Runner
	dates  http1.DateCache
	lns    []net.Listener
	pool   coreio.Pool[upConn] // the upstream keepalive pool: the parent's, lent to children

	mu       sync.Mutex
	conns    map[*conn]bool // open connections → idle between requests
	shutdown bool
	wg       sync.WaitGroup
	logMu    sync.Mutex
}

// New returns a cgi core for e.
func New(e *engine.Engine, opts Options) (*Server, error) {
	if e == nil {
		return nil, ErrNoEngine
	}
	if opts.ChildPath == "" {
		p, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("cgi: child binary: %w", err)
		}
		opts.ChildPath = p
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 10 * time.Second
	}
	s := &Server{ref: coreio.NewEngineRef(e), opts: opts, conns: make(map[*conn]bool)}
	s.runner = cgirun.New(cgirun.Options{
		MaxChildren: opts.MaxChildren,
		Grace:       opts.Grace,
		ErrorLog:    s.logLine,
	})
	return s, nil
}

// Reload makes e the engine of every request that starts from now on
// (c10k serve calls it on SIGHUP): its routes, upstreams and balancers,
// limits and open_file_cache. The parent plans every request and hands
// its child the outcome, so children need nothing of the config: a
// request in progress, its child included, finishes on the engine it
// started with, and a keep-alive connection takes e at its next
// request; the default server's header buffers and client_header_timeout
// apply to connections accepted from now on. The listening sockets stay:
// e must have the same listen addresses and socket options (an error
// wrapping coreio's ErrListenChanged otherwise, and the current engine
// keeps serving). The replaced engine's cached descriptors close once no
// request sends them.
func (s *Server) Reload(e *engine.Engine) error {
	if e == nil {
		return ErrNoEngine
	}
	if err := s.ref.Reload(e); err != nil {
		return fmt.Errorf("cgi: reload: %w", err)
	}
	return nil
}

// Listen binds every listen address of the config.
func (s *Server) Listen() error {
	if s.lns != nil {
		return ErrListening
	}
	ls := s.ref.Listeners()
	if len(ls) == 0 {
		return ErrNoListeners
	}
	for _, l := range ls {
		ln, err := listen(l, s.opts.Backlog)
		if err != nil {
			for _, x := range s.lns {
				x.Close()
			}
			s.lns = nil
			return fmt.Errorf("cgi: %w", err)
		}
		s.lns = append(s.lns, ln)
	}
	return nil
}

// listen binds l as every core does (coreio.Listen: SO_REUSEADDR,
// reuseport, backlog=, IPV6_V6ONLY) and hands the socket to Go's
// netpoller. backlog applies to a listen without backlog=.
func listen(l engine.Listener, backlog int) (net.Listener, error) {
	if l.Backlog > 0 {
		backlog = l.Backlog
	}
	if backlog <= 0 {
		backlog = DefaultBacklog
	}
	fd, _, err := coreio.ListenAddr(l.Addr, backlog, l.ReusePort)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "listen "+l.Addr)
	defer f.Close()
	return net.FileListener(f)
}

// Addrs returns the bound addresses, in Listeners order.
func (s *Server) Addrs() []net.Addr {
	var a []net.Addr
	for _, ln := range s.lns {
		a = append(a, ln.Addr())
	}
	return a
}

// Serve accepts and serves until ctx ends, then stops accepting, closes
// idle connections, waits for in-flight requests (at most
// ShutdownTimeout, then closes the rest) and returns nil.
func (s *Server) Serve(ctx context.Context) error {
	if s.lns == nil {
		return ErrNotListening
	}
	procs := s.opts.Procs
	if procs == 0 {
		procs = 2 * runtime.NumCPU()
	}
	if procs > runtime.GOMAXPROCS(0) {
		runtime.GOMAXPROCS(procs)
	}
	var accept sync.WaitGroup
	for i, ln := range s.lns {
		accept.Add(1)
		go func() {
			defer accept.Done()
			s.acceptLoop(ln, i)
		}()
	}
	<-ctx.Done()
	s.mu.Lock()
	s.shutdown = true
	for c, idle := range s.conns {
		if idle {
			c.nc.Close()
		}
	}
	s.mu.Unlock()
	for _, ln := range s.lns {
		ln.Close()
	}
	accept.Wait()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(s.opts.ShutdownTimeout):
		s.mu.Lock()
		for c := range s.conns {
			c.nc.Close()
		}
		s.mu.Unlock()
		<-done
	}
	s.pool.Close()
	s.runner.Close()
	return nil
}

func (s *Server) acceptLoop(ln net.Listener, idx int) {
	var errs coreio.AcceptErrors
	addr := netip.AddrPort{}
	if a, ok := ln.Addr().(*net.TCPAddr); ok {
		addr = a.AddrPort()
	}
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if coreio.AcceptShortage(err) {
				// Like nginx: log once per episode, pause accepting
				// instead of spinning.
				if line := errs.Failed(addr, err); line != "" {
					s.logLine("crit", line)
				}
				time.Sleep(coreio.AcceptDelay)
				continue
			}
			s.logLine("alert", "accept() failed ("+err.Error()+")")
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if line := errs.Recovered(addr); line != "" {
			s.logLine("notice", line)
		}
		c := newConn(s, nc.(*net.TCPConn), idx)
		s.mu.Lock()
		if s.shutdown {
			s.mu.Unlock()
			nc.Close()
			continue
		}
		s.conns[c] = true
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			c.serve()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

// setIdle marks c idle (between requests) or busy; false when the
// server is shutting down and an idle connection must close.
func (s *Server) setIdle(c *conn, idle bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conns[c] = idle
	return !(idle && s.shutdown)
}

func (s *Server) logLine(level, msg string) {
	if s.opts.ErrorLog == nil {
		return
	}
	s.logMu.Lock()
	defer s.logMu.Unlock()
	fmt.Fprintf(s.opts.ErrorLog, "%s [%s] %d#0: %s\n", time.Now().Format("2006/01/02 15:04:05"), level, os.Getpid(), msg)
}
