package nethttp

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/c10k/c10k/servers/engine"
	"github.com/c10k/c10k/servers/http1"
	"github.com/c10k/c10k/servers/internal/coreio"
	"github.com/c10k/c10k/servers/upstream"
)

const (
	upstreamHeadBuffer = 32 << 10
	streamChunk        = 32 << 10
)

// upState is a connection's reusable proxy state.
type upState struct {
	head   []byte
	rd     []byte
	resp   http1.Response
	parser http1.Parser
	dec    http1.Body
}

// proxy runs a reverse-proxy plan as servers/thread does: read the client
// body, then per attempt dial, send, read the response head and stream
// the body. There is no upstream keepalive pool (see the package
// documentation).
func (h *handler) proxy(w http.ResponseWriter, r *http.Request, req *http1.Request, p *engine.Plan, cs *connState) {
	px := p.Proxy
	if cs.up == nil {
		cs.up = &upState{head: make([]byte, upstreamHeadBuffer), rd: make([]byte, streamChunk)}
	}
	u := cs.up
	cs.body = cs.body[:0]
	if req.HasBody() {
		body, err := readBody(cs.body, r.Body, p)
		cs.body = body
		switch {
		case errors.Is(err, coreio.ErrTooLarge):
			h.reject(w, r, p, cs, 413)
			return
		case err != nil:
			h.s.log.logf("info", "%v while reading client request body, client: %s", err, r.RemoteAddr)
			h.reject(w, r, p, cs, 400)
			return
		}
		px.SetBody(int64(len(cs.body)))
	}
	isHead := r.Method == http.MethodHead
	for {
		addr, ok := px.Next()
		if !ok {
			break
		}
		conn, pending, err := h.attempt(r, px, addr, cs.body, u, isHead)
		if err != nil {
			if px.Failed(coreio.Classify(err), false) {
				continue
			}
			break
		}
		if px.Response(&u.resp) {
			conn.Close()
			continue
		}
		h.proxyBody(w, p, px, conn, pending, cs)
		return
	}
	p.Proxy = nil
	h.respond(w, r, p, cs)
}

// reject answers the request with status and closes the connection.
func (h *handler) reject(w http.ResponseWriter, r *http.Request, p *engine.Plan, cs *connState, status int) {
	cs.e.Reject(status, cs.conn, p)
	h.respond(w, r, p, cs)
}

// readBody appends all of body to dst, failing with coreio.ErrTooLarge
// when the plan finds it too large (engine.Plan.BodyTooLarge).
func readBody(dst []byte, body io.Reader, p *engine.Plan) ([]byte, error) {
	var chunk [16 << 10]byte
	for {
		n, err := body.Read(chunk[:])
		dst = append(dst, chunk[:n]...)
		if p.BodyTooLarge(int64(len(dst))) {
			return dst, coreio.ErrTooLarge
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

// attempt dials addr, sends the request and reads the response head into
// u.resp, skipping 1xx responses. It returns the connection and the body
// bytes read past the head.
func (h *handler) attempt(r *http.Request, px *engine.Proxy, addr string, body []byte, u *upState, isHead bool) (net.Conn, []byte, error) {
	connectTO, sendTO, readTO := px.Timeouts()
	px.SetStage(engine.StageConnect)
	d := net.Dialer{Timeout: connectTO}
	conn, err := d.DialContext(r.Context(), "tcp", addr)
	if err != nil {
		call := "connect()"
		if coreio.OutOfFiles(err) {
			call = "socket()" // no descriptor: this server's failure (upstream.FailLocal)
		}
		px.SetError(upstreamError(err, call))
		return nil, nil, err
	}
	fail := func(stage engine.Stage, call string, err error) (net.Conn, []byte, error) {
		conn.Close()
		px.SetStage(stage)
		px.SetError(upstreamError(err, call))
		return nil, nil, err
	}
	px.SetStage(engine.StageSend)
	setDeadline(conn.SetWriteDeadline, sendTO)
	bufs := net.Buffers{px.Head(), body}
	if _, err := bufs.WriteTo(conn); err != nil {
		return fail(engine.StageSend, "writev()", err)
	}
	u.parser.Reset()
	hn := 0
	for {
		if hn == len(u.head) {
			return fail(engine.StageReadHeader, "", coreio.ErrInvalidHead)
		}
		setDeadline(conn.SetReadDeadline, readTO)
		n, err := conn.Read(u.head[hn:])
		hn += n
		if err != nil && n == 0 {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return fail(engine.StageReadHeader, "recv()", err)
		}
		for hn > 0 {
			m, err := u.parser.ParseResponse(u.head[:hn], &u.resp, isHead)
			if err == http1.ErrIncomplete {
				break
			}
			if err != nil {
				return fail(engine.StageReadHeader, "", coreio.ErrInvalidHead)
			}
			if u.resp.Interim() {
				hn = copy(u.head, u.head[m:hn])
				continue
			}
			return conn, u.head[m:hn], nil
		}
	}
}

// proxyBody sends the client response head and streams the upstream body.
// A failure after the head went out cuts the client connection.
func (h *handler) proxyBody(w http.ResponseWriter, p *engine.Plan, px *engine.Proxy, conn net.Conn, pending []byte, cs *connState) {
	u := cs.up
	defer conn.Close()
	_, _, readTO := px.Timeouts()
	u.resp.InitBody(&u.dec)
	h.writeHead(w, p, coreio.HeadLength(p), cs)
	gzip := p.Gzip != 0 && !p.HeadOnly
	if gzip {
		cs.gz.Start(p.Gzip, false) // net/http frames the body itself
		defer cs.gz.Release()
	}
	for !u.dec.Done() {
		if len(pending) == 0 {
			setDeadline(conn.SetReadDeadline, readTO)
			n, err := conn.Read(u.rd)
			if n == 0 && err == io.EOF {
				if err = u.dec.EOF(); err == nil {
					break // close-delimited body complete
				}
			}
			if n == 0 && err != nil {
				px.SetStage(engine.StageRead)
				px.SetError(upstreamError(err, "recv()"))
				px.Failed(coreio.Classify(err), true)
				panic(http.ErrAbortHandler)
			}
			pending = u.rd[:n]
		}
		data, n, err := u.dec.Decode(pending)
		if err != nil {
			px.SetStage(engine.StageRead)
			px.Failed(upstream.FailInvalidHeader, true)
			panic(http.ErrAbortHandler)
		}
		pending = pending[n:]
		if !p.HeadOnly {
			px.CacheBody(data)
		}
		if len(data) > 0 && gzip {
			cs.gz.Write(data)
			if len(pending) == 0 {
				cs.gz.Flush() // the client sees each upstream read
			}
			if err := cs.gz.WriteTo(writeFunc(w)); err != nil {
				px.DonePartial()
				panic(http.ErrAbortHandler)
			}
		} else if len(data) > 0 && !p.HeadOnly {
			if _, err := w.Write(data); err != nil {
				px.DonePartial() // the upstream was fine; the client went away
				panic(http.ErrAbortHandler)
			}
		}
	}
	px.Done() // the body was read whole: a cached response is stored
	if gzip {
		cs.gz.Close()
		if err := cs.gz.WriteTo(writeFunc(w)); err != nil {
			panic(http.ErrAbortHandler)
		}
	}
}

func setDeadline(set func(time.Time) error, d time.Duration) {
	if d > 0 {
		set(time.Now().Add(d))
	} else {
		set(time.Time{})
	}
}

// upstreamError is the text the engine logs for a failed attempt, like
// nginx: "connect() failed (111: Connection refused)". nil leaves the
// engine's text for the failure kind.
func upstreamError(err error, call string) error {
	var errno syscall.Errno
	if call == "" || !errors.As(err, &errno) {
		return nil
	}
	return fmt.Errorf("%s failed (%d: %s)", call, int(errno), capitalize(errno.Error()))
}

func capitalize(s string) string {
	if s != "" && 'a' <= s[0] && s[0] <= 'z' {
		return string(s[0]-'a'+'A') + s[1:]
	}
	return s
}
