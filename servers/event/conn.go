package event

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/c10k/c10k/servers/engine"
	"github.com/c10k/c10k/servers/errlog"
	"github.com/c10k/c10k/servers/http1"
)

const (
	// lingerTimeout bounds the drain of a lingering close (nginx's
	// lingering_timeout is 5s; a benchmark core keeps it short).
	lingerTimeout = 2 * time.Second
	// discardLimit is the most of an unwanted request body a loop reads
	// to keep the connection alive; beyond, it closes instead.
	discardLimit = 1 << 20
	// statusNoResponse is nginx's 444: close without a response.
	statusNoResponse = 444
	// defaultHeaderTimeout is client_header_timeout's default.
	defaultHeaderTimeout = 60 * time.Second
	// firstBuffer is the head buffer an exchange starts with; it grows
	// to the large_client_header_buffers limit only for larger heads.
	firstBuffer = 4 << 10
	readChunk   = 16 << 10
	streamChunk = 64 << 10
)

// Connection states.
const (
	stIdle   uint8 = iota // between requests: no exchange, keep-alive (or first-request) timer
	stHead                // reading a request head
	stBody                // reading (or discarding) a request body
	stServe               // the engine has planned the request
	stFile                // on the file pool: the loop keeps off it
	stWrite               // writing a response (or a part of a streamed one)
	stProxy               // in the proxy exchange: exchange.pst says where
	stLinger              // lingering close: write side shut, draining
)

// Connection readiness flags (edge-triggered: set by events, cleared on
// EAGAIN or a short read or write).
const (
	fRead uint8 = 1 << iota
	fWrite
	// fEOF: the peer's FIN (or an error) was reported. A short read then
	// no longer means drained: no edge will follow the data, so reading
	// goes on until it returns end of stream.
	fEOF
)

// conn is a client connection. It is all a connection holds while idle:
// no buffer, no parser, no plan.
type conn struct {
	fd       int32
	st       uint8
	flags    uint8
	hidx     int32 // index in the timer heap, -1 when not queued
	requests int32 // requests completed
	hkey     int64 // timer heap key
	deadline int64 // the real deadline, 0 for none
	id       uint64
	remote   netip.AddrPort
	ln       *listener
	x        *exchange // borrowed while a request is in progress
}

// After-write continuations.
const (
	afterResponse uint8 = iota // the response is complete
	afterContinue              // 100 Continue sent: read the body
	afterStream                // a piece of a streamed body: read upstream again
	afterReject                // an error response: lingering close
)

// Body continuations.
const (
	bodyLocal uint8 = iota // discarded: send the local plan
	bodyProxy              // kept: run the proxy exchange
)

// exchange is the state of one request in progress, lent from the loop's
// free list while the request runs: parser, request, plan and buffers.
type exchange struct {
	conn   engine.Conn
	parser http1.Parser
	req    http1.Request
	plan   engine.Plan
	dec    http1.Body
	need   int // the head limit (client_header_buffer_size + large buffers)

	// buf holds request heads; buf[start:end] are unparsed bytes. Body
	// bytes past buf's pending ones are read into rbuf, so that the head
	// the engine references stays intact; rbuf[rs:re] are bytes read
	// past the body (the next pipelined request).
	buf        []byte
	start, end int
	rbuf       []byte
	rs, re     int
	headTimed  bool // client_header_timeout runs

	// body reading
	body      []byte // request body kept for the proxy
	keepBody  bool
	bodyMax   int64
	bodyTotal int64
	more      bool
	bodyThen  uint8

	// writing to the client
	out      []byte // response head, chunk framing
	iov      [2]unix.Iovec
	wa, wb   []byte
	file     *os.File
	foff     int64
	fleft    int64
	copyFile bool
	fbuf     []byte
	fs, fe   int
	after    uint8
	linger   bool // close with lingering after the response
	sendTO   time.Duration

	px proxyState
}

// open starts serving an accepted socket.
func (l *loop) open(fd int, sa unix.Sockaddr, ln *listener) {
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	var c *conn
	if n := len(l.free); n > 0 {
		c = l.free[n-1]
		l.free[n-1] = nil
		l.free = l.free[:n-1]
	} else {
		c = new(conn)
	}
	l.connID++
	*c = conn{fd: int32(fd), st: stIdle, flags: fWrite, hidx: -1, id: l.connID<<8 | uint64(l.id), remote: addrPort(sa), ln: ln}
	if err := l.ctl(unix.EPOLL_CTL_ADD, fd, connEvents, kindClient); err != nil {
		l.s.log.Logf("alert", 0, "epoll_ctl(EPOLL_CTL_ADD, %d) failed %s", fd, errlog.ErrnoText(err))
		unix.Close(fd)
		l.free = append(l.free, c)
		return
	}
	for fd >= len(l.conns) {
		l.conns = append(l.conns, make([]*conn, len(l.conns)+1024)...)
	}
	l.conns[fd] = c
	l.nconns++
	l.clients++
	l.stats.connections.Add(1)
	l.stats.idle.Add(1)
	l.stats.accepted.Add(1)
	to := ln.conf.HeaderTimeout
	if to <= 0 {
		to = defaultHeaderTimeout
	}
	l.setTimer(c, to) // the first request waits client_header_timeout
}

// close closes a client connection and everything it holds.
func (l *loop) close(c *conn) {
	fd := int(c.fd)
	if fd < 0 {
		return
	}
	if c.st == stIdle {
		l.stats.idle.Add(-1)
	}
	l.removeTimer(c)
	if c.x != nil {
		l.release(c)
	}
	unix.Close(fd)
	l.conns[fd] = nil
	c.fd = -1
	c.ln = nil
	l.free = append(l.free, c)
	l.clients--
	l.stats.connections.Add(-1)
	l.released()
}

// closeClient ends the connection: lingering when an error response may
// still be unread by the client, else a plain close.
func (l *loop) closeClient(c *conn, linger bool) {
	if !linger || l.killed {
		l.close(c)
		return
	}
	unix.Shutdown(int(c.fd), unix.SHUT_WR)
	l.release(c)
	c.st = stLinger
	c.flags |= fRead
	l.setTimer(c, lingerTimeout)
	l.drain(c)
}

// drain reads and drops what a lingering connection still sends.
func (l *loop) drain(c *conn) {
	for {
		_, err := read(int(c.fd), l.scratch)
		if err == errAgain {
			c.flags &^= fRead
			return
		}
		if err != nil {
			l.close(c)
			return
		}
	}
}

// borrow lends c an exchange for a new request.
func (l *loop) borrow(c *conn) *exchange {
	var x *exchange
	if n := len(l.freeX); n > 0 {
		x = l.freeX[n-1]
		l.freeX[n-1] = nil
		l.freeX = l.freeX[:n-1]
	} else {
		x = &exchange{buf: make([]byte, firstBuffer), out: make([]byte, 0, 1024)}
	}
	l.stats.borrowed.Add(1)
	c.x = x
	ln := c.ln
	local := ln.addr
	if ln.wild {
		// As nginx's $server_addr: the address the client connected to.
		if sa, err := unix.Getsockname(int(c.fd)); err == nil {
			local = addrPort(sa)
		}
	}
	x.conn = engine.Conn{Listener: ln.index, Local: local, Remote: c.remote}
	conf := &ln.conf
	size, num, large := conf.HeaderBufferSize, conf.LargeHeaders.Number, conf.LargeHeaders.Size
	if size <= 0 {
		size = 1 << 10
	}
	if num <= 0 || large <= 0 {
		num, large = 4, 8<<10
	}
	x.parser = http1.Parser{Limits: http1.LimitsFor(size, num, large)}
	x.need = int(size + int64(num)*large)
	x.start, x.end, x.rs, x.re = 0, 0, 0, 0
	x.headTimed = false
	x.px.streaming = false
	return x
}

// release takes the exchange back from c: files and upstream closed.
func (l *loop) release(c *conn) {
	x := c.x
	if x == nil {
		return
	}
	if x.file != nil {
		x.file.Close()
		x.file = nil
	}
	if x.plan.File != nil {
		x.plan.File.Close()
		x.plan.File = nil
	}
	l.dropUpstream(x)
	x.wa, x.wb = nil, nil
	x.plan.Reset()
	x.req.Reset()
	c.x = nil
	l.stats.borrowed.Add(-1)
	if len(l.freeX) < maxFreeExchanges && cap(x.buf) <= x.need {
		l.freeX = append(l.freeX, x)
	}
}

// clientEvent records the readiness an event reports and advances c.
func (l *loop) clientEvent(c *conn, ev uint32) {
	if ev&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		c.flags |= fRead
	}
	if ev&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		c.flags |= fEOF
	}
	if ev&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		c.flags |= fWrite
	}
	l.advance(c)
}

// advance runs c's state machine as far as it goes without waiting.
func (l *loop) advance(c *conn) {
	for c.fd >= 0 {
		var more bool
		switch c.st {
		case stIdle:
			if c.flags&fRead == 0 {
				return
			}
			l.stats.idle.Add(-1)
			l.borrow(c)
			c.st = stHead
			more = true
		case stHead:
			more = l.readHead(c)
		case stBody:
			more = l.readBody(c)
		case stWrite:
			more = l.write(c)
		case stProxy:
			more = l.proxyStep(c)
		case stLinger:
			if c.flags&fRead != 0 {
				l.drain(c)
			}
		}
		if !more {
			return
		}
	}
}

// timeout handles c's expired deadline.
func (l *loop) timeout(c *conn) {
	switch c.st {
	case stIdle, stHead, stLinger:
		// Keep-alive and header timeouts close silently (nginx sends
		// no 408 either).
		l.close(c)
	case stBody:
		if l.bodyDone(c, errTimeout) {
			l.advance(c)
		}
	case stWrite:
		l.writeFailed(c, errTimeout)
	case stProxy:
		if l.proxyTimeout(c) {
			l.advance(c)
		}
	}
}

// readHead reads and parses the next request head.
func (l *loop) readHead(c *conn) bool {
	x := c.x
	for {
		if x.end > x.start {
			n, err := x.parser.Parse(x.buf[x.start:x.end], &x.req)
			if err == nil {
				x.start += n
				l.clearTimer(c)
				return l.serve(c, 0)
			}
			if err != http1.ErrIncomplete {
				l.clearTimer(c)
				return l.serve(c, http1.StatusOf(err))
			}
			if x.end == len(x.buf) {
				if len(x.buf) < x.need {
					// A large head: move it to a buffer of the full limit and
					// parse again from its start.
					nb := make([]byte, x.need)
					x.end = copy(nb, x.buf[x.start:x.end])
					x.start = 0
					x.buf = nb
					x.parser.Reset()
					continue
				}
				l.clearTimer(c)
				return l.serve(c, 400) // head larger than the large buffers allow
			}
		}
		if c.flags&fRead != 0 {
			n, err := read(int(c.fd), x.buf[x.end:])
			if err == nil {
				if n < len(x.buf)-x.end && c.flags&fEOF == 0 {
					c.flags &^= fRead // drained: the next byte brings an edge
				}
				x.end += n
				continue
			}
			if err != errAgain {
				l.close(c)
				return false
			}
			c.flags &^= fRead
		}
		if x.end == 0 {
			// Nothing of a request yet: idle again, without the exchange.
			l.release(c)
			c.st = stIdle
			l.stats.idle.Add(1)
			if l.closing {
				l.close(c)
			}
			return false
		}
		if !x.headTimed {
			x.headTimed = true
			to := c.ln.conf.HeaderTimeout
			if to <= 0 {
				to = defaultHeaderTimeout
			}
			l.setTimer(c, to)
		}
		return false
	}
}

// serve plans the parsed request (status: a parse error to reject).
func (l *loop) serve(c *conn, status int) bool {
	x := c.x
	p := &x.plan
	c.st = stServe
	if status != 0 {
		l.s.e.Reject(status, x.conn, p)
		return l.respond(c, true, afterReject, true)
	}
	x.conn.Requests = int(c.requests)
	if !l.s.e.ServeCached(&x.req, x.conn, p) {
		// A file lookup would wait for the disk: plan it on the pool.
		c.st = stFile
		l.jobs++
		l.stats.offloaded.Add(1)
		l.s.pool.submit(fileJob{l: l, c: c, x: x})
		return false
	}
	return l.served(c)
}

// served executes a plan.
func (l *loop) served(c *conn) bool {
	x := c.x
	p := &x.plan
	if p.Proxy != nil {
		return l.proxyStart(c)
	}
	if x.req.HasBody() && !p.Close {
		switch {
		case x.req.Expect100 && x.start == x.end && x.rs == x.re:
			// The client waits for 100 Continue we will not send: answer
			// without reading the body, then close.
			p.KeepAlive = false
		case x.req.ContentLength > discardLimit:
			p.KeepAlive = false
		default:
			l.startBody(c, false, discardLimit, bodyLocal)
			return true
		}
	}
	return l.respond(c, false, afterResponse, x.req.HasBody() || p.Status >= 400)
}

// startBody starts reading the request body: kept in x.body when keep,
// else discarded; more than max bytes (0: no limit) is errTooLarge.
func (l *loop) startBody(c *conn, keep bool, max int64, then uint8) {
	x := c.x
	x.dec.Init(x.req.ContentLength, x.req.Chunked, false)
	x.body = x.body[:0]
	x.keepBody, x.bodyMax, x.bodyTotal, x.more, x.bodyThen = keep, max, 0, false, then
	if x.rbuf == nil {
		x.rbuf = make([]byte, readChunk)
	}
	c.st = stBody
}

// readBody advances the body read.
func (l *loop) readBody(c *conn) bool {
	x := c.x
	for !x.dec.Done() {
		inBuf := x.start < x.end
		var src []byte
		if inBuf {
			src = x.buf[x.start:x.end]
		} else {
			src = x.rbuf[x.rs:x.re]
		}
		if len(src) == 0 || x.more {
			if inBuf {
				// A chunk-size line split at the end of buf: move it.
				if len(src) > len(x.rbuf) {
					return l.bodyDone(c, errTooLarge)
				}
				x.rs, x.re = 0, copy(x.rbuf, src)
				x.start = x.end
			}
			if err := l.fill(c); err != nil {
				if err == errAgain {
					l.setTimer(c, x.plan.BodyTimeout)
					return false
				}
				return l.bodyDone(c, err)
			}
			x.more = false
			continue
		}
		data, n, err := x.dec.Decode(src)
		if err != nil {
			return l.bodyDone(c, err)
		}
		if inBuf {
			x.start += n
		} else {
			x.rs += n
		}
		x.more = n == 0
		x.bodyTotal += int64(len(data))
		if x.bodyMax > 0 && x.bodyTotal > x.bodyMax {
			return l.bodyDone(c, errTooLarge)
		}
		if x.keepBody {
			x.body = append(x.body, data...)
		}
	}
	l.clearTimer(c)
	return l.bodyDone(c, nil)
}

// fill reads more client bytes into rbuf after rbuf[rs:re].
func (l *loop) fill(c *conn) error {
	x := c.x
	if x.rs > 0 {
		x.re = copy(x.rbuf, x.rbuf[x.rs:x.re])
		x.rs = 0
	}
	limit := min(len(x.rbuf), x.need) // leftovers must fit buf for the next head
	if x.re == limit {
		return errTooLarge // a chunk-size line that never ends
	}
	if c.flags&fRead == 0 {
		return errAgain
	}
	n, err := read(int(c.fd), x.rbuf[x.re:limit])
	if err != nil {
		if err == errAgain {
			c.flags &^= fRead
		}
		return err
	}
	if n < limit-x.re && c.flags&fEOF == 0 {
		c.flags &^= fRead
	}
	x.re += n
	return nil
}

// bodyDone continues after the body was read (err nil) or failed.
func (l *loop) bodyDone(c *conn, err error) bool {
	x := c.x
	p := &x.plan
	c.st = stServe
	if x.bodyThen == bodyLocal {
		switch err {
		case nil:
		case errTooLarge:
			p.KeepAlive = false
		default:
			return l.bodyFailed(c, err)
		}
		return l.respond(c, false, afterResponse, true)
	}
	switch err {
	case nil:
		p.Proxy.SetBody(x.bodyTotal)
		return l.nextAttempt(c)
	case errTooLarge:
		return l.reject(c, 413)
	}
	return l.bodyFailed(c, err)
}

// bodyFailed ends a request whose body could not be read: a malformed
// body is answered (400, 413) before closing, an I/O failure just closes.
func (l *loop) bodyFailed(c *conn, err error) bool {
	l.logClient(c, "info", err, "while reading client request body")
	if err == errTooLarge {
		return l.reject(c, 413)
	}
	var he *http1.Error
	if errors.As(err, &he) && he.Status >= 400 {
		return l.reject(c, he.Status)
	}
	l.close(c)
	return false
}

// reject answers the current request with status and closes.
func (l *loop) reject(c *conn, status int) bool {
	x := c.x
	if x.plan.File != nil {
		x.plan.File.Close()
	}
	x.plan.Reset()
	l.s.e.Reject(status, x.conn, &x.plan)
	return l.respond(c, true, afterReject, true)
}

// respond queues the plan's head and body (bytes or file region) for
// writing; after says what follows, linger whether closing lingers.
// 444 closes without a response.
func (l *loop) respond(c *conn, closing bool, after uint8, linger bool) bool {
	x := c.x
	p := &x.plan
	if p.Close || p.Status == statusNoResponse {
		l.close(c)
		return false
	}
	if closing {
		p.KeepAlive = false
	}
	cl := p.ContentLength
	if cl < 0 && p.File == nil {
		cl = int64(len(p.Body))
	}
	head := l.appendHead(x.out[:0], x, cl)
	x.out = head[:0]
	x.wa, x.wb = head, nil
	switch {
	case p.HeadOnly || p.Status < 200 || p.Status == 204 || p.Status == 304:
	case p.File != nil:
		if cl > 0 {
			x.file, x.foff, x.fleft = p.File, p.Offset, cl
			p.File = nil
			x.copyFile = !p.Sendfile
			if x.copyFile {
				l.stats.copies.Add(1)
				x.fs, x.fe = 0, 0
			}
		}
	default:
		x.wb = p.Body
	}
	if p.File != nil {
		p.File.Close()
		p.File = nil
	}
	x.after, x.linger, x.sendTO = after, linger, p.SendTimeout
	c.st = stWrite
	return true
}

// appendHead serializes the response head of the plan with content
// length cl (-1: chunked to HTTP/1.1 clients, close-delimited to 1.0).
func (l *loop) appendHead(dst []byte, x *exchange, cl int64) []byte {
	p := &x.plan
	if l.closing {
		p.KeepAlive = false // stopping: this is the connection's last response
	}
	rh := http1.ResponseHead{
		Minor:         x.req.Minor,
		Status:        p.Status,
		Header:        p.Header,
		ContentLength: cl,
		KeepAlive:     p.KeepAlive,
		Date:          l.s.date.Get(l.wall),
		Server:        l.s.e.Software(),
		HeadOnly:      p.HeadOnly,
	}
	if cl < 0 {
		if x.req.Minor >= 1 {
			rh.Chunked = true
		} else {
			rh.KeepAlive = false
			p.KeepAlive = false
		}
	}
	return http1.AppendResponseHead(dst, &rh)
}

// write sends what is queued; when done, the continuation runs.
func (l *loop) write(c *conn) bool {
	tried := c.flags&fWrite != 0
	if err := l.flush(c); err != nil {
		if err == errAgain {
			// send_timeout runs between two writes: a new wait restarts it.
			if tried {
				l.setTimer(c, c.x.sendTO)
			} else {
				l.setTimerOnce(c, c.x.sendTO)
			}
			return false
		}
		l.writeFailed(c, err)
		return false
	}
	l.clearTimer(c)
	x := c.x
	switch x.after {
	case afterContinue:
		c.st = stBody
		return true
	case afterStream:
		c.st = stProxy
		x.px.st = pxStream
		return true
	case afterReject:
		l.closeClient(c, true)
		return false
	}
	return l.finishResponse(c)
}

// writeFailed handles a client write error or send timeout.
func (l *loop) writeFailed(c *conn, err error) {
	x := c.x
	if x.after == afterStream || x.px.streaming {
		l.clientBroken(c, err)
		return
	}
	l.logClient(c, "warn", err, "while sending response to client")
	l.close(c)
}

// finishResponse ends a request whose response was sent: the next one
// on a keep-alive connection, or the close.
func (l *loop) finishResponse(c *conn) bool {
	x := c.x
	p := &x.plan
	c.requests++
	l.stats.requests.Add(1)
	if !p.KeepAlive || l.closing {
		l.closeClient(c, x.linger)
		return false
	}
	kt := p.KeepaliveTimeout
	// Move what is left of this request's bytes to the front.
	switch {
	case x.rs < x.re:
		if x.re-x.rs > len(x.buf) {
			x.buf = make([]byte, x.need)
		}
		x.start, x.end = 0, copy(x.buf, x.rbuf[x.rs:x.re])
		x.rs, x.re = 0, 0
	case x.start == x.end:
		x.start, x.end = 0, 0
	case x.start > 0:
		x.end = copy(x.buf, x.buf[x.start:x.end])
		x.start = 0
	}
	x.headTimed = false
	x.px.streaming = false
	if x.end == 0 {
		l.release(c)
		c.st = stIdle
		l.stats.idle.Add(1)
		l.setTimer(c, kt)
		return c.flags&fRead != 0
	}
	// A pipelined request: keep the exchange, parse it now.
	x.plan.Reset()
	c.st = stHead
	l.setTimer(c, kt)
	return true
}

// flush writes the queued head, body and file region until done or the
// socket is full (errAgain).
func (l *loop) flush(c *conn) error {
	x := c.x
	fd := int(c.fd)
	for len(x.wa)+len(x.wb) > 0 {
		if c.flags&fWrite == 0 {
			return errAgain
		}
		want := len(x.wa) + len(x.wb)
		var n int
		var err error
		if x.file != nil && len(x.wb) == 0 {
			n, err = sendMore(fd, x.wa) // the head, corked until the file follows
		} else {
			n, err = writev(fd, &x.iov, x.wa, x.wb)
		}
		if err != nil {
			if err == errAgain {
				c.flags &^= fWrite
			}
			return err
		}
		if n < want {
			c.flags &^= fWrite
		}
		if n < len(x.wa) {
			x.wa = x.wa[n:]
			continue
		}
		x.wb = x.wb[n-len(x.wa):]
		x.wa = nil
	}
	x.wa, x.wb = nil, nil
	if x.file == nil {
		return nil
	}
	var err error
	if x.copyFile {
		err = l.copyFile(c)
	} else {
		err = l.sendfile(c)
	}
	if err != nil {
		return err
	}
	x.file.Close()
	x.file = nil
	return nil
}

// sendfile sends the file region with sendfile(2) until done or the
// socket is full, falling back to copying when the file cannot be sent
// that way (EINVAL, ENOSYS: e.g. some FUSE or proc files).
func (l *loop) sendfile(c *conn) error {
	x := c.x
	in := int(x.file.Fd())
	for x.fleft > 0 {
		if c.flags&fWrite == 0 {
			return errAgain
		}
		chunk := min(x.fleft, 1<<30)
		n, err := sendfile(int(c.fd), in, &x.foff, int(chunk))
		if n > 0 {
			x.fleft -= int64(n)
		}
		switch err {
		case nil:
			if n == 0 {
				return fmt.Errorf("sendfile %s: %w", x.file.Name(), io.ErrUnexpectedEOF) // file shrank
			}
			// A short count does not mean a full socket here: sendfile
			// moves at most a pipe's worth per call. Only EAGAIN does.
			continue
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			c.flags &^= fWrite
			return errAgain
		case unix.EINVAL, unix.ENOSYS, unix.EOPNOTSUPP:
			x.copyFile = true
			x.fs, x.fe = 0, 0
			return l.copyFile(c)
		}
		return err
	}
	return nil
}

// copyFile sends the file region by reading pieces into the exchange's
// buffer with pread(2) and writing them: "sendfile off".
func (l *loop) copyFile(c *conn) error {
	x := c.x
	if x.fbuf == nil {
		x.fbuf = make([]byte, streamChunk)
	}
	for x.fleft > 0 || x.fs < x.fe {
		if x.fs == x.fe {
			b := x.fbuf
			if int64(len(b)) > x.fleft {
				b = b[:x.fleft]
			}
			r, err := x.file.ReadAt(b, x.foff)
			if r == 0 && err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return fmt.Errorf("read %s: %w", x.file.Name(), err)
			}
			x.foff += int64(r)
			x.fleft -= int64(r)
			x.fs, x.fe = 0, r
		}
		if c.flags&fWrite == 0 {
			return errAgain
		}
		n, err := write(int(c.fd), x.fbuf[x.fs:x.fe])
		if err != nil {
			if err == errAgain {
				c.flags &^= fWrite
			}
			return err
		}
		if n < x.fe-x.fs {
			c.flags &^= fWrite
		}
		x.fs += n
	}
	return nil
}

// sendMore writes p with MSG_MORE (the file body follows).
func sendMore(fd int, p []byte) (int, error) {
	for {
		r, _, e := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), unix.MSG_MORE, 0, 0)
		switch e {
		case 0:
			return int(r), nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return 0, errAgain
		}
		return 0, e
	}
}

// logClient logs a client-side failure, nginx style.
func (l *loop) logClient(c *conn, level string, err error, while string) {
	if !l.s.log.Enabled() || l.killed {
		return
	}
	x := c.x
	var what string
	var he *http1.Error
	var errno unix.Errno
	switch {
	case err == errTimeout:
		what = "client timed out (110: Connection timed out)"
	case err == errClosed:
		what = "client prematurely closed connection"
	case err == errTooLarge:
		what = "client intended to send too large body"
	case errors.As(err, &he):
		what = he.Reason
	case errors.As(err, &errno) && strings.HasPrefix(while, "while reading"):
		what = "recv() failed " + errlog.ErrnoText(errno)
	case errors.As(err, &errno):
		what = "writev() failed " + errlog.ErrnoText(errno)
	default:
		what = err.Error()
	}
	l.s.log.Logf(level, c.id, "%s %s, client: %s, server: %s, request: \"%s %s HTTP/1.%d\"",
		what, while, c.remote.Addr(), c.ln.addr, x.req.Method, x.req.Target, x.req.Minor)
}
