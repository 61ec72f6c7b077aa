package thread

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/c10k/c10k/servers/engine"
	"github.com/c10k/c10k/servers/http1"
	"github.com/c10k/c10k/servers/internal/cgirun"
	"github.com/c10k/c10k/servers/internal/coreio"
)

// Server is the thread core. It binds the engine's listeners and serves
// them with a fixed pool of worker threads, one connection per thread.
//
// Accept model (Apache's worker MPM): one listener thread waits until a
// worker is idle, then blocks in poll(2) on all listening sockets and an
// eventfd used to wake it for shutdown, accepts one connection and hands
// it to that idle worker. While every worker is busy nothing is accepted:
// new connections wait in the kernel's listen backlog, which is the C10k
// stall this core exists to show. A worker serves its connection through
// every keep-alive request until it closes or idles out, then reports
// idle again.
type Server struct {
	ref  *coreio.EngineRef // the engine; Reload swaps it
	opts Options
	log  *errorLog
	pool coreio.Pool[upConn] // upstream keepalive connections, shared by the workers
	cgi  *cgirun.Runner      // cgi_pass children
	// mem holds *[]byte buffers of proxyMemSize bytes for buffering
	// upstream responses larger than a worker's own small buffer.
	mem  sync.Pool
	date http1.DateCache
	// maxTemp is the most of one upstream response a worker keeps in a
	// temp file: coreio.MaxTempFile (tests lower it while serving).
	maxTemp atomic.Int64

	// serve handles one accepted connection on a worker thread; the HTTP
	// handler by default, a fake in tests.
	serve func(w *worker, c *accepted)

	mu      sync.Mutex
	started bool
	ls      []*listener

	workers []*worker
	idle    chan *worker
	connID  atomic.Uint64

	fullLogged bool // reportFull logged (the listener thread's)

	closing atomic.Bool // graceful stop: finish requests, keep-alive off
	killed  atomic.Bool // forced stop: connections are being shut down
}

// listener is one bound listening socket.
type listener = coreio.Listener

// accepted is a connection handed from the listener thread to a worker.
type accepted struct {
	fd     int
	id     uint64
	remote netip.AddrPort
	l      *listener
}

// Stats is a snapshot of a Server's counters.
type Stats struct {
	Workers   int    // worker threads in the pool
	Busy      int    // workers holding a connection
	Idle      int    // workers waiting for a connection
	KeepAlive int    // busy workers idly waiting for a connection's next request
	Accepted  uint64 // connections accepted since Serve
	Requests  uint64 // requests completed since Serve
	// FileCopies counts file bodies sent with pread(2) and write(2)
	// because their location has "sendfile off"; the others went out
	// with sendfile(2).
	FileCopies uint64
	// Buffers is the memory the workers keep between requests for their
	// buffers (request heads and bodies, response heads, upstream
	// reads), as of each worker's last request: it does not grow with
	// the size of past request or response bodies.
	Buffers int64
}

// New returns a Server for e. It binds nothing yet: see Listen and Serve.
func New(e *engine.Engine, opts Options) (*Server, error) {
	if e == nil {
		return nil, ErrNilEngine
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	s := newServer(opts)
	s.ref = coreio.NewEngineRef(e)
	s.serve = (*worker).serveHTTP
	return s, nil
}

// Reload makes e the engine of every request that starts from now on
// (c10k serve calls it on SIGHUP): its routes, upstreams and balancers,
// limits and open_file_cache. A request in progress finishes on the
// engine it started with, and a keep-alive connection takes e at its next
// request; the default server's header buffers and
// client_header_timeout apply to connections accepted from now on. The
// listening sockets stay: e must have the same listen addresses and
// socket options (an error wrapping coreio's ErrListenChanged
// otherwise, and the current engine keeps serving). The replaced
// engine's cached descriptors close once no request sends them.
func (s *Server) Reload(e *engine.Engine) error {
	if e == nil {
		return ErrNilEngine
	}
	if err := s.ref.Reload(e); err != nil {
		return fmt.Errorf("thread: reload: %w", err)
	}
	return nil
}

// engine returns the engine for a request starting now.
func (s *Server) engine() *coreio.Engine { return s.ref.Load() }

func newServer(opts Options) *Server {
	s := &Server{opts: opts.withDefaults()}
	s.maxTemp.Store(coreio.MaxTempFile)
	s.log = newErrorLog(s.opts.ErrorLog)
	s.cgi = cgirun.New(cgirun.Options{
		ErrorLog: func(level, msg string) { s.log.Logf(level, 0, "%s", msg) },
	})
	return s
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
	var ls []*listener
	for i, c := range s.ref.Listeners() {
		backlog := c.Backlog
		if s.opts.Backlog > 0 || backlog <= 0 {
			backlog = s.opts.Backlog
		}
		if backlog <= 0 {
			backlog = DefaultBacklog
		}
		fd, ap, err := coreio.ListenAddr(c.Addr, backlog, c.ReusePort)
		if err != nil {
			closeListeners(ls)
			return err
		}
		ls = append(ls, coreio.NewListener(fd, ap, c, i))
	}
	if len(ls) == 0 {
		return ErrNoListeners
	}
	s.ls = ls
	return nil
}

// Addrs returns the bound addresses, in the order of the engine's
// listeners; nil before Listen.
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	aps := make([]netip.AddrPort, len(s.ls))
	for i, l := range s.ls {
		aps[i] = l.Addr
	}
	return coreio.NetAddrs(aps)
}

// Stats returns a snapshot of the pool and its counters.
func (s *Server) Stats() Stats {
	st := Stats{Workers: s.opts.Workers}
	s.mu.Lock()
	ws := s.workers
	s.mu.Unlock()
	if ws == nil {
		st.Idle = st.Workers
	}
	for _, w := range ws {
		switch w.state.Load() {
		case stateIdle:
			st.Idle++
		case stateWait:
			st.KeepAlive++
			st.Busy++
		default:
			st.Busy++
		}
		st.Accepted += w.accepted.Load()
		st.Requests += w.requests.Load()
		st.FileCopies += w.copies.Load()
		st.Buffers += w.retained.Load()
	}
	return st
}

// Serve binds the engine's listeners (unless Listen did) and serves them
// until ctx is cancelled. Then it stops gracefully: it stops accepting,
// closes idle keep-alive connections, lets in-flight requests finish for
// up to Options.ShutdownTimeout, shuts down what is left, and returns nil.
func (s *Server) Serve(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	return s.run(ctx)
}

// ServeListeners serves sockets the caller already bound and listens on
// (tests, socket activation) until ctx is cancelled, like Serve. The i-th
// file is read with the limits of the engine's i-th listener when there is
// one. The files stay the caller's; the Server uses duplicates.
func (s *Server) ServeListeners(ctx context.Context, files ...*os.File) error {
	if len(files) == 0 {
		return ErrNoListeners
	}
	s.mu.Lock()
	if s.started || s.ls != nil {
		s.mu.Unlock()
		return ErrServing
	}
	var confs []engine.Listener
	if s.ref != nil {
		confs = s.ref.Listeners()
	}
	var ls []*listener
	for i, f := range files {
		fd, ap, err := coreio.FileListener(f)
		if err != nil {
			closeListeners(ls)
			s.mu.Unlock()
			return err
		}
		conf, index := engine.Listener{Addr: ap.String()}, -1
		if i < len(confs) {
			conf, index = confs[i], i
		}
		ls = append(ls, coreio.NewListener(fd, ap, conf, index))
	}
	s.ls = ls
	s.mu.Unlock()
	return s.run(ctx)
}

func closeListeners(ls []*listener) {
	for _, l := range ls {
		l.Close()
	}
}

func (s *Server) run(ctx context.Context) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return ErrServing
	}
	s.started = true
	if s.opts.Procs > 0 {
		prev := runtime.GOMAXPROCS(s.opts.Procs)
		defer runtime.GOMAXPROCS(prev)
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		s.mu.Unlock()
		closeListeners(s.ls)
		return fmt.Errorf("thread: eventfd: %w", err)
	}
	// Every worker is an OS thread, plus the runtime's own; the Go
	// default limit of 10000 threads would crash a C10k-sized pool.
	// New checked that the system allows this many (maxWorkers).
	if need := s.opts.Workers + 1000; need > 10000 {
		debug.SetMaxThreads(need)
	}
	s.idle = make(chan *worker, s.opts.Workers)
	s.workers = make([]*worker, s.opts.Workers)
	for i := range s.workers {
		s.workers[i] = newWorker(s, i)
	}
	s.mu.Unlock()

	var workers errgroup.Group
	for _, w := range s.workers {
		workers.Go(func() error { w.run(); return nil })
	}
	var acceptor errgroup.Group
	stop := make(chan struct{})
	acceptor.Go(func() error { s.accept(wake, stop); return nil })

	<-ctx.Done()
	close(stop)

	// Stop accepting: wake the listener thread and close the sockets;
	// new connections are now refused by the kernel.
	s.closing.Store(true)
	one := []byte{1, 0, 0, 0, 0, 0, 0, 0}
	unix.Write(wake, one)
	acceptor.Wait()
	unix.Close(wake)
	closeListeners(s.ls)

	// Close connections idling between requests; busy ones close after
	// their current response (keep-alive is off from now on).
	for _, w := range s.workers {
		w.kill(false)
	}
	done := make(chan struct{})
	var waiter errgroup.Group
	waiter.Go(func() error { workers.Wait(); close(done); return nil })
	timer := time.NewTimer(s.opts.ShutdownTimeout)
	select {
	case <-done:
		timer.Stop()
	case <-timer.C:
		s.killed.Store(true)
		for _, w := range s.workers {
			w.kill(true)
		}
	}
	waiter.Wait()
	s.pool.Close()
	s.cgi.Close()
	return nil
}

// pause waits d on the listener thread, or until wake says the Server
// stops: then it returns true.
func (s *Server) pause(wake int, d time.Duration) bool {
	pfd := []unix.PollFd{{Fd: int32(wake), Events: unix.POLLIN}}
	end := time.Now().Add(d)
	for {
		left := time.Until(end)
		if left <= 0 {
			return false
		}
		n, err := unix.Poll(pfd, int((left+time.Millisecond-1)/time.Millisecond))
		if err == nil && n > 0 {
			return true
		}
		if err != nil && err != unix.EINTR {
			time.Sleep(left) // cannot wait on wake: wait out the pause
			return false
		}
	}
}

// reportFull logs, once in the Server's life as Apache does (AH00484),
// that every worker holds a connection: from now on new connections
// wait in the listen backlog until one is released (keep-alive ends,
// a client timeout fires). The listener thread calls it when it finds
// no idle worker; a worker counts as busy from the moment it was handed
// a connection until it reports idle again, and one that has not yet
// reported idle since the start does not.
func (s *Server) reportFull() {
	if s.fullLogged {
		return
	}
	for _, w := range s.workers {
		if !w.handed {
			return
		}
	}
	s.fullLogged = true
	s.log.Logf("error", 0, "server reached MaxRequestWorkers setting (%d workers), consider raising the MaxRequestWorkers setting (--workers)", len(s.workers))
}

// accept is the listener thread. It takes an idle worker, then waits for
// a connection on any listening socket, and hands it over.
func (s *Server) accept(wake int, stop <-chan struct{}) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer func() {
		for _, w := range s.workers {
			close(w.conns)
		}
	}()
	pfds := make([]unix.PollFd, len(s.ls)+1)
	for i, l := range s.ls {
		pfds[i] = unix.PollFd{Fd: int32(l.FD), Events: unix.POLLIN}
	}
	pfds[len(s.ls)] = unix.PollFd{Fd: int32(wake), Events: unix.POLLIN}
	next := 0 // round-robin start, so one busy address cannot starve another
	var errs coreio.AcceptErrors
	for {
		var w *worker
		select {
		case w = <-s.idle:
		default:
			s.reportFull()
			select {
			case w = <-s.idle:
			case <-stop:
				return
			}
		}
		w.handed = false
		for w != nil {
			for i := range pfds {
				pfds[i].Revents = 0
			}
			_, err := unix.Poll(pfds, -1)
			if err != nil {
				if err == unix.EINTR {
					continue
				}
				s.log.Logf("alert", 0, "poll() on listening sockets failed %s", errnoText(err))
				return
			}
			if pfds[len(s.ls)].Revents != 0 {
				return
			}
			for k := range s.ls {
				i := (next + k) % len(s.ls)
				if pfds[i].Revents == 0 {
					continue
				}
				l := s.ls[i]
				fd, sa, err := unix.Accept4(l.FD, unix.SOCK_CLOEXEC)
				if err != nil {
					switch {
					case err == unix.EAGAIN, err == unix.EINTR, err == unix.ECONNABORTED, err == unix.EPROTO:
					case coreio.AcceptShortage(err):
						// Like nginx: log once per episode and pause
						// accepting instead of spinning; a stop ends
						// the pause.
						if line := errs.Failed(l.Addr, err); line != "" {
							s.log.Logf("crit", 0, "%s", line)
						}
						if s.pause(wake, coreio.AcceptDelay) {
							return
						}
					default:
						s.log.Logf("alert", 0, "accept4() on %s failed %s", l.Addr, errnoText(err))
					}
					continue
				}
				if line := errs.Recovered(l.Addr); line != "" {
					s.log.Logf("notice", 0, "%s", line)
				}
				next = i + 1
				w.handed = true
				w.conns <- accepted{fd: fd, id: s.connID.Add(1), remote: coreio.AddrPort(sa), l: l}
				w = nil
				break
			}
		}
	}
}
