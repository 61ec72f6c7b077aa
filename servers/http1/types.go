package http1

// Field is one header field. Name and Value alias the buffer the message
// was parsed from (or the caller's arena when building a response) and are
// valid only until that buffer is reused.
type Field struct {
	Name  []byte
	Value []byte
}

// Header is an ordered list of fields; duplicates are kept in order.
type Header []Field

// Get returns the value of the first field named name (ASCII
// case-insensitive), or nil. It does not allocate.
func (h Header) Get(name string) []byte {
	for i := range h {
		if EqualFold(h[i].Name, name) {
			return h[i].Value
		}
	}
	return nil
}

// Has reports whether a field named name is present.
func (h Header) Has(name string) bool {
	for i := range h {
		if EqualFold(h[i].Name, name) {
			return true
		}
	}
	return false
}

// EqualFold reports whether b and s are equal under ASCII case folding,
// as field names and tokens compare.
func EqualFold[T string | []byte](b []byte, s T) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// Request is a parsed request head. Byte slices alias the parse buffer.
// A Request is reused across requests on a connection: Reset clears it
// but keeps the capacity of Header.
type Request struct {
	Method []byte
	Target []byte // request-target exactly as sent
	Path   []byte // Target up to '?', still percent-encoded
	Query  []byte // after '?', without it; nil when there is none
	Major  int    // HTTP major version (1)
	Minor  int    // HTTP minor version (0 or 1)
	Header Header

	Host []byte // Host header value (or authority of an absolute target), port included

	// Framing, derived from the header while parsing.
	ContentLength int64 // -1 when no Content-Length header
	Chunked       bool  // Transfer-Encoding: chunked
	KeepAlive     bool  // HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with "Connection: keep-alive"
	Expect100     bool  // "Expect: 100-continue"
}

// Reset clears r for reuse, keeping allocated capacity.
func (r *Request) Reset() {
	h := r.Header[:0]
	*r = Request{Header: h, ContentLength: -1}
}

// HasBody reports whether a body follows the head.
func (r *Request) HasBody() bool { return r.Chunked || r.ContentLength > 0 }

// InitBody sets b up to decode the body that follows r.
func (r *Request) InitBody(b *Body) { b.Init(r.ContentLength, r.Chunked, false) }

// Response is a parsed response head (from an upstream), aliasing the
// parse buffer like Request.
type Response struct {
	Major, Minor  int
	Status        int
	Reason        []byte
	Header        Header
	ContentLength int64 // -1 when absent
	Chunked       bool
	KeepAlive     bool // the upstream connection may be reused after the body
	NoBody        bool // no body follows: HEAD request, 1xx, 204 or 304
	UntilClose    bool // the body ends when the upstream closes the connection
}

// Interim reports whether r is an interim (1xx) response, after which the
// final response follows on the same connection. 101 Switching Protocols
// is not interim: the connection stops speaking HTTP/1.1.
func (r *Response) Interim() bool { return r.Status >= 100 && r.Status < 200 && r.Status != 101 }

// InitBody sets b up to decode the body that follows r.
func (r *Response) InitBody(b *Body) {
	if r.NoBody {
		b.Init(0, false, false)
		return
	}
	b.Init(r.ContentLength, r.Chunked, r.UntilClose)
}

// Reset clears r for reuse, keeping allocated capacity.
func (r *Response) Reset() {
	h := r.Header[:0]
	*r = Response{Header: h, ContentLength: -1}
}
