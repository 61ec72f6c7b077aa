package cgiproto

import (
	"bytes"
	"errors"

	"github.com/c10k/c10k/servers/http1"
)

// Limits of a response header block. They match Apache's mod_cgi
// (HUGE_STRING_LEN lines, 100 fields): a program that writes more has a
// broken header.
const (
	MaxHead   = 32 << 10 // bytes of the whole header block, final empty line included
	MaxFields = 100      // header fields
)

// Errors of ParseHead. Each is the reason a core logs with its 502.
var (
	// ErrIncomplete says the header block has not ended yet: feed more
	// output. At the end of the output it means the program wrote no
	// complete header block ("premature end of script headers").
	ErrIncomplete = errors.New("cgi: premature end of script headers")
	ErrNoHeader   = errors.New("cgi: script wrote no header fields")
	ErrTooLarge   = errors.New("cgi: script header block too large")
	ErrTooMany    = errors.New("cgi: too many script header fields")
	ErrField      = errors.New("cgi: malformed script header field")
	ErrStatus     = errors.New(`cgi: invalid "Status" script header`)
	ErrLocation   = errors.New(`cgi: invalid "Location" script header`)
)

// Kind is the type of a CGI response (RFC 3875 section 6.2).
type Kind int

const (
	// Document is a document response: Status (default 200),
	// Content-Type and a body.
	Document Kind = iota
	// LocalRedirect is a Location holding a local path ("/x?y") without
	// a Status other than 200: the server serves that URI instead, as
	// if the client had asked for it (Apache's rule).
	LocalRedirect
	// ClientRedirect is a Location the client is sent to: an absolute
	// URI, or a path with a Status; 302 unless Status says otherwise.
	ClientRedirect
)

// String returns "document", "local-redirect" or "client-redirect".
func (k Kind) String() string {
	switch k {
	case Document:
		return "document"
	case LocalRedirect:
		return "local-redirect"
	case ClientRedirect:
		return "client-redirect"
	}
	return "Kind(?)"
}

// Head is a parsed response header block. Its byte slices alias the
// buffer given to ParseHead.
type Head struct {
	Kind        Kind
	Status      int    // from Status; 200 for a document and 302 for a client redirect without one
	Reason      []byte // the reason phrase of Status; nil when absent
	ContentType []byte // nil when absent
	Location    []byte // nil when absent
	// Header holds every other field, in order; Status, Content-Type
	// and Location are not in it.
	Header http1.Header
}

// Reset clears h for the next response, keeping Header's capacity.
func (h *Head) Reset() { *h = Head{Header: h.Header[:0]} }

// ParseHead parses the header block at the start of out, a CGI
// program's output so far. Lines end with LF or CRLF; the block ends
// with an empty line. It returns the length of the block (the body
// starts at out[n:]), or ErrIncomplete when out holds no complete block
// yet and is shorter than MaxHead, or another error for a broken block.
// Field names are checked as HTTP tokens and values for control bytes,
// so nothing a program writes can split the response head.
func ParseHead(out []byte, h *Head) (n int, err error) {
	h.Reset()
	fields := 0
	for {
		i := bytes.IndexByte(out[n:], '\n')
		if i < 0 {
			if len(out) >= MaxHead {
				return 0, ErrTooLarge
			}
			return 0, ErrIncomplete
		}
		line := out[n : n+i]
		n += i + 1
		if n > MaxHead {
			return 0, ErrTooLarge
		}
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if len(line) == 0 {
			break
		}
		if fields++; fields > MaxFields {
			return 0, ErrTooMany
		}
		if err := h.field(line); err != nil {
			return 0, err
		}
	}
	if fields == 0 {
		return 0, ErrNoHeader
	}
	if err := h.classify(); err != nil {
		return 0, err
	}
	return n, nil
}

func (h *Head) field(line []byte) error {
	c := bytes.IndexByte(line, ':')
	if c <= 0 {
		return ErrField
	}
	name, value := line[:c], trim(line[c+1:])
	if !http1.ValidFieldName(name) || !http1.ValidFieldValue(value) || hasCTL(value) {
		return ErrField
	}
	switch {
	case http1.EqualFold(name, "Status"):
		if h.Status != 0 {
			return ErrStatus
		}
		return h.status(value)
	case http1.EqualFold(name, "Content-Type"):
		if h.ContentType != nil {
			return ErrField
		}
		h.ContentType = value
	case http1.EqualFold(name, "Location"):
		if h.Location != nil || len(value) == 0 {
			return ErrLocation
		}
		h.Location = value
	default:
		h.Header = append(h.Header, http1.Field{Name: name, Value: value})
	}
	return nil
}

// status parses "3DIGIT [SP reason]".
func (h *Head) status(v []byte) error {
	if len(v) < 3 || len(v) > 3 && v[3] != ' ' && v[3] != '\t' {
		return ErrStatus
	}
	s := 0
	for _, c := range v[:3] {
		if c < '0' || c > '9' {
			return ErrStatus
		}
		s = s*10 + int(c-'0')
	}
	if s < 100 || s > 999 {
		return ErrStatus
	}
	h.Status = s
	h.Reason = trim(v[3:])
	if len(h.Reason) == 0 {
		h.Reason = nil
	}
	return nil
}

func (h *Head) classify() error {
	switch {
	case h.Location == nil:
		h.Kind = Document
		if h.Status == 0 {
			h.Status = 200
		}
	case h.Location[0] == '/':
		if len(h.Location) > 1 && h.Location[1] == '/' {
			return ErrLocation // "//host/x" is a network-path reference, not a local path
		}
		if h.Status == 0 || h.Status == 200 {
			h.Kind, h.Status = LocalRedirect, 200
			return nil
		}
		h.Kind = ClientRedirect
	default:
		if !absoluteURI(h.Location) {
			return ErrLocation
		}
		h.Kind = ClientRedirect
		if h.Status == 0 {
			h.Status = 302
		}
	}
	return nil
}

// absoluteURI reports whether u starts with "scheme:" (RFC 3986).
func absoluteURI(u []byte) bool {
	for i, c := range u {
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':':
			return true
		default:
			return false
		}
	}
	return false
}

func trim(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// hasCTL reports control bytes other than HTAB, which http1 lets
// through in values it parses but a program's output must not carry
// into a response head.
func hasCTL(v []byte) bool {
	for _, c := range v {
		if c < ' ' && c != '\t' || c == 0x7f {
			return true
		}
	}
	return false
}
