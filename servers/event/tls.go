package event

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/c10k/c10k/servers/engine"
	"github.com/c10k/c10k/servers/internal/coreio"
)

// TLS on the loop: see "TLS" in the package documentation.

const (
	// tlsRecord is how much plaintext is encrypted at a time: one full
	// record (nginx's ssl_buffer_size, 16k). The ciphertext of one batch
	// is all a connection's output buffer holds.
	tlsRecord = 16 << 10
	// tlsOutBuffer is the capacity of an output buffer: a batch of
	// plaintext and the record overhead, also in dynamic-size records.
	tlsOutBuffer = tlsRecord + 2<<10
	// tlsHelloMax is the most a loop reads before the handshake starts:
	// one record header and the largest record plaintext (2^14).
	tlsHelloMax = 5 + 1<<14
	// tlsInMax bounds the ciphertext a loop reads ahead for a running
	// handshake; past it the loop waits for the handshake to consume.
	tlsInMax = 64 << 10
	// maxFreeOut bounds the output buffers a loop keeps for reuse.
	maxFreeOut = 64
)

// errHandshakeAborted ends a handshake the loop gave up on (its
// client_header_timeout passed, or the server stops).
var errHandshakeAborted = errors.New("handshake aborted")

// wouldBlock is the error tlsState.Read returns on the loop when no
// ciphertext is at hand. It is temporary (net.Error), so crypto/tls keeps
// the partial record it has and a later Read goes on from there.
type wouldBlock struct{}

func (wouldBlock) Error() string   { return "tls: no ciphertext available" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }

// errWouldBlock is the one wouldBlock value.
var errWouldBlock net.Error = wouldBlock{}

// tlsState is a TLS connection's crypto/tls state and the memory
// transport under it: tc reads and writes t, never the socket. Before
// and after the handshake only the loop touches it, and Read takes the
// socket's bytes directly. While a handshake goroutine runs (async), the
// loop reads the socket into in and writes out to it, and the goroutine
// reads in and appends to out, both under mu.
type tlsState struct {
	tc *tls.Conn
	c  *conn
	l  *loop

	in  []byte // ciphertext read by the loop, not yet taken by tc
	ri  int    // in[ri:] is unread
	out []byte // ciphertext tc wrote, out[ob:] not yet on the socket
	ob  int

	// The handshake's outcome, for engine.Conn.SetTLS.
	version    uint16
	resumed    bool
	serverName string
	broken     bool // tc failed: no close_notify

	// The handshake goroutine and the loop, under mu while async.
	mu      sync.Mutex
	cond    sync.Cond
	async   bool  // a handshake goroutine runs
	queued  bool  // waiting in loop.hsWait for a handshake slot
	eof     bool  // the client closed or failed: Read reports io.EOF
	abort   bool  // the loop gave up: Read reports errHandshakeAborted
	full    bool  // the loop stopped reading at tlsInMax
	posted  bool  // t is in the loop's TLS queue
	done    bool  // the handshake ended, with err
	dropped bool  // the loop closes the connection when the handshake ends
	err     error // the handshake's result
}

var _ net.Conn = (*tlsState)(nil)

// Read gives crypto/tls ciphertext. During the handshake it waits for
// what the loop reads; on the loop it serves what is left of that, then
// reads the socket without blocking, and returns errWouldBlock when the
// socket has nothing (edge-triggered: the connection's fRead says so).
func (t *tlsState) Read(b []byte) (int, error) {
	if t.async {
		return t.readAsync(b)
	}
	if t.ri < len(t.in) {
		n := copy(b, t.in[t.ri:])
		t.ri += n
		if t.ri == len(t.in) {
			t.in, t.ri = nil, 0
		}
		return n, nil
	}
	c := t.c
	if c.flags&fRead == 0 {
		return 0, errWouldBlock
	}
	n, err := read(int(c.fd), b)
	switch err {
	case nil:
		if n < len(b) && c.flags&fEOF == 0 {
			c.flags &^= fRead // drained: the next byte brings an edge
		}
		return n, nil
	case errAgain:
		c.flags &^= fRead
		return 0, errWouldBlock
	case coreio.ErrClosed:
		return 0, io.EOF
	}
	return 0, err
}

// readAsync is Read on the handshake goroutine.
func (t *tlsState) readAsync(b []byte) (int, error) {
	t.mu.Lock()
	for t.ri == len(t.in) && !t.eof && !t.abort {
		t.cond.Wait()
	}
	if t.abort {
		t.mu.Unlock()
		return 0, errHandshakeAborted
	}
	if t.ri == len(t.in) {
		t.mu.Unlock()
		return 0, io.EOF
	}
	n := copy(b, t.in[t.ri:])
	t.ri += n
	if t.ri == len(t.in) {
		t.in, t.ri = t.in[:0], 0
	}
	post := false
	if t.full {
		t.full = false // the loop may read again
		post = t.markPosted()
	}
	t.mu.Unlock()
	if post {
		t.l.postTLS(t)
	}
	return n, nil
}

// Write takes ciphertext from crypto/tls into the output buffer, which
// the loop writes to the socket: it never fails, so crypto/tls never
// makes a write error permanent. On the loop, backpressure is the
// caller's: nothing more is encrypted while out is not written.
func (t *tlsState) Write(b []byte) (int, error) {
	if !t.async {
		if t.out == nil {
			t.out = t.l.outBuffer()
		}
		t.out = append(t.out, b...)
		return len(b), nil
	}
	t.mu.Lock()
	if t.out == nil {
		t.out = make([]byte, 0, tlsOutBuffer)
	}
	t.out = append(t.out, b...)
	post := t.markPosted()
	t.mu.Unlock()
	if post {
		t.l.postTLS(t)
	}
	return len(b), nil
}

// markPosted reports whether t must be posted to the loop (under mu).
func (t *tlsState) markPosted() bool {
	if t.posted {
		return false
	}
	t.posted = true
	return true
}

// Close is a no-op: the loop owns and closes the socket.
func (t *tlsState) Close() error { return nil }

// LocalAddr is the listener's address.
func (t *tlsState) LocalAddr() net.Addr { return net.TCPAddrFromAddrPort(t.c.ln.Addr) }

// RemoteAddr is the client's address.
func (t *tlsState) RemoteAddr() net.Addr { return net.TCPAddrFromAddrPort(t.c.remote) }

// SetDeadline is a no-op: the loop's timers bound every wait.
func (t *tlsState) SetDeadline(time.Time) error { return nil }

// SetReadDeadline is a no-op, as SetDeadline.
func (t *tlsState) SetReadDeadline(time.Time) error { return nil }

// SetWriteDeadline is a no-op, as SetDeadline.
func (t *tlsState) SetWriteDeadline(time.Time) error { return nil }

// isTLS reports whether c is accepted on an SSL listener and still
// speaks TLS (a plain HTTP request on it drops the TLS state).
func (c *conn) isTLS() bool { return c.tls != nil }

// readable reports whether reading c may give bytes: the socket is
// readable, or crypto/tls may hold decrypted or buffered records.
func (c *conn) readable() bool { return c.flags&(fRead|fData) != 0 }

// recv reads request bytes from c into p: from the socket, or through
// TLS. errAgain when nothing is available, coreio.ErrClosed at the end.
func (l *loop) recv(c *conn, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	t := c.tls
	if t == nil {
		if c.flags&fRead == 0 {
			return 0, errAgain
		}
		n, err := read(int(c.fd), p)
		if err != nil {
			if err == errAgain {
				c.flags &^= fRead
			}
			return 0, err
		}
		if n < len(p) && c.flags&fEOF == 0 {
			c.flags &^= fRead // drained: the next byte brings an edge
		}
		return n, nil
	}
	n, err := t.tc.Read(p)
	if n > 0 {
		// More may wait in crypto/tls's buffers: read until it says
		// there is nothing (errWouldBlock). An error after data (a
		// close_notify right behind it) is sticky and comes again.
		c.flags |= fData
		return n, nil
	}
	c.flags &^= fData
	if _, ok := err.(wouldBlock); ok || err == nil {
		return 0, errAgain
	}
	if err == io.EOF {
		return 0, coreio.ErrClosed // close_notify, or a FIN at a record boundary
	}
	t.broken = true
	return 0, err
}

// send writes a then b to c as far as it goes without waiting and
// returns how many of their bytes were taken. A plain connection writes
// them with writev(2); a TLS one encrypts a record at a time into its
// output buffer, only when the buffer has been written out.
func (l *loop) send(c *conn, x *exchange, a, b []byte) (int, error) {
	t := c.tls
	if t == nil {
		if c.flags&fWrite == 0 {
			return 0, errAgain
		}
		want := len(a) + len(b)
		n, err := writev(int(c.fd), &x.iov, a, b)
		if err != nil {
			if err == errAgain {
				c.flags &^= fWrite
			}
			return 0, err
		}
		if n < want {
			c.flags &^= fWrite
		}
		return n, nil
	}
	total := 0
	for len(a)+len(b) > 0 {
		if err := l.flushTLS(c); err != nil {
			if err == errAgain && total > 0 {
				return total, nil
			}
			return total, err
		}
		if len(a) == 0 {
			a, b = b, nil
		}
		p := a[:min(len(a), tlsRecord)]
		n, err := t.tc.Write(p)
		total += n
		a = a[n:]
		if err != nil {
			t.broken = true
			return total, err
		}
	}
	if err := l.flushTLS(c); err != nil && (err != errAgain || total == 0) {
		return total, err
	}
	return total, nil
}

// flushTLS writes c's TLS output buffer to the socket: nil once it is
// all written, errAgain when the socket is full.
func (l *loop) flushTLS(c *conn) error {
	t := c.tls
	if t == nil {
		return nil
	}
	for t.ob < len(t.out) {
		if c.flags&fWrite == 0 {
			return errAgain
		}
		n, err := write(int(c.fd), t.out[t.ob:])
		if err != nil {
			if err == errAgain {
				c.flags &^= fWrite
			}
			return err
		}
		t.ob += n
		if t.ob < len(t.out) {
			c.flags &^= fWrite
		}
	}
	if t.out != nil {
		l.freeOut(t)
	}
	return nil
}

// flushIdle writes what an idle TLS connection still has to send: the
// end of its handshake, or an answer crypto/tls gave while reading (a
// TLS 1.3 KeyUpdate). The client may wait for it before it sends a
// request, so it goes out on the next EPOLLOUT if the socket is full.
// It reports false when the connection failed.
func (l *loop) flushIdle(c *conn) bool {
	if t := c.tls; t == nil || t.ob == len(t.out) {
		return true
	}
	err := l.flushTLS(c)
	return err == nil || err == errAgain
}

// outBuffer lends an output buffer.
func (l *loop) outBuffer() []byte {
	if n := len(l.outFree); n > 0 {
		b := l.outFree[n-1]
		l.outFree[n-1] = nil
		l.outFree = l.outFree[:n-1]
		return b
	}
	return make([]byte, 0, tlsOutBuffer)
}

// freeOut takes back t's written-out output buffer: an idle TLS
// connection holds none.
func (l *loop) freeOut(t *tlsState) {
	b := t.out
	t.out, t.ob = nil, 0
	if len(l.outFree) < maxFreeOut && cap(b) <= 2*tlsOutBuffer {
		l.outFree = append(l.outFree, b[:0])
	}
}

// startTLS gives a connection accepted on an SSL listener its TLS
// state, once its first bytes arrive; false when the listener has no
// TLS configuration (the connection is closed).
func (l *loop) startTLS(c *conn) bool {
	e := l.s.engine()
	cfg := e.TLSConfig(e.Index(c.ln.Index))
	if cfg == nil {
		l.s.log.Logf("error", c.id, "no \"ssl_certificate\" is defined for the \"listen ... ssl\" of %s, client: %s", c.ln.Addr, c.remote.Addr())
		return false
	}
	t := &tlsState{c: c, l: l, in: make([]byte, 0, firstBuffer)}
	t.cond.L = &t.mu
	t.tc = tls.Server(t, cfg)
	c.tls = t
	return true
}

// handshake advances a connection in stTLS: it reads the first
// record (a plain HTTP request goes on without TLS), starts the
// handshake goroutine once a whole record is buffered, and while that
// runs carries ciphertext between it and the socket.
func (l *loop) handshake(c *conn) bool {
	t := c.tls
	if t == nil {
		if c.flags&fRead == 0 {
			return false
		}
		if !l.startTLS(c) {
			l.close(c)
			return false
		}
		t = c.tls
	}
	if t.async {
		return l.handshakeIO(c)
	}
	if t.queued {
		return false
	}
	max := tlsHelloMax
	if len(t.in) == 0 || t.in[0] != 0x16 {
		max = firstBuffer // a plain request head must fit an exchange's buffer
	}
	for c.flags&fRead != 0 && len(t.in) < max {
		if len(t.in) == cap(t.in) {
			nb := make([]byte, len(t.in), min(2*cap(t.in), tlsHelloMax))
			copy(nb, t.in)
			t.in = nb
		}
		n, err := read(int(c.fd), t.in[len(t.in):min(cap(t.in), max)])
		if err != nil {
			if err == errAgain {
				c.flags &^= fRead
				break
			}
			l.close(c) // the client left before a handshake: nothing to log
			return false
		}
		if n < min(cap(t.in), max)-len(t.in) && c.flags&fEOF == 0 {
			c.flags &^= fRead
		}
		t.in = t.in[:len(t.in)+n]
		if t.in[0] == 0x16 {
			max = tlsHelloMax
		} else {
			max = firstBuffer
		}
	}
	if len(t.in) == 0 {
		return false
	}
	if !engine.IsTLSHandshake(t.in[0]) {
		return l.plainOnSSL(c)
	}
	if !helloReady(t.in) && len(t.in) < max {
		return false // client_header_timeout runs since the accept
	}
	if l.hsRunning >= l.s.opts.TLSHandshakes {
		t.queued = true
		l.stats.hsWaiting.Add(1)
		l.hsWait = append(l.hsWait, t)
		return false
	}
	l.startHandshake(t)
	return false
}

// helloReady reports whether in holds a whole first record (or one
// crypto/tls will reject at once: SSLv2, oversized).
func helloReady(in []byte) bool {
	if len(in) < 5 || in[0] != 0x16 {
		return len(in) > 0 && in[0] != 0x16
	}
	n := int(in[3])<<8 | int(in[4])
	return len(in) >= 5+n || 5+n > tlsHelloMax
}

// startHandshake runs t's handshake on a goroutine of its own (at most
// Options.TLSHandshakes per loop), owned by the Server (tlsWG).
func (l *loop) startHandshake(t *tlsState) {
	l.hsRunning++
	l.stats.handshaking.Add(1)
	t.async = true
	l.s.tlsWG.Go(func() {
		err := t.tc.Handshake()
		t.mu.Lock()
		t.done, t.err = true, err
		post := t.markPosted()
		t.mu.Unlock()
		if post {
			l.postTLS(t)
		}
	})
}

// postTLS hands t back to its loop (from a handshake goroutine).
func (l *loop) postTLS(t *tlsState) {
	l.tlsq.put(t)
	l.wakeup()
}

// drainTLS runs the connections their handshake goroutines posted.
func (l *loop) drainTLS() {
	q := l.tlsq.take()
	for i, t := range q {
		q[i] = nil
		t.mu.Lock()
		t.posted = false
		t.mu.Unlock()
		if c := t.c; c != nil && c.tls == t && c.st == stTLS {
			l.advance(c)
		}
	}
}

// handshakeIO moves ciphertext between a running handshake goroutine
// and the socket, and ends the handshake when the goroutine is done.
func (l *loop) handshakeIO(c *conn) bool {
	t := c.tls
	fd := int(c.fd)
	t.mu.Lock()
	wake := false
	for t.ob < len(t.out) && c.flags&fWrite != 0 && !t.eof {
		n, err := write(fd, t.out[t.ob:])
		if err != nil {
			if err == errAgain {
				c.flags &^= fWrite
				break
			}
			t.eof, wake = true, true // the handshake fails on its next read
			break
		}
		t.ob += n
		if t.ob < len(t.out) {
			c.flags &^= fWrite
		}
	}
	if t.ob == len(t.out) {
		t.out, t.ob = t.out[:0], 0
	}
	for c.flags&fRead != 0 && !t.eof && !t.done {
		if len(t.in)-t.ri >= tlsInMax {
			t.full = true
			break
		}
		if t.ri > 0 {
			t.in = t.in[:copy(t.in, t.in[t.ri:])]
			t.ri = 0
		}
		if cap(t.in)-len(t.in) < 4<<10 {
			t.in = append(t.in, make([]byte, 16<<10)...)[:len(t.in)]
		}
		n, err := read(fd, t.in[len(t.in):cap(t.in)])
		if err != nil {
			if err == errAgain {
				c.flags &^= fRead
				break
			}
			t.eof, wake = true, true
			break
		}
		if n < cap(t.in)-len(t.in) && c.flags&fEOF == 0 {
			c.flags &^= fRead
		}
		t.in = t.in[:len(t.in)+n]
		wake = true
	}
	if wake {
		t.cond.Signal()
	}
	done, err := t.done, t.err
	t.mu.Unlock()
	if !done {
		return false
	}
	return l.handshakeDone(c, err)
}

// handshakeDone ends a handshake: the goroutine has returned its
// result, and the connection is the loop's alone again.
func (l *loop) handshakeDone(c *conn, err error) bool {
	t := c.tls
	t.async = false
	l.hsRunning--
	l.stats.handshaking.Add(-1)
	l.nextHandshake()
	if t.dropped || err != nil {
		if err != nil && !t.dropped && !l.killed {
			l.s.log.Logf("info", c.id, "%s while SSL handshaking, client: %s, server: %s", handshakeError(err), c.remote.Addr(), c.ln.Addr)
		}
		t.broken = true
		l.flushTLS(c) // the alert crypto/tls sent, if the socket takes it
		l.close(c)
		return false
	}
	st := t.tc.ConnectionState()
	t.version, t.resumed, t.serverName = st.Version, st.DidResume, st.ServerName
	l.stats.handshakes.Add(1)
	if len(t.out) == 0 {
		t.out, t.ob = nil, 0 // the goroutine's buffer
	}
	if t.ri == len(t.in) {
		t.in, t.ri = nil, 0
	}
	c.flags |= fData // the request may have come with the client's Finished
	c.st = stIdle
	l.stats.idle.Add(1)
	if l.closing {
		l.close(c)
		return false
	}
	// The first request's wait goes on under the timer set at the
	// accept: as in nginx, client_header_timeout bounds the handshake
	// and the first request head together.
	if err := l.flushTLS(c); err != nil && err != errAgain {
		l.close(c)
		return false
	}
	return true
}

// nextHandshake starts the longest-waiting queued handshake, if a slot
// is free.
func (l *loop) nextHandshake() {
	for len(l.hsWait) > 0 && l.hsRunning < l.s.opts.TLSHandshakes {
		t := l.hsWait[0]
		l.hsWait[0] = nil
		l.hsWait = l.hsWait[1:]
		if !t.queued {
			continue // closed meanwhile
		}
		t.queued = false
		l.stats.hsWaiting.Add(-1)
		l.startHandshake(t)
	}
	if len(l.hsWait) == 0 {
		l.hsWait = nil
	}
}

// handshakeError is the error-log text of a failed handshake.
func handshakeError(err error) string {
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return "peer closed connection in SSL handshake"
	}
	return "SSL_do_handshake() failed (" + err.Error() + ")"
}

// stopHandshake ends c's handshake for a timeout or a stop: a running
// goroutine is told to give up, and the connection closes when it has
// (it must not be reused before); otherwise it closes now. It reports
// whether c is closed.
func (l *loop) stopHandshake(c *conn) bool {
	t := c.tls
	if t == nil || !t.async {
		l.close(c)
		return true
	}
	t.mu.Lock()
	t.abort, t.dropped = true, true
	t.cond.Signal()
	t.mu.Unlock()
	return false
}

// plainOnSSL goes on without TLS on a connection whose first bytes are
// not a TLS record: a plain HTTP request on an ssl port, which the
// engine answers with 400 (engine.Conn.PlainHTTP), as nginx does.
func (l *loop) plainOnSSL(c *conn) bool {
	t := c.tls
	c.tls = nil
	t.c = nil
	c.plain = true
	x := l.borrow(c)
	x.end = copy(x.buf, t.in) // parsed before the socket is read again
	c.st = stHead
	return true
}

// closeTLS sends close_notify on a TLS connection that is closing
// normally, as far as the socket takes it without waiting, and lets go
// of its TLS state.
func (l *loop) closeTLS(c *conn) {
	t := c.tls
	if t == nil {
		return
	}
	if t.queued {
		t.queued = false
		l.stats.hsWaiting.Add(-1)
	}
	if !t.async && !t.broken && t.version != 0 && t.ob == len(t.out) && !l.killed {
		t.tc.CloseWrite() // close_notify into out
		c.flags |= fWrite // one try: the socket is closed right after
		l.flushTLS(c)
	}
	if t.out != nil && !t.async {
		l.freeOut(t)
	}
	t.c = nil
	c.tls = nil
}

// tlsConnInfo fills in the TLS fields of an exchange's engine.Conn.
func (c *conn) tlsConnInfo(x *exchange) {
	if t := c.tls; t != nil {
		x.conn.SetTLS(tls.ConnectionState{Version: t.version, DidResume: t.resumed, ServerName: t.serverName})
	}
	x.conn.PlainHTTP = c.plain
}
