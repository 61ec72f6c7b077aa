package http1

import (
	"sync"
	"testing"
	"time"
)

var testDate = []byte("Sun, 06 Nov 1994 08:49:37 GMT")

func TestAppendResponseHead(t *testing.T) {
	ct := Header{{Name: []byte("Content-Type"), Value: []byte("text/html")}}
	owned := Header{
		{Name: []byte("content-length"), Value: []byte("99")},
		{Name: []byte("X-A"), Value: []byte("1")},
		{Name: []byte("Connection"), Value: []byte("upgrade")},
		{Name: []byte("Transfer-Encoding"), Value: []byte("gzip")},
		{Name: []byte("DATE"), Value: []byte("x")},
		{Name: []byte("server"), Value: []byte("x")},
	}
	tests := []struct {
		name string
		h    ResponseHead
		want string
	}{
		{"length keep-alive", ResponseHead{Minor: 1, Status: 200, Header: ct, ContentLength: 12, KeepAlive: true, Date: testDate, Server: "c10k"},
			"HTTP/1.1 200 OK\r\nServer: c10k\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Type: text/html\r\nContent-Length: 12\r\nConnection: keep-alive\r\n\r\n"},
		{"chunked", ResponseHead{Minor: 1, Status: 200, ContentLength: -1, Chunked: true, KeepAlive: true},
			"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"},
		{"chunked to 1.0 closes", ResponseHead{Minor: 0, Status: 200, ContentLength: -1, Chunked: true, KeepAlive: true},
			"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"},
		{"unknown length closes", ResponseHead{Minor: 1, Status: 200, ContentLength: -1, KeepAlive: true},
			"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"},
		{"1.0 keep-alive", ResponseHead{Minor: 0, Status: 404, ContentLength: 0, KeepAlive: true},
			"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n"},
		{"close", ResponseHead{Minor: 1, Status: 400, ContentLength: 5},
			"HTTP/1.1 400 Bad Request\r\nContent-Length: 5\r\nConnection: close\r\n\r\n"},
		{"head only", ResponseHead{Minor: 1, Status: 200, ContentLength: -1, Chunked: true, KeepAlive: true, HeadOnly: true},
			"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\n"},
		{"head only length", ResponseHead{Minor: 1, Status: 200, ContentLength: 7, KeepAlive: true, HeadOnly: true},
			"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nConnection: keep-alive\r\n\r\n"},
		{"204", ResponseHead{Minor: 1, Status: 204, ContentLength: 0, Chunked: true, KeepAlive: true},
			"HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n"},
		{"304", ResponseHead{Minor: 1, Status: 304, ContentLength: 10, KeepAlive: true},
			"HTTP/1.1 304 Not Modified\r\nConnection: keep-alive\r\n\r\n"},
		{"owned fields dropped", ResponseHead{Minor: 1, Status: 302, Header: owned, ContentLength: 0, KeepAlive: true},
			"HTTP/1.1 302 Moved Temporarily\r\nX-A: 1\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n"},
		{"unknown status", ResponseHead{Minor: 1, Status: 599, ContentLength: 0},
			"HTTP/1.1 599 \r\nContent-Length: 0\r\nConnection: close\r\n\r\n"},
		{"431", ResponseHead{Minor: 1, Status: 431, ContentLength: 0},
			"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(AppendResponseHead([]byte("x"), &tt.h))
			if got != "x"+tt.want {
				t.Fatalf("got\n%q\nwant\n%q", got, "x"+tt.want)
			}
			// What we write, we parse back with the same framing.
			var p Parser
			var r Response
			if _, err := p.ParseResponse([]byte(tt.want), &r, tt.h.HeadOnly); err != nil {
				t.Fatalf("parse back: %v", err)
			}
			if r.Chunked != tt.h.SendsChunked() || r.KeepAlive != tt.h.KeepsAlive() {
				t.Fatalf("parse back: chunked=%v keep-alive=%v", r.Chunked, r.KeepAlive)
			}
		})
	}
}

func TestAppendRequestHead(t *testing.T) {
	h := Header{{Name: []byte("Host"), Value: []byte("app")}, {Name: []byte("Connection"), Value: []byte("close")}}
	got := string(AppendRequestHead(nil, []byte("GET"), []byte("/a?b"), 0, h))
	want := "GET /a?b HTTP/1.0\r\nHost: app\r\nConnection: close\r\n\r\n"
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestAppendChunk(t *testing.T) {
	got := string(AppendLastChunk(AppendChunk(AppendChunk(AppendChunk(nil, []byte("hello")), nil), make([]byte, 26))))
	want := "5\r\nhello\r\n1a\r\n" + string(make([]byte, 26)) + "\r\n0\r\n\r\n"
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	var b Body
	b.Init(-1, true, false)
	data, _, err := decodeAll(&b, got, 0)
	if err != nil || data != "hello"+string(make([]byte, 26)) || !b.Done() {
		t.Fatalf("round trip: %q %v", data, err)
	}
	if string(Continue100) != "HTTP/1.1 100 Continue\r\n\r\n" {
		t.Fatal("Continue100")
	}
}

func TestFieldChecks(t *testing.T) {
	for _, tt := range []struct {
		v  string
		ok bool
	}{{"a b\tc", true}, {"", true}, {"\xff", true}, {"a\r\nX: y", false}, {"a\nb", false}, {"a\x00", false}, {"a\rb", false}} {
		if ValidFieldValue([]byte(tt.v)) != tt.ok {
			t.Errorf("ValidFieldValue(%q) != %v", tt.v, tt.ok)
		}
	}
	for _, tt := range []struct {
		v  string
		ok bool
	}{{"X-Forwarded-For", true}, {"", false}, {"a b", false}, {"a:", false}} {
		if ValidFieldName([]byte(tt.v)) != tt.ok {
			t.Errorf("ValidFieldName(%q) != %v", tt.v, tt.ok)
		}
	}
}

func TestStatusText(t *testing.T) {
	for code, want := range map[int]string{200: "OK", 302: "Moved Temporarily", 405: "Not Allowed", 503: "Service Temporarily Unavailable", 504: "Gateway Time-out", 299: ""} {
		if got := StatusText(code); got != want {
			t.Errorf("StatusText(%d) = %q, want %q", code, got, want)
		}
	}
}

func TestDate(t *testing.T) {
	tm := time.Date(1994, 11, 6, 8, 49, 37, 0, time.FixedZone("X", 3600))
	if got := string(AppendDate(nil, tm.Add(time.Hour))); got != string(testDate) {
		t.Fatalf("got %q", got)
	}
	var c DateCache
	d1 := c.Get(tm.Add(time.Hour))
	d2 := c.Get(tm.Add(time.Hour + 500*time.Millisecond))
	if string(d1) != string(testDate) || &d1[0] != &d2[0] {
		t.Fatalf("cache did not reuse the second: %q %q", d1, d2)
	}
	if d3 := c.Get(tm.Add(time.Hour + time.Second)); string(d3) != "Sun, 06 Nov 1994 08:49:38 GMT" {
		t.Fatalf("next second: %q", d3)
	}
	// A late caller in the previous second does not replace a newer stamp.
	c.Get(tm.Add(time.Hour))
	if d := c.cur.Load(); string(d.b[:]) != "Sun, 06 Nov 1994 08:49:38 GMT" {
		t.Fatalf("stale: %q", d.b[:])
	}
	// A clock stepped back does.
	c.Get(tm)
	if a := testing.AllocsPerRun(100, func() { c.Get(tm) }); a != 0 {
		t.Fatalf("%v allocations on a cached second", a)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				if len(c.Now()) != len(TimeFormat) {
					t.Error("bad date")
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestAppendResponseHeadAllocs(t *testing.T) {
	h := benchHead()
	dst := make([]byte, 0, 512)
	if a := testing.AllocsPerRun(100, func() { dst = AppendResponseHead(dst[:0], h) }); a != 0 {
		t.Fatalf("%v allocations", a)
	}
}

func benchHead() *ResponseHead {
	return &ResponseHead{
		Minor:  1,
		Status: 200,
		Header: Header{
			{Name: []byte("Content-Type"), Value: []byte("text/html")},
			{Name: []byte("Last-Modified"), Value: []byte("Sun, 06 Nov 1994 08:49:37 GMT")},
			{Name: []byte("ETag"), Value: []byte(`"5e9f1a-264"`)},
			{Name: []byte("Accept-Ranges"), Value: []byte("bytes")},
		},
		ContentLength: 612,
		KeepAlive:     true,
		Date:          testDate,
		Server:        "c10k",
	}
}
