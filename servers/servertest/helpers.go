package servertest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/c10k/c10k/servers/backend"
)

// loopBudget bounds the wall time of every request loop of the suite.
const loopBudget = 30 * time.Second

// request renders a request head: the request line (HTTP/1.1), Host
// (omitted when host is ""), the given fields, and the empty line.
func request(method, target, host string, fields ...string) string {
	return requestProto(method, target, "HTTP/1.1", host, fields...)
}

func requestProto(method, target, proto, host string, fields ...string) string {
	var b strings.Builder
	b.WriteString(method + " " + target + " " + proto + "\r\n")
	if host != "" {
		b.WriteString("Host: " + host + "\r\n")
	}
	for _, f := range fields {
		b.WriteString(f + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

// dial connects to the core; the connection is closed in t.Cleanup.
func (s *suite) dial(t *testing.T) *Conn {
	t.Helper()
	return dialAddr(t, s.addr)
}

// dialAddr connects to addr or fails t; the connection is closed in
// t.Cleanup.
func dialAddr(t *testing.T, addr string) *Conn {
	t.Helper()
	c, err := Dial(addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip writes req on c and reads the final response to it.
func roundTrip(t *testing.T, c *Conn, method, req string) *Response {
	t.Helper()
	r, err := c.RoundTrip(method, []byte(req))
	if err != nil {
		t.Fatalf("%s: %v", firstLine(req), err)
	}
	return r
}

// fetch sends one request on a fresh connection.
func (s *suite) fetch(t *testing.T, method, target, host string, fields ...string) *Response {
	t.Helper()
	return roundTrip(t, s.dial(t), method, request(method, target, host, fields...))
}

func firstLine(req string) string {
	l, _, _ := strings.Cut(req, "\r\n")
	if len(l) > 120 {
		l = l[:120] + "..."
	}
	return l
}

// wantStatus fails t unless r's status is one of codes.
func wantStatus(t *testing.T, r *Response, codes ...int) bool {
	t.Helper()
	if slices.Contains(codes, r.Status) {
		return true
	}
	t.Errorf("status %d, want %v; response:\n%s", r.Status, codes, r)
	return false
}

// wantHeader fails t unless r's field name has exactly the value want.
func wantHeader(t *testing.T, r *Response, name, want string) {
	t.Helper()
	if vs := r.Values(name); len(vs) != 1 || vs[0] != want {
		t.Errorf("%s: %q, want exactly %q", name, vs, want)
	}
}

// wantBody fails t unless r's body is want.
func wantBody(t *testing.T, r *Response, want []byte) {
	t.Helper()
	if string(r.Body) != string(want) {
		if len(want) > 200 || len(r.Body) > 200 {
			t.Errorf("body: %d bytes (sha256 %s), want %d bytes (sha256 %s)", len(r.Body), sum(r.Body), len(want), sum(want))
		} else {
			t.Errorf("body: %q, want %q", r.Body, want)
		}
	}
}

// wantCommon checks the fields nginx sends on every response: Date (an
// IMF-fixdate) and Server.
func wantCommon(t *testing.T, r *Response) {
	t.Helper()
	if d := r.Get("Date"); d == "" {
		t.Error("no Date field")
	} else if _, err := time.Parse(http.TimeFormat, d); err != nil {
		t.Errorf("Date %q is not an IMF-fixdate: %v", d, err)
	}
	if r.Get("Server") == "" {
		t.Error("no Server field")
	}
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// echo decodes the backend's JSON echo in r.
func echo(t *testing.T, r *Response) *backend.Echo {
	t.Helper()
	var e backend.Echo
	if err := json.Unmarshal(r.Body, &e); err != nil {
		t.Fatalf("response is not a backend echo: %v; response:\n%s", err, r)
	}
	return &e
}

// payload returns n deterministic bytes that are not all the same.
func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// chunk renders b as one chunk of a chunked body.
func chunk(b []byte) string { return fmt.Sprintf("%x\r\n%s\r\n", len(b), b) }

// UploadRequest is a POST of body to target on Host x: with
// Content-Length, or chunked in chunks of at most 100,000 bytes.
func UploadRequest(target string, body []byte, chunked bool) string {
	var b strings.Builder
	b.WriteString("POST " + target + " HTTP/1.1\r\nHost: x\r\n")
	if !chunked {
		b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n")
		b.Write(body)
		return b.String()
	}
	b.WriteString("Transfer-Encoding: chunked\r\n\r\n")
	for rest := body; len(rest) > 0; {
		n := min(len(rest), 100000)
		b.WriteString(strconv.FormatInt(int64(n), 16) + "\r\n")
		b.Write(rest[:n])
		b.WriteString("\r\n")
		rest = rest[n:]
	}
	b.WriteString("0\r\n\r\n")
	return b.String()
}
