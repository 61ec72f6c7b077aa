package event

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/c10k/c10k/servers/engine"
	"github.com/c10k/c10k/servers/errlog"
	"github.com/c10k/c10k/servers/http1"
	"github.com/c10k/c10k/servers/internal/coreio"
)

const (
	// firstBuffer is the head buffer an exchange starts with; it grows
	// to the large_client_header_buffers limit only for larger heads.
	firstBuffer = 4 << 10
	readChunk   = 16 << 10
	streamChunk = 64 << 10
	// proxyMemBase is the most upstream-body buffer a free exchange
	// keeps; a larger one, grown by a buffered response, is dropped.
	proxyMemBase = 16 << 10
)

// Connection states.
const (
	stIdle   uint8 = iota // between requests: no exchange, keep-alive (or first-request) timer
	stHead                // reading a request head
	stBody                // reading (or discarding) a request body
	stServe               // the engine has planned the request
	stFile                // on the file pool: the loop keeps off it
	stDelay               // limit_req delays the request: parked on the timer heap
	stWrite               // writing a response (or a part of a streamed one)
	stProxy               // in the proxy exchange: exchange.pst says where
	stLinger              // lingering close: write side shut, draining
	stTLS                 // an SSL listener's connection before its TLS handshake ended (tls.go)
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
	// fData: crypto/tls may hold request bytes already read from the
	// socket (a TLS connection: see conn.readable).
	fData
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
	tls      *tlsState // a TLS connection's state (tls.go)
	plain    bool      // plain HTTP on an SSL listener (tls.go)
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
	cgiGone bool           // the client left while its cgi_pass child ran
	e       *coreio.Engine // the current request's engine, taken when its head is parsed
	conn    engine.Conn
	parser  http1.Parser
	req     http1.Request
	plan    engine.Plan
	dec     http1.Body
	need    int           // the head limit (client_header_buffer_size + large buffers)
	headTO  time.Duration // client_header_timeout

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
	body      coreio.Spool // request body kept for the proxy
	discard   int64        // a discarded body's limit (engine.Plan.DiscardBody); 0 when kept
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
	// gzip (engine.Plan.Gzip): with gzOn, flush runs the body through gz
	// (gzipPump): Pending first, then the file region x.file, then the
	// end of the stream, unless gzMore (a proxied stream: more follows).
	gz     coreio.Gzip
	gzOn   bool
	gzMore bool

	after  uint8
	linger bool // close with lingering after the response
	sendTO time.Duration
	sent   int64 // bytes written to the client for the current request (access log)

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
	*c = conn{fd: int32(fd), st: stIdle, flags: fWrite, hidx: -1, id: l.connID<<8 | uint64(l.id), remote: coreio.AddrPort(sa), ln: ln}
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
	l.stats.accepted.Add(1)
	if ln.Conf.SSL {
		c.st = stTLS // under client_header_timeout, as the first request
	} else {
		l.stats.idle.Add(1)
	}
	conf, _ := l.s.engine().ListenerOf(ln)
	l.setTimer(c, coreio.HeaderTimeout(conf)) // the first request waits client_header_timeout
}

// close closes a client connection and everything it holds.
func (l *loop) close(c *conn) {
	fd := int(c.fd)
	if fd < 0 {
		return
	}
	if t := c.tls; t != nil && t.async {
		// A handshake goroutine still uses c: it is told to give up,
		// and c closes when it has (handshakeDone).
		l.stopHandshake(c)
		return
	}
	if c.st == stIdle {
		l.stats.idle.Add(-1)
	}
	l.removeTimer(c)
	if c.x != nil {
		l.release(c)
	}
	l.closeTLS(c)
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
	l.closeTLS(c) // close_notify before the FIN; the rest is drained raw
	unix.Shutdown(int(c.fd), unix.SHUT_WR)
	l.release(c)
	c.st = stLinger
	c.flags |= fRead
	l.setTimer(c, coreio.LingerTimeout)
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
		l.stats.buffers.Add(-x.retained())
	} else {
		x = &exchange{buf: make([]byte, firstBuffer), out: make([]byte, 0, 1024)}
	}
	l.stats.borrowed.Add(1)
	c.x = x
	x.conn = c.ln.Conn(int(c.fd), c.remote)
	x.conn.ID = c.id
	c.tlsConnInfo(x)
	// Heads are read with the limits of the engine serving now; each
	// request takes its engine once its head is parsed (serve).
	conf, _ := l.s.engine().ListenerOf(c.ln)
	x.headTO = coreio.HeaderTimeout(conf)
	var lim http1.Limits
	lim, x.need = coreio.HeadLimits(conf)
	x.parser = http1.Parser{Limits: lim}
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
	// The request ends here if it has not yet (the client went away, a
	// timeout, a failure): its access-log line, with what was sent.
	x.plan.End(x.sent)
	if x.file != nil {
		x.file = nil // borrowed from x.plan.File or x.px.tmp
	}
	x.plan.CloseFile()
	x.gz.Release()
	x.gzOn, x.gzMore = false, false
	l.dropUpstream(x)
	l.closeTemp(x)
	x.body.Reset()
	x.wa, x.wb = nil, nil
	x.px.ub = nil
	if cap(x.px.mem) > proxyMemBase {
		x.px.mem = nil
	}
	x.plan.Reset()
	x.req.Reset()
	x.e = nil // a replaced engine is not kept alive by a free exchange
	c.x = nil
	l.stats.borrowed.Add(-1)
	if len(l.freeX) < maxFreeExchanges && cap(x.buf) <= x.need {
		l.freeX = append(l.freeX, x)
		l.stats.buffers.Add(x.retained())
	}
}

// retained is the size of the buffers x keeps while free.
func (x *exchange) retained() int64 {
	u := &x.px
	return int64(cap(x.buf) + cap(x.rbuf) + cap(x.out) + cap(x.fbuf) + x.body.Retained() +
		cap(u.head) + cap(u.rd) + cap(u.mem))
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
			if !l.flushIdle(c) {
				l.close(c)
				return
			}
			if !c.readable() {
				return
			}
			l.stats.idle.Add(-1)
			l.borrow(c)
			c.st = stHead
			more = true
		case stTLS:
			more = l.handshake(c)
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
		case stDelay:
			// As nginx's ngx_http_test_reading while limit_req delays:
			// the client closing ends the request (End logs 499);
			// other bytes wait in the socket for the next request.
			if c.flags&fEOF != 0 {
				l.close(c)
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
	case stTLS:
		l.s.log.Logf("info", c.id, "client timed out (110: Connection timed out) while SSL handshaking, client: %s, server: %s", c.remote.Addr(), c.ln.Addr)
		l.stopHandshake(c)
	case stBody:
		if l.bodyDone(c, coreio.ErrTimeout) {
			l.advance(c)
		}
	case stWrite:
		l.writeFailed(c, coreio.ErrTimeout)
	case stProxy:
		if l.proxyTimeout(c) {
			l.advance(c)
		}
	case stDelay:
		c.st = stServe
		if l.plan(c) {
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
		if c.readable() {
			n, err := l.recv(c, x.buf[x.end:])
			if err == nil {
				x.end += n
				continue
			}
			if err != errAgain {
				l.close(c)
				return false
			}
		}
		if x.end == 0 {
			// Nothing of a request yet: idle again, without the exchange.
			l.release(c)
			c.st = stIdle
			l.stats.idle.Add(1)
			if l.closing || !l.flushIdle(c) {
				l.close(c)
			}
			return false
		}
		if !x.headTimed {
			x.headTimed = true
			l.setTimer(c, x.headTO)
		}
		return false
	}
}

// serve plans the parsed request (status: a parse error to reject).
func (l *loop) serve(c *conn, status int) bool {
	x := c.x
	p := &x.plan
	c.st = stServe
	// The request's engine, for all of it (the file pool, the proxy
	// exchange, the response head): a reload from now on changes the
	// next request, not this one.
	x.e = l.s.engine()
	x.conn.Listener = x.e.Index(c.ln.Index)
	x.sent = 0
	if status != 0 {
		x.e.Reject(status, x.conn, p)
		return l.respond(c, true, afterReject, true)
	}
	x.conn.Requests = int(c.requests)
	return l.plan(c)
}

// plan runs the engine on the parsed request and executes the plan,
// offloads it to the file pool, or parks the connection for limit_req's
// delay (engine.Plan.Delay): on the loop's timer heap, reading nothing,
// until timeout plans the request again and the engine resumes it.
func (l *loop) plan(c *conn) bool {
	x := c.x
	p := &x.plan
	if !x.e.ServeCached(&x.req, x.conn, p) {
		// A file lookup would wait for the disk: plan it on the pool.
		c.st = stFile
		l.jobs++
		l.stats.offloaded.Add(1)
		l.s.pool.submit(fileJob{l: l, c: c, x: x})
		return false
	}
	return l.planned(c)
}

// planned executes a plan the engine finished, or parks c for its Delay.
func (l *loop) planned(c *conn) bool {
	if d := c.x.plan.Delay; d > 0 {
		c.st = stDelay
		l.setTimer(c, d)
		return false
	}
	return l.served(c)
}

// served executes a plan.
func (l *loop) served(c *conn) bool {
	x := c.x
	p := &x.plan
	if x.cgiGone {
		x.cgiGone = false
		l.close(c) // the client left while its cgi_pass child ran
		return false
	}
	if p.CGI != nil {
		return l.cgiStart(c)
	}
	if p.Proxy != nil {
		return l.proxyStart(c)
	}
	if limit := p.DiscardBody(&x.req, x.buffered()); limit > 0 {
		l.startBody(c, limit, bodyLocal)
		return true
	}
	return l.respond(c, false, afterResponse, x.req.HasBody() || p.Status >= 400)
}

// buffered reports whether bytes past the request head are already
// read: the start of its body.
func (x *exchange) buffered() bool { return x.start < x.end || x.rs < x.re }

// startBody starts reading the request body. With discard > 0 it is
// dropped, and more than discard bytes is coreio.ErrTooLarge
// (engine.Plan.DiscardBody); otherwise it is kept in x.body, and a body
// the plan finds too large (engine.Plan.BodyTooLarge) is
// coreio.ErrTooLarge.
func (l *loop) startBody(c *conn, discard int64, then uint8) {
	x := c.x
	x.dec.Init(x.req.ContentLength, x.req.Chunked, false)
	x.body.Reset()
	x.discard, x.bodyTotal, x.more, x.bodyThen = discard, 0, false, then
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
					return l.bodyDone(c, coreio.ErrTooLarge)
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
		if x.discard > 0 {
			if x.bodyTotal > x.discard {
				return l.bodyDone(c, coreio.ErrTooLarge)
			}
			continue
		}
		if x.plan.BodyTooLarge(x.bodyTotal) {
			return l.bodyDone(c, coreio.ErrTooLarge)
		}
		if len(data) > 0 {
			// A regular-file write once the body passes
			// coreio.SpoolMemory: see the package documentation.
			if _, err := x.body.Write(data); err != nil {
				return l.bodyDone(c, err)
			}
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
		return coreio.ErrTooLarge // a chunk-size line that never ends
	}
	n, err := l.recv(c, x.rbuf[x.re:limit])
	if err != nil {
		return err
	}
	x.re += n
	return nil
}

// bodyDone continues after the body was read (err nil) or failed.
func (l *loop) bodyDone(c *conn, err error) bool {
	x := c.x
	p := &x.plan
	c.st = stServe
	if x.bodyThen == bodyCGI {
		return l.cgiBodyDone(c, err)
	}
	if x.bodyThen == bodyLocal {
		switch err {
		case nil:
		case coreio.ErrTooLarge:
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
	case coreio.ErrTooLarge:
		return l.reject(c, 413)
	}
	return l.bodyFailed(c, err)
}

// bodyFailed ends a request whose body could not be read: a malformed
// body is answered (400, 413) before closing, an I/O failure just closes.
func (l *loop) bodyFailed(c *conn, err error) bool {
	l.logClient(c, "info", err, "while reading client request body")
	switch {
	case err == coreio.ErrTooLarge:
		return l.reject(c, 413)
	case errors.Is(err, coreio.ErrSpool):
		return l.reject(c, 500) // nginx: 500 when the temp file fails
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
	x.plan.CloseFile()
	x.plan.Reset()
	x.e.Reject(status, x.conn, &x.plan)
	return l.respond(c, true, afterReject, true)
}

// respond queues the plan's head and body (bytes or file region) for
// writing; after says what follows, linger whether closing lingers.
// 444 closes without a response.
func (l *loop) respond(c *conn, closing bool, after uint8, linger bool) bool {
	x := c.x
	p := &x.plan
	if coreio.Silent(p) {
		l.close(c)
		return false
	}
	if closing {
		p.KeepAlive = false
	}
	cl, hasBody := coreio.Framing(p)
	head, chunked := l.appendHead(x.out[:0], x, cl)
	x.out = head[:0]
	x.wa, x.wb = head, nil
	switch {
	case !hasBody:
	case p.Gzip != 0:
		// Body (a buffered proxied answer, which a temp file may
		// follow: queueSpill), or the file region, compressed by flush.
		x.gz.Start(p.Gzip, chunked)
		x.gz.Write(p.Body)
		if p.File != nil {
			x.file, x.foff, x.fleft = p.File, p.Offset, p.ContentLength
		}
		x.gzOn, x.gzMore = true, false
	case p.File != nil:
		if cl > 0 {
			x.file, x.foff, x.fleft = p.File, p.Offset, cl // borrowed: p.CloseFile when sent
			// No sendfile under TLS: the file is read and encrypted.
			x.copyFile = !p.Sendfile || c.isTLS()
			x.fs, x.fe = 0, 0
			if !p.Sendfile {
				l.stats.copies.Add(1)
			}
		}
	default:
		x.wb = p.Body
	}
	if x.file == nil {
		p.CloseFile()
	}
	x.after, x.linger, x.sendTO = after, linger, p.SendTimeout
	c.st = stWrite
	return true
}

// appendHead serializes the response head of the plan with content
// length cl (-1: unknown; see coreio.AppendHead) and reports whether the
// body goes out chunked.
func (l *loop) appendHead(dst []byte, x *exchange, cl int64) ([]byte, bool) {
	p := &x.plan
	if l.closing {
		p.KeepAlive = false // stopping: this is the connection's last response
	}
	head, chunked := coreio.AppendHead(dst, p, &x.req, cl, l.s.date.Get(l.wall), x.e.Software())
	p.SetHeadSize(len(head) - len(dst))
	return head, chunked
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
	p.End(x.sent)
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
	x.gz.Release()
	x.gzOn, x.gzMore = false, false
	if x.end == 0 {
		l.release(c)
		c.st = stIdle
		l.stats.idle.Add(1)
		l.setTimer(c, kt)
		return c.readable()
	}
	// A pipelined request: keep the exchange, parse it now.
	x.plan.Reset()
	x.conn.Pipelined = true
	c.st = stHead
	l.setTimer(c, kt)
	return true
}

// flush writes the queued head, body and file region until done or the
// socket is full (errAgain).
func (l *loop) flush(c *conn) error {
	if err := l.flushBody(c); err != nil {
		return err
	}
	// A TLS connection's last records may still be in its output buffer.
	return l.flushTLS(c)
}

// flushBody writes (or, on a TLS connection, encrypts) the queued head,
// body and file region until done or the socket is full (errAgain).
func (l *loop) flushBody(c *conn) error {
	x := c.x
	fd := int(c.fd)
	for len(x.wa)+len(x.wb) > 0 {
		if c.flags&fWrite == 0 {
			return errAgain
		}
		want := len(x.wa) + len(x.wb)
		var n int
		var err error
		if x.file != nil && len(x.wb) == 0 && c.tls == nil {
			n, err = sendMore(fd, x.wa) // the head, corked until the file follows
			if err == nil && n < want {
				c.flags &^= fWrite
			}
		} else {
			n, err = l.send(c, x, x.wa, x.wb)
		}
		if err != nil {
			if err == errAgain {
				c.flags &^= fWrite
			}
			return err
		}
		x.sent += int64(n)
		if n < len(x.wa) {
			x.wa = x.wa[n:]
			continue
		}
		x.wb = x.wb[n-len(x.wa):]
		x.wa = nil
	}
	x.wa, x.wb = nil, nil
	if x.gzOn {
		return l.gzipPump(c)
	}
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
	if x.isTemp(x.file) {
		l.closeTemp(x) // a proxied body's temp file: sent, so done
		return nil
	}
	x.file = nil
	x.plan.CloseFile()
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
			x.sent += int64(n)
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
// buffer with pread(2) and writing them: "sendfile off", and every file
// on a TLS connection, whose pieces are encrypted (send).
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
		n, err := l.send(c, x, x.fbuf[x.fs:x.fe], nil)
		if err != nil {
			return err
		}
		x.fs += n
		x.sent += int64(n)
	}
	return nil
}

// logClient logs a client-side failure, nginx style.
func (l *loop) logClient(c *conn, level string, err error, while string) {
	if l.killed {
		return
	}
	coreio.LogClient(l.s.log, level, c.id, err, while, c.remote, c.ln.Addr, &c.x.req)
}

// gzipPump sends a compressed body (exchange.gzOn): the compressor's
// pending output, then the next piece of the file region read with
// pread(2) (on the loop, as copyFile does) and compressed, until the
// region is sent; then the end of the gzip stream (and the last chunk),
// unless more of a proxied stream follows (gzMore). It returns errAgain
// when the socket is full.
func (l *loop) gzipPump(c *conn) error {
	x := c.x
	for {
		if pend := x.gz.Pending(); len(pend) > 0 {
			n, err := l.send(c, x, pend, nil)
			if n > 0 {
				x.sent += int64(n)
				x.gz.Consume(n)
			}
			if err != nil {
				return err
			}
			continue
		}
		switch {
		case x.file != nil && x.fleft > 0:
			if x.fbuf == nil {
				x.fbuf = make([]byte, streamChunk)
			}
			if err := x.gz.ReadFile(x.file, &x.foff, &x.fleft, x.fbuf); err != nil {
				return err
			}
		case x.file != nil:
			if x.isTemp(x.file) {
				l.closeTemp(x) // a proxied body's temp file: sent, so done
			} else {
				x.file = nil
				x.plan.CloseFile()
			}
		case x.gzMore:
			return nil
		case x.gz.Active():
			x.gz.Close()
		default:
			x.gzOn = false
			return nil
		}
	}
}
