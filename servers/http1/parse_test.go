package http1

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// describe renders the outcome of a parse for comparisons.
func describe(n int, err error, r *Request) string {
	if err != nil {
		return fmt.Sprintf("err %d %v", StatusOf(err), err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "n=%d %s %q path=%q query=%q nil=%v %d.%d host=%q cl=%d chunked=%v ka=%v expect=%v",
		n, r.Method, r.Target, r.Path, r.Query, r.Query == nil, r.Major, r.Minor, r.Host,
		r.ContentLength, r.Chunked, r.KeepAlive, r.Expect100)
	for _, f := range r.Header {
		fmt.Fprintf(&b, " [%s=%q]", f.Name, f.Value)
	}
	return b.String()
}

func parseAll(s string) (int, error, *Request) {
	var p Parser
	var r Request
	n, err := p.Parse([]byte(s), &r)
	return n, err, &r
}

func TestParseRequest(t *testing.T) {
	const h = "Host: a.example\r\n"
	tests := []struct {
		name   string
		in     string
		status int                     // 0: success
		check  func(r *Request) string // "" when fine
	}{
		{"simple", "GET /index.html?x=1&y HTTP/1.1\r\n" + h + "\r\n", 0, func(r *Request) string {
			if string(r.Method) != "GET" || string(r.Path) != "/index.html" || string(r.Query) != "x=1&y" ||
				string(r.Host) != "a.example" || !r.KeepAlive || r.ContentLength != -1 || r.Minor != 1 {
				return "fields"
			}
			return ""
		}},
		{"empty query", "GET /a? HTTP/1.1\r\n" + h + "\r\n", 0, func(r *Request) string {
			if r.Query == nil || len(r.Query) != 0 || string(r.Path) != "/a" {
				return "query"
			}
			return ""
		}},
		{"bare LF", "GET / HTTP/1.1\n" + "Host: x\n\n", 0, nil},
		{"leading CRLF", "\r\n\r\nGET / HTTP/1.1\r\n" + h + "\r\n", 0, nil},
		{"leading LF", "\nGET / HTTP/1.1\r\n" + h + "\r\n", 0, nil},
		{"too many empty lines", strings.Repeat("\r\n", 9) + "GET / HTTP/1.1\r\n" + h + "\r\n", 400, nil},
		{"OWS trimmed", "GET / HTTP/1.1\r\nHost:  \t a.example \t\r\nX-A:\r\nX-B: 1  2\r\n\r\n", 0, func(r *Request) string {
			if string(r.Header.Get("x-b")) != "1  2" || r.Header.Get("x-a") == nil && !r.Header.Has("X-A") || string(r.Host) != "a.example" {
				return "values"
			}
			return ""
		}},
		{"htab and obs-text in value", "GET / HTTP/1.1\r\n" + h + "X: a\tb\xff\r\n\r\n", 0, nil},
		{"underscored names ignored", "POST / HTTP/1.1\r\n" + h + "Transfer_Encoding: chunked\r\nContent_Length: 7\r\nX.A: 1\r\nX-B: 2\r\n\r\n", 0, func(r *Request) string {
			if r.Chunked || r.ContentLength != -1 || len(r.Header) != 2 || string(r.Header.Get("X-B")) != "2" {
				return "an underscored or dotted field was not ignored"
			}
			return ""
		}},
		{"TE with spaces", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding:   chunked  \r\n\r\n", 0, func(r *Request) string {
			if !r.Chunked {
				return "not chunked"
			}
			return ""
		}},
		{"http/1.0", "GET / HTTP/1.0\r\n\r\n", 0, func(r *Request) string {
			if r.KeepAlive || r.Host != nil || r.Minor != 0 {
				return "1.0"
			}
			return ""
		}},
		{"http/1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 0, func(r *Request) string {
			if !r.KeepAlive {
				return "keep-alive"
			}
			return ""
		}},
		{"http/1.1 close in list", "GET / HTTP/1.1\r\n" + h + "Connection: upgrade, CLOSE \r\n\r\n", 0, func(r *Request) string {
			if r.KeepAlive {
				return "close"
			}
			return ""
		}},
		{"http/1.1 close in second header", "GET / HTTP/1.1\r\n" + h + "Connection: te\r\nConnection: close\r\n\r\n", 0, func(r *Request) string {
			if r.KeepAlive {
				return "close"
			}
			return ""
		}},
		{"http/1.2 is 1.x", "GET / HTTP/1.2\r\n" + h + "\r\n", 0, nil},
		{"expect", "POST / HTTP/1.1\r\n" + h + "Expect: 100-Continue\r\nContent-Length: 3\r\n\r\n", 0, func(r *Request) string {
			if !r.Expect100 || r.ContentLength != 3 || !r.HasBody() {
				return "expect"
			}
			return ""
		}},
		{"expect ignored in 1.0", "POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", 0, func(r *Request) string {
			if r.Expect100 {
				return "expect"
			}
			return ""
		}},
		{"chunked", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: Chunked \r\n\r\n", 0, func(r *Request) string {
			if !r.Chunked || r.ContentLength != -1 {
				return "chunked"
			}
			return ""
		}},
		{"content-length leading zeros", "POST / HTTP/1.1\r\n" + h + "Content-Length: 007\r\n\r\n", 0, func(r *Request) string {
			if r.ContentLength != 7 {
				return "cl"
			}
			return ""
		}},
		{"content-length max", "POST / HTTP/1.1\r\n" + h + "Content-Length: 9223372036854775807\r\n\r\n", 0, nil},
		{"absolute-form", "GET HTTP://B.example:8080/p/q?z HTTP/1.1\r\n" + h + "\r\n", 0, func(r *Request) string {
			if string(r.Host) != "B.example:8080" || string(r.Path) != "/p/q" || string(r.Query) != "z" {
				return "absolute"
			}
			return ""
		}},
		{"absolute-form no path", "GET https://b.example?q HTTP/1.1\r\n" + h + "\r\n", 0, func(r *Request) string {
			if string(r.Host) != "b.example" || string(r.Path) != "/" || string(r.Query) != "q" {
				return "absolute"
			}
			return ""
		}},
		{"absolute-form 1.0 without host", "GET http://b.example/ HTTP/1.0\r\n\r\n", 0, func(r *Request) string {
			if string(r.Host) != "b.example" {
				return "host"
			}
			return ""
		}},
		{"options star", "OPTIONS * HTTP/1.1\r\n" + h + "\r\n", 0, func(r *Request) string {
			if string(r.Path) != "*" {
				return "star"
			}
			return ""
		}},
		{"extension method", "M-SEARCH_X /x HTTP/1.1\r\n" + h + "\r\n", 0, nil},
		// nginx 1.22 takes only 'A'-'Z', '_' and '-' in a method: 400.
		{"token method", "M-SEARCH! /x HTTP/1.1\r\n" + h + "\r\n", 400, nil},
		{"lowercase method", "get / HTTP/1.1\r\n" + h + "\r\n", 400, nil},
		{"mixed case method", "Get / HTTP/1.1\r\n" + h + "\r\n", 400, nil},
		{"digit in method", "GET2 / HTTP/1.1\r\n" + h + "\r\n", 400, nil},
		{"raw utf-8 target", "GET /caf\xc3\xa9 HTTP/1.1\r\n" + h + "\r\n", 0, nil},
		{"ipv6 host", "GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", 0, nil},

		// Request line.
		{"simple request 0.9", "GET /\r\n\r\n", 400, nil},
		{"method only", "GET\r\n\r\n", 400, nil},
		{"bad method char", "GE(T / HTTP/1.1\r\n" + h + "\r\n", 400, nil},
		{"leading space", " GET / HTTP/1.1\r\n" + h + "\r\n", 400, nil},
		{"double space", "GET  / HTTP/1.1\r\n" + h + "\r\n", 400, nil},
		{"trailing space", "GET / HTTP/1.1 \r\n" + h + "\r\n", 400, nil},
		{"space in target", "GET /a b HTTP/1.1\r\n" + h + "\r\n", 400, nil},
		{"NUL in target", "GET /a\x00 HTTP/1.1\r\n" + h + "\r\n", 400, nil},
		{"DEL in target", "GET /a\x7f HTTP/1.1\r\n" + h + "\r\n", 400, nil},
		{"tab in target", "GET /a\tb HTTP/1.1\r\n" + h + "\r\n", 400, nil},
		{"bare CR in request line", "GET /a\rb HTTP/1.1\r\n" + h + "\r\n", 400, nil},
		{"bare CR at end of request line", "GET / HTTP/1.1\r\r\n" + h + "\r\n", 400, nil},
		{"bare CR empty line", "\r\rGET / HTTP/1.1\r\n" + h + "\r\n", 400, nil},
		{"relative target", "GET a/b HTTP/1.1\r\n" + h + "\r\n", 400, nil},
		{"star not options", "GET * HTTP/1.1\r\n" + h + "\r\n", 400, nil},
		{"authority-form", "CONNECT a.example:443 HTTP/1.1\r\n" + h + "\r\n", 400, nil},
		{"ftp scheme", "GET ftp://a.example/ HTTP/1.1\r\n" + h + "\r\n", 400, nil},
		{"absolute empty authority", "GET http:///x HTTP/1.1\r\n" + h + "\r\n", 400, nil},
		{"absolute userinfo", "GET http://u@a.example/ HTTP/1.1\r\n" + h + "\r\n", 400, nil},
		{"absolute bad host", "GET http://a..example/ HTTP/1.1\r\n" + h + "\r\n", 400, nil},
		{"http/2.0", "GET / HTTP/2.0\r\n" + h + "\r\n", 505, nil},
		{"http/3.0", "GET / HTTP/3.0\r\n" + h + "\r\n", 505, nil},
		{"http/0.9 explicit", "GET / HTTP/0.9\r\n" + h + "\r\n", 400, nil},
		{"h2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, nil},
		{"version 1.x", "GET / HTTP/1.x\r\n" + h + "\r\n", 400, nil},
		{"version 01.1", "GET / HTTP/01.1\r\n" + h + "\r\n", 400, nil},
		{"version 1.10", "GET / HTTP/1.10\r\n" + h + "\r\n", 400, nil},
		{"version lowercase", "GET / http/1.1\r\n" + h + "\r\n", 400, nil},
		{"version short", "GET / HTTP/1\r\n" + h + "\r\n", 400, nil},

		// Header fields.
		{"obs-fold", "GET / HTTP/1.1\r\n" + h + "X: a\r\n b\r\n\r\n", 400, nil},
		{"obs-fold tab", "GET / HTTP/1.1\r\n" + h + "X: a\r\n\tb\r\n\r\n", 400, nil},
		{"first field folded", "GET / HTTP/1.1\r\n " + h + "\r\n", 400, nil},
		{"space before colon", "GET / HTTP/1.1\r\n" + h + "X : a\r\n\r\n", 400, nil},
		{"tab before colon", "GET / HTTP/1.1\r\n" + h + "X\t: a\r\n\r\n", 400, nil},
		{"TE tab before value", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding:\tchunked\r\n\r\n", 501, nil},
		{"TE tab after value", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\t\r\n\r\n", 501, nil},
		{"CL tab before value", "POST / HTTP/1.1\r\n" + h + "Content-Length:\t5\r\n\r\n", 400, nil},
		{"empty name", "GET / HTTP/1.1\r\n" + h + ": a\r\n\r\n", 400, nil},
		{"no colon", "GET / HTTP/1.1\r\n" + h + "X-A\r\n\r\n", 400, nil},
		{"bad name char", "GET / HTTP/1.1\r\n" + h + "X(A): a\r\n\r\n", 400, nil},
		{"NUL in value", "GET / HTTP/1.1\r\n" + h + "X: a\x00b\r\n\r\n", 400, nil},
		{"control in value", "GET / HTTP/1.1\r\n" + h + "X: a\x01b\r\n\r\n", 400, nil},
		{"DEL in value", "GET / HTTP/1.1\r\n" + h + "X: a\x7fb\r\n\r\n", 400, nil},
		{"bare CR in value", "GET / HTTP/1.1\r\n" + h + "X: a\rb\r\n\r\n", 400, nil},
		{"bare CR at end of field", "GET / HTTP/1.1\r\n" + h + "X: a\r\r\n\r\n", 400, nil},
		{"bare CR final line", "GET / HTTP/1.1\r\n" + h + "\r\r\n", 400, nil},
		{"missing host", "GET / HTTP/1.1\r\n\r\n", 400, nil},
		{"two hosts", "GET / HTTP/1.1\r\n" + h + h + "\r\n", 400, nil},
		{"empty host", "GET / HTTP/1.1\r\nHost:\r\n\r\n", 400, nil},
		{"host slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400, nil},
		{"host backslash", "GET / HTTP/1.1\r\nHost: a\\b\r\n\r\n", 400, nil},
		{"host dotdot", "GET / HTTP/1.1\r\nHost: a..b\r\n\r\n", 400, nil},
		{"host space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, nil},
		{"host in 1.0 checked", "GET / HTTP/1.0\r\nHost: ../x\r\n\r\n", 400, nil},

		// Framing.
		{"cl and te", "POST / HTTP/1.1\r\n" + h + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400, nil},
		{"te and cl", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400, nil},
		{"duplicate cl identical", "POST / HTTP/1.1\r\n" + h + "Content-Length: 3\r\nContent-Length: 3\r\n\r\n", 400, nil},
		{"cl list", "POST / HTTP/1.1\r\n" + h + "Content-Length: 5, 5\r\n\r\n", 400, nil},
		{"cl negative", "POST / HTTP/1.1\r\n" + h + "Content-Length: -1\r\n\r\n", 400, nil},
		{"cl plus", "POST / HTTP/1.1\r\n" + h + "Content-Length: +1\r\n\r\n", 400, nil},
		{"cl hex", "POST / HTTP/1.1\r\n" + h + "Content-Length: 0x10\r\n\r\n", 400, nil},
		{"cl empty", "POST / HTTP/1.1\r\n" + h + "Content-Length:\r\n\r\n", 400, nil},
		{"cl overflow", "POST / HTTP/1.1\r\n" + h + "Content-Length: 9223372036854775808\r\n\r\n", 400, nil},
		{"cl huge", "POST / HTTP/1.1\r\n" + h + "Content-Length: 99999999999999999999999\r\n\r\n", 400, nil},
		{"te gzip", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: gzip\r\n\r\n", 501, nil},
		{"te list", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: gzip, chunked\r\n\r\n", 501, nil},
		{"te chunked twice", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked, chunked\r\n\r\n", 501, nil},
		{"te duplicate", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400, nil},
		{"te in 1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400, nil},
		{"te gzip with cl", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: gzip\r\nContent-Length: 1\r\n\r\n", 501, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err, r := parseAll(tt.in)
			if got := StatusOf(err); got != tt.status {
				t.Fatalf("status %d (%v), want %d", got, err, tt.status)
			}
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || e.Reason == "" {
					t.Fatalf("error %v is not an *Error", err)
				}
				return
			}
			if n != len(tt.in) {
				t.Errorf("n = %d, want %d", n, len(tt.in))
			}
			if tt.check != nil {
				if msg := tt.check(r); msg != "" {
					t.Errorf("%s: %s", msg, describe(n, err, r))
				}
			}
			// Byte by byte gives the same result.
			if got, want := parseBytewise(tt.in), describe(n, err, r); got != want {
				t.Errorf("bytewise:\n got %s\nwant %s", got, want)
			}
		})
	}
}

// parseBytewise feeds s one byte at a time into one growing buffer.
func parseBytewise(s string) string {
	var p Parser
	var r Request
	buf := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		buf = append(buf, s[i])
		n, err := p.Parse(buf, &r)
		if err != ErrIncomplete {
			return describe(n, err, &r)
		}
	}
	return describe(0, ErrIncomplete, &r)
}

func TestParseIncomplete(t *testing.T) {
	full := "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
	for i := 0; i < len(full); i++ {
		var p Parser
		var r Request
		if _, err := p.Parse([]byte(full[:i]), &r); err != ErrIncomplete {
			t.Fatalf("prefix %q: %v, want ErrIncomplete", full[:i], err)
		}
	}
}

func TestParseEarlyGarbage(t *testing.T) {
	// A TLS ClientHello or other garbage is refused before a line ends.
	for _, in := range []string{"\x16\x03\x01\x02\x00", "GE\x00", " ", "\r\x00"} {
		var p Parser
		var r Request
		if _, err := p.Parse([]byte(in), &r); StatusOf(err) != 400 {
			t.Errorf("%q: %v, want 400", in, err)
		}
	}
}

func TestParsePipelined(t *testing.T) {
	in := "GET /one HTTP/1.1\r\nHost: a\r\n\r\nPOST /two HTTP/1.1\r\nHost: b\r\nContent-Length: 2\r\n\r\nhiGET /three HTTP/1.0\r\n\r\n"
	buf := []byte(in)
	var p Parser
	var r Request
	var got []string
	for len(buf) > 0 {
		n, err := p.Parse(buf, &r)
		if err != nil {
			t.Fatalf("after %v: %v", got, err)
		}
		got = append(got, string(r.Method)+" "+string(r.Path)+" "+string(r.Host))
		buf = buf[n:]
		if r.ContentLength > 0 {
			buf = buf[r.ContentLength:]
		}
	}
	want := []string{"GET /one a", "POST /two b", "GET /three "}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestParseLimits(t *testing.T) {
	lim := Limits{LineMax: 64, FieldMax: 32, HeaderMax: 128, MaxFields: 3}
	line := func(n int) string { // a request line of n bytes, CRLF included
		return "GET /" + strings.Repeat("a", n-16) + " HTTP/1.1\r\n"
	}
	field := func(n int) string { // a field line of n bytes, CRLF included
		return "X: " + strings.Repeat("v", n-5) + "\r\n"
	}
	const host = "Host: h\r\n"
	tests := []struct {
		name   string
		in     string
		status int // status of the complete input; -1 for ErrIncomplete
	}{
		{"line at limit", line(64) + host + "\r\n", 0},
		{"line over limit", line(65) + host + "\r\n", 414},
		{"line over limit incomplete", line(65)[:64], 414},
		{"line at limit incomplete", line(64)[:63], -1},
		{"field at limit", line(20) + host + field(32) + "\r\n", 0},
		{"field over limit", line(20) + host + field(33) + "\r\n", 431},
		{"field over limit incomplete", line(20) + host + field(33)[:32], 431},
		{"fields at limit", line(20) + host + field(10) + field(10) + "\r\n", 0},
		{"too many fields", line(20) + host + field(10) + field(10) + field(10) + "\r\n", 431},
		{"head at limit", line(64) + host + field(30) + field(23) + "\r\n", 0},
		{"head over limit", line(64) + host + field(30) + field(24) + "\r\n", 431},
		{"head at limit incomplete", line(64) + host + field(30) + field(24), -1},
		{"head at limit bare LF", line(64) + host + field(30) + field(24) + "\n", 0},
		{"head over limit incomplete", line(64) + host + field(30) + field(25), 431},
		{"garbage wins over length", "G\x01" + strings.Repeat("a", 100), 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Parser{Limits: lim}
			var r Request
			_, err := p.Parse([]byte(tt.in), &r)
			got := StatusOf(err)
			if err == ErrIncomplete {
				got = -1
			}
			if got != tt.status {
				t.Fatalf("status %d (%v), want %d", got, err, tt.status)
			}
		})
	}
}

func TestLimitsFor(t *testing.T) {
	tests := []struct {
		buf  int64
		num  int
		size int64
		want Limits
	}{
		{1024, 4, 8192, DefaultLimits},
		{0, 0, 0, DefaultLimits},
		{16384, 2, 4096, Limits{16384, 16384, 16384, 100}},
		{1024, 8, 16384, Limits{16384, 16384, 8 * 16384, 100}},
	}
	for _, tt := range tests {
		if got := LimitsFor(tt.buf, tt.num, tt.size); got != tt.want {
			t.Errorf("LimitsFor(%d, %d, %d) = %+v, want %+v", tt.buf, tt.num, tt.size, got, tt.want)
		}
	}
}

func TestParseZeroLimits(t *testing.T) {
	// The zero Limits mean the defaults: an 8k request line passes.
	in := "GET /" + strings.Repeat("a", 8192-16) + " HTTP/1.1\r\nHost: a\r\n\r\n"
	if _, err, _ := parseAll(in); err != nil {
		t.Fatal(err)
	}
	in = "GET /" + strings.Repeat("a", 8192-15) + " HTTP/1.1\r\nHost: a\r\n\r\n"
	if _, err, _ := parseAll(in); StatusOf(err) != 414 {
		t.Fatalf("got %v, want 414", err)
	}
}

func TestParseMovedBuffer(t *testing.T) {
	// A buffer that moved starts the parse over.
	full := []byte("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\r\n")
	var p Parser
	var r Request
	if _, err := p.Parse(full[:20], &r); err != ErrIncomplete {
		t.Fatal(err)
	}
	moved := append([]byte(nil), full...)
	n, err := p.Parse(moved, &r)
	if err != nil || n != len(full) || len(r.Header) != 2 || &r.Method[0] != &moved[0] {
		t.Fatalf("n=%d err=%v header=%d", n, err, len(r.Header))
	}
	// Reset forgets a partial parse.
	if _, err := p.Parse(full[:20], &r); err != ErrIncomplete {
		t.Fatal(err)
	}
	p.Reset()
	if n, err := p.Parse(full, &r); err != nil || n != len(full) || len(r.Header) != 2 {
		t.Fatalf("after Reset: n=%d err=%v header=%d", n, err, len(r.Header))
	}
}

func TestValidHost(t *testing.T) {
	tests := []struct {
		host string
		ok   bool
	}{
		{"example.com", true},
		{"Example.COM:8080", true},
		{"example.com.", true},
		{"[::1]", true},
		{"[::1]:443", true},
		{"127.0.0.1", true},
		{".example", true},
		{"", false},
		{".", false},
		{"a..b", false},
		{"a/b", false},
		{"a\\b", false},
		{"a\x00b", false},
		{"a b", false},
		{"a\x7f", false},
		{":80", false},
	}
	for _, tt := range tests {
		if got := ValidHost([]byte(tt.host)); got != tt.ok {
			t.Errorf("ValidHost(%q) = %v, want %v", tt.host, got, tt.ok)
		}
	}
}

func TestStatusOf(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{nil, 0},
		{ErrIncomplete, 0},
		{ErrTransferEncoding, 501},
		{fmt.Errorf("reading: %w", ErrURITooLong), 414},
		{errors.New("other"), 500},
	}
	for _, tt := range tests {
		if got := StatusOf(tt.err); got != tt.want {
			t.Errorf("StatusOf(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

func TestParseAllocs(t *testing.T) {
	buf := []byte(getRequest)
	var p Parser
	var r Request
	if _, err := p.Parse(buf, &r); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := p.Parse(buf, &r); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per parse, want 0", allocs)
	}
}

const getRequest = "GET /static/img/logo.png?v=3 HTTP/1.1\r\n" +
	"Host: www.example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n" +
	"Accept: image/avif,image/webp,*/*\r\n" +
	"Accept-Language: en-US,en;q=0.5\r\n" +
	"Accept-Encoding: gzip, deflate, br\r\n" +
	"Referer: https://www.example.com/\r\n" +
	"Connection: keep-alive\r\n" +
	"Cookie: session=0123456789abcdef\r\n" +
	"\r\n"
