package thread

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/c10k/c10k/servers/engine"
	"github.com/c10k/c10k/servers/http1"
)

const (
	// lingerTimeout bounds the drain of a lingering close (nginx's
	// lingering_timeout is 5s; a benchmark core keeps it short).
	lingerTimeout = 2 * time.Second
	// discardLimit is the most of an unwanted request body a worker
	// reads to keep the connection alive; beyond, it closes instead.
	discardLimit = 1 << 20
	// statusNoResponse is nginx's 444: close without a response.
	statusNoResponse = 444
	// defaultHeaderTimeout is client_header_timeout's default.
	defaultHeaderTimeout = 60 * time.Second
	readChunk            = 16 << 10
	streamChunk          = 64 << 10
	// clientBodyBuffer is how much of a request body a worker keeps in
	// memory (nginx's client_body_buffer_size, 16k on 64-bit systems);
	// the rest of a larger body is spooled to an unlinked temp file in
	// os.TempDir() (nginx's client_body_temp_path) and sent upstream
	// from there with sendfile(2).
	clientBodyBuffer = 16 << 10
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
	body    []byte        // request body for the proxy, when it fits clientBodyBuffer
	spool   *os.File      // the whole request body when it does not; nil otherwise
	bodyLen int64         // request body bytes kept (in body or spool)
	scratch []byte        // file copy fallback
	drain   [4096]byte    // lingering close and discards

	up upstreamState // proxy exchange state
}

// begin readies h for connection c.
func (h *httpState) begin(c *accepted) {
	h.c = c
	h.sock = sock{fd: c.fd}
	local := c.l.addr
	if c.l.wild {
		// As nginx's $server_addr: the address the client connected to.
		if sa, err := unix.Getsockname(c.fd); err == nil {
			local = addrPort(sa)
		}
	}
	h.conn = engine.Conn{Listener: c.l.index, Local: local, Remote: c.remote}
	conf := &c.l.conf
	size, num, large := conf.HeaderBufferSize, conf.LargeHeaders.Number, conf.LargeHeaders.Size
	if size <= 0 {
		size = 1 << 10
	}
	if num <= 0 || large <= 0 {
		num, large = 4, 8<<10
	}
	h.parser = http1.Parser{Limits: http1.LimitsFor(size, num, large)}
	need := int(size + int64(num)*large)
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
	h.begin(c)
	unix.SetsockoptInt(c.fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	headTO := c.l.conf.HeaderTimeout
	if headTO <= 0 {
		headTO = defaultHeaderTimeout
	}
	idleTO := headTO // the first request waits client_header_timeout
	for {
		status, ok := w.readHead(idleTO, headTO)
		if !ok {
			return
		}
		p := &h.plan
		p.Reset()
		if status != 0 {
			w.s.e.Reject(status, h.conn, p)
			w.respond(p, false)
			w.closeClient(c.fd, true)
			return
		}
		w.s.e.Serve(&h.req, h.conn, p)
		var keep bool
		if p.Proxy != nil {
			keep = w.proxy(p)
		} else {
			keep = w.serveLocal(p)
		}
		w.endRequest(p)
		w.requests.Add(1)
		h.conn.Requests++
		if !keep {
			return
		}
		idleTO = p.KeepaliveTimeout
		if idleTO <= 0 {
			idleTO = w.s.opts.KeepAliveTimeout
		}
	}
}

// endRequest releases what the request held, whichever way it ended: the
// plan's file (the core owns it once Serve returns), the request body's
// temp file, and buffers grown past their base size, so that a worker
// between requests holds only its normal buffers. It publishes the
// bytes the worker retains (Stats.Buffers).
func (w *worker) endRequest(p *engine.Plan) {
	h := &w.http
	closeFile(p)
	h.dropBody()
	if cap(h.out) > outBuffer {
		h.out = make([]byte, 0, outBuffer)
	}
	h.up.releaseMem(w.s)
	w.retained.Store(h.retained())
}

// closeFile closes the plan's file body, if any.
func closeFile(p *engine.Plan) {
	if p.File != nil {
		p.File.Close()
		p.File = nil
	}
}

// dropBody forgets the kept request body, closing its temp file.
func (h *httpState) dropBody() {
	h.body = h.body[:0]
	h.bodyLen = 0
	if h.spool != nil {
		h.spool.Close()
		h.spool = nil
	}
}

// retained is the size of the buffers h keeps between requests.
func (h *httpState) retained() int64 {
	u := &h.up
	n := cap(h.buf) + cap(h.rbuf) + cap(h.out) + cap(h.body) + cap(h.scratch) +
		cap(u.head) + cap(u.rd) + cap(u.mem)
	return int64(n)
}

// keepBody appends request body bytes: to h.body while the whole body
// fits clientBodyBuffer, else to an unlinked temp file that then holds
// all of it.
func (h *httpState) keepBody(data []byte) error {
	h.bodyLen += int64(len(data))
	if h.spool == nil && len(h.body)+len(data) <= clientBodyBuffer {
		if h.body == nil {
			h.body = make([]byte, 0, clientBodyBuffer)
		}
		h.body = append(h.body, data...)
		return nil
	}
	if h.spool == nil {
		f, err := tempFile()
		if err != nil {
			return fmt.Errorf("%w: %w", errSpool, err)
		}
		h.spool = f
		if _, err := f.Write(h.body); err != nil {
			return fmt.Errorf("%w: %w", errSpool, err)
		}
		h.body = h.body[:0]
	}
	if _, err := h.spool.Write(data); err != nil {
		return fmt.Errorf("%w: %w", errSpool, err)
	}
	return nil
}

// tempFile opens an anonymous file in os.TempDir() for a request body:
// O_TMPFILE where the file system has it, else a named temp file that is
// unlinked at once. Either way the data goes when the file is closed.
func tempFile() (*os.File, error) {
	dir := os.TempDir()
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err == nil {
		return os.NewFile(uintptr(fd), dir+"/(request body)"), nil
	}
	f, err := os.CreateTemp(dir, "c10k-body-")
	if err != nil {
		return nil, err
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// serveLocal runs a plan with an in-memory or file body.
func (w *worker) serveLocal(p *engine.Plan) bool {
	h := &w.http
	if h.req.HasBody() && !p.Close {
		switch {
		case h.req.Expect100 && h.start == h.end && h.rs == h.re:
			// The client waits for 100 Continue we will not send: answer
			// without reading the body, then close.
			p.KeepAlive = false
		case h.req.ContentLength > discardLimit:
			p.KeepAlive = false
		default:
			if _, err := w.readBody(false, discardLimit, p.BodyTimeout); err != nil {
				if err != errTooLarge {
					return w.bodyFailed(p, err)
				}
				p.KeepAlive = false
			}
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
			if err == errTimeout && h.end > 0 {
				continue // the deadline check above ends it
			}
			w.closeClient(h.c.fd, false)
			return 0, false
		}
		h.end += n
	}
}

// readBody reads the request body through the decoder: kept (see
// keepBody) when keep, else discarded. More than max bytes (0: no limit)
// end it with errTooLarge.
func (w *worker) readBody(keep bool, max int64, timeout time.Duration) (int64, error) {
	h := &w.http
	h.dec.Init(h.req.ContentLength, h.req.Chunked, false)
	h.dropBody()
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
					return total, errTooLarge
				}
				h.rs, h.re = 0, copy(h.rbuf, src)
				h.start = h.end
			}
			if err := w.fill(timeout); err != nil {
				return total, err
			}
			more = false
			continue
		}
		data, n, err := h.dec.Decode(src)
		if err != nil {
			return total, err
		}
		if inBuf {
			h.start += n
		} else {
			h.rs += n
		}
		more = n == 0
		total += int64(len(data))
		if max > 0 && total > max {
			return total, errTooLarge
		}
		if keep && len(data) > 0 {
			if err := h.keepBody(data); err != nil {
				return total, err
			}
		}
	}
	return total, nil
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
		return errTooLarge // a chunk-size line that never ends
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
	if p.Close || p.Status == statusNoResponse {
		closeFile(p)
		w.closeClient(h.c.fd, false)
		return false
	}
	if closing {
		p.KeepAlive = false
	}
	cl := p.ContentLength
	if cl < 0 && p.File == nil {
		cl = int64(len(p.Body))
	}
	head := w.appendHead(h.out[:0], p, cl)
	h.out = head[:0]
	h.sock.setWriteTimeout(p.SendTimeout)
	var err error
	switch {
	case p.HeadOnly || p.Status < 200 || p.Status == 204 || p.Status == 304:
		err = h.sock.write(head)
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
// (-1: chunked to HTTP/1.1 clients, close-delimited to HTTP/1.0 ones).
func (w *worker) appendHead(dst []byte, p *engine.Plan, cl int64) []byte {
	h := &w.http
	if w.s.closing.Load() {
		p.KeepAlive = false // stopping: this is the connection's last response
	}
	rh := http1.ResponseHead{
		Minor:         h.req.Minor,
		Status:        p.Status,
		Header:        p.Header,
		ContentLength: cl,
		KeepAlive:     p.KeepAlive,
		Date:          w.s.date.Now(),
		Server:        w.s.e.Software(),
		HeadOnly:      p.HeadOnly,
	}
	if cl < 0 {
		if h.req.Minor >= 1 {
			rh.Chunked = true
		} else {
			rh.KeepAlive = false
			p.KeepAlive = false
		}
	}
	return http1.AppendResponseHead(dst, &rh)
}

// logClient logs a client-side failure, nginx style.
func (w *worker) logClient(level string, err error, while string) {
	if !w.s.log.Enabled() || w.s.killed.Load() {
		return
	}
	h := &w.http
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
		what = "recv() failed " + errnoText(errno)
	case errors.As(err, &errno):
		what = "writev() failed " + errnoText(errno)
	default:
		what = err.Error()
	}
	w.s.log.Logf(level, h.c.id, "%s %s, client: %s, server: %s, request: \"%s %s HTTP/1.%d\"",
		what, while, h.c.remote.Addr(), h.c.l.addr, h.req.Method, h.req.Target, h.req.Minor)
}
