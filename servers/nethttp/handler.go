package nethttp

import (
	"time"

	"bufio"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"

	"github.com/c10k/c10k/servers/engine"
	"github.com/c10k/c10k/servers/http1"
	"github.com/c10k/c10k/servers/internal/coreio"
)

// handler serves one listener's requests through the engine.
type handler struct {
	s     *Server
	index int // the listener's index in the engine the Server started with
}

// ServeHTTP converts r to the engine's request, plans the response with
// engine.Serve and executes the plan on w.
func (h *handler) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	cw := &countWriter{ResponseWriter: rw}
	var w http.ResponseWriter = cw
	cs, _ := r.Context().Value(connKey{}).(*connState)
	if cs == nil {
		cs = &connState{}
	}
	// The request's engine, for all of it: a reload from now on changes
	// the next request, not this one.
	e := h.s.ref.Load()
	conf, index := h.conf(e)
	cs.e = e
	defer func() { cs.e = nil }()
	cs.conn = engine.Conn{Listener: index, Local: cs.local, Remote: cs.remote, Requests: cs.requests}
	if cs.tls != nil {
		cs.tls.SetConn(&cs.conn) // the handshake is done: net/http read the request through it
	}
	conn := cs.conn
	cs.requests++
	p := &cs.plan
	p.Reset()
	// The end of the request, however it ends (a cut response panics
	// with http.ErrAbortHandler): the access log, with what was written.
	defer func() {
		p.SetHeadSize(int(cw.head))
		p.End(cw.head + cw.body)
	}()

	// Rebuild the head net/http parsed and read it with the engine's
	// parser, so Host, framing and keep-alive follow the engine's rules.
	cs.head = appendRequestHead(cs.head[:0], r)
	var req http1.Request
	req.Reset()
	lim, _ := coreio.HeadLimits(conf)
	parser := http1.Parser{Limits: lim}
	if _, err := parser.Parse(cs.head, &req); err != nil {
		e.Reject(http1.StatusOf(err), conn, p)
		h.respond(w, r, p, cs)
		return
	}
	e.Serve(&req, conn, p)
	if p.Delay > 0 {
		// limit_req delays the request: this goroutine sleeps (or the
		// client leaves), then the engine resumes it.
		t := time.NewTimer(p.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
		e.Serve(&req, conn, p)
	}
	if p.CGI != nil && h.cgi(w, r, &req, p, cs) {
		return
	}
	if p.Proxy != nil {
		h.proxy(w, r, &req, p, cs)
		return
	}
	h.respond(w, r, p, cs)
}

// conf returns the handler's listener as e configures it, and its index
// in e's listeners.
func (h *handler) conf(e *coreio.Engine) (engine.Listener, int) {
	conf, index, _ := e.Listener(h.index)
	return conf, index
}

// appendRequestHead appends an HTTP/1.x request head equivalent to r:
// the request line as sent, Host, the fields in name order (net/http
// keeps them in a map), and the framing net/http consumed.
func appendRequestHead(dst []byte, r *http.Request) []byte {
	dst = append(dst, r.Method...)
	dst = append(dst, ' ')
	dst = append(dst, r.RequestURI...)
	dst = append(dst, " HTTP/1."...)
	dst = strconv.AppendInt(dst, int64(r.ProtoMinor), 10)
	dst = append(dst, "\r\n"...)
	if r.Host != "" {
		dst = append(dst, "Host: "...)
		dst = append(dst, r.Host...)
		dst = append(dst, "\r\n"...)
	}
	names := make([]string, 0, len(r.Header))
	for k := range r.Header {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		if k == "Host" || k == "Transfer-Encoding" {
			continue
		}
		for _, v := range r.Header[k] {
			dst = append(dst, k...)
			dst = append(dst, ": "...)
			dst = append(dst, v...)
			dst = append(dst, "\r\n"...)
		}
	}
	if slices.Contains(r.TransferEncoding, "chunked") {
		dst = append(dst, "Transfer-Encoding: chunked\r\n"...)
	}
	return append(dst, "\r\n"...)
}

// ownedField reports whether net/http (or this core) writes the field
// itself.
func ownedField(name []byte) bool {
	for _, n := range [...]string{"Content-Length", "Transfer-Encoding", "Connection", "Date", "Server", "Keep-Alive"} {
		if http1.EqualFold(name, n) {
			return true
		}
	}
	return false
}

// bodyAllowed reports whether a response with status may have a body.
func bodyAllowed(status int) bool {
	return status >= 200 && status != 204 && status != 304
}

// writeHead sets the plan's header on w and writes the status. cl is the
// body length, -1 when unknown (net/http then chunks to HTTP/1.1 clients
// and closes after the body for HTTP/1.0 ones).
func (h *handler) writeHead(w http.ResponseWriter, p *engine.Plan, cl int64, cs *connState) {
	hdr := w.Header()
	for _, f := range p.Header {
		if ownedField(f.Name) {
			continue
		}
		k := string(f.Name)
		hdr[k] = append(hdr[k], string(f.Value))
	}
	if _, ok := hdr["Content-Type"]; !ok {
		hdr["Content-Type"] = nil // no content sniffing: the engine decided
	}
	hdr["Server"] = []string{cs.e.Software()}
	if cl >= 0 && bodyAllowed(p.Status) {
		hdr["Content-Length"] = []string{strconv.FormatInt(cl, 10)}
	}
	if !p.KeepAlive {
		hdr["Connection"] = []string{"close"}
	}
	w.WriteHeader(p.Status)
}

// respond executes a plan with an in-memory or file body.
func (h *handler) respond(w http.ResponseWriter, r *http.Request, p *engine.Plan, cs *connState) {
	if p.File != nil {
		defer p.CloseFile()
	}
	if coreio.Silent(p) {
		closeConn(w)
		return
	}
	cl, _ := coreio.Framing(p)
	h.writeHead(w, p, cl, cs)
	if p.HeadOnly || !bodyAllowed(p.Status) || r.Method == http.MethodHead {
		return
	}
	var err error
	switch {
	case p.Gzip != 0:
		err = sendGzip(w, p, &cs.gz)
	case p.File != nil && cl > 0 && p.Sendfile && !p.FileShared():
		// io.CopyN hands net/http an *io.LimitedReader of an *os.File,
		// which it sends with sendfile(2).
		if _, err = p.File.Seek(p.Offset, io.SeekStart); err == nil {
			_, err = io.CopyN(w, p.File, cl)
		}
	case p.File != nil && cl > 0:
		// sendfile off, or an open_file_cache descriptor other requests
		// share (net/http's sendfile moves the file offset): a plain
		// reader at explicit offsets, copied through a buffer.
		_, err = io.Copy(w, readerOnly{io.NewSectionReader(p.File, p.Offset, cl)})
	case p.File == nil:
		_, err = w.Write(p.Body)
	}
	if err != nil {
		h.s.log.logf("info", "%v while sending response to client, client: %s, request: \"%s %s %s\"", err, r.RemoteAddr, r.Method, r.RequestURI, r.Proto)
		panic(http.ErrAbortHandler) // the response is cut: close the connection
	}
}

// readerOnly hides every method but Read, so io.Copy uses a buffer.
type readerOnly struct{ r io.Reader }

func (o readerOnly) Read(b []byte) (int, error) { return o.r.Read(b) }

// closeConn closes the client connection without a response (444).
func closeConn(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	c, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	c.Close()
}

// countWriter counts what the handler writes, for the access log: the
// body bytes passed to net/http, and the head estimated from the header
// map when the status is written (net/http writes the head itself,
// buffered; the count is what it was given, not what the socket took).
type countWriter struct {
	http.ResponseWriter
	head, body int64
}

func (c *countWriter) WriteHeader(status int) {
	if c.head == 0 {
		var n countBytes
		c.ResponseWriter.Header().Write(&n)
		// "HTTP/1.1 200 OK\r\n", "Date: ...\r\n", the final CRLF.
		c.head = int64(n) + int64(len("HTTP/1.1 000 \r\n")+len(http.StatusText(status))) + 37 + 2
	}
	c.ResponseWriter.WriteHeader(status)
}

func (c *countWriter) Write(b []byte) (int, error) {
	if c.head == 0 {
		c.WriteHeader(http.StatusOK)
	}
	n, err := c.ResponseWriter.Write(b)
	c.body += int64(n)
	return n, err
}

// ReadFrom keeps net/http's sendfile path.
func (c *countWriter) ReadFrom(r io.Reader) (int64, error) {
	if c.head == 0 {
		c.WriteHeader(http.StatusOK)
	}
	n, err := c.ResponseWriter.(io.ReaderFrom).ReadFrom(r)
	c.body += n
	return n, err
}

func (c *countWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (c *countWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(c.ResponseWriter).Hijack()
}

// Unwrap gives http.ResponseController the net/http writer.
func (c *countWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// countBytes is an io.Writer that only counts.
type countBytes int

func (n *countBytes) Write(b []byte) (int, error) {
	*n += countBytes(len(b))
	return len(b), nil
}

// sendGzip writes the plan's body (the file region, or Body) to w
// compressed through g (engine.Plan.Gzip); net/http chunks it.
func sendGzip(w http.ResponseWriter, p *engine.Plan, g *coreio.Gzip) error {
	g.Start(p.Gzip, false)
	defer g.Release()
	if p.File == nil {
		return g.SendBytes(p.Body, writeFunc(w))
	}
	return g.SendFile(p.File, p.Offset, p.ContentLength, make([]byte, 32<<10), writeFunc(w))
}

// writeFunc adapts w to the write callbacks of coreio.Gzip.
func writeFunc(w io.Writer) func([]byte) error {
	return func(b []byte) error {
		_, err := w.Write(b)
		return err
	}
}
