package nethttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/c10k/c10k/servers/config"
	"github.com/c10k/c10k/servers/engine"
	"github.com/c10k/c10k/servers/internal/cgirun"
	"github.com/c10k/c10k/servers/internal/coreio"
)

// Defaults of Options.
const (
	DefaultIdleTimeout     = 75 * time.Second // nginx's keepalive_timeout
	DefaultShutdownTimeout = 10 * time.Second
	DefaultHeaderTimeout   = coreio.DefaultHeaderTimeout // nginx's client_header_timeout
)

// Options are the knobs of the net/http core.
type Options struct {
	// IdleTimeout is http.Server.IdleTimeout, the keep-alive timeout of
	// every connection. Give it IdleTimeoutOf(cfg). Default 75s.
	IdleTimeout time.Duration

	// ShutdownTimeout bounds how long a graceful stop waits for in-flight
	// requests before the remaining connections are closed. Default 10s.
	ShutdownTimeout time.Duration

	// ErrorLog receives nginx-style error-log lines, net/http's own
	// included; nil discards them.
	ErrorLog io.Writer
}

func (o Options) withDefaults() Options {
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = DefaultShutdownTimeout
	}
	return o
}

// IdleTimeoutOf returns the largest keepalive_timeout of cfg's servers and
// locations (nginx's 75s when cfg has none): net/http has one idle timeout
// per server, and the longest keeps every location's promise.
func IdleTimeoutOf(cfg *config.Config) time.Duration {
	var max time.Duration
	var walk func(ls []*config.Location)
	walk = func(ls []*config.Location) {
		for _, l := range ls {
			if l != nil {
				max = maxDuration(max, l.KeepaliveTimeout)
				walk(l.Locations)
			}
		}
	}
	if cfg != nil && cfg.HTTP != nil {
		for _, s := range cfg.HTTP.Servers {
			if s.Loc != nil {
				max = maxDuration(max, s.Loc.KeepaliveTimeout)
			}
			walk(s.Locations)
		}
	}
	if max <= 0 {
		return DefaultIdleTimeout
	}
	return max
}

func maxDuration(a, b time.Duration) time.Duration {
	if b > a {
		return b
	}
	return a
}

// Server is the net/http core: one http.Server per listening address of
// the engine, each request converted to the engine's form, planned by
// engine.Serve and executed with net/http's ResponseWriter.
type Server struct {
	ref  *coreio.EngineRef // the engine; Reload swaps it
	opts Options
	log  *errorLog
	cgi  *cgirun.Runner // cgi_pass children

	mu      sync.Mutex
	started bool
	ls      []net.Listener
	confs   []engine.Listener
}

// New returns a Server for e. It binds nothing yet: see Listen and Serve.
func New(e *engine.Engine, opts Options) (*Server, error) {
	if e == nil {
		return nil, errors.New("nethttp: nil engine")
	}
	o := opts.withDefaults()
	s := &Server{ref: coreio.NewEngineRef(e), opts: o, log: newErrorLog(o.ErrorLog)}
	s.cgi = cgirun.New(cgirun.Options{ErrorLog: func(level, msg string) { s.log.logf(level, "%s", msg) }})
	return s, nil
}

// Reload makes e the engine of every request that starts from now on
// (c10k serve calls it on SIGHUP): its routes, upstreams and balancers,
// limits and open_file_cache. A request in progress finishes on the
// engine it started with, and a keep-alive connection takes e at its next
// request. The listening sockets and their http.Servers stay: e must
// have the same listen addresses and socket options (an error wrapping
// coreio's ErrListenChanged otherwise, and the current engine keeps
// serving), and net/http's own limits (the idle timeout, the header
// timeout and size of the default server) keep their values until a
// restart. The replaced engine's cached descriptors close once no
// request sends them.
func (s *Server) Reload(e *engine.Engine) error {
	if e == nil {
		return errors.New("nethttp: nil engine")
	}
	if err := s.ref.Reload(e); err != nil {
		return fmt.Errorf("nethttp: reload: %w", err)
	}
	return nil
}

// Listen binds every listener of the engine now, so that bind errors
// surface before serving and Addrs is known. Serve calls it when the
// caller did not.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ls != nil {
		return nil
	}
	if s.started {
		return ErrServing
	}
	confs := s.ref.Listeners()
	var ls []net.Listener
	for i, c := range confs {
		l, err := net.Listen("tcp", c.Addr)
		if err != nil {
			closeAll(ls)
			return fmt.Errorf("nethttp: listen %s: %w", c.Addr, err)
		}
		if c.SSL {
			l = &tlsListener{Listener: l, s: s, index: i}
		}
		ls = append(ls, l)
	}
	if len(ls) == 0 {
		return ErrNoListeners
	}
	s.ls, s.confs = ls, confs
	return nil
}

func closeAll(ls []net.Listener) {
	for _, l := range ls {
		l.Close()
	}
}

// Addrs returns the bound addresses, in the order of the engine's
// listeners; nil before Listen.
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	var addrs []net.Addr
	for _, l := range s.ls {
		addrs = append(addrs, l.Addr())
	}
	return addrs
}

// Serve binds the engine's listeners (unless Listen did) and serves them
// until ctx is cancelled. Then it stops gracefully with
// http.Server.Shutdown (idle keep-alive connections close at once,
// in-flight requests may finish for up to Options.ShutdownTimeout), closes
// what is left and returns nil.
func (s *Server) Serve(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return ErrServing
	}
	s.started = true
	ls, confs := s.ls, s.confs
	s.mu.Unlock()

	stdlog := log.New(logAdapter{s.log}, "", 0)
	servers := make([]*http.Server, len(ls))
	var g errgroup.Group
	for i, l := range ls {
		hs := &http.Server{
			Handler:           &handler{s: s, index: i},
			ReadHeaderTimeout: coreio.HeaderTimeout(confs[i]),
			IdleTimeout:       s.opts.IdleTimeout,
			MaxHeaderBytes:    maxHeaderBytes(confs[i]),
			ErrorLog:          stdlog,
			ConnContext:       connContext,
		}
		servers[i] = hs
		g.Go(func() error {
			if err := hs.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("nethttp: serve %s: %w", l.Addr(), err)
			}
			return nil
		})
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	defer cancel()
	var stop errgroup.Group
	for _, hs := range servers {
		stop.Go(func() error {
			if err := hs.Shutdown(sctx); err != nil {
				hs.Close() // the timeout passed: cut what is left
			}
			return nil
		})
	}
	stop.Wait()
	err := g.Wait()
	s.cgi.Close()
	return err
}

// maxHeaderBytes is the most of a request head the listener's default
// server allows: client_header_buffer_size plus the large buffers.
func maxHeaderBytes(c engine.Listener) int {
	_, max := coreio.HeadLimits(c)
	return max
}

// connKey is the context key of a connection's *connState.
type connKey struct{}

// connState is what the core keeps per client connection. net/http
// serves an HTTP/1.1 connection's requests one after the other, so the
// handler may reuse its buffers without locking.
type connState struct {
	local, remote netip.AddrPort
	requests      int
	e             *coreio.Engine // the current request's engine
	conn          engine.Conn    // the current request's connection, for e
	plan          engine.Plan
	head          []byte          // the rebuilt request head
	body          []byte          // request body for the proxy
	up            *upState        // proxy state, made on the first proxied request
	gz            coreio.Gzip     // the compressor of a gzip response (engine.Plan.Gzip)
	tls           *coreio.TLSConn // the connection of an SSL listener; nil otherwise
}

func connContext(ctx context.Context, c net.Conn) context.Context {
	cs := &connState{}
	cs.tls, _ = c.(*coreio.TLSConn)
	if a, ok := c.LocalAddr().(*net.TCPAddr); ok {
		cs.local = unmap(a.AddrPort())
	}
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		cs.remote = unmap(a.AddrPort())
	}
	return context.WithValue(ctx, connKey{}, cs)
}

func unmap(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// tlsListener is an SSL listener: it hands net/http each connection as a
// coreio.TLSConn, whose first Read (under net/http's header deadline,
// client_header_timeout) looks at the client's first byte and runs the
// handshake with the current engine's TLSConfig, or reads a plain HTTP
// request the engine answers with nginx's 400. net/http sees no
// *tls.Conn: it neither answers plain HTTP itself nor offers HTTP/2,
// and sends files with read and write, through TLS.
type tlsListener struct {
	net.Listener
	s     *Server
	index int // the listener's index in the engine the Server started with
}

// Accept returns the next connection, not yet read from.
func (l *tlsListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	e := l.s.ref.Load()
	cfg := e.TLSConfig(e.Index(l.index))
	if cfg == nil { // a socket the engine does not configure
		return nc, nil
	}
	return coreio.NewTLSConn(nc, cfg), nil
}
