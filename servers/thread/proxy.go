package thread

import (
	"errors"
	"time"

	"golang.org/x/sys/unix"

	"github.com/c10k/c10k/servers/engine"
	"github.com/c10k/c10k/servers/http1"
	"github.com/c10k/c10k/servers/internal/coreio"
)

const (
	upstreamHeadBuffer = 32 << 10
	// proxyMemBase is the upstream-body buffer a worker keeps; a buffered
	// response larger than this borrows a Options.ProxyBuffer-sized one
	// from the Server's pool for the rest of the request.
	proxyMemBase = 16 << 10
)

// upConn is an upstream connection: owned by one worker while in use, by
// the pool while idle.
type upConn struct {
	sock
	requests int // requests sent on it
}

// Alive, Requests and Close make an upConn a coreio.PoolConn.
func (c upConn) Alive() bool   { return coreio.Alive(c.fd) }
func (c upConn) Requests() int { return c.requests }
func (c upConn) Close() error  { return unix.Close(c.fd) }

// upstreamState is a worker's reusable proxy state.
type upstreamState struct {
	head   []byte  // upstream response head; the plan's header aliases it
	hn     int     // bytes in head
	hs     int     // end of the parsed head within head
	rd     []byte  // upstream body reads
	mem    []byte  // proxy_buffering memory: small, or *big while borrowed
	small  []byte  // the worker's own proxyMemBase buffer
	big    *[]byte // a buffer borrowed from Server.mem; nil when none
	resp   http1.Response
	parser http1.Parser
	dec    http1.Body
	conn   upConn
	tmp    coreio.RespSpool // the buffered body past mem: a temp file
	got    bool             // any response byte arrived on the current attempt
}

// appendMem appends data to the buffered upstream body, moving it to a
// buffer borrowed from s's pool when the worker's small one is full.
func (u *upstreamState) appendMem(s *Server, data []byte) {
	if u.big == nil && len(u.mem)+len(data) > cap(u.mem) {
		b, _ := s.mem.Get().(*[]byte)
		if b == nil {
			// Room for ProxyBuffer plus the one read that crosses it.
			nb := make([]byte, 0, s.opts.ProxyBuffer+streamChunk)
			b = &nb
		}
		u.big = b
		u.mem = append((*b)[:0], u.mem...)
	}
	u.mem = append(u.mem, data...)
}

// releaseMem empties the buffered upstream body, returns a borrowed
// buffer to s's pool and closes the temp file, if any.
func (u *upstreamState) releaseMem(s *Server) {
	u.tmp.Close()
	if u.big != nil {
		s.mem.Put(u.big)
		u.big = nil
	}
	u.mem = u.small[:0]
}

// proxy runs a reverse-proxy plan: read the client body, then for each
// attempt connect (or reuse), send, read the head, and stream or buffer
// the body to the client. It returns whether the client connection
// stays open.
func (w *worker) proxy(p *engine.Plan) bool {
	h := &w.http
	u := &h.up
	px := p.Proxy
	if u.head == nil {
		u.head = make([]byte, upstreamHeadBuffer)
		u.rd = make([]byte, streamChunk)
		u.small = make([]byte, 0, proxyMemBase)
		u.mem = u.small
	}
	h.body.Reset()
	if h.req.HasBody() {
		if p.SendContinue(&h.req) && !h.buffered() {
			h.sock.setWriteTimeout(p.SendTimeout)
			if err := h.sock.write(http1.Continue100); err != nil {
				w.closeClient(h.c.fd, false)
				return false
			}
		}
		if err := w.readBody(p, 0); err != nil {
			if err == coreio.ErrTooLarge {
				return w.reject(p, 413)
			}
			return w.bodyFailed(p, err)
		}
		px.SetBody(h.body.Len())
	}
	isHead := coreio.IsHead(&h.req)
attempts:
	for {
		addr, ok := px.Next()
		if !ok {
			break
		}
		// Per attempt: an error_page may have moved the exchange to
		// another location.
		connectTO, sendTO, readTO := px.Timeouts()
		if err := w.attempt(px, addr, connectTO, sendTO, readTO, isHead); err != nil {
			w.dropUpstream()
			if px.Failed(coreio.Classify(err), false) {
				continue
			}
			break
		}
		if px.Response(&u.resp) {
			w.dropUpstream()
			continue
		}
		switch w.proxyBody(p, px, addr, isHead) {
		case bodySent:
			return true
		case bodyClosed:
			return false
		case bodyFailedRetry:
			continue
		case bodyFailedError:
			break attempts
		}
	}
	p.Proxy = nil
	return w.finish(p)
}

// bodyOutcome is how proxyBody ended an attempt.
type bodyOutcome int

const (
	bodySent        bodyOutcome = iota // response sent; the client connection stays open
	bodyClosed                         // the client connection is closed (done, cut, or failed)
	bodyFailedRetry                    // the upstream failed before any byte reached the client; try the next peer
	bodyFailedError                    // the same, and no attempt is left: the plan is the error response
)

// attempt sends the request to addr and reads the response head. A
// pooled connection that fails before any response byte is retried once
// on a fresh connection without counting a failure, as nginx does. On
// failure, px holds the stage and the error text for its log line.
func (w *worker) attempt(px *engine.Proxy, addr string, connectTO, sendTO, readTO time.Duration, isHead bool) error {
	h := &w.http
	u := &h.up
	idle, idleTO, maxReq := px.Pool()
	pooled := false
	if idle > 0 {
		u.conn, pooled = w.s.pool.Get(addr, idleTO, maxReq, time.Now())
	}
	for {
		if !pooled {
			px.SetStage(engine.StageConnect)
			if err := w.connect(addr, connectTO); err != nil {
				px.SetError(coreio.UpstreamError(err, engine.StageConnect))
				return err
			}
		}
		w.setUpstream(u.conn.fd, false)
		u.conn.requests++
		u.got = false
		stage, err := w.exchange(px, sendTO, readTO, isHead)
		if err == nil {
			return nil
		}
		if pooled && !u.got && coreio.Stale(err) {
			w.dropUpstream()
			pooled = false
			continue
		}
		px.SetStage(stage)
		px.SetError(coreio.UpstreamError(err, stage))
		return err
	}
}

// connect opens a fresh connection to addr as the current upstream one.
func (w *worker) connect(addr string, timeout time.Duration) error {
	if w.s.killed.Load() {
		return coreio.ErrClosed
	}
	ap, err := coreio.Resolve(addr)
	if err != nil {
		return err
	}
	fd, err := dial(ap, timeout)
	if err != nil {
		return err
	}
	w.http.up.conn = upConn{sock: sock{fd: fd}}
	return nil
}

// exchange writes the request head and body on the current upstream
// connection and reads the response head, skipping 1xx responses. It
// returns the stage an error happened in.
func (w *worker) exchange(px *engine.Proxy, sendTO, readTO time.Duration, isHead bool) (engine.Stage, error) {
	h := &w.http
	u := &h.up
	c := &u.conn
	if err := c.setWriteTimeout(sendTO); err != nil {
		return engine.StageSend, err
	}
	if err := c.setReadTimeout(readTO); err != nil {
		return engine.StageSend, err
	}
	if f := h.body.File(); f != nil {
		// A body larger than coreio.SpoolMemory: from its temp file.
		// u.rd is free until the response body, so it serves as the
		// sendfile fallback's buffer.
		if err := c.writeMore(px.Head()); err != nil {
			return engine.StageSend, err
		}
		if err := c.sendfile(f, 0, h.body.Len(), u.rd); err != nil {
			return engine.StageSend, err
		}
	} else if err := c.writev2(&h.iov, px.Head(), h.body.Bytes()); err != nil {
		return engine.StageSend, err
	}
	u.hn = 0
	u.parser.Reset()
	for {
		if u.hn == len(u.head) {
			return engine.StageReadHeader, coreio.ErrInvalidHead
		}
		n, err := c.read(u.head[u.hn:])
		if err != nil {
			return engine.StageReadHeader, err
		}
		u.got = true
		u.hn += n
		for {
			m, err := u.parser.ParseResponse(u.head[:u.hn], &u.resp, isHead)
			if err == http1.ErrIncomplete {
				break
			}
			if err != nil {
				return engine.StageReadHeader, coreio.ErrInvalidHead
			}
			if u.resp.Interim() {
				u.hn = copy(u.head, u.head[m:u.hn])
				if u.hn == 0 {
					break
				}
				continue
			}
			u.hs = m
			return 0, nil
		}
	}
}

// dropUpstream closes the current upstream connection.
func (w *worker) dropUpstream() {
	w.setUpstream(-1, true)
}

// releaseUpstream returns the current upstream connection to the pool
// when the exchange allows it, else closes it.
func (w *worker) releaseUpstream(px *engine.Proxy, addr string) {
	u := &w.http.up
	idle, _, maxReq := px.Pool()
	if idle <= 0 || !u.resp.KeepAlive || !u.dec.Done() || (maxReq > 0 && u.conn.requests >= maxReq) || w.s.closing.Load() {
		w.dropUpstream()
		return
	}
	w.setUpstream(-1, false)
	w.s.pool.Put(addr, u.conn, idle, time.Now())
}

// proxyBody sends the client response head and the upstream body. With
// proxy_buffering on, the body is buffered first, so the upstream is
// released before a slow client is written to: in memory up to
// Options.ProxyBuffer, the rest in a temp file up to coreio.MaxTempFile
// (spool); a larger body is streamed from there on. With proxy_buffering
// off it is streamed as it arrives. An upstream failure while buffering,
// before any byte went to the client, is an attempt failure like one
// before the head (another peer, or the 502/504 plan); once bytes went
// out, the client connection is cut.
func (w *worker) proxyBody(p *engine.Plan, px *engine.Proxy, addr string, isHead bool) bodyOutcome {
	h := &w.http
	u := &h.up
	resp := &u.resp
	resp.InitBody(&u.dec)
	pending := u.head[u.hs:u.hn]

	u.releaseMem(w.s)
	var rest []byte // body bytes the temp file could not take
	if px.Buffering() {
		for !u.dec.Done() && len(u.mem) < w.s.opts.ProxyBuffer {
			data, left, eof, err := w.upDecode(pending)
			if err != nil {
				return w.upstreamBroken(px, err, false)
			}
			if eof {
				break
			}
			pending = left
			u.appendMem(w.s, data)
			px.CacheBody(data)
		}
		if u.dec.Done() {
			w.releaseUpstream(px, addr)
			if p.ContentLength < 0 && !p.HeadOnly {
				p.ContentLength = int64(len(u.mem))
			}
			p.Body = u.mem
			px.Done() // stores a cached response before the client can ask again
			ok := w.respond(p, false)
			if ok && w.afterResponse(p) {
				return bodySent
			}
			return bodyClosed
		}
		var out bodyOutcome
		var done bool
		if pending, rest, out, done = w.spool(p, px, addr, pending); done {
			return out
		}
	}

	// Stream: head, what is buffered (memory, temp file, rest), then the
	// remainder as it arrives. What is buffered goes out as one chunk.
	// The CRLF that ends a chunk goes out with the next write (crlf), so
	// no body byte is copied into h.out.
	held := int64(len(u.mem)) + u.tmp.Len() + int64(len(rest))
	head, chunkOut := w.appendHead(h.out[:0], p, coreio.HeadLength(p))
	if p.Gzip != 0 && !p.HeadOnly {
		return w.streamGzip(p, px, addr, head, chunkOut, rest, pending)
	}
	crlf := false
	if chunkOut && held > 0 {
		head = coreio.AppendChunkSize(head, int(held))
		crlf = true
	}
	h.out = head[:0]
	h.sock.setWriteTimeout(p.SendTimeout)
	if err := w.sendHeld(head, rest, nil); err != nil {
		return w.clientBroken(px, err)
	}
	for !u.dec.Done() {
		if len(pending) == 0 {
			n, rerr := u.conn.read(u.rd)
			if rerr == coreio.ErrClosed {
				if rerr = u.dec.EOF(); rerr == nil {
					break
				}
			}
			if rerr != nil {
				return w.upstreamBroken(px, rerr, true)
			}
			pending = u.rd[:n]
		}
		data, n, derr := u.dec.Decode(pending)
		if derr != nil {
			return w.upstreamBroken(px, coreio.ErrInvalidHead, true)
		}
		pending = pending[n:]
		if len(data) == 0 || p.HeadOnly {
			continue
		}
		px.CacheBody(data)
		var err error
		if chunkOut {
			out := h.out[:0]
			if crlf {
				out = append(out, "\r\n"...)
			}
			out = coreio.AppendChunkSize(out, len(data))
			h.out = out[:0]
			err = h.sock.writev2(&h.iov, out, data)
			crlf = true
		} else {
			err = h.sock.write(data)
		}
		if err != nil {
			return w.clientBroken(px, err)
		}
	}
	w.releaseUpstream(px, addr)
	px.Done()
	if chunkOut {
		out := h.out[:0]
		if crlf {
			out = append(out, "\r\n"...)
		}
		out = http1.AppendLastChunk(out)
		h.out = out[:0]
		if err := h.sock.write(out); err != nil {
			w.closeClient(h.c.fd, false)
			return bodyClosed
		}
	}
	if w.afterResponse(p) {
		return bodySent
	}
	return bodyClosed
}

// spool goes on buffering a body that outgrew the memory buffer (u.mem)
// into the worker's temp file, as nginx does up to
// proxy_max_temp_file_size, until the body ends or the file holds
// Server.maxTemp bytes; pending are upstream bytes read but not yet
// decoded. A whole body is answered here (done): the upstream is released
// and px told the attempt succeeded, as on the memory path, and then
// the head, u.mem and the file go to the client, so a slow client holds
// the worker but no longer the upstream (nor an app server's worker
// behind it). A failure of the upstream meanwhile is the attempt's, as
// on the memory path (done too). Otherwise — the file is full, or it
// cannot be written — the caller streams: the head, u.mem, the file,
// then rest (decoded bytes the file could not take), then pending and
// what follows.
func (w *worker) spool(p *engine.Plan, px *engine.Proxy, addr string, pending []byte) (left, rest []byte, out bodyOutcome, done bool) {
	u := &w.http.up
	total := int64(len(u.mem))
	// One Decode yields at most len(pending) bytes, and pending is at most
	// one read (u.rd) or the rest of the head buffer: checked before each,
	// the file never grows past maxTemp.
	room := w.s.maxTemp.Load() - int64(max(len(u.rd), len(u.head)))
	for !u.dec.Done() && u.tmp.Len() <= room {
		data, left, eof, err := w.upDecode(pending)
		if err != nil {
			return nil, nil, w.upstreamBroken(px, err, false), true
		}
		if eof {
			break
		}
		pending = left
		total += int64(len(data))
		if len(data) == 0 || p.HeadOnly {
			continue
		}
		px.CacheBody(data)
		if _, err := u.tmp.Write(data); err != nil {
			// The disk, not the upstream, failed and nothing went to
			// the client yet: a 500, as nginx and the event core do.
			w.logClient("crit", err, "while reading upstream")
			w.dropUpstream()
			u.tmp.Close()
			u.releaseMem(w.s)
			px.DonePartial()
			w.reject(p, 500)
			return nil, nil, bodyClosed, true
		}
	}
	if !u.dec.Done() {
		return pending, nil, 0, false
	}
	w.releaseUpstream(px, addr)
	px.Done()
	if p.ContentLength < 0 {
		p.ContentLength = total // as the memory path: the length is known now
	}
	ok := w.respondSpooled(p)
	u.tmp.Close()
	if ok && w.afterResponse(p) {
		return nil, nil, bodySent, true
	}
	return nil, nil, bodyClosed, true
}

// upDecode reads from the upstream when nothing is pending and decodes
// the next piece of its body: the data, what is left pending, and eof
// for a close-delimited body complete. An error is the attempt's: the
// read failed, or the body is malformed (coreio.ErrInvalidHead).
func (w *worker) upDecode(pending []byte) (data, left []byte, eof bool, err error) {
	u := &w.http.up
	if len(pending) == 0 {
		n, err := u.conn.read(u.rd)
		if err == coreio.ErrClosed {
			if err = u.dec.EOF(); err == nil {
				return nil, nil, true, nil
			}
		}
		if err != nil {
			return nil, nil, false, err
		}
		pending = u.rd[:n]
	}
	data, n, err := u.dec.Decode(pending)
	if err != nil {
		return nil, nil, false, coreio.ErrInvalidHead
	}
	return data, pending[n:], false, nil
}

// respondSpooled writes the head of p and the whole upstream body it
// buffered: u.mem, then the temp file with sendfile(2), each write
// bounded by send_timeout. It returns false when the connection failed
// and has been closed.
func (w *worker) respondSpooled(p *engine.Plan) bool {
	h := &w.http
	if coreio.Silent(p) {
		w.closeClient(h.c.fd, false)
		return false
	}
	_, hasBody := coreio.Framing(p)
	head, chunked := w.appendHead(h.out[:0], p, coreio.HeadLength(p))
	h.out = head[:0]
	h.sock.setWriteTimeout(p.SendTimeout)
	var err error
	if hasBody && p.Gzip != 0 {
		err = w.sendHeldGzip(p, head, chunked, nil)
		if err == nil {
			h.gz.Close()
			err = h.gz.WriteTo(h.sock.write)
		}
	} else if hasBody {
		// u.rd is free: the upstream exchange is over.
		err = w.sendHeld(head, nil, h.up.rd)
	} else {
		err = h.sock.write(head)
	}
	if err != nil {
		w.logClient("warn", err, "while sending response to client")
		w.closeClient(h.c.fd, false)
		return false
	}
	return true
}

// sendHeld writes head and the body bytes buffered so far: u.mem, the
// temp file with sendfile(2) (MSG_MORE before it, so the pieces share
// segments), then rest. scratch is sendfile's fallback buffer; nil
// uses the worker's file-copy buffer. The temp file is closed once sent.
func (w *worker) sendHeld(head, rest, scratch []byte) error {
	h := &w.http
	u := &h.up
	f := u.tmp.File()
	if f == nil || u.tmp.Len() == 0 {
		if err := h.sock.writev2(&h.iov, head, u.mem); err != nil {
			return err
		}
		return h.sock.write(rest)
	}
	if err := h.sock.writeMore(head); err != nil {
		return err
	}
	if err := h.sock.writeMore(u.mem); err != nil {
		return err
	}
	if scratch == nil {
		if h.scratch == nil {
			h.scratch = make([]byte, streamChunk)
		}
		scratch = h.scratch
	}
	err := h.sock.sendfile(f, 0, u.tmp.Len(), scratch)
	u.tmp.Close()
	if err != nil {
		return err
	}
	return h.sock.write(rest)
}

// upstreamBroken handles an upstream failure while its body is read.
// Before anything reached the client (sent false) the failure is the
// attempt's, as before the head: the engine allows another peer or makes
// the plan its error response (502, 504 for a timeout); nothing of the
// failed response is sent. After (sent), the response cannot be fixed:
// the client connection is closed at once, without a last chunk, so the
// client sees a truncated response, as with nginx.
func (w *worker) upstreamBroken(px *engine.Proxy, err error, sent bool) bodyOutcome {
	px.SetStage(engine.StageRead)
	px.SetError(coreio.UpstreamError(err, engine.StageRead))
	w.dropUpstream()
	retry := px.Failed(coreio.Classify(err), sent)
	if sent {
		w.closeClient(w.http.c.fd, false)
		return bodyClosed
	}
	w.http.up.releaseMem(w.s)
	if retry {
		return bodyFailedRetry
	}
	return bodyFailedError
}

// clientBroken handles a client write failure mid-response: the upstream
// was fine, so the attempt counts as a success, but both sides close.
func (w *worker) clientBroken(px *engine.Proxy, err error) bodyOutcome {
	w.logClient("info", err, "while sending to client")
	w.dropUpstream()
	px.DonePartial() // the body was not read whole: nothing is cached
	w.closeClient(w.http.c.fd, false)
	return bodyClosed
}

// reject answers the current request with status and closes.
func (w *worker) reject(p *engine.Plan, status int) bool {
	h := &w.http
	closeFile(p) // Reset does not close it
	p.Reset()
	h.e.Reject(status, h.conn, p)
	if w.respond(p, true) {
		w.closeClient(h.c.fd, true)
	}
	return false
}

// bodyFailed ends a request whose body could not be read: a malformed
// body is answered (400, 413) before closing, an I/O failure just closes.
func (w *worker) bodyFailed(p *engine.Plan, err error) bool {
	w.logClient("info", err, "while reading client request body")
	switch {
	case err == coreio.ErrTooLarge:
		return w.reject(p, 413)
	case errors.Is(err, coreio.ErrSpool):
		return w.reject(p, 500) // nginx: 500 when the temp file fails
	}
	if st := http1.StatusOf(err); st >= 400 && err != coreio.ErrClosed && err != coreio.ErrTimeout {
		var he *http1.Error
		if errors.As(err, &he) {
			return w.reject(p, st)
		}
	}
	w.closeClient(w.http.c.fd, false)
	return false
}

// finish sends a local plan whose request body has been dealt with.
func (w *worker) finish(p *engine.Plan) bool {
	if !w.respond(p, false) {
		return false
	}
	return w.afterResponse(p)
}

// afterResponse closes the connection unless the plan keeps it alive.
func (w *worker) afterResponse(p *engine.Plan) bool {
	if p.KeepAlive && !w.s.closing.Load() {
		return true
	}
	w.closeClient(w.http.c.fd, p.Status >= 400)
	return false
}

// sendHeldGzip is sendHeld for a body the worker compresses
// (engine.Plan.Gzip): head, then u.mem, the temp file and rest through
// the worker's coreio.Gzip, whose body stays open for what follows.
func (w *worker) sendHeldGzip(p *engine.Plan, head []byte, chunked bool, rest []byte) error {
	h := &w.http
	u := &h.up
	if err := h.sock.writeMore(head); err != nil {
		return err
	}
	h.gz.Start(p.Gzip, chunked)
	h.gz.Write(u.mem)
	if f := u.tmp.File(); f != nil && u.tmp.Len() > 0 {
		if h.scratch == nil {
			h.scratch = make([]byte, streamChunk)
		}
		err := h.gz.CopyFile(f, 0, u.tmp.Len(), h.scratch, h.sock.write)
		u.tmp.Close()
		if err != nil {
			return err
		}
	}
	h.gz.Write(rest)
	return h.gz.WriteTo(h.sock.write)
}

// streamGzip is the streaming part of proxyBody for a body the worker
// compresses: what is buffered, then the rest of the upstream body as
// it arrives, each piece compressed and sent (a gzip sync flush per
// upstream read, so the client sees it as the upstream sends it), then
// the end of the gzip stream and of the chunked body.
func (w *worker) streamGzip(p *engine.Plan, px *engine.Proxy, addr string, head []byte, chunked bool, rest, pending []byte) bodyOutcome {
	h := &w.http
	u := &h.up
	h.out = head[:0]
	h.sock.setWriteTimeout(p.SendTimeout)
	err := w.sendHeldGzip(p, head, chunked, rest)
	if err == nil {
		// Out now, uncorked: the head and what is buffered, before the
		// upstream sends more.
		h.gz.Flush()
		err = h.gz.WriteTo(h.sock.write)
	}
	if err != nil {
		h.gz.Release()
		return w.clientBroken(px, err)
	}
	for !u.dec.Done() {
		if len(pending) == 0 {
			n, rerr := u.conn.read(u.rd)
			if rerr == coreio.ErrClosed {
				if rerr = u.dec.EOF(); rerr == nil {
					break
				}
			}
			if rerr != nil {
				h.gz.Release()
				return w.upstreamBroken(px, rerr, true)
			}
			pending = u.rd[:n]
		}
		data, n, derr := u.dec.Decode(pending)
		if derr != nil {
			h.gz.Release()
			return w.upstreamBroken(px, coreio.ErrInvalidHead, true)
		}
		pending = pending[n:]
		if len(data) == 0 {
			continue
		}
		px.CacheBody(data)
		h.gz.Write(data)
		if len(pending) == 0 {
			h.gz.Flush()
		}
		if err := h.gz.WriteTo(h.sock.write); err != nil {
			h.gz.Release()
			return w.clientBroken(px, err)
		}
	}
	w.releaseUpstream(px, addr)
	px.Done()
	h.gz.Close()
	if err := h.gz.WriteTo(h.sock.write); err != nil {
		w.closeClient(h.c.fd, false)
		return bodyClosed
	}
	if w.afterResponse(p) {
		return bodySent
	}
	return bodyClosed
}
