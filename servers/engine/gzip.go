package engine

import (
	"compress/gzip"
	"sync"

	"github.com/c10k/c10k/servers/config"
	"github.com/c10k/c10k/servers/http1"
)

// Field names and values of the gzip filter; shared, never modified.
var (
	hContentEncoding = []byte("Content-Encoding")
	hVary            = []byte("Vary")
	vGzip            = []byte("gzip")
	vAcceptEncoding  = []byte("Accept-Encoding")
)

// maxGzipKeep is the largest compressed-body buffer a Plan keeps
// between requests; a larger one is dropped by Reset.
const maxGzipKeep = 64 << 10

// gzipWriters pools one compress/gzip writer per level (1-9): a writer
// holds about 800 KB of state, far too much to make per request.
var gzipWriters [10]sync.Pool

// appendWriter is an io.Writer appending to a byte slice.
type appendWriter []byte

func (w *appendWriter) Write(b []byte) (int, error) {
	*w = append(*w, b...)
	return len(b), nil
}

// gzip decides, once p's status and header fields are final, whether
// the response is compressed, as nginx 1.22's ngx_http_gzip_header_filter
// and ngx_http_gzip_ok do: gzip on in loc; status 200, 403 or 404 (so
// never a 206); no Content-Encoding yet; a Content-Length, when known,
// of at least gzip_min_length; a type gzip_types lists. Such a response
// gets "Vary: Accept-Encoding" with gzip_vary on, whatever the client
// accepts. It is then compressed when the client accepts gzip
// (Accept-Encoding, q-values honoured), speaks at least
// gzip_http_version, and gzip_proxied allows a request with a Via
// field: Content-Encoding: gzip is added, Accept-Ranges dropped, a
// strong ETag made weak (one that is neither strong nor weak dropped),
// and the length becomes unknown.
//
// An in-memory body (return, error pages, CGI output) is compressed
// here, into the plan's own buffer, and keeps a Content-Length (the
// compressed one). A file region or a proxied body is compressed by the
// core as it sends it: Gzip says so, and ContentLength stays the
// length of the uncompressed body (of the file region to read, of the
// upstream body to expect) while the head announces none
// (coreio.Framing): chunked to HTTP/1.1 clients, close-delimited to
// HTTP/1.0 ones. A HEAD response gets the head of the GET one.
func (e *Engine) gzip(p *Plan, loc *config.Location) {
	p.Gzip = 0
	st := &p.st
	if loc == nil || !loc.Gzip.On || p.Close || st.req == nil || p.CGI != nil {
		return
	}
	g := &loc.Gzip
	switch p.Status {
	case 200, 403, 404:
	default:
		return
	}
	if len(p.Header.Get("Content-Encoding")) > 0 {
		return
	}
	if p.ContentLength >= 0 && p.ContentLength < g.MinLength {
		return
	}
	if !g.TypeMatches(p.Header.Get("Content-Type")) {
		return
	}
	if g.Vary {
		p.addHeader(hVary, vAcceptEncoding)
	}
	if !gzipOK(st.req, g, p.Header) {
		return
	}
	p.addHeader(hContentEncoding, vGzip)
	p.dropHeader(hAcceptRanges)
	p.weakETag()
	p.Gzip = g.Level
	if p.File == nil && p.Proxy == nil && !p.HeadOnly {
		p.compressBody(g.Level)
	}
}

// gzipOK is ngx_http_gzip_ok: whether the client of req may get a
// gzip-compressed response with header h.
func gzipOK(req *http1.Request, g *config.Gzip, h http1.Header) bool {
	if !AcceptsGzip(req.Header.Get("Accept-Encoding")) {
		return false
	}
	if req.Major == 1 && req.Minor < g.HTTPMinor {
		return false
	}
	if !req.Header.Has("Via") {
		return true
	}
	bits := g.Proxied
	switch {
	case bits&config.GzipProxiedOff != 0:
		return false
	case bits&config.GzipProxiedAny != 0:
		return true
	case bits&config.GzipProxiedAuth != 0 && req.Header.Has("Authorization"):
		return true
	case bits&config.GzipProxiedExpired != 0 && h.Has("Expires"):
		return true
	case bits&config.GzipProxiedNoLastModified != 0 && !h.Has("Last-Modified"):
		return true
	case bits&config.GzipProxiedNoETag != 0 && !h.Has("ETag"):
		return true
	}
	cc := h.Get("Cache-Control")
	return bits&config.GzipProxiedNoCache != 0 && containsFold(cc, "no-cache") ||
		bits&config.GzipProxiedNoStore != 0 && containsFold(cc, "no-store") ||
		bits&config.GzipProxiedPrivate != 0 && containsFold(cc, "private")
}

// AcceptsGzip reports whether an Accept-Encoding value (the first
// field; nil when absent) allows gzip, as nginx 1.22's
// ngx_http_gzip_accept_encoding: "gzip" as a whole token (after the
// start, "," or " "), optionally followed by a q-value, which must not
// be zero. "*" and "x-gzip" are not taken as gzip, as in nginx.
func AcceptsGzip(ae []byte) bool {
	if len(ae) < 4 {
		return false
	}
	i := 0
	for {
		j := indexFold(ae[i:], "gzip")
		if j < 0 {
			return false
		}
		j += i
		if j == 0 || ae[j-1] == ',' || ae[j-1] == ' ' {
			i = j + 4
			break
		}
		i = j + 4
	}
	for i < len(ae) {
		c := ae[i]
		i++
		switch c {
		case ',':
			return true
		case ';':
			return acceptQuality(ae[i:])
		case ' ':
		default:
			return false
		}
	}
	return true
}

// acceptQuality parses what follows "gzip;": " q=VALUE", and reports
// whether VALUE is above zero (ngx_http_gzip_quantity: at most three
// decimals; a malformed value counts as zero).
func acceptQuality(b []byte) bool {
	i := 0
	for i < len(b) && b[i] == ' ' {
		i++
	}
	if i == len(b) {
		return true
	}
	if b[i] != 'q' && b[i] != 'Q' {
		return false
	}
	i++
	if i+2 > len(b) || b[i] != '=' {
		return false
	}
	i++
	b = b[i:]
	if len(b) == 0 {
		return false
	}
	// ngx_http_gzip_quantity
	if b[0] < '0' || b[0] > '1' {
		return false
	}
	q := int(b[0]-'0') * 1000
	b = b[1:]
	if len(b) > 0 && b[0] == '.' {
		b = b[1:]
		dec := 0
		scale := 100
		for len(b) > 0 && b[0] >= '0' && b[0] <= '9' {
			dec++
			if dec > 3 {
				return false
			}
			q += int(b[0]-'0') * scale
			scale /= 10
			b = b[1:]
		}
	}
	if len(b) > 0 && b[0] != ',' && b[0] != ' ' && b[0] != ';' {
		return false
	}
	return q > 0 && q <= 1000
}

// indexFold returns the index of the first case-insensitive match of
// s (lowercase) in b, or -1.
func indexFold(b []byte, s string) int {
	for i := 0; i+len(s) <= len(b); i++ {
		if http1.EqualFold(b[i:i+len(s)], s) {
			return i
		}
	}
	return -1
}

func containsFold(b []byte, s string) bool { return indexFold(b, s) >= 0 }

// weakETag makes a strong ETag weak, as ngx_http_weak_etag: "W/" is
// put before a quoted value, a weak one is kept, and anything else is
// dropped.
func (p *Plan) weakETag() {
	for i := range p.Header {
		f := &p.Header[i]
		if !http1.EqualFold(f.Name, "ETag") {
			continue
		}
		v := f.Value
		switch {
		case len(v) >= 2 && v[0] == 'W' && v[1] == '/':
		case len(v) > 0 && v[0] == '"':
			n := len(p.arena)
			p.arena = append(p.arena, "W/"...)
			p.arena = append(p.arena, v...)
			f.Value = p.arena[n:]
		default:
			p.dropHeader(hETag)
			return
		}
	}
}

// compressBody replaces Body with its gzip compression at level, made
// in the plan's own buffer, and ContentLength with its length.
func (p *Plan) compressBody(level int) {
	w := (*appendWriter)(&p.gz)
	*w = (*w)[:0]
	zw := gzipWriter(level, w)
	zw.Write(p.Body)
	zw.Close()
	zw.Reset(nil)
	gzipWriters[level].Put(zw)
	p.Body = p.gz
	p.ContentLength = int64(len(p.gz))
	p.Gzip = 0 // the body is compressed already: the core sends it as it is
}

// gzipWriter takes a pooled writer of level (1-9) writing to w.
func gzipWriter(level int, w *appendWriter) *gzip.Writer {
	if zw, ok := gzipWriters[level].Get().(*gzip.Writer); ok {
		zw.Reset(w)
		return zw
	}
	zw, _ := gzip.NewWriterLevel(w, level)
	return zw
}
