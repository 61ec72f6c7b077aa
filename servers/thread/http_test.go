package thread

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/c10k/c10k/servers/config"
	"github.com/c10k/c10k/servers/engine"
)

// startHTTP runs the thread core with the real engine on conf (a server
// block body; ROOT is replaced by a temp dir holding files). The
// listening socket is opened by the test on 127.0.0.1:0 and handed over
// with ServeListeners.
func startHTTP(t *testing.T, conf string, files map[string][]byte, opts Options) (addr string, s *Server) {
	return startHTTPBlock(t, "", conf, files, opts)
}

// startHTTPBlock is startHTTP with httpConf added to the http block
// (upstreams).
func startHTTPBlock(t *testing.T, httpConf, conf string, files map[string][]byte, opts Options) (addr string, s *Server) {
	t.Helper()
	return startHTTPEngine(t, httpConf, conf, files, engine.Options{KeepaliveTimeout: opts.KeepAliveTimeout}, opts)
}

// startHTTPEngine is startHTTPBlock with the engine's options.
func startHTTPEngine(t *testing.T, httpConf, conf string, files map[string][]byte, eopts engine.Options, opts Options) (addr string, s *Server) {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	text := "events {}\nhttp {\n" + httpConf + "\n server {\n  listen 127.0.0.1:8080;\n  root " + dir + ";\n" +
		strings.ReplaceAll(conf, "ROOT", dir) + "\n }\n}\n"
	name := filepath.Join(dir, "site.conf")
	if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(cfg, eopts)
	if err != nil {
		t.Fatal(err)
	}
	s, err = New(e, opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ServeListeners(ctx, f) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve = %v", err)
		}
		f.Close()
		ln.Close()
	})
	return ln.Addr().String(), s
}

type client struct {
	net.Conn
	r *bufio.Reader
}

func dialClient(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return &client{c, bufio.NewReader(c)}
}

func (c *client) do(t *testing.T, raw string) (*http.Response, []byte) {
	t.Helper()
	if raw != "" {
		if _, err := io.WriteString(c, raw); err != nil {
			t.Fatal(err)
		}
	}
	return c.read(t, "GET")
}

func (c *client) read(t *testing.T, method string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.ReadResponse(c.r, &http.Request{Method: method})
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestHTTPStaticKeepAlivePipelining(t *testing.T) {
	big := make([]byte, 1<<20)
	rand.Read(big)
	addr, s := startHTTP(t, "  sendfile on;\n", map[string][]byte{"a.txt": []byte("hello\n"), "big.bin": big}, Options{Workers: 4})
	c := dialClient(t, addr)
	for i := range 3 {
		resp, body := c.do(t, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp.StatusCode != 200 || string(body) != "hello\n" || resp.Close {
			t.Fatalf("request %d: %d %q close=%v", i, resp.StatusCode, body, resp.Close)
		}
	}
	resp, body := c.do(t, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp.StatusCode != 200 || sha256.Sum256(body) != sha256.Sum256(big) {
		t.Fatalf("big.bin: %d, %d bytes, sha256 differs", resp.StatusCode, len(body))
	}
	// Pipelining: three requests in one write, answered in order.
	io.WriteString(c, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\nHEAD /big.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /missing HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, body := c.read(t, "GET"); resp.StatusCode != 200 || string(body) != "hello\n" {
		t.Fatalf("pipelined 1: %d %q", resp.StatusCode, body)
	}
	if resp, body := c.read(t, "HEAD"); resp.StatusCode != 200 || len(body) != 0 || resp.ContentLength != int64(len(big)) {
		t.Fatalf("pipelined HEAD: %d %d bytes, length %d", resp.StatusCode, len(body), resp.ContentLength)
	}
	if resp, _ := c.read(t, "GET"); resp.StatusCode != 404 {
		t.Fatalf("pipelined 3: %d", resp.StatusCode)
	}
	// The worker counts a request after its response is written.
	waitFor(t, "7 requests counted", func() bool { return s.Stats().Requests == 7 })
	if st := s.Stats(); st.Accepted != 1 {
		t.Fatalf("stats = %+v, want 1 connection", st)
	}
}

func TestHTTPParserErrorCloses(t *testing.T) {
	addr, _ := startHTTP(t, "", map[string][]byte{"a.txt": []byte("ok")}, Options{Workers: 4})
	good := dialClient(t, addr)
	if resp, _ := good.do(t, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"); resp.StatusCode != 200 {
		t.Fatalf("good: %d", resp.StatusCode)
	}
	bad := dialClient(t, addr)
	resp, _ := bad.do(t, "GET /a.txt HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
	if resp.StatusCode != 400 {
		t.Fatalf("bad request: %d, want 400", resp.StatusCode)
	}
	if _, err := bad.r.ReadByte(); err != io.EOF {
		t.Fatalf("after 400: %v, want EOF", err)
	}
	if resp, _ := good.do(t, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"); resp.StatusCode != 200 {
		t.Fatalf("good after bad: %d", resp.StatusCode)
	}
}

func TestHTTPProxy(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Query().Get("stream") != "" {
			w.(http.Flusher).Flush() // chunked
		}
		fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.Path, body)
	}))
	defer backend.Close()
	dead := httptest.NewServer(http.NotFoundHandler())
	deadAddr := dead.Listener.Addr().String()
	dead.Close()
	conf := "  location /app/ { proxy_pass http://" + backend.Listener.Addr().String() + "; }\n" +
		"  location /nobuf/ { proxy_buffering off; proxy_pass http://" + backend.Listener.Addr().String() + "; }\n" +
		"  location /dead/ { proxy_pass http://" + deadAddr + "; }\n"
	addr, _ := startHTTP(t, conf, nil, Options{Workers: 4})
	for _, tc := range []struct {
		name, req string
		status    int
		body      string
	}{
		{"get", "GET /app/x HTTP/1.1\r\nHost: a\r\n\r\n", 200, "GET /app/x "},
		{"post", "POST /app/p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", 200, "POST /app/p hello"},
		{"chunked-in", "POST /app/c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 200, "POST /app/c abc"},
		{"expect", "POST /app/e HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nhi", 200, "POST /app/e hi"},
		{"stream", "GET /nobuf/s?stream=1 HTTP/1.1\r\nHost: a\r\n\r\n", 200, "GET /nobuf/s "},
		{"buffered-chunked", "GET /app/s?stream=1 HTTP/1.1\r\nHost: a\r\n\r\n", 200, "GET /app/s "},
		{"dead", "GET /dead/ HTTP/1.1\r\nHost: a\r\n\r\n", 502, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialClient(t, addr)
			if strings.Contains(tc.req, "100-continue") {
				head, body, _ := strings.Cut(tc.req, "\r\n\r\n")
				io.WriteString(c, head+"\r\n\r\n")
				line, err := c.r.ReadString('\n')
				if err != nil || !strings.Contains(line, "100") {
					t.Fatalf("want 100 Continue, got %q %v", line, err)
				}
				c.r.ReadString('\n')
				tc.req = body
			}
			for range 2 { // twice: upstream connections are reused or redialed
				resp, body := c.do(t, tc.req)
				if resp.StatusCode != tc.status || tc.body != "" && string(body) != tc.body {
					t.Fatalf("%d %q, want %d %q", resp.StatusCode, body, tc.status, tc.body)
				}
				if strings.Contains(tc.req, "100-continue") || resp.Close {
					break
				}
				if strings.HasPrefix(tc.req, "hi") {
					break
				}
			}
		})
	}
}

func TestHTTPUpstreamKeepalivePool(t *testing.T) {
	backend := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "pooled")
	}))
	conns := make(chan struct{}, 100)
	backend.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns <- struct{}{}
		}
	}
	backend.Start()
	defer backend.Close()
	httpConf := "upstream app { server " + backend.Listener.Addr().String() + "; keepalive 2; }"
	conf := "  location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection \"\"; }"
	addr, _ := startHTTPBlock(t, httpConf, conf, nil, Options{Workers: 2})
	for i := range 5 {
		c := dialClient(t, addr) // a new client connection each time: the pool is the core's
		resp, body := c.do(t, "GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
		if resp.StatusCode != 200 || string(body) != "pooled" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
		c.Close()
	}
	if n := len(conns); n != 1 {
		t.Fatalf("backend saw %d connections for 5 sequential requests, want 1 (pooled)", n)
	}
}

func TestHTTPBodyTooLarge(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer backend.Close()
	conf := "  client_max_body_size 10;\n  location / { proxy_pass http://" + backend.Listener.Addr().String() + "; }"
	addr, _ := startHTTP(t, conf, nil, Options{Workers: 2})
	for _, tc := range []struct{ name, req string }{
		{"length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n01234567890"},
		{"chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nb\r\n01234567890\r\n0\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialClient(t, addr)
			if resp, _ := c.do(t, tc.req); resp.StatusCode != 413 {
				t.Fatalf("status %d, want 413", resp.StatusCode)
			}
		})
	}
}

// TestHTTPGracefulStop stops the server while a proxied request waits on
// a slow upstream: the response still arrives, then Serve returns nil.
func TestHTTPGracefulStop(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		io.WriteString(w, "late")
	}))
	defer backend.Close()
	defer close(release)

	dir := t.TempDir()
	name := filepath.Join(dir, "site.conf")
	text := "http { server { listen 127.0.0.1:8080; location / { proxy_pass http://" + backend.Listener.Addr().String() + "; } } }"
	os.WriteFile(name, []byte(text), 0o644)
	cfg, err := config.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(cfg, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := New(e, Options{Workers: 2})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	f, _ := ln.(*net.TCPListener).File()
	defer f.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ServeListeners(ctx, f) }()

	c := dialClient(t, ln.Addr().String())
	io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
	<-arrived
	cancel()
	waitFor(t, "the server to stop accepting", func() bool { return s.closing.Load() })
	release <- struct{}{}
	resp, body := c.read(t, "GET")
	if resp.StatusCode != 200 || string(body) != "late" || !resp.Close {
		t.Fatalf("in-flight response: %d %q close=%v, want 200 \"late\" and close", resp.StatusCode, body, resp.Close)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after the in-flight request")
	}
}

// TestHTTPC10kStall is TestC10kStall with the real HTTP handler: two
// idle keep-alive clients hold both workers; a third client's request
// waits in the listen backlog until one of them leaves.
func TestHTTPC10kStall(t *testing.T) {
	addr, s := startHTTP(t, "", map[string][]byte{"a.txt": []byte("ok")}, Options{Workers: 2})
	var held []*client
	for range 2 {
		c := dialClient(t, addr)
		if resp, _ := c.do(t, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"); resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		held = append(held, c)
	}
	waitFor(t, "both workers idling on keep-alive", func() bool { return s.Stats().KeepAlive == 2 })
	third := dialClient(t, addr)
	io.WriteString(third, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n")
	third.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := third.r.ReadByte(); err == nil {
		t.Fatal("third client served while every worker is held by an idle connection")
	}
	if st := s.Stats(); st.Accepted != 2 {
		t.Fatalf("stats = %+v, want 2 accepted", st)
	}
	held[1].Close()
	third.SetReadDeadline(time.Now().Add(10 * time.Second))
	if resp, body := third.read(t, "GET"); resp.StatusCode != 200 || string(body) != "ok" {
		t.Fatalf("third after a worker freed: %d %q", resp.StatusCode, body)
	}
}

func TestHTTPKeepAliveTimeout(t *testing.T) {
	addr, s := startHTTP(t, "", map[string][]byte{"a.txt": []byte("ok")}, Options{Workers: 1, KeepAliveTimeout: 100 * time.Millisecond})
	c := dialClient(t, addr)
	if resp, _ := c.do(t, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"); resp.StatusCode != 200 || resp.Close {
		t.Fatalf("status %d close=%v", resp.StatusCode, resp.Close)
	}
	if _, err := c.r.ReadByte(); err != io.EOF {
		t.Fatalf("idle keep-alive connection: %v, want EOF from the server", err)
	}
	waitFor(t, "the worker to be idle", func() bool { return s.Stats().Idle == 1 })
}

// TestHTTPSendfile serves files with "sendfile on" (sendfile(2)) and
// "sendfile off" (pread into the worker's buffer, then write): the same
// bytes, whole and in ranges, and FileCopies counts the second way only.
func TestHTTPSendfile(t *testing.T) {
	big := make([]byte, 3*streamChunk+123) // several buffers of the copy path
	rand.Read(big)
	tests := []struct {
		name       string
		directive  string
		wantCopies uint64
	}{
		{"on", "sendfile on;", 0},
		{"off", "sendfile off;", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, s := startHTTP(t, "  "+tt.directive+"\n", map[string][]byte{"big.bin": big}, Options{Workers: 2})
			c := dialClient(t, addr)
			resp, body := c.do(t, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
			if resp.StatusCode != 200 || !bytes.Equal(body, big) {
				t.Fatalf("GET: %d, %d bytes, want 200 and the %d bytes of the file", resp.StatusCode, len(body), len(big))
			}
			from, to := streamChunk-7, 2*streamChunk+9 // across buffer boundaries
			resp, body = c.do(t, fmt.Sprintf("GET /big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=%d-%d\r\n\r\n", from, to))
			if resp.StatusCode != 206 || !bytes.Equal(body, big[from:to+1]) {
				t.Fatalf("range: %d, %d bytes, want 206 and bytes %d-%d", resp.StatusCode, len(body), from, to)
			}
			if got := s.Stats().FileCopies; got != tt.wantCopies {
				t.Errorf("FileCopies = %d, want %d", got, tt.wantCopies)
			}
		})
	}
}

// TestHTTPServerHeader checks that responses name the engine's Software.
func TestHTTPServerHeader(t *testing.T) {
	tests := []struct{ software, want string }{
		{"", "c10k"},
		{"Apache/2.4.62 (Debian)", "Apache/2.4.62 (Debian)"},
	}
	for _, tt := range tests {
		addr, _ := startHTTPEngine(t, "", "  location = /r { return 200 ok; }\n", nil,
			engine.Options{Software: tt.software}, Options{Workers: 1})
		c := dialClient(t, addr)
		resp, _ := c.do(t, "GET /r HTTP/1.1\r\nHost: x\r\n\r\n")
		if got := resp.Header.Get("Server"); got != tt.want {
			t.Errorf("Software %q: Server %q, want %q", tt.software, got, tt.want)
		}
	}
}

// TestHTTPUpstreamErrorLog checks the engine's log line for an upstream
// that refuses the connection: nginx's wording, with the stage.
func TestHTTPUpstreamErrorLog(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // nothing listens there now: connect() is refused
	logs := make(chan string, 10)
	addr, _ := startHTTPEngine(t, "", "  server_name app.test;\n  location /app/ { proxy_pass http://"+dead+"; }\n", nil,
		engine.Options{ErrorLog: func(level, msg string) { logs <- level + ": " + msg }}, Options{Workers: 1})
	c := dialClient(t, addr)
	resp, _ := c.do(t, "GET /app/ HTTP/1.1\r\nHost: app.test\r\n\r\n")
	if resp.StatusCode != 502 {
		t.Fatalf("status %d, want 502", resp.StatusCode)
	}
	want := `error: connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: app.test, ` +
		`request: "GET /app/ HTTP/1.1", upstream: "http://` + dead + `/app/", host: "app.test"`
	select {
	case got := <-logs: // logged before the 502 was written
		if got != want {
			t.Errorf("log line\n%s\nwant\n%s", got, want)
		}
	default:
		t.Fatal("no error-log line")
	}
}
