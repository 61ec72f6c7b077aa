package thread

import (
	"runtime"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/c10k/c10k/servers/internal/coreio"
)

// Worker states. A worker publishes its state and the fds it is blocked
// on so that a stopping Server can wake it with shutdown(2); the
// stateKilling protocol keeps a worker from closing an fd while the
// stopper is shutting it down (which could hit a reused fd number).
const (
	stateIdle    int32 = iota // waiting for a connection
	stateWait                 // holding a connection, waiting for its next request
	stateBusy                 // reading a request or writing a response
	stateClosing              // closing fds: the stopper keeps off
	stateKilling              // the stopper is shutting this worker's fds down
)

// worker is one thread of the pool and everything it reuses from
// connection to connection.
type worker struct {
	s     *Server
	id    int
	conns chan accepted

	state atomic.Int32
	cfd   atomic.Int32 // client socket, -1 when none
	ufd   atomic.Int32 // upstream socket in use, -1 when none

	accepted atomic.Uint64
	requests atomic.Uint64
	copies   atomic.Uint64 // file bodies sent with pread+write (sendfile off)
	retained atomic.Int64  // bytes of buffers kept between requests, as of the last one

	http httpState // HTTP connection state, reused
}

func newWorker(s *Server, id int) *worker {
	w := &worker{s: s, id: id, conns: make(chan accepted, 1)}
	w.cfd.Store(-1)
	w.ufd.Store(-1)
	return w
}

// run is the worker thread: report idle, take a connection, serve it
// until it ends, repeat until the listener thread closes conns.
func (w *worker) run() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for {
		w.s.idle <- w // never blocks: idle has room for every worker
		c, ok := <-w.conns
		if !ok {
			return
		}
		w.accepted.Add(1)
		w.cfd.Store(int32(c.fd))
		w.set(stateBusy)
		w.s.serve(w, &c)
		w.closeClient(c.fd, false)
	}
}

// set moves the worker to state st, waiting out a stopper that is
// shutting its fds down.
func (w *worker) set(st int32) { w.swap(st) }

// swap moves the worker to state st and returns the state it left. It
// waits out a stopper that is shutting its fds down, and moves only by
// compare-and-swap from a state other than stateKilling, so the state it
// returns is never stateKilling: restoring it later cannot leave the
// worker stuck in stateKilling (where every later set would spin).
func (w *worker) swap(st int32) (old int32) {
	for {
		old = w.state.Load()
		if old == stateKilling {
			runtime.Gosched()
			continue
		}
		if w.state.CompareAndSwap(old, st) {
			return old
		}
	}
}

// closeClient ends the connection on fd: lingering when an error response
// may still be unread by the client, else a plain close.
func (w *worker) closeClient(fd int, linger bool) {
	if w.cfd.Load() != int32(fd) {
		return // already closed
	}
	if t := w.http.sock.tls; t != nil && w.http.sock.fd == fd {
		// TLS's close_notify first, as nginx's SSL_shutdown (bounded
		// by crypto/tls's 5 s write deadline).
		w.http.sock.tls = nil
		if !w.s.killed.Load() {
			t.CloseWrite()
		}
	}
	w.set(stateClosing)
	w.cfd.Store(-1)
	if linger && !w.s.killed.Load() {
		lingeringClose(fd, w.http.drain[:], coreio.LingerTimeout)
	} else {
		unix.Close(fd)
	}
	w.set(stateIdle)
}

// setUpstream publishes (fd >= 0) or retires (fd < 0, closing the old
// one when close is set) the upstream socket the worker is using.
func (w *worker) setUpstream(fd int, close bool) {
	if fd >= 0 {
		w.ufd.Store(int32(fd))
		return
	}
	old := int(w.ufd.Load())
	if old < 0 {
		return
	}
	// Not Load then set: a Load could read stateKilling while kill runs,
	// and restoring that would wedge the worker.
	prev := w.swap(stateClosing)
	w.ufd.Store(-1)
	if close {
		unix.Close(old)
	}
	w.set(prev)
}

// kill wakes the worker for a stop: a worker waiting for a next request
// has its connection shut down; with force, so has a busy one, along
// with its upstream socket.
func (w *worker) kill(force bool) {
	for {
		st := w.state.Load()
		if st == stateBusy && !force || st == stateIdle || st == stateClosing || st == stateKilling {
			return
		}
		if w.state.CompareAndSwap(st, stateKilling) {
			if fd := w.cfd.Load(); fd >= 0 {
				unix.Shutdown(int(fd), unix.SHUT_RDWR)
			}
			if fd := w.ufd.Load(); fd >= 0 && force {
				unix.Shutdown(int(fd), unix.SHUT_RDWR)
			}
			w.state.Store(st)
			return
		}
	}
}
