package servertest

import (
	"net"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/c10k/c10k/servers/config"
)

// serve returns a Conn whose peer writes raw and then closes.
func serve(t *testing.T, raw string) *Conn {
	t.Helper()
	client, server := net.Pipe()
	var g errgroup.Group
	g.Go(func() error {
		defer server.Close()
		server.Write([]byte(raw))
		return nil
	})
	t.Cleanup(func() {
		client.Close()
		g.Wait()
	})
	return NewConn(client)
}

func TestReadResponse(t *testing.T) {
	cases := []struct {
		name    string
		method  string
		raw     string
		status  int
		body    string
		framing Framing
		err     string // substring of the error; "" for success
		closed  bool   // the connection is closed after the response
	}{
		{"content-length", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 200, "hello", FramingLength, "", true},
		{"chunked", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\nA\r\n0123456789\r\n0\r\nT: v\r\n\r\n", 200, "hello0123456789", FramingChunked, "", true},
		{"close-delimited", "GET", "HTTP/1.0 200 OK\r\n\r\nuntil close", 200, "until close", FramingClose, "", true},
		{"head", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", 200, "", FramingNone, "", true},
		{"not-modified", "GET", "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n", 304, "", FramingNone, "", true},
		{"continue", "POST", "HTTP/1.1 100 Continue\r\n\r\n", 100, "", FramingNone, "", true},
		{"empty-reason", "GET", "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", 200, "", FramingLength, "", true},
		{"both-framings", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 200, "", "", "both", false},
		{"differing-lengths", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 200, "", "", "differing", false},
		{"bad-length", "GET", "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello", 200, "", "", "malformed Content-Length", false},
		{"bad-chunk", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 200, "", "", "chunk size", false},
		{"chunk-without-crlf", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n", 200, "", "", "CRLF", false},
		{"short-body", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", 200, "", "", "10-byte body", false},
		{"bare-lf", "GET", "HTTP/1.1 200 OK\nContent-Length: 0\n\n", 0, "", "", "CRLF", false},
		{"obs-fold", "GET", "HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n", 0, "", "", "folding", false},
		{"space-before-colon", "GET", "HTTP/1.1 200 OK\r\nA : b\r\n\r\n", 0, "", "", "malformed field", false},
		{"bad-version", "GET", "HTTP/2.0 200 OK\r\n\r\n", 0, "", "", "status line", false},
		{"bad-status", "GET", "HTTP/1.1 2000 OK\r\n\r\n", 0, "", "", "status line", false},
		{"nothing", "GET", "", 0, "", "", "closed before a response", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn := serve(t, c.raw)
			r, err := conn.ReadResponse(c.method)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != c.status || string(r.Body) != c.body || r.Framing != c.framing {
				t.Errorf("got %d %q (%s), want %d %q (%s)", r.Status, r.Body, r.Framing, c.status, c.body, c.framing)
			}
			if c.closed {
				if err := conn.ExpectClosed(); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

func TestExpectClosedData(t *testing.T) {
	conn := serve(t, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxEXTRA")
	if _, err := conn.ReadResponse("GET"); err != nil {
		t.Fatal(err)
	}
	if err := conn.ExpectClosed(); err == nil || !strings.Contains(err.Error(), "EXTRA") {
		t.Fatalf("ExpectClosed = %v, want an error naming the extra data", err)
	}
}

func TestResponseFields(t *testing.T) {
	conn := serve(t, "HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nX-A: 1\r\nx-a: 2\r\nContent-Length: 0\r\n\r\n")
	r, err := conn.ReadResponse("GET")
	if err != nil {
		t.Fatal(err)
	}
	if !r.HasToken("Connection", "close") || r.HasToken("Connection", "upgrade") {
		t.Error("HasToken")
	}
	if got := r.Values("X-A"); len(got) != 2 || got[0] != "1" || got[1] != "2" {
		t.Errorf("Values = %q", got)
	}
	if r.Get("x-A") != "1" || !r.Has("content-length") || r.Has("ETag") {
		t.Error("Get/Has")
	}
}

// TestSetup builds the environment without a core: the docroot, the
// backends, the stubs and a config that mentions all of them.
func TestSetup(t *testing.T) {
	s := setup(t)
	conf := s.config("127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3")
	for _, want := range []string{s.site.root, s.backends["a"], s.backends["b"], s.backends["c"], s.markdown.addr(), "listen 127.0.0.1:0 default_server;"} {
		if !strings.Contains(conf, want) {
			t.Errorf("config lacks %q", want)
		}
	}
	path := filepath.Join(s.site.root, "..", "nginx.conf")
	if _, err := config.Load(path); err != nil {
		t.Errorf("config.Load(the suite's config): %v", err)
	}
	if strings.Contains(conf, "$A") || strings.Contains(conf, "$STUB") || strings.Contains(conf, "$ROOT") {
		t.Error("config has unreplaced placeholders")
	}
	for name, addr := range s.backends {
		c, err := Dial(addr)
		if err != nil {
			t.Fatalf("backend %s: %v", name, err)
		}
		r, err := c.RoundTrip("GET", []byte(request("GET", "/health", addr, "Connection: close")))
		c.Close()
		if err != nil {
			t.Fatalf("backend %s: %v", name, err)
		}
		if r.Status != 200 || r.Get("X-Backend") != name {
			t.Errorf("backend %s /health:\n%s", name, r)
		}
	}
}
