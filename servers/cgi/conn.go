package cgi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/c10k/c10k/servers/engine"
	"github.com/c10k/c10k/servers/http1"
	"github.com/c10k/c10k/servers/internal/cgirun"
	"github.com/c10k/c10k/servers/internal/coreio"
	"github.com/c10k/c10k/servers/upstream"
)

// conn is one client connection, served by one goroutine.
type conn struct {
	s  *Server
	nc *net.TCPConn
	// rw carries the connection's reads and writes: nc, or tls on an
	// SSL listener, whose children write through a relay (relay.go).
	rw     net.Conn
	tls    *coreio.TLSConn
	relayN atomic.Int64   // plaintext bytes the relays sent for the current request
	idx    int            // the listener's index in the engine the Server started with
	e      *coreio.Engine // the current request's engine; nil between requests
	ec     engine.Conn
	lst    engine.Listener
	buf    []byte
	start  int // unparsed bytes are buf[start:end]
	end    int
	parser http1.Parser
	req    http1.Request
	plan   engine.Plan
	out    []byte
	sent   int64  // bytes written to the client for the current request (access log)
	acked0 uint64 // the socket's tcpi_bytes_acked when the request began
}

// acked returns the client socket's tcpi_bytes_acked: the bytes the
// client's kernel acknowledged so far on this connection.
func (c *conn) acked() uint64 {
	rc, err := c.nc.SyscallConn()
	if err != nil {
		return 0
	}
	var n uint64
	rc.Control(func(fd uintptr) {
		if ti, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
			n = ti.Bytes_acked
		}
	})
	return n
}

// sentBytes is what the client got of the current request: what the
// children reported writing, or, for a child ended before it could
// report (the client hung up), what the client's kernel acknowledged
// (over TLS, what the relays passed on: the kernel counts ciphertext).
func (c *conn) sentBytes() int64 {
	if c.tls != nil {
		return max(c.sent, c.relayN.Load())
	}
	return max(c.sent, int64(c.acked()-c.acked0))
}

func newConn(s *Server, nc *net.TCPConn, idx int) *conn {
	c := &conn{s: s, nc: nc, rw: nc, idx: idx}
	e := s.ref.Load()
	c.lst, _, _ = e.Listener(idx)
	if cfg := e.TLSConfig(e.Index(idx)); cfg != nil {
		c.tls = coreio.NewTLSConn(nc, cfg)
		c.rw = c.tls
	}
	c.ec = engine.Conn{Listener: idx}
	if a, ok := nc.LocalAddr().(*net.TCPAddr); ok {
		c.ec.Local = a.AddrPort()
	}
	if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		c.ec.Remote = a.AddrPort()
	}
	c.ec.Local = netip.AddrPortFrom(c.ec.Local.Addr().Unmap(), c.ec.Local.Port())
	lim := http1.LimitsFor(c.lst.HeaderBufferSize, c.lst.LargeHeaders.Number, c.lst.LargeHeaders.Size)
	c.parser = http1.Parser{Limits: lim}
	c.buf = make([]byte, lim.HeaderMax+4096)
	return c
}

func (c *conn) serve() {
	defer c.rw.Close()
	headTO := c.lst.HeaderTimeout
	if headTO <= 0 {
		headTO = 60 * time.Second
	}
	start := time.Now()
	if c.tls != nil {
		// The first byte and the handshake within client_header_timeout,
		// while a stop may close the connection as an idle one.
		if !c.s.setIdle(c, true) {
			return
		}
		if err := c.tls.Handshake(headTO); err != nil {
			var ne net.Error
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !(errors.As(err, &ne) && ne.Timeout()) {
				// nginx logs failed handshakes at info.
				c.s.logLine("info", fmt.Sprintf("SSL_do_handshake() failed (%v) while SSL handshaking, client: %s, server: %s",
					err, c.ec.Remote.Addr(), c.ec.Local))
			}
			return
		}
		c.tls.SetConn(&c.ec)
	}
	idleTO := headTO
	if c.tls != nil {
		// client_header_timeout bounds the handshake and the wait for
		// the first request together, as nginx's timer set at the accept.
		idleTO = max(headTO-time.Since(start), time.Millisecond)
	}
	for {
		if !c.s.setIdle(c, true) {
			return
		}
		status, ok := c.readHead(idleTO, headTO)
		if !ok {
			return
		}
		c.s.setIdle(c, false)
		// The request's engine, for all of it: a reload from now on
		// changes the next request, not this one.
		c.e = c.s.ref.Load()
		c.ec.Listener = c.e.Index(c.idx)
		p := &c.plan
		c.sent, c.acked0 = 0, c.acked()
		c.relayN.Store(0)
		if status != 0 {
			c.e.Reject(status, c.ec, p)
			c.writeDirect(p, p.Body)
			p.End(c.sentBytes())
			c.e = nil
			c.linger()
			return
		}
		keep := c.request(p)
		p.End(c.sentBytes()) // the access log, with what the client really got
		p.CloseFile()
		c.e = nil // a replaced engine is not kept alive by an idle connection
		c.ec.Requests++
		if !keep {
			c.linger()
			return
		}
		idleTO = p.KeepaliveTimeout
		if idleTO <= 0 {
			idleTO = headTO
		}
	}
}

// linger drains what the client still sends for a moment, so that
// closing does not reset a response it has not read yet (nginx's
// lingering_close).
func (c *conn) linger() {
	if cw, ok := c.rw.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite() // TLS: close_notify first
	}
	c.nc.SetReadDeadline(time.Now().Add(2 * time.Second))
	var b [4096]byte
	for i := 0; i < 64; i++ {
		if _, err := c.nc.Read(b[:]); err != nil {
			return
		}
	}
}

// readHead reads and parses the next request head. status is non-zero
// for a head to reject; ok is false when the connection is done.
func (c *conn) readHead(idleTO, headTO time.Duration) (status int, ok bool) {
	if c.start > 0 {
		n := copy(c.buf, c.buf[c.start:c.end])
		c.start, c.end = 0, n
	}
	c.parser.Reset()
	first := true
	for {
		if c.end > c.start {
			n, err := c.parser.Parse(c.buf[c.start:c.end], &c.req)
			if err == nil {
				c.start += n
				return 0, true
			}
			if !errors.Is(err, http1.ErrIncomplete) {
				return http1.StatusOf(err), true
			}
			first = false
		}
		if c.end == len(c.buf) {
			return 431, true
		}
		to := headTO
		if first {
			to = idleTO
		}
		c.rw.SetReadDeadline(time.Now().Add(to))
		n, err := c.rw.Read(c.buf[c.end:])
		c.end += n
		if err != nil && n == 0 {
			return 0, false
		}
	}
}

// request serves one parsed request; it returns whether the connection
// stays open.
func (c *conn) request(p *engine.Plan) bool {
	e := c.e
	e.Serve(&c.req, c.ec, p)
	if p.Delay > 0 {
		// limit_req delays the request: this connection's goroutine
		// waits (watching for the client leaving), then the engine
		// resumes it (engine.Plan.Delay).
		if !c.sleep(p.Delay) {
			return false
		}
		e.Serve(&c.req, c.ec, p)
	}
	if p.Close {
		return false
	}
	var body []byte
	if c.req.HasBody() {
		if p.ReadBody {
			if p.SendContinue(&c.req) && c.start == c.end {
				c.rw.SetWriteDeadline(time.Now().Add(p.SendTimeout))
				if _, err := c.rw.Write(http1.Continue100); err != nil {
					return false
				}
			}
			var status int
			body, status = c.readBody(p)
			if status != 0 {
				if status > 0 {
					e.Reject(status, c.ec, p)
					c.writeDirect(p, p.Body)
				}
				return false
			}
		} else if !c.discard(p) {
			return false
		}
	}
	if p.CGI != nil {
		ctx, stop := c.watch()
		err := c.s.runner.Serve(ctx, p, body)
		stop()
		if err != nil {
			c.s.logLine("info", err.Error())
			return false
		}
		if p.CGI == nil && p.Proxy == nil && p.File == nil {
			// The program was this request's child: send what it wrote.
			return c.writeDirect(p, p.Body)
		}
		// A local redirect or error_page re-routed the request: it is a
		// GET now, its body consumed.
		body = nil
	}
	if p.Proxy != nil {
		return c.proxy(p, body)
	}
	return c.local(p)
}

// readBody reads the whole request body (de-chunked). status is 413
// (or 400 for broken chunked framing) to answer, -1 to close silently.
func (c *conn) readBody(p *engine.Plan) ([]byte, int) {
	var dec http1.Body
	c.req.InitBody(&dec)
	var body []byte
	if c.req.ContentLength > 0 {
		body = make([]byte, 0, c.req.ContentLength)
	}
	for !dec.Done() {
		for c.start < c.end && !dec.Done() {
			data, n, err := dec.Decode(c.buf[c.start:c.end])
			if err != nil {
				return nil, 400
			}
			c.start += n
			body = append(body, data...)
			if p.BodyTooLarge(int64(len(body))) {
				return nil, 413
			}
		}
		if dec.Done() {
			break
		}
		if c.start == c.end {
			c.start, c.end = 0, 0
		} else if c.end == len(c.buf) {
			k := copy(c.buf, c.buf[c.start:c.end])
			c.start, c.end = 0, k
		}
		// Read through the head buffer, so that bytes past the body (a
		// pipelined request) stay there.
		c.rw.SetReadDeadline(time.Now().Add(p.BodyTimeout))
		n, err := c.rw.Read(c.buf[c.end:])
		c.end += n
		if err != nil && n == 0 {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return nil, 408
			}
			return nil, -1
		}
	}
	return body, 0
}

// discard reads and drops a body the plan does not want, as
// Plan.DiscardBody says; false when the connection must close now.
func (c *conn) discard(p *engine.Plan) bool {
	limit := p.DiscardBody(&c.req, c.start < c.end)
	if limit == 0 {
		return true // KeepAlive already cleared when needed
	}
	var dec http1.Body
	c.req.InitBody(&dec)
	var rd [16 << 10]byte
	for !dec.Done() {
		for c.start < c.end && !dec.Done() {
			_, n, err := dec.Decode(c.buf[c.start:c.end])
			if err != nil {
				p.KeepAlive = false
				return true
			}
			c.start += n
		}
		if dec.Done() {
			break
		}
		if dec.Read() > limit {
			p.KeepAlive = false
			return true
		}
		c.rw.SetReadDeadline(time.Now().Add(p.BodyTimeout))
		n, err := c.rw.Read(rd[:])
		if n > 0 {
			c.start, c.end = 0, copy(c.buf, rd[:n])
		}
		if err != nil && n == 0 {
			return false
		}
	}
	return true
}

// head serializes p's response head into c.out and returns it with
// whether the connection stays open after it.
func (c *conn) head(p *engine.Plan) ([]byte, *http1.ResponseHead) {
	rh := &http1.ResponseHead{
		Minor: c.req.Minor, Status: p.Status, Header: p.Header,
		ContentLength: coreio.HeadLength(p), Chunked: coreio.HeadLength(p) < 0,
		KeepAlive: p.KeepAlive, Date: c.s.dates.Now(), Server: c.e.Software(),
		HeadOnly: p.HeadOnly,
	}
	c.out = http1.AppendResponseHead(c.out[:0], rh)
	p.SetHeadSize(len(c.out))
	return c.out, rh
}

// writeDirect sends a plan the parent answers itself: a rejected head,
// or the output of a cgi_pass program (which was the child).
func (c *conn) writeDirect(p *engine.Plan, body []byte) bool {
	h, rh := c.head(p)
	if p.HeadOnly {
		body = nil
	}
	c.rw.SetWriteDeadline(time.Now().Add(max(p.SendTimeout, time.Second)))
	bufs := net.Buffers{h, body}
	n, err := bufs.WriteTo(c.rw)
	c.sent += n
	if err != nil {
		return false
	}
	return rh.KeepsAlive()
}

// local sends a plan with an in-memory or file body through a c10k
// child.
func (c *conn) local(p *engine.Plan) bool {
	h, rh := c.head(p)
	j := job{Kind: "bytes", Head: len(h), SendTimeout: p.SendTimeout}
	payload := h
	var file *os.File
	switch {
	case p.HeadOnly:
	case p.File != nil:
		j.Kind, j.Offset, j.Length = "file", p.Offset, p.ContentLength
		j.Gzip, j.Chunked = p.Gzip, rh.SendsChunked()
		file = p.File
	case p.Gzip != 0:
		// An in-memory body the engine left to the core to compress.
		var g coreio.Gzip
		g.Start(p.Gzip, rh.SendsChunked())
		g.Write(p.Body)
		g.Close()
		payload = append(payload, g.Pending()...)
		c.out = payload
	default:
		payload = append(payload, p.Body...)
		c.out = payload
	}
	j.Payload = len(payload)
	var fd4 syscall.Conn
	if file != nil {
		fd4 = file
	}
	ch, err := c.spawn(&j, payload, fd4)
	if err != nil {
		return false
	}
	var r report
	_, err = readFrame(ch.out, &r, func(*report) int { return 0 })
	c.sent += r.Bytes
	if gone := ch.wait(); gone || err != nil || r.Client != "" {
		return false
	}
	return rh.KeepsAlive()
}

// proxy runs a proxy plan: the parent picks the peer (the engine's
// balancer), connects or takes an idle connection from its keepalive
// pool, and runs one child per attempt on that connection; the child's
// reports drive the shared retry and health rules, and its last one
// says whether the connection goes back to the pool.
func (c *conn) proxy(p *engine.Plan, body []byte) bool {
	px := p.Proxy
	if body != nil || c.req.HasBody() {
		px.SetBody(int64(len(body)))
	}
	isHead := string(c.req.Method) == "HEAD"
attempts:
	for {
		addr, ok := px.Next()
		if !ok {
			break
		}
		_, send, read := px.Timeouts()
		idle, idleTO, maxReq := px.Pool()
		var up upConn
		pooled := false
		if idle > 0 {
			up, pooled = c.s.pool.Get(addr, idleTO, maxReq, time.Now())
		}
		for {
			if !pooled {
				var err error
				if up, err = c.connect(px, addr); err != nil {
					if px.Failed(coreio.Classify(err), false) {
						continue attempts
					}
					break attempts
				}
			}
			up.requests++
			c.out = append(append(c.out[:0], px.Head()...), body...)
			j := job{Kind: "proxy", Send: send, Read: read, HeadRequest: isHead,
				Buffering: px.Buffering(), SendTimeout: p.SendTimeout, Payload: len(c.out)}
			ch, err := c.spawn(&j, c.out, up.nc)
			if err != nil {
				up.nc.Close()
				px.Done()
				return false
			}
			o := c.attempt(p, px, ch, isHead, pooled)
			if ch.wait() {
				// The client hung up: no upstream failure, as nginx's 499.
				up.nc.Close()
				px.Done()
				return false
			}
			if o.reuse && idle > 0 && (maxReq <= 0 || up.requests < maxReq) {
				c.s.pool.Put(addr, up, idle, time.Now())
			} else {
				up.nc.Close()
			}
			if o.stale {
				// A pooled connection the peer had closed while idle:
				// once more on a fresh one, no failure counted.
				pooled = false
				continue
			}
			if o.done {
				return o.keep
			}
			if !o.again {
				break attempts
			}
			continue attempts
		}
	}
	if p.Proxy != nil {
		return false
	}
	return c.local(p)
}

// connect opens a fresh upstream connection to addr for px's attempt;
// a failure is the attempt's, its text set on px.
func (c *conn) connect(px *engine.Proxy, addr string) (upConn, error) {
	px.SetStage(engine.StageConnect)
	connect, _, _ := px.Timeouts()
	up, err := dialUpstream(addr, connect)
	if err != nil && coreio.Classify(err) != upstream.FailTimeout {
		px.SetError(coreio.UpstreamError(unwrapDial(err), engine.StageConnect)) // a timeout has the engine's words
	}
	return up, err
}

// unwrapDial returns the system call error of a dial, whose text
// coreio.UpstreamError words as nginx does.
func unwrapDial(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}

// outcome is how one proxy attempt ended.
type outcome struct {
	done  bool // the response went out (or the client is gone)
	keep  bool // with done: the client connection stays open
	again bool // another attempt runs
	stale bool // a pooled connection was found closed: retry it fresh, no failure counted
	reuse bool // the upstream connection may go back to the pool
}

// attempt follows one proxy child.
func (c *conn) attempt(p *engine.Plan, px *engine.Proxy, ch *childProc, isHead, pooled bool) outcome {
	var r report
	extra, err := readFrame(ch.out, &r, func(r *report) int { return r.Head })
	if err != nil && ch.gone() {
		return outcome{done: true} // wait says so; no upstream failure
	}
	if err != nil {
		px.SetError(errors.New("c10k child ended without a report"))
		return outcome{again: px.Failed(upstream.FailError, false)}
	}
	if r.Event == "fail" {
		if pooled && r.Stale {
			return outcome{stale: true}
		}
		return c.failed(px, &r)
	}
	var resp http1.Response
	var parser http1.Parser
	if _, err := parser.ParseResponse(extra, &resp, isHead); err != nil {
		ch.verdict(verdict{Retry: true}, nil)
		px.SetStage(engine.StageReadHeader)
		return outcome{again: px.Failed(upstream.FailInvalidHeader, false)}
	}
	if px.Response(&resp) {
		ch.verdict(verdict{Retry: true}, nil)
		return outcome{again: true}
	}
	h, rh := c.head(p)
	ch.verdict(verdict{Head: len(h), Chunked: rh.SendsChunked(), NoBody: p.HeadOnly, Gzip: p.Gzip}, h)
	r = report{}
	_, err = readFrame(ch.out, &r, func(*report) int { return 0 })
	c.sent += r.Bytes
	if err != nil {
		if ch.gone() {
			return outcome{done: true}
		}
		px.Failed(upstream.FailError, true)
		return outcome{done: true}
	}
	if r.Event == "fail" {
		return c.failed(px, &r)
	}
	px.Done()
	return outcome{done: true, keep: r.Client == "" && rh.KeepsAlive(), reuse: r.Reuse}
}

// failed reports a child's failed attempt to the exchange.
func (c *conn) failed(px *engine.Proxy, r *report) outcome {
	f := upstream.FailError
	switch r.Failure {
	case "timeout":
		f = upstream.FailTimeout
	case "invalid_header":
		f = upstream.FailInvalidHeader
	}
	px.SetStage(engine.Stage(r.Stage))
	if r.Err != "" {
		px.SetError(errors.New(r.Err))
	}
	retry := px.Failed(f, r.Sent)
	if r.Sent {
		return outcome{done: true}
	}
	return outcome{again: retry}
}

// childProc is a running c10k child.
type childProc struct {
	s     *Server
	in    *os.File // its stdin: the job, then verdicts
	out   *bufio.Reader
	outF  *os.File
	end   *cgirun.Ender
	watch func()
	relay *relay // on an SSL listener: what the child writes, encrypted to the client
}

// spawn starts a c10k child for j, writing the job and payload to its
// stdin, with the client socket as fd 3 and fd4 (a static file, an
// upstream connection; nil for none) as fd 4. It holds one of the
// MaxChildren slots until wait, and the child ends early (SIGTERM, then
// SIGKILL) when the client hangs up.
func (c *conn) spawn(j *job, payload []byte, fd4 syscall.Conn) (*childProc, error) {
	s := c.s
	if !s.runner.Acquire(context.Background()) {
		return nil, errors.New("cgi: no child slot")
	}
	clientFD, rl, err := c.childClient(j.SendTimeout)
	if err != nil {
		s.runner.Release()
		s.logLine("alert", "cannot make the client socketpair of a c10k child: "+err.Error())
		return nil, err
	}
	pid, pidfd, in, out, err := c.forkChild(clientFD, fd4)
	if rl != nil {
		unix.Close(clientFD) // the child's end: the child holds it now
		rl.start(err == nil)
	}
	if err != nil {
		s.runner.Release()
		s.logLine("alert", "cannot run the c10k child "+s.opts.ChildPath+": "+err.Error())
		return nil, err
	}
	ch := &childProc{s: s, in: in, outF: out, out: bufio.NewReader(out), relay: rl}
	ch.end = cgirun.NewEnder(pid, s.opts.Grace, out)
	ch.end.SetPidFD(pidfd)
	ctx, stop := c.watch()
	ch.watch = stop
	ch.end.Watch(ctx, cgirun.EndGone)
	ch.end.Limit(childLimit, cgirun.EndTimeout)
	b, _ := json.Marshal(j)
	in.Write(append(append(b, '\n'), payload...))
	return ch, nil
}

// childLimit bounds a c10k child's run; each of its stages has its own
// timeout (send_timeout, proxy_read_timeout...) well within it.
const childLimit = 10 * time.Minute

// forkChild starts the c10k binary in child mode with its stdin and
// stdout pipes, the shared stderr, the client socket (clientFD when it
// is not negative: a relay's socketpair end) and fd4. The descriptors
// are passed while their owners hold them (Control), so a concurrent
// close cannot hand the child another file.
func (c *conn) forkChild(clientFD int, fd4 syscall.Conn) (pid, pidfd int, in, out *os.File, err error) {
	s := c.s
	var pin, pout [2]int
	if err = unix.Pipe2(pin[:], unix.O_CLOEXEC); err != nil {
		return
	}
	if err = unix.Pipe2(pout[:], unix.O_CLOEXEC); err != nil {
		unix.Close(pin[0])
		unix.Close(pin[1])
		return
	}
	errfd := s.runner.Stderr()
	if errfd < 0 {
		for _, fd := range []int{pin[0], pin[1], pout[0], pout[1]} {
			unix.Close(fd)
		}
		return 0, -1, nil, nil, errors.New("cgi: no stderr pipe for the child")
	}
	argv := append([]string{s.opts.ChildPath}, s.opts.ChildArgs...)
	pidfd = -1
	start := func(files []uintptr) {
		pid, err = syscall.ForkExec(s.opts.ChildPath, argv, &syscall.ProcAttr{
			Env:   []string{ChildEnv + "=1"},
			Files: files,
			Sys:   &syscall.SysProcAttr{Setpgid: true, PidFD: &pidfd},
		})
	}
	withClient := func(f func(uintptr)) { withFD(c.nc, &err, f) }
	if clientFD >= 0 {
		withClient = func(f func(uintptr)) { f(uintptr(clientFD)) }
	}
	withClient(func(client uintptr) {
		files := []uintptr{uintptr(pin[0]), uintptr(pout[1]), uintptr(errfd), client}
		if fd4 == nil {
			start(files)
			return
		}
		withFD(fd4, &err, func(f uintptr) { start(append(files, f)) })
	})
	unix.Close(pin[0])
	unix.Close(pout[1])
	if err != nil {
		unix.Close(pin[1])
		unix.Close(pout[0])
		return 0, -1, nil, nil, err
	}
	unix.SetNonblock(pin[1], true)
	unix.SetNonblock(pout[0], true)
	return pid, pidfd, os.NewFile(uintptr(pin[1]), "child stdin"), os.NewFile(uintptr(pout[0]), "child stdout"), nil
}

// withFD runs f with the descriptor of sc, held open meanwhile; errors
// getting it are stored in *err.
func withFD(sc syscall.Conn, err *error, f func(fd uintptr)) {
	rc, e := sc.SyscallConn()
	if e == nil {
		e = rc.Control(f)
	}
	if e != nil && *err == nil {
		*err = e
	}
}

// verdict answers the child's "head" report, with the client response
// head when there is one.
func (ch *childProc) verdict(v verdict, head []byte) {
	b, _ := json.Marshal(v)
	ch.in.Write(append(append(b, '\n'), head...))
}

// gone reports whether the child is being ended because the client
// hung up.
func (ch *childProc) gone() bool { return ch.end.Why() == cgirun.EndGone }

// wait closes the child's stdin, reaps it (ending it first if the
// client hung up, or killing one that outlives childLimit), ends the
// hang-up watch and frees its slot. It reports whether the client hung
// up.
func (ch *childProc) wait() (gone bool) {
	ch.in.Close()
	_, why := ch.end.Reap()
	if ch.relay != nil {
		ch.relay.wait() // the child's last bytes reach the client before the next response
	}
	ch.watch()
	ch.outF.Close()
	ch.s.runner.Release()
	return why == cgirun.EndGone
}

// sleep waits d for limit_req; false when the client went away (or the
// connection was closed by a stop) meanwhile.
func (c *conn) sleep(d time.Duration) bool {
	ctx, stop := c.watch()
	defer stop()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
