package servertest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// IOTimeout bounds every read and write of the suite's client, so that a
// broken core fails a test instead of hanging it.
const IOTimeout = 5 * time.Second

// Limits of the client's parser: a core that exceeds them is broken.
const (
	maxLineLength = 64 << 10
	maxHeaders    = 200
	maxBodyLength = 64 << 20
)

// Framing says how a response body was delimited.
type Framing string

// The framings a response can have.
const (
	FramingNone    Framing = "none"    // HEAD, 1xx, 204, 304: no body by definition
	FramingLength  Framing = "length"  // Content-Length
	FramingChunked Framing = "chunked" // Transfer-Encoding: chunked
	FramingClose   Framing = "close"   // read until the server closed
)

// Field is one header field of a response, as received.
type Field struct {
	Name, Value string
}

// Response is one response read by a Conn.
type Response struct {
	Proto   string // "HTTP/1.1" or "HTTP/1.0"
	Status  int
	Reason  string
	Header  []Field // in received order, duplicates kept
	Trailer []Field // chunked trailer fields
	Body    []byte
	Framing Framing
}

// Get returns the value of the first field named name (case-insensitive),
// or "".
func (r *Response) Get(name string) string {
	for _, f := range r.Header {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// Has reports whether a field named name was received.
func (r *Response) Has(name string) bool {
	for _, f := range r.Header {
		if strings.EqualFold(f.Name, name) {
			return true
		}
	}
	return false
}

// Values returns the values of all fields named name, in order.
func (r *Response) Values(name string) []string {
	var vs []string
	for _, f := range r.Header {
		if strings.EqualFold(f.Name, name) {
			vs = append(vs, f.Value)
		}
	}
	return vs
}

// HasToken reports whether the comma-separated field name contains token
// (case-insensitive), as in "Connection: close".
func (r *Response) HasToken(name, token string) bool {
	for _, v := range r.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// String summarizes r for failure messages.
func (r *Response) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %d %s\n", r.Proto, r.Status, r.Reason)
	for _, f := range r.Header {
		fmt.Fprintf(&b, "%s: %s\n", f.Name, f.Value)
	}
	body := r.Body
	const show = 200
	if len(body) > show {
		fmt.Fprintf(&b, "\n%q... (%d bytes, %s)", body[:show], len(body), r.Framing)
	} else {
		fmt.Fprintf(&b, "\n%q (%s)", body, r.Framing)
	}
	return b.String()
}

// Conn is a raw client connection: it writes exact bytes and parses
// responses strictly, so that framing errors of a core are not hidden.
type Conn struct {
	nc net.Conn
	br *bufio.Reader
}

// Dial connects to addr within IOTimeout.
func Dial(addr string) (*Conn, error) {
	d := net.Dialer{Timeout: IOTimeout}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return NewConn(nc), nil
}

// DialSmallWindow connects to addr with a receive buffer of rcvbuf
// bytes, set before the handshake so the TCP window stays small: a
// client on a slow network, whose reading little soon stops the
// server's writes. The connection closes when the test ends.
func DialSmallWindow(t testing.TB, addr string, rcvbuf int) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: IOTimeout, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

// NewConn wraps an established connection.
func NewConn(nc net.Conn) *Conn {
	return &Conn{nc: nc, br: bufio.NewReaderSize(nc, maxLineLength)}
}

// Close closes the connection.
func (c *Conn) Close() error { return c.nc.Close() }

// Write sends b in one write call, within IOTimeout.
func (c *Conn) Write(b []byte) error {
	if err := c.nc.SetWriteDeadline(time.Now().Add(IOTimeout)); err != nil {
		return err
	}
	_, err := c.nc.Write(b)
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// RoundTrip writes req and reads the final response to it, skipping
// interim 1xx responses. method says whether a body may follow.
func (c *Conn) RoundTrip(method string, req []byte) (*Response, error) {
	if err := c.Write(req); err != nil {
		return nil, err
	}
	for {
		r, err := c.ReadResponse(method)
		if err != nil {
			return nil, err
		}
		if r.Status >= 200 {
			return r, nil
		}
	}
}

// ReadResponse reads one response (interim responses included) to a
// request with the given method, within IOTimeout.
func (c *Conn) ReadResponse(method string) (*Response, error) {
	if err := c.readDeadline(IOTimeout); err != nil {
		return nil, err
	}
	line, err := c.line()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("read status line: %w (connection closed before a response)", err)
		}
		return nil, fmt.Errorf("read status line: %w", err)
	}
	r := &Response{}
	if err := parseStatusLine(line, r); err != nil {
		return nil, err
	}
	if r.Header, err = c.fields(); err != nil {
		return nil, fmt.Errorf("read header of %d response: %w", r.Status, err)
	}
	if err := c.body(method, r); err != nil {
		return r, fmt.Errorf("read body of %d response: %w", r.Status, err)
	}
	return r, nil
}

// ExpectClosed waits up to IOTimeout for the server to close the
// connection; it returns an error if data arrives or the wait times out.
func (c *Conn) ExpectClosed() error { return c.expectClosedWithin(IOTimeout) }

// expectClosedWithin waits up to d for the server to close the
// connection without sending anything more.
func (c *Conn) expectClosedWithin(d time.Duration) error {
	if err := c.readDeadline(d); err != nil {
		return err
	}
	var b [512]byte
	n, err := c.br.Read(b[:])
	switch {
	case n > 0:
		return fmt.Errorf("connection not closed: unexpected data %q", b[:n])
	case isClosed(err):
		return nil
	case isTimeout(err):
		return fmt.Errorf("connection still open after %v", d)
	default:
		return fmt.Errorf("waiting for the close: %w", err)
	}
}

// readDeadline sets the read deadline d from now. A connection whose
// peer has closed (net.Pipe refuses deadlines then) is left to the read
// to report.
func (c *Conn) readDeadline(d time.Duration) error {
	err := c.nc.SetReadDeadline(time.Now().Add(d))
	if err != nil && !errors.Is(err, io.ErrClosedPipe) {
		return err
	}
	return nil
}

func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrClosedPipe)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// line reads one CRLF-terminated line without its CRLF. A bare LF is an
// error: the cores must write CRLF.
func (c *Conn) line() ([]byte, error) {
	b, err := c.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("line longer than %d bytes", maxLineLength)
	}
	if err != nil {
		if len(b) > 0 && errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("truncated line %q: %w", b, io.ErrUnexpectedEOF)
		}
		return nil, err
	}
	if len(b) < 2 || b[len(b)-2] != '\r' {
		return nil, fmt.Errorf("line %q not terminated by CRLF", b)
	}
	return bytes.Clone(b[:len(b)-2]), nil
}

func parseStatusLine(line []byte, r *Response) error {
	s := string(line)
	proto, rest, ok := strings.Cut(s, " ")
	if !ok || (proto != "HTTP/1.1" && proto != "HTTP/1.0") {
		return fmt.Errorf("malformed status line %q", s)
	}
	code, reason, ok := strings.Cut(rest, " ")
	if !ok || len(code) != 3 {
		return fmt.Errorf("malformed status line %q", s)
	}
	n, err := strconv.Atoi(code)
	if err != nil || n < 100 || n > 599 {
		return fmt.Errorf("malformed status code in %q", s)
	}
	r.Proto, r.Status, r.Reason = proto, n, reason
	return nil
}

// fields reads header (or trailer) fields up to the empty line.
func (c *Conn) fields() ([]Field, error) {
	var fs []Field
	for {
		line, err := c.line()
		if err != nil {
			return nil, err
		}
		if len(line) == 0 {
			return fs, nil
		}
		if len(fs) == maxHeaders {
			return nil, fmt.Errorf("more than %d fields", maxHeaders)
		}
		if line[0] == ' ' || line[0] == '\t' {
			return nil, fmt.Errorf("obsolete line folding %q", line)
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || !isToken(name) {
			return nil, fmt.Errorf("malformed field %q", line)
		}
		fs = append(fs, Field{string(name), string(bytes.Trim(value, " \t"))})
	}
}

func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// body reads r's body with the framing RFC 9112 section 6.3 gives it.
func (c *Conn) body(method string, r *Response) error {
	if method == "HEAD" || r.Status < 200 || r.Status == 204 || r.Status == 304 {
		r.Framing = FramingNone
		return nil
	}
	te, cl := r.Values("Transfer-Encoding"), r.Values("Content-Length")
	if len(te) > 0 && len(cl) > 0 {
		return fmt.Errorf("both Transfer-Encoding %q and Content-Length %q", te, cl)
	}
	if len(te) > 0 {
		codings := strings.Split(strings.Join(te, ","), ",")
		if !strings.EqualFold(strings.TrimSpace(codings[len(codings)-1]), "chunked") {
			r.Framing = FramingClose
			return c.untilClose(r)
		}
		r.Framing = FramingChunked
		return c.chunked(r)
	}
	if len(cl) > 0 {
		for _, v := range cl[1:] {
			if v != cl[0] {
				return fmt.Errorf("differing Content-Length fields %q", cl)
			}
		}
		n, err := strconv.ParseInt(cl[0], 10, 64)
		if err != nil || n < 0 || cl[0][0] == '+' {
			return fmt.Errorf("malformed Content-Length %q", cl[0])
		}
		if n > maxBodyLength {
			return fmt.Errorf("Content-Length %d over the client's limit", n)
		}
		r.Framing = FramingLength
		r.Body = make([]byte, n)
		if _, err := io.ReadFull(c.br, r.Body); err != nil {
			return fmt.Errorf("reading %d-byte body: %w", n, err)
		}
		return nil
	}
	r.Framing = FramingClose
	return c.untilClose(r)
}

func (c *Conn) untilClose(r *Response) error {
	b, err := io.ReadAll(io.LimitReader(c.br, maxBodyLength+1))
	r.Body = b
	if err != nil && !isClosed(err) {
		return fmt.Errorf("reading close-delimited body: %w", err)
	}
	if len(b) > maxBodyLength {
		return fmt.Errorf("close-delimited body over the client's limit")
	}
	return nil
}

func (c *Conn) chunked(r *Response) error {
	var body []byte
	for {
		line, err := c.line()
		if err != nil {
			return fmt.Errorf("chunk size: %w", err)
		}
		size, _, _ := bytes.Cut(line, []byte(";"))
		size = bytes.TrimRight(size, " \t")
		n, err := strconv.ParseUint(string(size), 16, 63)
		if err != nil || len(size) == 0 || len(size) > 16 {
			return fmt.Errorf("malformed chunk size line %q", line)
		}
		if n == 0 {
			break
		}
		if int64(len(body))+int64(n) > maxBodyLength {
			return fmt.Errorf("chunked body over the client's limit")
		}
		start := len(body)
		body = append(body, make([]byte, n)...)
		if _, err := io.ReadFull(c.br, body[start:]); err != nil {
			return fmt.Errorf("chunk data: %w", err)
		}
		crlf, err := c.line()
		if err != nil || len(crlf) != 0 {
			return fmt.Errorf("chunk data not followed by CRLF (%q, %v)", crlf, err)
		}
	}
	r.Body = body
	if body == nil {
		r.Body = []byte{}
	}
	t, err := c.fields()
	if err != nil {
		return fmt.Errorf("trailer: %w", err)
	}
	r.Trailer = t
	return nil
}
