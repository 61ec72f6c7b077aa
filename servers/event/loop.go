package event

import (
	"fmt"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/c10k/c10k/servers/errlog"
)

// Kinds of epoll registrations, kept in the event's Pad word.
const (
	kindListener int32 = iota + 1
	kindClient
	kindUpstream
	kindWake
)

const (
	// acceptDelay is how long accepting pauses after EMFILE/ENFILE:
	// nginx's accept_mutex_delay.
	acceptDelay = 500 * time.Millisecond
	// maxEvents is the epoll_wait batch.
	maxEvents = 512
	// maxFreeExchanges bounds the exchanges a loop keeps for reuse.
	maxFreeExchanges = 256
	// connEvents is the one registration of every socket: edge-triggered
	// for both directions, for its whole life.
	connEvents = unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET
)

// Reasons accepting is paused, as bits.
const (
	pauseLimit = 1 << iota // worker_connections reached
	pauseFiles             // EMFILE/ENFILE: wait acceptDelay
	pauseStop              // stopping: the listeners are closed
)

// loopStats are a loop's counters, written by the loop, read by Stats.
type loopStats struct {
	connections, idle, upstreams, borrowed atomic.Int64
	buffers                                atomic.Int64 // retained by free exchanges
	tempFiles                              atomic.Int64 // open response temp files
	accepted, requests, copies, offloaded  atomic.Uint64
	spilled, handshakes                    atomic.Uint64
	handshaking, hsWaiting                 atomic.Int64
}

func (s *loopStats) snapshot() LoopStats {
	ls := LoopStats{
		Connections:       int(s.connections.Load()),
		Idle:              int(s.idle.Load()),
		Upstreams:         int(s.upstreams.Load()),
		Borrowed:          int(s.borrowed.Load()),
		Accepted:          s.accepted.Load(),
		Requests:          s.requests.Load(),
		FileCopies:        s.copies.Load(),
		Offloaded:         s.offloaded.Load(),
		Spilled:           s.spilled.Load(),
		TempFiles:         int(s.tempFiles.Load()),
		Buffers:           s.buffers.Load(),
		Handshakes:        s.handshakes.Load(),
		Handshaking:       int(s.handshaking.Load()),
		HandshakesWaiting: int(s.hsWaiting.Load()),
	}
	ls.Active = ls.Connections - ls.Idle
	return ls
}

// loop is one event loop: a goroutine locked to its thread, running
// epoll_wait over its listeners, connections and eventfd. Everything but
// stats and the done queue is touched only by the loop's goroutine.
type loop struct {
	s    *Server
	id   int
	epfd int
	wake int // eventfd: shutdown and file-pool results
	ls   []*listener

	conns []*conn   // client connections by fd
	ups   []*upConn // upstream connections by fd
	free  []*conn
	freeX []*exchange
	heap  []*conn // timers
	pool  map[string][]*upConn
	addrs map[string]netip.AddrPort // resolved upstream addresses

	now  int64     // monotonic ns since Server.base, per wakeup
	wall time.Time // wall clock of the wakeup, for Date

	nconns   int // worker_connections in use: listeners, clients, upstreams
	clients  int
	jobs     int // exchanges on the file pool
	paused   int // pause* bits
	resumeAt int64
	filesLog bool // EMFILE logged for this pause

	closing bool  // stopping gracefully
	killed  bool  // stop deadline passed: close everything
	stopAt  int64 // the stop deadline

	scratch []byte // lingering-close drain

	// TLS (tls.go): handshake goroutines running, connections waiting
	// for one, and free output buffers.
	hsRunning int
	hsWait    []*tlsState
	outFree   [][]byte

	mu   sync.Mutex
	done []*conn     // connections back from the file pool
	tlsq []*tlsState // connections their handshake goroutines posted

	stats  loopStats
	connID uint64
}

func (l *loop) init() error {
	var err error
	l.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return fmt.Errorf("event: loop %d: epoll_create1: %w", l.id, err)
	}
	l.wake, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(l.epfd)
		l.epfd = -1
		return fmt.Errorf("event: loop %d: eventfd: %w", l.id, err)
	}
	if err := l.ctl(unix.EPOLL_CTL_ADD, l.wake, unix.EPOLLIN, kindWake); err != nil {
		return fmt.Errorf("event: loop %d: epoll_ctl(eventfd %d): %w", l.id, l.wake, err)
	}
	for _, ln := range l.ls {
		if err := l.ctl(unix.EPOLL_CTL_ADD, ln.FD, unix.EPOLLIN, kindListener); err != nil {
			return fmt.Errorf("event: loop %d: epoll_ctl(listener %s fd %d): %w", l.id, ln.Addr, ln.FD, err)
		}
		l.nconns++
	}
	l.pool = make(map[string][]*upConn)
	l.addrs = make(map[string]netip.AddrPort)
	l.scratch = make([]byte, 4096)
	return nil
}

func (l *loop) ctl(op, fd int, events uint32, kind int32) error {
	ev := unix.EpollEvent{Events: events, Fd: int32(fd), Pad: kind}
	return unix.EpollCtl(l.epfd, op, fd, &ev)
}

// closeListeners closes the loop's listening sockets.
func (l *loop) closeListeners() {
	for _, ln := range l.ls {
		ln.Close()
	}
}

// closeFDs closes the epoll and eventfd descriptors after the loop ended.
func (l *loop) closeFDs() {
	if l.epfd > 0 {
		unix.Close(l.epfd)
		l.epfd = -1
	}
	if l.wake > 0 {
		unix.Close(l.wake)
		l.wake = -1
	}
}

var one = [8]byte{1}

// wakeup interrupts the loop's epoll_wait (from any goroutine).
func (l *loop) wakeup() { unix.Write(l.wake, one[:]) }

// post hands a connection back from the file pool.
func (l *loop) post(c *conn) {
	l.mu.Lock()
	l.done = append(l.done, c)
	l.mu.Unlock()
	l.wakeup()
}

func (l *loop) tick() {
	l.wall = time.Now()
	l.now = int64(l.wall.Sub(l.s.base))
}

// run is the loop: wait for events and deadlines, dispatch, until a stop
// has closed every connection.
func (l *loop) run() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	events := make([]unix.EpollEvent, maxEvents)
	l.tick()
	for {
		if l.s.stopping.Load() && !l.closing {
			l.beginStop()
		}
		if l.closing {
			if !l.killed && l.now >= l.stopAt {
				l.kill()
			}
			if l.clients == 0 && l.jobs == 0 {
				l.closeIdleUpstreams()
				return
			}
		}
		// Poll without blocking first (a raw call: under load there is
		// always something); only an empty poll blocks, through the
		// runtime so that the thread's P serves others meanwhile.
		n, err := epollWait(l.epfd, events, 0)
		if n == 0 && err == nil {
			if ms := l.waitMillis(); ms != 0 {
				n, err = unix.EpollWait(l.epfd, events, ms)
			}
		}
		l.tick()
		if err != nil && err != unix.EINTR {
			l.s.log.Logf("alert", 0, "epoll_wait() failed %s", errlog.ErrnoText(err))
			l.s.stopping.Store(true)
			for _, o := range l.s.loops {
				o.wakeup()
			}
			l.kill()
			continue
		}
		for i := 0; i < n; i++ {
			ev := &events[i]
			fd := int(ev.Fd)
			switch ev.Pad {
			case kindClient:
				if fd < len(l.conns) {
					if c := l.conns[fd]; c != nil {
						l.clientEvent(c, ev.Events)
					}
				}
			case kindUpstream:
				if fd < len(l.ups) {
					if u := l.ups[fd]; u != nil {
						l.upstreamEvent(u, ev.Events)
					}
				}
			case kindListener:
				for _, ln := range l.ls {
					if ln.FD == fd {
						l.accept(ln)
					}
				}
			case kindWake:
				var b [8]byte
				unix.Read(l.wake, b[:])
				l.drainDone()
				l.drainTLS()
			}
		}
		l.expire()
		if l.paused&pauseFiles != 0 && l.now >= l.resumeAt {
			l.filesLog = false
			l.resume(pauseFiles)
		}
	}
}

// waitMillis is epoll_wait's timeout: until the earliest deadline.
func (l *loop) waitMillis() int {
	next := int64(-1)
	if len(l.heap) > 0 {
		next = l.heap[0].hkey
	}
	if l.paused&pauseFiles != 0 && (next < 0 || l.resumeAt < next) {
		next = l.resumeAt
	}
	if l.closing && !l.killed && (next < 0 || l.stopAt < next) {
		next = l.stopAt
	}
	if next < 0 {
		return -1
	}
	d := next - l.now
	if d <= 0 {
		return 0
	}
	return int((d + int64(time.Millisecond) - 1) / int64(time.Millisecond))
}

// drainDone resumes the connections the file pool finished with.
func (l *loop) drainDone() {
	l.mu.Lock()
	done := l.done
	l.done = nil
	l.mu.Unlock()
	for i, c := range done {
		done[i] = nil
		l.jobs--
		if l.killed {
			l.close(c)
			continue
		}
		c.st = stServe
		if l.planned(c) {
			l.advance(c)
		}
	}
}

// accept accepts every pending connection of ln (accept4 until EAGAIN),
// unless worker_connections is reached: then accepting pauses until a
// connection closes.
func (l *loop) accept(ln *listener) {
	if l.paused == 0 && l.nconns >= l.s.connLimit() {
		// A connection waits and no slot is free: say so once, and stop
		// accepting until a connection closes.
		l.s.log.Logf("alert", 0, "%d worker_connections are not enough", l.s.connLimit())
		l.pause(pauseLimit)
		return
	}
	for l.paused == 0 {
		if l.nconns >= l.s.connLimit() {
			// Full: the listener stays in the epoll set (level-triggered),
			// so a connection arriving now pauses accepting, above.
			return
		}
		fd, sa, err := l.s.accept4(ln.FD, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if err != nil {
			switch err {
			case unix.EAGAIN:
				return
			case unix.EINTR, unix.ECONNABORTED, unix.EPROTO:
				continue
			case unix.EMFILE, unix.ENFILE, unix.ENOBUFS, unix.ENOMEM:
				// Like nginx: stop accepting for a while, keep serving.
				if !l.filesLog {
					l.filesLog = true
					l.s.log.Logf("crit", 0, "accept4() on %s failed %s", ln.Addr, errlog.ErrnoText(err))
				}
				l.resumeAt = l.now + int64(acceptDelay)
				l.pause(pauseFiles)
				return
			}
			l.s.log.Logf("alert", 0, "accept4() on %s failed %s", ln.Addr, errlog.ErrnoText(err))
			return
		}
		l.open(fd, sa, ln)
	}
}

// pause stops accepting for reason; the listeners leave the epoll set.
func (l *loop) pause(reason int) {
	if l.paused == 0 {
		for _, ln := range l.ls {
			if ln.FD >= 0 {
				unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, ln.FD, nil)
			}
		}
	}
	l.paused |= reason
}

// resume clears reason; without another one the listeners come back
// (level-triggered: connections queued meanwhile are reported at once).
func (l *loop) resume(reason int) {
	if l.paused&reason == 0 {
		return
	}
	l.paused &^= reason
	if l.paused != 0 {
		return
	}
	for _, ln := range l.ls {
		if ln.FD >= 0 {
			l.ctl(unix.EPOLL_CTL_ADD, ln.FD, unix.EPOLLIN, kindListener)
		}
	}
}

// released is called whenever a connection (client or upstream) closed.
func (l *loop) released() {
	l.nconns--
	if l.paused&pauseLimit != 0 && l.nconns < l.s.connLimit() {
		l.resume(pauseLimit)
	}
}

// beginStop starts a graceful stop: no more accepting, idle keep-alive
// connections and pooled upstream ones closed, the others closed after
// their current response.
func (l *loop) beginStop() {
	l.closing = true
	l.stopAt = l.now + int64(l.s.opts.ShutdownTimeout)
	l.pause(pauseStop)
	for _, ln := range l.ls {
		if ln.FD >= 0 {
			unix.Close(ln.FD)
			ln.FD = -1
			l.nconns--
		}
	}
	for _, c := range l.conns {
		// Idle keep-alive connections, and those on an SSL listener
		// whose handshake has not started.
		if c != nil && (c.st == stIdle || c.st == stTLS && (c.tls == nil || !c.tls.async && !c.tls.queued)) {
			l.close(c)
		}
	}
	l.closeIdleUpstreams()
}

// kill closes every connection left after the stop deadline; those on
// the file pool close when they come back, and those in a handshake
// goroutine when it has given up (close).
func (l *loop) kill() {
	l.killed = true
	for _, c := range l.conns {
		if c != nil && c.st != stFile {
			l.close(c)
		}
	}
	l.closeIdleUpstreams()
}

// Timers: a binary min-heap of connections keyed by hkey. A connection's
// real deadline (0: none) may be later than its key: it is re-queued when
// the key comes up, so pushing a deadline later costs nothing.

// setTimer makes d from now the connection's deadline.
func (l *loop) setTimer(c *conn, d time.Duration) {
	if d <= 0 {
		c.deadline = 0
		return
	}
	dl := l.now + int64(d)
	c.deadline = dl
	if c.hidx >= 0 {
		if c.hkey <= dl {
			return
		}
		c.hkey = dl
		l.heapUp(int(c.hidx))
		return
	}
	c.hkey = dl
	c.hidx = int32(len(l.heap))
	l.heap = append(l.heap, c)
	l.heapUp(int(c.hidx))
}

// setTimerOnce sets d from now unless a deadline is already set.
func (l *loop) setTimerOnce(c *conn, d time.Duration) {
	if c.deadline == 0 {
		l.setTimer(c, d)
	}
}

// clearTimer removes the deadline lazily.
func (l *loop) clearTimer(c *conn) { c.deadline = 0 }

// removeTimer takes c out of the heap (it is closing).
func (l *loop) removeTimer(c *conn) {
	c.deadline = 0
	i := int(c.hidx)
	if i < 0 {
		return
	}
	last := len(l.heap) - 1
	if i != last {
		l.heap[i] = l.heap[last]
		l.heap[i].hidx = int32(i)
	}
	l.heap[last] = nil
	l.heap = l.heap[:last]
	c.hidx = -1
	if i != last {
		l.heapDown(i)
		l.heapUp(i)
	}
}

// expire runs the deadlines that passed.
func (l *loop) expire() {
	for len(l.heap) > 0 {
		c := l.heap[0]
		if c.hkey > l.now {
			return
		}
		if c.deadline > l.now {
			c.hkey = c.deadline // pushed later meanwhile: re-queue
			l.heapDown(0)
			continue
		}
		fire := c.deadline != 0
		l.removeTimer(c)
		if fire {
			l.timeout(c)
		}
	}
}

func (l *loop) heapUp(i int) {
	h := l.heap
	for i > 0 {
		p := (i - 1) / 2
		if h[p].hkey <= h[i].hkey {
			break
		}
		h[p], h[i] = h[i], h[p]
		h[p].hidx, h[i].hidx = int32(p), int32(i)
		i = p
	}
}

func (l *loop) heapDown(i int) {
	h := l.heap
	n := len(h)
	for {
		m := i
		if a := 2*i + 1; a < n && h[a].hkey < h[m].hkey {
			m = a
		}
		if b := 2*i + 2; b < n && h[b].hkey < h[m].hkey {
			m = b
		}
		if m == i {
			return
		}
		h[m], h[i] = h[i], h[m]
		h[m].hidx, h[i].hidx = int32(m), int32(i)
		i = m
	}
}

// epollWait is epoll_wait as a raw system call, for a zero timeout.
func epollWait(epfd int, events []unix.EpollEvent, ms int) (int, error) {
	r, _, e := unix.RawSyscall6(unix.SYS_EPOLL_WAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), uintptr(ms), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}
