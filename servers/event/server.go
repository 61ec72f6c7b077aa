package event

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/c10k/c10k/servers/engine"
	"github.com/c10k/c10k/servers/errlog"
	"github.com/c10k/c10k/servers/http1"
	"github.com/c10k/c10k/servers/internal/cgirun"
	"github.com/c10k/c10k/servers/internal/coreio"
)

// Server is the event core: Loops event loops, each with its own
// listening sockets (SO_REUSEPORT), connections, timers and upstream
// keepalive pool, plus a small thread pool for uncached file lookups.
type Server struct {
	ref   *coreio.EngineRef // the engine; Reload swaps it
	opts  Options
	log   *errlog.Log
	date  http1.DateCache
	base  time.Time // the loops' monotonic clock starts here
	loops []*loop
	pool  filePool
	limit atomic.Int64 // worker_connections per loop; Reload changes it
	// loopsSet: Options.Loops was given, worker_processes does not count.
	loopsSet bool

	// accept4 is unix.Accept4; tests inject failures (EMFILE).
	accept4 func(fd int, flags int) (int, unix.Sockaddr, error)

	mu      sync.Mutex
	started bool
	bound   bool
	addrs   []netip.AddrPort

	stopping atomic.Bool // ctx cancelled: the loops stop gracefully

	// cgi runs the cgi_pass children; cgiWG owns the goroutines that
	// wait for them (one per exchange, see cgiSubmit).
	cgi   *cgirun.Runner
	cgiWG sync.WaitGroup

	// tlsWG owns the handshake goroutines (tls.go).
	tlsWG sync.WaitGroup
}

// listener is one listening socket of one loop.
type listener = coreio.Listener

// LoopStats are the counters of one event loop.
type LoopStats struct {
	Connections int    // client connections open
	Idle        int    // of which waiting between requests (keep-alive), holding no buffer
	Active      int    // of which reading a request or sending a response
	Upstreams   int    // upstream connections open, pooled ones included
	Borrowed    int    // request states (parser, plan, buffers) lent to connections
	Accepted    uint64 // connections accepted since Serve
	Requests    uint64 // requests completed since Serve
	// FileCopies counts file bodies sent with pread(2) and write(2)
	// because their location has "sendfile off"; the others went out
	// with sendfile(2).
	FileCopies uint64
	// Offloaded counts requests whose file lookups were not cached and
	// ran on the file thread pool.
	Offloaded uint64
	// Spilled counts buffered upstream responses larger than
	// Options.ProxyBuffer whose rest went to a temp file.
	Spilled uint64
	// TempFiles is the number of those temp files open now.
	TempFiles int
	// Handshakes counts TLS handshakes completed since Serve.
	Handshakes uint64
	// Handshaking is the number of TLS handshakes running now, each on
	// a goroutine of its own (at most Options.TLSHandshakes per loop).
	Handshaking int
	// HandshakesWaiting is the number of TLS connections whose first
	// record is read and whose handshake waits for one of those.
	HandshakesWaiting int
	// Buffers is the memory the loop keeps in its free exchanges for
	// their buffers (request heads and bodies, response heads, upstream
	// reads): it does not grow with the size of past request or
	// response bodies.
	Buffers int64
}

// Stats is a snapshot of a Server's counters: the totals and each loop's.
type Stats struct {
	LoopStats
	Loops []LoopStats
}

// New returns a Server for e. It binds nothing yet: see Listen and Serve.
func New(e *engine.Engine, opts Options) (*Server, error) {
	if e == nil {
		return nil, ErrNilEngine
	}
	s := &Server{ref: coreio.NewEngineRef(e), opts: opts.withDefaults(), accept4: unix.Accept4, loopsSet: opts.Loops > 0}
	s.log = errlog.New(s.opts.ErrorLog)
	s.cgi = cgirun.New(cgirun.Options{
		ErrorLog: func(level, msg string) { s.log.Logf(level, 0, "%s", msg) },
	})
	procs, conns := e.Events()
	n := s.opts.Loops
	if n <= 0 {
		n = procs
	}
	if n <= 0 {
		n = runtime.NumCPU() // worker_processes auto
	}
	s.opts.Loops = n
	s.setLimit(conns)
	return s, nil
}

// setLimit sets worker_connections (nginx's 512 when unset).
func (s *Server) setLimit(conns int) {
	if conns <= 0 {
		conns = 512
	}
	s.limit.Store(int64(conns))
}

// connLimit returns worker_connections.
func (s *Server) connLimit() int { return int(s.limit.Load()) }

// Reload makes e the engine of every request that starts from now on
// (c10k serve calls it on SIGHUP): its routes, upstreams and balancers,
// limits and open_file_cache, and its worker_connections. A request in
// progress finishes on the engine it started with, and a keep-alive
// connection takes e at its next request; the default server's header
// buffers and client_header_timeout apply from a connection's next
// request too. The listening sockets and the loops stay: e must have the
// same listen addresses and socket options (an error wrapping coreio's
// ErrListenChanged otherwise, and the current engine keeps serving), and
// a changed worker_processes is logged and waits for a restart. The
// replaced engine's cached descriptors close once no request sends them.
func (s *Server) Reload(e *engine.Engine) error {
	if e == nil {
		return ErrNilEngine
	}
	if err := s.ref.Reload(e); err != nil {
		return fmt.Errorf("event: reload: %w", err)
	}
	procs, conns := e.Events()
	if procs <= 0 {
		procs = runtime.NumCPU()
	}
	if !s.loopsSet && procs != s.opts.Loops {
		s.log.Logf("warn", 0, "worker_processes %d needs a restart: %d event loops keep serving", procs, s.opts.Loops)
	}
	s.setLimit(conns)
	return nil
}

// engine returns the engine for a request starting now: one atomic
// load, the loops take no lock.
func (s *Server) engine() *coreio.Engine { return s.ref.Load() }

// Listen binds every listener of the engine now, once per loop with
// SO_REUSEPORT, so that bind errors surface before serving and Addrs is
// known. Serve calls it when the caller did not.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bound {
		return nil
	}
	if s.started {
		return ErrServing
	}
	confs := s.ref.Listeners()
	if len(confs) == 0 {
		return ErrNoListeners
	}
	loops := make([]*loop, s.opts.Loops)
	for i := range loops {
		loops[i] = &loop{s: s, id: i}
	}
	closeAll := func() {
		for _, l := range loops {
			l.closeListeners()
		}
	}
	var addrs []netip.AddrPort
	for i, c := range confs {
		ap, err := coreio.Resolve(c.Addr)
		if err != nil {
			closeAll()
			return fmt.Errorf("event: listen %s: %w", c.Addr, err)
		}
		backlog := c.Backlog
		if backlog <= 0 {
			backlog = DefaultBacklog
		}
		for _, l := range loops {
			fd, bound, err := coreio.Listen(ap, backlog, true)
			if err != nil {
				closeAll()
				return fmt.Errorf("event: %w", err)
			}
			ap = bound // the other loops bind the port the first one got
			l.ls = append(l.ls, coreio.NewListener(fd, bound, c, i))
		}
		addrs = append(addrs, ap)
	}
	s.loops = loops
	s.addrs = addrs
	s.bound = true
	return nil
}

// Addrs returns the bound addresses, in the order of the engine's
// listeners; nil before Listen.
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return coreio.NetAddrs(s.addrs)
}

// Stats returns a snapshot of the loops' counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	loops := s.loops
	s.mu.Unlock()
	var st Stats
	for _, l := range loops {
		ls := l.stats.snapshot()
		st.Loops = append(st.Loops, ls)
		st.Connections += ls.Connections
		st.Idle += ls.Idle
		st.Active += ls.Active
		st.Upstreams += ls.Upstreams
		st.Borrowed += ls.Borrowed
		st.Accepted += ls.Accepted
		st.Requests += ls.Requests
		st.FileCopies += ls.FileCopies
		st.Offloaded += ls.Offloaded
		st.Spilled += ls.Spilled
		st.TempFiles += ls.TempFiles
		st.Buffers += ls.Buffers
		st.Handshakes += ls.Handshakes
		st.Handshaking += ls.Handshaking
		st.HandshakesWaiting += ls.HandshakesWaiting
	}
	return st
}

// Serve binds the engine's listeners (unless Listen did) and serves them
// until ctx is cancelled. Then it stops gracefully: it closes the
// listeners and idle keep-alive connections, lets in-flight requests
// finish for up to Options.ShutdownTimeout, closes what is left, and
// returns nil.
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
	s.base = time.Now()
	for _, l := range s.loops {
		if err := l.init(); err != nil {
			for _, l := range s.loops {
				l.closeListeners()
				l.closeFDs()
			}
			s.mu.Unlock()
			return err
		}
	}
	s.mu.Unlock()

	s.pool.init()
	var threads errgroup.Group
	for range s.opts.FileThreads {
		threads.Go(func() error { s.pool.run(); return nil })
	}
	var loops errgroup.Group
	for _, l := range s.loops {
		loops.Go(func() error { l.run(); return nil })
	}
	var watcher errgroup.Group
	done := make(chan struct{})
	watcher.Go(func() error {
		select {
		case <-ctx.Done():
		case <-done:
		}
		s.stopping.Store(true)
		for _, l := range s.loops {
			l.wakeup()
		}
		return nil
	})
	loops.Wait() // the loops return only once stopping
	close(done)
	watcher.Wait()
	s.cgiWG.Wait() // each has posted its connection: only the return is left
	s.tlsWG.Wait() // likewise the handshake goroutines
	s.cgi.Close()
	s.pool.close()
	threads.Wait()
	for _, l := range s.loops {
		l.closeFDs()
	}
	return nil
}
