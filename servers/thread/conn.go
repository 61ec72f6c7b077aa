package thread

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/c10k/c10k/servers/engine"
	"github.com/c10k/c10k/servers/http1"
	"github.com/c10k/c10k/servers/internal/coreio"
)

const (
	readChunk   = 16 << 10
	streamChunk = 64 << 10
	// outBuffer is the size of the response-head buffer a worker keeps
	// between requests; one grown by a larger head is dropped after it.
	outBuffer = 4 << 10
)

// httpState is a worker's HTTP/1.1 connection state. It lives as long as
// the worker and is reused for every connection and request, so the
// request path allocates nothing.
type httpState struct {
	sock   sock
	c      *accepted
	e      *coreio.Engine // the current request's engine; nil between requests
	conn   engine.Conn
	parser http1.Parser
	req    http1.Request
	plan   engine.Plan
	dec    http1.Body

	// buf holds request heads; buf[start:end] are unparsed bytes. Body
	// bytes past buf's pending ones are read into rbuf, so the head the
	// engine and the log still reference stays intact; rbuf[rs:re] are
	// bytes read past the body (the next pipelined request).
	buf        []byte
	start, end int
	rbuf       []byte
	rs, re     int

	out     []byte        // response head, chunk framing
	iov     [2]unix.Iovec // writev scratch
	body    coreio.Spool  // request body for the proxy
	scratch []byte        // file copy fallback
	gz      coreio.Gzip   // the compressor of a gzip response (engine.Plan.Gzip)
	drain   [4096]byte    // lingering close and discards

	up upstreamState // proxy exchange state
}

// begin readies h for connection c, whose request heads are read with
// the limits of conf.
func (h *httpState) begin(c *accepted, conf engine.Listener) {
	h.c = c
	h.sock = sock{fd: c.fd}
	h.conn = c.l.Conn(c.fd, c.remote)
	h.conn.ID = c.id
	lim, need := coreio.HeadLimits(conf)
	h.parser = http1.Parser{Limits: lim}
	if cap(h.buf) < need {
		h.buf = make([]byte, need)
	}
	h.buf = h.buf[:need]
	h.start, h.end = 0, 0
	if h.rbuf == nil {
		h.rbuf = make([]byte, readChunk)
		h.out = make([]byte, 0, outBuffer)
	}
	h.rs, h.re = 0, 0
}

// serveHTTP serves one connection until it closes, fails or idles out.
func (w *worker) serveHTTP(c *accepted) {
	h := &w.http
	e := w.s.engine()
	conf, index := e.ListenerOf(c.l)
	h.begin(c, conf)
	unix.SetsockoptInt(c.fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	headTO := coreio.HeaderTimeout(conf)
	idleTO := headTO // the first request waits client_header_timeout
	if cfg := e.TLSConfig(index); cfg != nil {
		// client_header_timeout bounds the handshake and the wait for
		// the first request together, as nginx's timer set at the accept.
		start := time.Now()
		if !w.startTLS(cfg, headTO) {
			w.closeClient(c.fd, false)
			return
		}
		idleTO = max(headTO-time.Since(start), time.Millisecond)
	}
	for {
		status, ok := w.readHead(idleTO, headTO)
		if !ok {
			return
		}
		// The request's engine, for all of it: a reload from now on
		// changes the next request, not this one.
		h.e = w.s.engine()
		h.conn.Listener = h.e.Index(c.l.Index)
		p := &h.plan
		p.Reset()
		h.sock.sent = 0
		if status != 0 {
			h.e.Reject(status, h.conn, p)
			w.respond(p, false)
			p.End(h.sock.sent)
			h.e = nil
			w.closeClient(c.fd, true)
			return
		}
		h.e.Serve(&h.req, h.conn, p)
		if p.Delay > 0 {
			// limit_req delays the request: the worker sleeps, then the
			// engine resumes it (engine.Plan.Delay).
			if !w.sleep(p.Delay) {
				p.End(h.sock.sent) // stopping: nginx's 499
				w.endRequest(p)
				return
			}
			h.e.Serve(&h.req, h.conn, p)
		}
		var keep, done bool
		if p.CGI != nil {
			keep, done = w.cgi(p)
		}
		switch {
		case done:
		case p.Proxy != nil:
			keep = w.proxy(p)
		default:
			keep = w.serveLocal(p)
		}
		p.End(h.sock.sent) // the access log, with what the client really got
		w.endRequest(p)
		w.requests.Add(1)
		h.conn.Requests++
		h.conn.Pipelined = h.buffered()
		if !keep {
			return
		}
		idleTO = p.KeepaliveTimeout
		if idleTO <= 0 {
			idleTO = w.s.opts.KeepAliveTimeout
		}
	}
}

// sleep holds the worker for d (limit_req's delay); false when the
// server began a graceful stop meanwhile.
func (w *worker) sleep(d time.Duration) bool {
	end := time.Now().Add(d)
	for !w.s.closing.Load() {
		left := time.Until(end)
		if left <= 0 {
			return true
		}
		time.Sleep(min(left, 50*time.Millisecond))
	}
	return false
}

// endRequest releases what the request held, whichever way it ended: the
// plan's file (the core owns it once Serve returns), the request body's
// temp file, and buffers grown past their base size, so that a worker
// between requests holds only its normal buffers. It publishes the
// bytes the worker retains (Stats.Buffers).
func (w *worker) endRequest(p *engine.Plan) {
	h := &w.http
	closeFile(p)
	h.gz.Release()
	h.e = nil // a replaced engine is not kept alive by an idle connection
	h.body.Reset()
	if cap(h.out) > outBuffer {
		h.out = make([]byte, 0, outBuffer)
	}
	h.up.releaseMem(w.s)
	w.retained.Store(h.retained())
}

// closeFile ends the plan's file body, if any: closed, or released to
// the open_file_cache that shares it.
func closeFile(p *engine.Plan) {
	p.CloseFile()
}

// retained is the size of the buffers h keeps between requests.
func (h *httpState) retained() int64 {
	u := &h.up
	n := cap(h.buf) + cap(h.rbuf) + cap(h.out) + h.body.Retained() + cap(h.scratch) +
		cap(u.head) + cap(u.rd) + cap(u.mem)
	return int64(n)
}

// serveLocal runs a plan with an in-memory or file body.
func (w *worker) serveLocal(p *engine.Plan) bool {
	h := &w.http
	if limit := p.DiscardBody(&h.req, h.buffered()); limit > 0 {
		if err := w.readBody(p, limit); err != nil {
			if err != coreio.ErrTooLarge {
				return w.bodyFailed(p, err)
			}
			p.KeepAlive = false
		}
	}
	if !w.respond(p, false) {
		return false
	}
	if !p.KeepAlive {
		w.closeClient(h.c.fd, h.req.HasBody() || p.Status >= 400)
		return false
	}
	return true
}

// readHead reads and parses the next request head. idleTO applies while
// no byte of it has arrived (keep-alive), headTO once one has
// (client_header_timeout). It returns ok=false when the connection is to
// be closed silently, or a status to reject the request with.
func (w *worker) readHead(idleTO, headTO time.Duration) (status int, ok bool) {
	h := &w.http
	// Move what is left of the previous request's bytes to the front.
	switch {
	case h.rs < h.re:
		h.start, h.end = 0, copy(h.buf, h.rbuf[h.rs:h.re])
		h.rs, h.re = 0, 0
	case h.start == h.end:
		h.start, h.end = 0, 0
	case h.start > 0:
		h.end = copy(h.buf, h.buf[h.start:h.end])
		h.start = 0
	}
	var deadline time.Time
	for {
		if h.end > h.start {
			n, err := h.parser.Parse(h.buf[h.start:h.end], &h.req)
			if err == nil {
				h.start += n
				w.set(stateBusy)
				return 0, true
			}
			if err != http1.ErrIncomplete {
				w.set(stateBusy)
				return http1.StatusOf(err), true
			}
			if h.end == len(h.buf) {
				w.set(stateBusy)
				return 400, true // head larger than the large buffers allow
			}
		}
		if h.end == 0 {
			// Nothing of this request yet: an idle keep-alive wait,
			// which a graceful stop may cut short.
			w.set(stateWait)
			if w.s.closing.Load() {
				w.closeClient(h.c.fd, false)
				return 0, false
			}
			h.sock.setReadTimeout(idleTO)
		} else {
			w.set(stateBusy)
			if deadline.IsZero() {
				deadline = time.Now().Add(headTO)
			}
			left := time.Until(deadline)
			if left <= 0 {
				w.closeClient(h.c.fd, false) // nginx closes with 408 unsent
				return 0, false
			}
			h.sock.setReadTimeout(left)
		}
		n, err := h.sock.read(h.buf[h.end:])
		if err != nil {
			if err == coreio.ErrTimeout && h.end > 0 {
				continue // the deadline check above ends it
			}
			w.closeClient(h.c.fd, false)
			return 0, false
		}
		h.end += n
	}
}

// buffered reports whether bytes past the request head are already
// read: the start of its body.
func (h *httpState) buffered() bool { return h.start < h.end || h.rs < h.re }

// readBody reads the request body of p's request through the decoder.
// With discard > 0 the body is dropped, and more than discard bytes end
// it with coreio.ErrTooLarge (engine.Plan.DiscardBody). Otherwise it is
// kept in h.body for the proxy, and a body the plan finds too large
// (engine.Plan.BodyTooLarge) ends it with coreio.ErrTooLarge.
func (w *worker) readBody(p *engine.Plan, discard int64) error {
	h := &w.http
	timeout := p.BodyTimeout
	h.dec.Init(h.req.ContentLength, h.req.Chunked, false)
	h.body.Reset()
	var total int64
	more := false // the decoder needs bytes past src
	for !h.dec.Done() {
		inBuf := h.start < h.end
		var src []byte
		if inBuf {
			src = h.buf[h.start:h.end]
		} else {
			src = h.rbuf[h.rs:h.re]
		}
		if len(src) == 0 || more {
			if inBuf {
				// A chunk-size line split at the end of buf: move it.
				if len(src) > len(h.rbuf) {
					return coreio.ErrTooLarge
				}
				h.rs, h.re = 0, copy(h.rbuf, src)
				h.start = h.end
			}
			if err := w.fill(timeout); err != nil {
				return err
			}
			more = false
			continue
		}
		data, n, err := h.dec.Decode(src)
		if err != nil {
			return err
		}
		if inBuf {
			h.start += n
		} else {
			h.rs += n
		}
		more = n == 0
		total += int64(len(data))
		if discard > 0 {
			if total > discard {
				return coreio.ErrTooLarge
			}
			continue
		}
		if p.BodyTooLarge(total) {
			return coreio.ErrTooLarge
		}
		if len(data) > 0 {
			if _, err := h.body.Write(data); err != nil {
				return err
			}
		}
	}
	return nil
}

// fill reads more client bytes into rbuf after rbuf[rs:re].
func (w *worker) fill(timeout time.Duration) error {
	h := &w.http
	if h.rs > 0 {
		h.re = copy(h.rbuf, h.rbuf[h.rs:h.re])
		h.rs = 0
	}
	limit := len(h.rbuf)
	if limit > len(h.buf) {
		limit = len(h.buf) // leftovers must fit buf for the next head
	}
	if h.re == limit {
		return coreio.ErrTooLarge // a chunk-size line that never ends
	}
	h.sock.setReadTimeout(timeout)
	n, err := h.sock.read(h.rbuf[h.re:limit])
	if err != nil {
		return err
	}
	h.re += n
	return nil
}

// respond writes the plan's head and its body (bytes or file). It
// returns false when the connection failed and has been closed.
// 444 closes without a response.
func (w *worker) respond(p *engine.Plan, closing bool) bool {
	h := &w.http
	if coreio.Silent(p) {
		closeFile(p)
		w.closeClient(h.c.fd, false)
		return false
	}
	if closing {
		p.KeepAlive = false
	}
	cl, hasBody := coreio.Framing(p)
	head, chunked := w.appendHead(h.out[:0], p, cl)
	h.out = head[:0]
	h.sock.setWriteTimeout(p.SendTimeout)
	var err error
	switch {
	case !hasBody:
		err = h.sock.write(head)
	case p.Gzip != 0:
		err = w.sendGzip(p, head, chunked)
	case p.File != nil:
		if cl > 0 {
			err = h.sock.writeMore(head)
			if err == nil {
				if h.scratch == nil {
					h.scratch = make([]byte, streamChunk)
				}
				if p.Sendfile {
					err = h.sock.sendfile(p.File, p.Offset, cl, h.scratch)
				} else {
					// sendfile off: pread into the worker's buffer, then write.
					w.copies.Add(1)
					err = h.sock.copyFile(p.File, p.Offset, cl, h.scratch)
				}
			}
		} else {
			err = h.sock.write(head)
		}
	default:
		err = h.sock.writev2(&h.iov, head, p.Body)
	}
	closeFile(p)
	if err != nil {
		w.logClient("warn", err, "while sending response to client")
		w.closeClient(h.c.fd, false)
		return false
	}
	return true
}

// appendHead serializes the response head of p with content length cl
// (-1: unknown; see coreio.AppendHead) and reports whether the body goes
// out chunked.
func (w *worker) appendHead(dst []byte, p *engine.Plan, cl int64) ([]byte, bool) {
	if w.s.closing.Load() {
		p.KeepAlive = false // stopping: this is the connection's last response
	}
	head, chunked := coreio.AppendHead(dst, p, &w.http.req, cl, w.s.date.Now(), w.http.e.Software())
	p.SetHeadSize(len(head) - len(dst))
	return head, chunked
}

// logClient logs a client-side failure, nginx style.
func (w *worker) logClient(level string, err error, while string) {
	if w.s.killed.Load() {
		return
	}
	h := &w.http
	coreio.LogClient(w.s.log, level, h.c.id, err, while, h.c.remote, h.c.l.Addr, &h.req)
}

// sendGzip writes head and the plan's body (the file region, or Body)
// compressed through the worker's coreio.Gzip, chunked when the head
// says so (engine.Plan.Gzip).
func (w *worker) sendGzip(p *engine.Plan, head []byte, chunked bool) error {
	h := &w.http
	if err := h.sock.writeMore(head); err != nil {
		return err
	}
	h.gz.Start(p.Gzip, chunked)
	if p.File == nil {
		return h.gz.SendBytes(p.Body, h.sock.write)
	}
	if h.scratch == nil {
		h.scratch = make([]byte, streamChunk)
	}
	return h.gz.SendFile(p.File, p.Offset, p.ContentLength, h.scratch, h.sock.write)
}
