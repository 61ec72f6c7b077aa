package nethttp

import (
	"io"
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
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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
	conn := cs.conn
	cs.requests++
	p := &cs.plan

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
	cl := p.ContentLength
	if cl < 0 && p.File == nil {
		cl = int64(len(p.Body))
	}
	h.writeHead(w, p, cl, cs)
	if p.HeadOnly || !bodyAllowed(p.Status) || r.Method == http.MethodHead {
		return
	}
	var err error
	switch {
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
