package event

import (
	"fmt"
	"io"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"

	"github.com/c10k/c10k/servers/engine"
	"github.com/c10k/c10k/servers/http1"
	"github.com/c10k/c10k/servers/internal/coreio"
)

const upstreamHeadBuffer = 32 << 10

// Proxy steps (proxyState.st).
const (
	pxConnect uint8 = iota // waiting for a non-blocking connect
	pxSend                 // writing the request to the upstream
	pxHead                 // reading the response head
	pxBuffer               // proxy_buffering on: reading the body into memory
	pxSpool                // proxy_buffering on: reading the rest of it into a temp file
	pxStream               // reading the body to pass it on
)

// upConn is an upstream connection: registered with the loop's epoll for
// its whole life, owned by a client connection while in use and by the
// loop's keepalive pool while idle.
type upConn struct {
	fd       int
	owner    *conn // nil while pooled
	addr     string
	requests int
	since    int64 // when it went idle (loop clock)
	readable bool
	writable bool
	eof      bool // FIN or error reported: read until end of stream (see fEOF)
}

// proxyState is an exchange's reverse-proxy state.
type proxyState struct {
	st        uint8
	up        *upConn
	addr      string
	pooled    bool // up came from the pool (a stale one is retried once)
	got       bool // a response byte arrived on this attempt
	isHead    bool
	streaming bool // the response head went to the client
	chunkOut  bool
	connectTO time.Duration
	sendTO    time.Duration
	readTO    time.Duration
	ua, ub    []byte // request bytes still to send
	boff      int64  // next offset of a spooled request body to send
	bleft     int64  // bytes of the spooled body still to send
	bcopy     bool   // the spool cannot be sent with sendfile: copy it through rd

	head    []byte // upstream response head; the plan's header aliases it
	hn, hs  int
	rd      []byte // upstream body reads
	pending []byte
	mem     []byte           // proxy_buffering memory
	tmp     coreio.RespSpool // proxy_buffering past mem: the rest in a temp file (see spill.go)
	crlf    bool             // tmp went out as one chunk whose CRLF is still to send
	cache   bool             // the response fills a proxy_cache entry (engine.Proxy.Caching): its body goes to CacheBody
	whole   bool             // the upstream body was read whole and Done called
	resp    http1.Response
	parser  http1.Parser
	dec     http1.Body
}

// upstreamEvent records an upstream socket's readiness and advances its
// owner; a pooled connection that turns readable was closed by the peer.
func (l *loop) upstreamEvent(u *upConn, ev uint32) {
	if u.owner == nil {
		if ev&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
			l.poolRemove(u)
			l.closeUp(u)
		}
		return
	}
	if ev&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		u.readable = true
	}
	if ev&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		u.eof = true
	}
	if ev&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		u.writable = true
	}
	c := u.owner
	if c.st == stProxy {
		l.advance(c)
	}
}

// proxyStart runs a proxy plan: the client body first, then attempts.
func (l *loop) proxyStart(c *conn) bool {
	x := c.x
	p := &x.plan
	u := &x.px
	if u.head == nil {
		u.head = make([]byte, upstreamHeadBuffer)
		u.rd = make([]byte, streamChunk)
	}
	u.isHead = coreio.IsHead(&x.req)
	u.streaming = false
	x.body.Reset()
	if !x.req.HasBody() {
		return l.nextAttempt(c)
	}
	l.startBody(c, 0, bodyProxy)
	if p.SendContinue(&x.req) && !x.buffered() {
		x.wa, x.wb = http1.Continue100, nil
		x.after, x.sendTO = afterContinue, p.SendTimeout
		c.st = stWrite
	}
	return true
}

// nextAttempt chooses the next peer and connects (or reuses a pooled
// connection); without one, the plan holds the error response.
func (l *loop) nextAttempt(c *conn) bool {
	x := c.x
	p := &x.plan
	u := &x.px
	px := p.Proxy
	addr, ok := px.Next()
	if !ok {
		p.Proxy = nil
		return l.respond(c, false, afterResponse, p.Status >= 400)
	}
	u.addr = addr
	// Per attempt: an error_page may have moved the exchange to another
	// location.
	u.connectTO, u.sendTO, u.readTO = px.Timeouts()
	u.pooled = false
	if idle, idleTO, maxReq := px.Pool(); idle > 0 {
		u.up, u.pooled = l.poolGet(addr, idleTO, maxReq)
		if u.pooled {
			u.up.owner = c
		}
	}
	c.st = stProxy
	return l.connect(c)
}

// connect opens a fresh upstream connection unless a pooled one is in
// use, then starts sending.
func (l *loop) connect(c *conn) bool {
	x := c.x
	u := &x.px
	px := x.plan.Proxy
	if !u.pooled {
		px.SetStage(engine.StageConnect)
		if l.nconns >= l.s.connLimit() {
			l.s.log.Logf("alert", c.id, "%d worker_connections are not enough", l.s.connLimit())
			return l.attemptFailed(c, errNoConnections, engine.StageConnect)
		}
		ap, err := l.resolve(u.addr)
		if err != nil {
			return l.attemptFailed(c, err, engine.StageConnect)
		}
		fd, done, err := dial(ap)
		if err != nil {
			return l.attemptFailed(c, err, engine.StageConnect)
		}
		up := &upConn{fd: fd, owner: c, addr: u.addr, writable: done}
		if err := l.ctl(unix.EPOLL_CTL_ADD, fd, connEvents, kindUpstream); err != nil {
			unix.Close(fd)
			return l.attemptFailed(c, err, engine.StageConnect)
		}
		for fd >= len(l.ups) {
			l.ups = append(l.ups, make([]*upConn, len(l.ups)+256)...)
		}
		l.ups[fd] = up
		l.nconns++
		l.stats.upstreams.Add(1)
		u.up = up
		if !done {
			u.st = pxConnect
			return l.proxyStep(c)
		}
	}
	l.startSend(c)
	return true
}

// startSend queues the request for the current upstream connection.
func (l *loop) startSend(c *conn) {
	x := c.x
	u := &x.px
	px := x.plan.Proxy
	px.SetStage(engine.StageSend)
	u.up.requests++
	u.got = false
	u.ua, u.ub = px.Head(), x.body.Bytes()
	u.boff, u.bleft, u.bcopy = 0, 0, false
	if x.body.File() != nil {
		u.ub, u.bleft = nil, x.body.Len()
	}
	u.st = pxSend
}

// proxyStep advances the exchange with the upstream.
func (l *loop) proxyStep(c *conn) bool {
	x := c.x
	u := &x.px
	switch u.st {
	case pxConnect:
		if !u.up.writable && !u.up.readable {
			l.setTimerOnce(c, u.connectTO)
			return false
		}
		if err := connectResult(u.up.fd); err != nil {
			return l.attemptFailed(c, err, engine.StageConnect)
		}
		u.up.writable = true
		u.up.readable = false
		l.clearTimer(c)
		l.startSend(c)
		return true
	case pxSend:
		return l.upSend(c)
	case pxHead:
		return l.upHead(c)
	case pxBuffer:
		return l.upBuffer(c)
	case pxSpool:
		return l.upSpool(c)
	case pxStream:
		return l.upStream(c)
	}
	return false
}

// proxyTimeout handles an expired proxy timer.
func (l *loop) proxyTimeout(c *conn) bool {
	u := &c.x.px
	switch u.st {
	case pxConnect:
		return l.attemptFailed(c, coreio.ErrTimeout, engine.StageConnect)
	case pxSend:
		return l.attemptFailed(c, coreio.ErrTimeout, engine.StageSend)
	case pxHead:
		return l.attemptFailed(c, coreio.ErrTimeout, engine.StageReadHeader)
	}
	return l.upstreamBroken(c, coreio.ErrTimeout, u.streaming)
}

// upSend writes the request head and body to the upstream: a body in
// memory with the head, a spooled one from its temp file after it.
func (l *loop) upSend(c *conn) bool {
	x := c.x
	u := &x.px
	up := u.up
	for len(u.ua)+len(u.ub) > 0 || u.bleft > 0 {
		if !up.writable {
			l.setTimerOnce(c, u.sendTO)
			return false
		}
		if len(u.ua)+len(u.ub) == 0 {
			if err := l.sendSpool(x); err != nil {
				if err == errAgain {
					up.writable = false
					continue
				}
				return l.attemptFailed(c, err, engine.StageSend)
			}
			l.clearTimer(c)
			continue
		}
		want := len(u.ua) + len(u.ub)
		n, err := writev(up.fd, &x.iov, u.ua, u.ub)
		if err != nil {
			if err == errAgain {
				up.writable = false
				continue
			}
			return l.attemptFailed(c, err, engine.StageSend)
		}
		if n < want {
			up.writable = false
		}
		l.clearTimer(c) // proxy_send_timeout runs between two writes
		if n < len(u.ua) {
			u.ua = u.ua[n:]
			continue
		}
		u.ub = u.ub[n-len(u.ua):]
		u.ua = nil
	}
	u.ua, u.ub = nil, nil
	l.clearTimer(c)
	x.plan.Proxy.SetStage(engine.StageReadHeader)
	u.hn = 0
	u.parser.Reset()
	u.st = pxHead
	return true
}

// sendSpool sends the next piece of a spooled request body: with
// sendfile(2), or, where the file cannot be sent that way (EINVAL,
// ENOSYS), read into rd (free until the response) and queued in ub.
func (l *loop) sendSpool(x *exchange) error {
	u := &x.px
	f := x.body.File()
	if !u.bcopy {
		n, err := sendfile(u.up.fd, int(f.Fd()), &u.boff, int(min(u.bleft, 1<<30)))
		if n > 0 {
			u.bleft -= int64(n)
		}
		switch err {
		case nil:
			if n == 0 {
				return fmt.Errorf("sendfile %s: %w", f.Name(), io.ErrUnexpectedEOF)
			}
			return nil
		case unix.EINTR:
			return nil
		case unix.EAGAIN:
			return errAgain
		case unix.EINVAL, unix.ENOSYS, unix.EOPNOTSUPP:
			u.bcopy = true
		default:
			return err
		}
	}
	r, err := f.ReadAt(u.rd[:min(int64(len(u.rd)), u.bleft)], u.boff)
	if r == 0 && err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("read %s: %w", f.Name(), err)
	}
	u.boff += int64(r)
	u.bleft -= int64(r)
	u.ub = u.rd[:r]
	return nil
}

// upHead reads and parses the upstream response head, skipping 1xx.
func (l *loop) upHead(c *conn) bool {
	x := c.x
	u := &x.px
	up := u.up
	for {
		if u.hn == len(u.head) {
			return l.attemptFailed(c, coreio.ErrInvalidHead, engine.StageReadHeader)
		}
		if !up.readable {
			l.setTimerOnce(c, u.readTO)
			return false
		}
		n, err := read(up.fd, u.head[u.hn:])
		if err != nil {
			if err == errAgain {
				up.readable = false
				continue
			}
			return l.attemptFailed(c, err, engine.StageReadHeader)
		}
		if n < len(u.head)-u.hn && !up.eof {
			up.readable = false
		}
		u.got = true
		u.hn += n
		l.clearTimer(c) // proxy_read_timeout runs between two reads
		for {
			m, err := u.parser.ParseResponse(u.head[:u.hn], &u.resp, u.isHead)
			if err == http1.ErrIncomplete {
				break
			}
			if err != nil {
				return l.attemptFailed(c, coreio.ErrInvalidHead, engine.StageReadHeader)
			}
			if u.resp.Interim() {
				u.hn = copy(u.head, u.head[m:u.hn])
				if u.hn == 0 {
					break
				}
				continue
			}
			u.hs = m
			l.clearTimer(c)
			px := x.plan.Proxy
			if px.Response(&u.resp) {
				l.dropUpstream(x)
				return l.nextAttempt(c)
			}
			u.resp.InitBody(&u.dec)
			u.pending = u.head[u.hs:u.hn]
			u.mem = u.mem[:0]
			u.crlf = false
			u.cache, u.whole = px.Caching(), false
			if px.Buffering() {
				u.st = pxBuffer
				return true
			}
			return l.startStream(c)
		}
	}
}

// attemptFailed handles a failed attempt before any response byte went
// to the client. A pooled connection that fails before any response
// byte is retried once on a fresh connection without counting a
// failure, as nginx does.
func (l *loop) attemptFailed(c *conn, err error, stage engine.Stage) bool {
	x := c.x
	u := &x.px
	px := x.plan.Proxy
	l.clearTimer(c)
	if u.pooled && !u.got && coreio.Stale(err) {
		l.dropUpstream(x)
		u.pooled = false
		return l.connect(c)
	}
	l.dropUpstream(x)
	px.SetStage(stage)
	px.SetError(coreio.UpstreamError(err, stage))
	if px.Failed(coreio.Classify(err), false) {
		return l.nextAttempt(c)
	}
	p := &x.plan
	p.Proxy = nil
	return l.respond(c, false, afterResponse, p.Status >= 400)
}

// upBuffer reads the upstream body into memory (proxy_buffering on) up
// to Options.ProxyBuffer, so the upstream is released before a slow
// client is written to; a larger body continues into a temp file
// (upSpool), or as a stream when there is none.
func (l *loop) upBuffer(c *conn) bool {
	x := c.x
	p := &x.plan
	u := &x.px
	for !u.dec.Done() && len(u.mem) < l.s.opts.ProxyBuffer {
		data, eof, ret, ok := l.upDecode(c)
		if !ok {
			return ret
		}
		if eof {
			break
		}
		u.mem = append(u.mem, data...)
		if u.cache {
			p.Proxy.CacheBody(data)
		}
	}
	l.clearTimer(c)
	if !u.dec.Done() {
		if l.startSpill(c) {
			u.st = pxSpool
			return true
		}
		return l.startStream(c)
	}
	l.releaseUpstream(x)
	if p.ContentLength < 0 && !p.HeadOnly {
		p.ContentLength = int64(len(u.mem))
	}
	p.Body = u.mem
	l.bodyWhole(x)
	return l.respond(c, false, afterResponse, p.Status >= 400)
}

// upDecode reads (when nothing is pending) and decodes the next piece of
// the upstream body for a buffering loop. eof reports a close-delimited
// body complete. ok false means the loop returns ret: the read would
// block (false, the read timer armed), or the attempt failed
// (upstreamBroken's result).
func (l *loop) upDecode(c *conn) (data []byte, eof, ret, ok bool) {
	u := &c.x.px
	if len(u.pending) == 0 {
		n, err := l.upRead(c)
		if err == errAgain {
			return nil, false, false, false
		}
		if err == coreio.ErrClosed {
			if err = u.dec.EOF(); err == nil {
				return nil, true, false, true
			}
		}
		if err != nil {
			return nil, false, l.upstreamBroken(c, err, false), false
		}
		u.pending = u.rd[:n]
	}
	data, n, err := u.dec.Decode(u.pending)
	if err != nil {
		return nil, false, l.upstreamBroken(c, coreio.ErrInvalidHead, false), false
	}
	u.pending = u.pending[n:]
	return data, false, false, true
}

// upRead reads upstream body bytes into rd; errAgain arms the read timer.
func (l *loop) upRead(c *conn) (int, error) {
	u := &c.x.px
	up := u.up
	for {
		if !up.readable {
			l.setTimerOnce(c, u.readTO)
			return 0, errAgain
		}
		n, err := read(up.fd, u.rd)
		if err == errAgain {
			up.readable = false
			continue
		}
		if err == nil {
			if n < len(u.rd) && !up.eof {
				up.readable = false
			}
			l.clearTimer(c) // proxy_read_timeout runs between two reads
		}
		return n, err
	}
}

// startStream sends the client response head and what is buffered, in
// memory and in a temp file; the rest of the body follows as it arrives.
func (l *loop) startStream(c *conn) bool {
	x := c.x
	p := &x.plan
	u := &x.px
	head, chunkOut := l.appendHead(x.out[:0], x, coreio.HeadLength(p))
	u.chunkOut = chunkOut
	if p.Gzip != 0 && !p.HeadOnly {
		// Compressed: what is buffered, then each piece as it arrives,
		// goes through the exchange's compressor (gzipPump).
		u.chunkOut = false
		x.wa, x.wb = head, nil
		x.gz.Start(p.Gzip, chunkOut)
		x.gz.Write(u.mem)
		x.gzOn, x.gzMore = true, true
		if u.tmp.Len() > 0 {
			l.queueSpill(x)
		} else {
			l.closeTemp(x)
		}
	} else if u.chunkOut && len(u.mem) > 0 {
		head = http1.AppendChunk(head, u.mem)
		x.wa, x.wb = head, nil
	} else {
		x.wa, x.wb = head, u.mem
	}
	if x.gzOn {
	} else if u.tmp.Len() > 0 && !p.HeadOnly {
		if u.chunkOut {
			// The file part is one chunk: its size line before it, its
			// CRLF before the next piece (upStream). The memory part,
			// if any, is in head already, as a chunk.
			head = coreio.AppendChunkSize(head, int(u.tmp.Len()))
			x.wa = head
			u.crlf = true
		}
		l.queueSpill(x)
	} else {
		l.closeTemp(x)
	}
	x.out = head[:0]
	u.streaming = true
	x.after, x.sendTO, x.linger = afterStream, p.SendTimeout, p.Status >= 400
	c.st = stWrite
	return true
}

// upStream reads the next piece of the upstream body and queues it for
// the client; the upstream is not read while the client's socket is full.
func (l *loop) upStream(c *conn) bool {
	x := c.x
	p := &x.plan
	u := &x.px
	for !u.dec.Done() {
		if len(u.pending) == 0 {
			n, err := l.upRead(c)
			if err == errAgain {
				return false
			}
			if err == coreio.ErrClosed {
				if err = u.dec.EOF(); err == nil {
					break
				}
			}
			if err != nil {
				return l.upstreamBroken(c, err, true)
			}
			u.pending = u.rd[:n]
		}
		data, n, err := u.dec.Decode(u.pending)
		if err != nil {
			return l.upstreamBroken(c, coreio.ErrInvalidHead, true)
		}
		u.pending = u.pending[n:]
		if u.cache && len(data) > 0 {
			p.Proxy.CacheBody(data)
		}
		if len(data) == 0 || p.HeadOnly {
			continue
		}
		if x.gzOn {
			x.gz.Write(data)
			if len(u.pending) == 0 {
				x.gz.Flush() // the client sees each upstream read
			}
			x.wa, x.wb = nil, nil
		} else if u.chunkOut {
			out := http1.AppendChunk(u.chunkCRLF(x.out[:0]), data)
			x.out = out[:0]
			x.wa, x.wb = out, nil
		} else {
			x.wa, x.wb = data, nil
		}
		x.after = afterStream
		c.st = stWrite
		return true
	}
	l.clearTimer(c)
	l.releaseUpstream(x)
	l.bodyWhole(x)
	if x.gzOn {
		x.gzMore = false // gzipPump ends the stream
		x.wa, x.wb = nil, nil
		x.after = afterResponse
		c.st = stWrite
		return true
	}
	if u.chunkOut {
		out := http1.AppendLastChunk(u.chunkCRLF(x.out[:0]))
		x.out = out[:0]
		x.wa, x.wb = out, nil
		x.after = afterResponse
		c.st = stWrite
		return true
	}
	return l.finishResponse(c)
}

// chunkCRLF appends the CRLF that ends a chunk sent from the temp file,
// when one is due.
func (u *proxyState) chunkCRLF(dst []byte) []byte {
	if !u.crlf {
		return dst
	}
	u.crlf = false
	return append(dst, "\r\n"...)
}

// upstreamBroken handles an upstream failure while its body is read.
// Before anything reached the client the plan becomes the error
// response; after, the client connection is closed (the body is cut).
func (l *loop) upstreamBroken(c *conn, err error, sent bool) bool {
	x := c.x
	p := &x.plan
	px := p.Proxy
	l.clearTimer(c)
	px.SetStage(engine.StageRead)
	px.SetError(coreio.UpstreamError(err, engine.StageRead))
	l.dropUpstream(x)
	l.closeTemp(x)
	retry := px.Failed(coreio.Classify(err), sent)
	if sent {
		l.close(c)
		return false
	}
	// Nothing reached the client (proxy_buffering on): the attempt
	// failed like one before the head, so the next peer may answer.
	x.px.mem = x.px.mem[:0]
	if retry {
		return l.nextAttempt(c)
	}
	p.Proxy = nil
	return l.respond(c, false, afterResponse, p.Status >= 400)
}

// clientBroken handles a client write failure mid-response: the upstream
// was fine, so the attempt counts as a success, but both sides close.
func (l *loop) clientBroken(c *conn, err error) {
	x := c.x
	l.logClient(c, "info", err, "while sending to client")
	l.dropUpstream(x)
	l.bodyCut(x)
	l.close(c)
}

// bodyWhole ends an attempt whose upstream body was read whole: Done
// stores a proxy_cache entry being filled.
func (l *loop) bodyWhole(x *exchange) {
	x.px.whole = true
	x.plan.Proxy.Done()
}

// bodyCut ends an attempt whose upstream was fine but whose body will
// not be read whole (the client went away, the temp file failed): the
// peer's health counts a success, as before, and a proxy_cache entry
// being filled is abandoned, never stored half (DonePartial).
func (l *loop) bodyCut(x *exchange) {
	px := x.plan.Proxy
	if px == nil || x.px.whole {
		return // no exchange, or Done already (the response's last bytes failed)
	}
	px.DonePartial()
}

// dropUpstream closes the exchange's upstream connection.
func (l *loop) dropUpstream(x *exchange) {
	if up := x.px.up; up != nil {
		x.px.up = nil
		l.closeUp(up)
	}
}

// closeUp closes an upstream connection.
func (l *loop) closeUp(up *upConn) {
	unix.Close(up.fd)
	l.ups[up.fd] = nil
	up.owner = nil
	l.stats.upstreams.Add(-1)
	l.released()
}

// releaseUpstream returns the exchange's upstream connection to the
// loop's pool when the exchange allows it, else closes it.
func (l *loop) releaseUpstream(x *exchange) {
	u := &x.px
	up := u.up
	if up == nil {
		return
	}
	idle, _, maxReq := x.plan.Proxy.Pool()
	if idle <= 0 || !u.resp.KeepAlive || !u.dec.Done() || (maxReq > 0 && up.requests >= maxReq) || l.closing {
		l.dropUpstream(x)
		return
	}
	u.up = nil
	up.owner = nil
	up.since = l.now
	l.poolPut(up, idle)
}

// poolGet pops the most recently used live connection to addr.
func (l *loop) poolGet(addr string, timeout time.Duration, max int) (*upConn, bool) {
	for {
		list := l.pool[addr]
		if len(list) == 0 {
			return nil, false
		}
		up := list[len(list)-1]
		list[len(list)-1] = nil
		l.pool[addr] = list[:len(list)-1]
		if (timeout > 0 && l.now-up.since > int64(timeout)) || (max > 0 && up.requests >= max) || !coreio.Alive(up.fd) {
			l.closeUp(up)
			continue
		}
		up.readable = false
		return up, true
	}
}

// poolPut caches up, evicting the least recently used beyond max.
func (l *loop) poolPut(up *upConn, max int) {
	list := append(l.pool[up.addr], up)
	if len(list) > max {
		old := list[0]
		list = append(list[:0], list[1:]...)
		l.closeUp(old)
	}
	l.pool[up.addr] = list
}

// poolRemove takes a pooled connection out of its list.
func (l *loop) poolRemove(up *upConn) {
	list := l.pool[up.addr]
	for i, v := range list {
		if v == up {
			l.pool[up.addr] = append(list[:i], list[i+1:]...)
			return
		}
	}
}

// closeIdleUpstreams closes the pooled connections.
func (l *loop) closeIdleUpstreams() {
	for addr, list := range l.pool {
		for _, up := range list {
			l.closeUp(up)
		}
		delete(l.pool, addr)
	}
}

// resolve returns the socket address of an upstream, resolved once per
// loop.
func (l *loop) resolve(addr string) (netip.AddrPort, error) {
	if ap, ok := l.addrs[addr]; ok {
		return ap, nil
	}
	ap, err := coreio.Resolve(addr)
	if err != nil {
		return ap, err
	}
	l.addrs[addr] = ap
	return ap, nil
}
