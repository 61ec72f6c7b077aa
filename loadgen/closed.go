package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/c10k/c10k/loadgen/result"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"
)

// closedOptions configure the closed-model engine.
type closedOptions struct {
	Target    Target
	Wire      []byte // the request bytes
	Head      bool   // responses carry no body
	Conns     int
	Requests  int64 // total requests; 0: until ctx ends
	Timeout   time.Duration
	KeepAlive bool
	Dialer    *Dialer
}

// The closed-model engine is wrk's design in Go: one event loop per
// GOMAXPROCS (a worker), each owning its connections, an epoll instance,
// one HdrHistogram and its counters. Sockets are non-blocking and
// level-triggered; a request is written as soon as the previous response
// is complete and read when epoll says so, so a request costs one write,
// one read and a share of an epoll_wait — no read that would block, no
// goroutine switch, no allocation.
type closedEngine struct {
	o       closedOptions
	addr    netip.AddrPort
	loops   []*loop
	budget  atomic.Int64
	opened  atomic.Int64
	failed  atomic.Int64
	setupEr error
	start   time.Time // the load phase's start, the timeline's origin
}

// loop is one worker.
type loop struct {
	e *closedEngine
	// mu guards the counters below when the connections are TLS
	// goroutines (closed_tls.go); the plain loop owns them alone.
	mu    sync.Mutex
	epfd  int
	conns []*econn
	byFD  map[int32]*econn
	hist  *hdrhistogram.Histogram
	done  atomic.Int64
	errs  atomic.Int64
	codes map[int]int64
	kinds map[string]int64
	first error
	bytes int64
	// timeline counts this loop's results by completion; merged with
	// the other loops' in summarise, so the hot path takes no lock.
	timeline []result.TimeBucket
}

// Phases of a response.
const (
	phHead = iota
	phBody
	phChunkSize
	phChunkData
	phChunkEnd
	phTrailer
	phUntilEOF
)

// econn is one connection of a loop.
type econn struct {
	fd         int // -1: none
	connecting bool
	retryAt    time.Time
	t0         time.Time
	buf        []byte
	r, w       int
	phase      int
	remain     int64
	status     int
	keep       bool
	n          int64
	reqs       int64
	wrote      int // bytes of the request written
	wantOut    bool
}

func newClosed(o closedOptions) *closedEngine {
	e := &closedEngine{o: o}
	e.budget.Store(o.Requests)
	ap, err := netip.ParseAddrPort(o.Target.Addr)
	if err != nil {
		ta, rerr := net.ResolveTCPAddr("tcp", o.Target.Addr)
		if rerr != nil {
			e.setupEr = fmt.Errorf("resolve %s: %w", o.Target.Addr, rerr)
		} else {
			ap = ta.AddrPort()
		}
	}
	e.addr = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	n := max(1, min(runtime.GOMAXPROCS(0), o.Conns))
	for i := range n {
		l := &loop{e: e, byFD: map[int32]*econn{}, hist: result.NewHistogram(), codes: map[int]int64{}, kinds: map[string]int64{}, epfd: -1}
		for j := i; j < o.Conns; j += n {
			l.conns = append(l.conns, &econn{fd: -1, buf: make([]byte, 8192)})
		}
		e.loops = append(e.loops, l)
	}
	return e
}

// progress returns requests and errors so far.
func (e *closedEngine) progress() (done, errs int64) {
	for _, l := range e.loops {
		done += l.done.Load()
		errs += l.errs.Load()
	}
	return
}

// run drives every loop until ctx ends or the request budget is spent;
// start is the load phase's start, the origin of the timeline.
func (e *closedEngine) run(ctx context.Context, start time.Time) {
	e.start = start
	if e.setupEr != nil {
		e.loops[0].fail(e.setupEr)
		return
	}
	var g errgroup.Group
	for _, l := range e.loops {
		g.Go(func() error {
			l.run(ctx)
			return nil
		})
	}
	g.Wait()
}

func (l *loop) run(ctx context.Context) {
	if l.e.o.Target.TLS {
		l.runTLS(ctx)
		return
	}
	var err error
	if l.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		l.fail(err)
		return
	}
	// The epoll fd itself waits in Go's netpoller: when no event is
	// ready the loop parks like any goroutine instead of blocking its
	// thread in epoll_wait (which would make the runtime hand the P to
	// another thread, and back, on every idle moment).
	unix.SetNonblock(l.epfd, true)
	f := os.NewFile(uintptr(l.epfd), "epoll")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		l.fail(err)
		return
	}
	stop := context.AfterFunc(ctx, func() { f.SetReadDeadline(time.Unix(1, 0)) })
	defer func() {
		stop()
		for _, c := range l.conns {
			l.close(c)
		}
		f.Close()
	}()
	for _, c := range l.conns {
		l.connect(c, time.Now())
	}
	events := make([]unix.EpollEvent, 256)
	const tick = 10 * time.Millisecond
	nextScan := time.Now().Add(tick)
	f.SetReadDeadline(nextScan)
	for ctx.Err() == nil && l.active() {
		var n int
		var perr error
		err := rc.Read(func(fd uintptr) bool {
			n, perr = epollPoll(int(fd), events)
			return n > 0 || (perr != nil && perr != unix.EINTR)
		})
		if perr != nil && perr != unix.EINTR {
			l.fail(perr)
			return
		}
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			l.fail(err)
			return
		}
		now := time.Now()
		for i := 0; i < n; i++ {
			c := l.byFD[events[i].Fd]
			if c == nil {
				continue
			}
			l.event(c, events[i].Events, now)
		}
		if !now.Before(nextScan) {
			l.scan(now)
			nextScan = now.Add(tick)
			if ctx.Err() == nil {
				f.SetReadDeadline(nextScan)
			}
		}
	}
}

// active reports whether any connection may still send.
func (l *loop) active() bool {
	if l.e.o.Requests <= 0 || l.e.budget.Load() > 0 {
		return true
	}
	for _, c := range l.conns {
		if c.fd >= 0 {
			return true // its request is under way
		}
	}
	return false
}

// scan retries failed connects and times requests out.
func (l *loop) scan(now time.Time) {
	for _, c := range l.conns {
		switch {
		case c.fd < 0 && !c.retryAt.IsZero() && !now.Before(c.retryAt):
			l.connect(c, now)
		case c.fd >= 0 && l.e.o.Timeout > 0 && !c.t0.IsZero() && now.Sub(c.t0) > l.e.o.Timeout:
			l.result(c, now, fmt.Errorf("%w: no response within %v", ErrTimeout, l.e.o.Timeout))
		}
	}
}

// take reserves one request of the budget.
func (l *loop) take() bool {
	return l.e.o.Requests <= 0 || l.e.budget.Add(-1) >= 0
}

func (l *loop) connect(c *econn, now time.Time) {
	c.retryAt = time.Time{}
	if !l.take() {
		return
	}
	fd, err := l.dial()
	if err != nil {
		l.e.failed.Add(1)
		l.fail(fmt.Errorf("dial %s: %w", l.e.o.Target.Addr, err))
		l.giveBack()
		c.retryAt = now.Add(time.Millisecond)
		return
	}
	c.fd, c.connecting, c.t0 = fd, true, now
	c.r, c.w, c.wrote, c.phase = 0, 0, 0, phHead
	l.byFD[int32(fd)] = c
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLOUT | unix.EPOLLIN, Fd: int32(fd)}); err != nil {
		l.result(c, now, err)
	}
}

func (l *loop) giveBack() {
	if l.e.o.Requests > 0 {
		l.e.budget.Add(1)
	}
}

// dial starts a non-blocking connect from the next source address.
func (l *loop) dial() (int, error) {
	a := l.e.addr
	family := unix.AF_INET
	if a.Addr().Is6() {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	if src := l.e.o.Dialer.nextSource(); src.IsValid() {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
		unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
		if err := unix.Bind(fd, sockaddr(netip.AddrPortFrom(src, 0))); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("bind %s: %w", src, err)
		}
	}
	if err := unix.Connect(fd, sockaddr(a)); err != nil && err != unix.EINPROGRESS {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func sockaddr(a netip.AddrPort) unix.Sockaddr {
	if a.Addr().Is4() {
		return &unix.SockaddrInet4{Addr: a.Addr().As4(), Port: int(a.Port())}
	}
	return &unix.SockaddrInet6{Addr: a.Addr().As16(), Port: int(a.Port())}
}

func (l *loop) event(c *econn, ev uint32, now time.Time) {
	if c.connecting {
		if ev&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) == 0 {
			return
		}
		if soerr, err := unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_ERROR); err != nil || soerr != 0 {
			if err == nil {
				err = syscall.Errno(soerr)
			}
			l.e.failed.Add(1)
			l.fail(fmt.Errorf("dial %s: %w", l.e.o.Target.Addr, err))
			l.close(c)
			l.giveBack()
			c.retryAt = now.Add(time.Millisecond)
			return
		}
		l.e.opened.Add(1)
		c.connecting = false
		unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, c.fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(c.fd)})
		l.send(c, now)
		return
	}
	if ev&unix.EPOLLOUT != 0 && c.wrote < len(l.e.o.Wire) {
		l.send(c, c.t0)
		return
	}
	if ev&(unix.EPOLLIN|unix.EPOLLERR|unix.EPOLLHUP) == 0 {
		return
	}
	if c.w == len(c.buf) {
		c.compact()
	}
	n, err := rawRead(c.fd, c.buf[c.w:])
	switch {
	case err == unix.EAGAIN:
		return
	case err != nil:
		l.result(c, now, fmt.Errorf("read response: %w", err))
		return
	case n == 0:
		l.result(c, now, c.eof())
		return
	}
	done, perr := c.got(n, l.e.o.Head)
	switch {
	case perr != nil:
		l.result(c, now, perr)
	case done:
		l.result(c, now, nil)
	}
}

var errUnexpectedEOF = errors.New("connection closed before the response ended")

// got takes n more bytes read into c.buf[c.w:] and parses them: done
// when the response is complete.
func (c *econn) got(n int, head bool) (done bool, err error) {
	c.w += n
	c.n += int64(n)
	return c.parse(head)
}

// eof ends the response on c when the server closed the connection: a
// body read until the end is complete (and the connection not kept),
// anything else was cut short.
func (c *econn) eof() error {
	if c.phase == phUntilEOF {
		c.keep = false
		return nil
	}
	return fmt.Errorf("read response: %w", errUnexpectedEOF)
}

// send writes (the rest of) the request; t0 is its start.
func (l *loop) send(c *econn, t0 time.Time) {
	c.t0 = t0
	w := l.e.o.Wire
	for c.wrote < len(w) {
		n, err := rawWrite(c.fd, w[c.wrote:])
		if err == unix.EAGAIN {
			c.wantOut = true
			unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, c.fd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT, Fd: int32(c.fd)})
			return
		}
		if err != nil {
			l.result(c, t0, fmt.Errorf("write request: %w", err))
			return
		}
		c.wrote += n
	}
	if c.wantOut {
		// A partial write asked for EPOLLOUT; drop it again.
		c.wantOut = false
		{
			unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, c.fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(c.fd)})
		}
	}
}

// result ends the exchange on c: it records it and sends the next request
// on the same connection or a new one.
func (l *loop) result(c *econn, now time.Time, err error) {
	l.record(c, now, c.t0, err)
	c.n, c.t0 = 0, time.Time{}
	if err == nil && c.keep && l.e.o.KeepAlive && c.r == c.w {
		if !l.take() {
			c.wrote = 0
			l.close(c)
			return
		}
		c.r, c.w, c.wrote, c.phase = 0, 0, 0, phHead
		l.send(c, now)
		return
	}
	l.close(c)
	l.connect(c, now)
}

// record counts one finished exchange of c that began at t0: its
// latency, bytes, status or error, and its place in the timeline. The
// plain loop's result and the TLS goroutines (closed_tls.go, holding
// l.mu) both count through it.
func (l *loop) record(c *econn, now, t0 time.Time, err error) {
	result.Record(l.hist, now.Sub(t0))
	l.done.Add(1)
	c.reqs++
	l.bytes += c.n
	if err != nil {
		l.fail(err)
	} else {
		l.codes[c.status]++
		if c.status >= 400 {
			l.kinds["status"]++
			l.errs.Add(1)
		}
	}
	ok := err == nil && c.status >= 200 && c.status < 400 // as Summary.Finish counts successes
	l.timeline = result.AddToTimeline(l.timeline, now.Sub(l.e.start), ok)
}

func (l *loop) close(c *econn) {
	if c.fd < 0 {
		return
	}
	delete(l.byFD, int32(c.fd))
	unix.Close(c.fd) // also leaves the epoll set
	c.fd, c.connecting, c.wrote, c.wantOut = -1, false, 0, false
}

func (l *loop) fail(err error) {
	err = timeoutErr(err)
	l.kinds[errorKind(err)]++
	l.errs.Add(1)
	if l.first == nil {
		l.first = err
	}
}

func (c *econn) compact() {
	if c.r > 0 {
		copy(c.buf, c.buf[c.r:c.w])
		c.w -= c.r
		c.r = 0
	}
}

var errProtocol = errors.New("malformed response")

// parse consumes what c.buf holds of the response; done when it is
// complete.
func (c *econn) parse(head bool) (done bool, err error) {
	for {
		avail := c.buf[c.r:c.w]
		switch c.phase {
		case phHead:
			i := bytes.Index(avail, []byte("\r\n\r\n"))
			if i < 0 {
				if c.r == 0 && c.w == len(c.buf) {
					return false, fmt.Errorf("%w: response head longer than %d bytes", errProtocol, len(c.buf))
				}
				c.compact()
				return false, nil
			}
			clen, chunked, err := c.head(avail[:i+2])
			if err != nil {
				return false, err
			}
			c.r += i + 4
			switch {
			case head || c.status < 200 || c.status == 204 || c.status == 304:
				if c.status < 200 && c.status >= 100 {
					continue // interim response: the real one follows
				}
				return true, nil
			case chunked:
				c.phase = phChunkSize
			case clen >= 0:
				c.phase, c.remain = phBody, clen
			default:
				c.phase = phUntilEOF
			}
		case phBody, phChunkData:
			k := min(c.remain, int64(len(avail)))
			c.r += int(k)
			c.remain -= k
			if c.remain > 0 {
				c.r, c.w = 0, 0
				return false, nil
			}
			if c.phase == phBody {
				return true, nil
			}
			c.phase = phChunkEnd
		case phChunkSize, phChunkEnd, phTrailer:
			i := bytes.IndexByte(avail, '\n')
			if i < 0 {
				if c.r == 0 && c.w == len(c.buf) {
					return false, fmt.Errorf("%w: chunk line too long", errProtocol)
				}
				c.compact()
				return false, nil
			}
			line := bytes.TrimSpace(avail[:i])
			c.r += i + 1
			switch c.phase {
			case phChunkEnd:
				c.phase = phChunkSize
			case phTrailer:
				if len(line) == 0 {
					return true, nil
				}
			case phChunkSize:
				if j := bytes.IndexByte(line, ';'); j >= 0 {
					line = bytes.TrimSpace(line[:j])
				}
				size, perr := strconv.ParseInt(string(line), 16, 64)
				if perr != nil || size < 0 {
					return false, fmt.Errorf("%w: chunk size %q", errProtocol, trim(line))
				}
				if size == 0 {
					c.phase = phTrailer
				} else {
					c.phase, c.remain = phChunkData, size
				}
			}
		case phUntilEOF:
			c.r, c.w = 0, 0
			return false, nil
		}
	}
}

// head parses a status line and headers ending in CRLF.
func (c *econn) head(h []byte) (clen int64, chunked bool, err error) {
	line, rest, _ := bytes.Cut(h, []byte("\r\n"))
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' ||
		line[9] < '1' || line[9] > '9' || line[10] < '0' || line[10] > '9' || line[11] < '0' || line[11] > '9' {
		return 0, false, fmt.Errorf("%w: status line %q", errProtocol, trim(line))
	}
	c.status = int(line[9]-'0')*100 + int(line[10]-'0')*10 + int(line[11]-'0')
	c.keep = line[7] == '1' // HTTP/1.1 defaults to keep-alive, 1.0 to close
	clen = -1
	for len(rest) > 0 {
		line, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return 0, false, fmt.Errorf("%w: header line %q", errProtocol, trim(line))
		}
		name, val := line[:colon], bytes.TrimSpace(line[colon+1:])
		switch {
		case len(name) == 14 && bytes.EqualFold(name, []byte("Content-Length")):
			v, perr := strconv.ParseInt(string(val), 10, 64)
			if perr != nil || v < 0 {
				return 0, false, fmt.Errorf("%w: Content-Length %q", errProtocol, trim(val))
			}
			clen = v
		case len(name) == 17 && bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.Contains(bytes.ToLower(val), []byte("chunked"))
		case len(name) == 10 && bytes.EqualFold(name, []byte("Connection")):
			if bytes.EqualFold(val, []byte("close")) {
				c.keep = false
			} else if bytes.EqualFold(val, []byte("keep-alive")) {
				c.keep = true
			}
		}
	}
	return clen, chunked, nil
}

func trim(b []byte) []byte {
	b = bytes.TrimSpace(b)
	if len(b) > 64 {
		b = b[:64]
	}
	return b
}

// summarise folds the engine's counters into s.
func (e *closedEngine) summarise(s *result.Summary) {
	s.Hist.Latency = result.NewHistogram()
	var first error
	for _, l := range e.loops {
		s.Hist.Latency.Merge(l.hist)
		s.Requests += l.done.Load()
		for code, k := range l.codes {
			s.StatusCodes[strconv.Itoa(code)] += k
		}
		for kind, k := range l.kinds {
			s.Errors[kind] += k
		}
		s.BytesIn += l.bytes
		s.Timeline = result.MergeTimeline(s.Timeline, l.timeline)
		for _, c := range l.conns {
			s.PerConn = append(s.PerConn, c.reqs)
		}
		if first == nil {
			first = l.first
		}
	}
	s.BytesOut = s.Requests * int64(len(e.o.Wire))
	s.Connections.Active += int64(e.o.Conns)
	s.Connections.Opened += e.opened.Load()
	s.Connections.Failed += e.failed.Load()
	if first != nil {
		s.FirstError = first.Error()
	}
}
