package event_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/c10k/c10k/servers/event"
)

// waitBudget bounds every wait of these tests; none asserts a duration.
const waitBudget = 10 * time.Second

// site is a docroot and a config for the event-specific tests.
type site struct {
	root string
	conf string
}

// siteOptions are the config knobs the tests vary.
type siteOptions struct {
	workerConnections int    // default 1024
	keepalive         string // keepalive_timeout; default 75s
	upstream          string // proxy_pass address for /app/; none when empty
	keepaliveRequests int    // default 1000
	ssl               string // with "listen ... ssl", these server directives (certificates: sslSite)
	headerTimeout     string // client_header_timeout; default 60s
	gzip              bool   // gzip on for text/plain
}

func newSite(t testing.TB, o siteOptions) *site {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, "html")
	for path, body := range map[string]string{
		"1k.txt":      strings.Repeat("x", 1024),
		"nosf/1k.txt": strings.Repeat("y", 1024),
		"big.bin":     strings.Repeat("0123456789abcdef", 64<<10), // 1 MiB: sendfile until EAGAIN
	} {
		p := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if o.workerConnections == 0 {
		o.workerConnections = 1024
	}
	if o.keepaliveRequests == 0 {
		o.keepaliveRequests = 1000
	}
	if o.keepalive == "" {
		o.keepalive = "75s"
	}
	app, listen, extra := "", "", ""
	if o.ssl != "" {
		listen = " ssl;\n        " + strings.TrimSuffix(o.ssl, ";")
	}
	if o.headerTimeout != "" {
		extra += "client_header_timeout " + o.headerTimeout + ";\n"
	}
	if o.gzip {
		extra += "gzip on; gzip_min_length 1; gzip_types text/plain application/octet-stream;\n"
	}
	if o.upstream != "" {
		app = fmt.Sprintf("location /app/ { proxy_pass http://%s; proxy_read_timeout 30s; }", o.upstream)
	}
	conf := fmt.Sprintf(`worker_processes 1;
events { worker_connections %d; }
http {
    sendfile on;
    keepalive_timeout %s;
    keepalive_requests %d;
    %s
    server {
        listen 127.0.0.1:0%s;
        root %s;
        location / { }
        location /nosf/ { sendfile off; }
        %s
    }
}
`, o.workerConnections, o.keepalive, o.keepaliveRequests, extra, listen, root, app)
	s := &site{root: root, conf: filepath.Join(dir, "nginx.conf")}
	if err := os.WriteFile(s.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}

// client is one keep-alive connection.
type client struct {
	nc net.Conn
	br *bufio.Reader
}

func dial(t testing.TB, addr string) *client {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, waitBudget)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	return &client{nc: nc, br: bufio.NewReader(nc)}
}

// get sends GET path and returns the response with its body read.
func (c *client) get(path string, header ...string) (*http.Response, []byte, error) {
	c.nc.SetDeadline(time.Now().Add(waitBudget))
	req := "GET " + path + " HTTP/1.1\r\nHost: test\r\n" + strings.Join(header, "") + "\r\n"
	if _, err := io.WriteString(c.nc, req); err != nil {
		return nil, nil, err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return nil, nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, body, err
}

func (c *client) mustGet(t testing.TB, path string, want int) []byte {
	t.Helper()
	resp, body, err := c.get(path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if resp.StatusCode != want {
		t.Fatalf("GET %s: status %d, want %d", path, resp.StatusCode, want)
	}
	return body
}

// expectClosed waits (bounded) for the server to close the connection.
func (c *client) expectClosed() error {
	c.nc.SetReadDeadline(time.Now().Add(waitBudget))
	n, err := c.br.Read(make([]byte, 1))
	if err == io.EOF || (err != nil && strings.Contains(err.Error(), "reset")) {
		return nil
	}
	return fmt.Errorf("connection still open (read %d bytes, %v)", n, err)
}

// eventually polls cond until it holds, failing after waitBudget.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitBudget)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// logBuffer collects the error log.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
	t  testing.TB
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.t.Log("error log: " + strings.TrimRight(string(p), "\n"))
	return l.b.Write(p)
}

func (l *logBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

func TestIdleConnectionsHoldNoBuffers(t *testing.T) {
	st := newSite(t, siteOptions{})
	s := newServer(t, st.conf, event.Options{Loops: 1})
	serve(t, s)
	addr := s.Addrs()[0].String()
	const n = 50
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = dial(t, addr)
		clients[i].mustGet(t, "/1k.txt", 200)
	}
	eventually(t, "every connection idle", func() bool {
		st := s.Stats()
		return st.Connections == n && st.Idle == n
	})
	if got := s.Stats(); got.Borrowed != 0 || got.Active != 0 {
		t.Errorf("with %d idle connections: Borrowed = %d, Active = %d; want 0, 0", n, got.Borrowed, got.Active)
	}
	// A pipelined pair on one connection, then idle again.
	c := clients[0]
	c.nc.SetDeadline(time.Now().Add(waitBudget))
	io.WriteString(c.nc, "GET /1k.txt HTTP/1.1\r\nHost: a\r\n\r\nGET /nosf/1k.txt HTTP/1.1\r\nHost: a\r\n\r\n")
	for _, want := range []byte{'x', 'y'} {
		resp, err := http.ReadResponse(c.br, nil)
		if err != nil {
			t.Fatalf("pipelined: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		if len(body) != 1024 || body[0] != want {
			t.Errorf("pipelined body %.10q..., want %c", body, want)
		}
	}
	eventually(t, "no buffer borrowed after pipelining", func() bool { return s.Stats().Borrowed == 0 })
}

func TestSendfileOnOff(t *testing.T) {
	st := newSite(t, siteOptions{})
	s := newServer(t, st.conf, event.Options{Loops: 1})
	serve(t, s)
	c := dial(t, s.Addrs()[0].String())
	tests := []struct {
		path   string
		size   int
		copies uint64 // Stats().FileCopies after the request
	}{
		{"/1k.txt", 1024, 0},
		{"/big.bin", 1 << 20, 0},
		{"/nosf/1k.txt", 1024, 1},
		{"/1k.txt", 1024, 1},
	}
	for _, tt := range tests {
		body := c.mustGet(t, tt.path, 200)
		if len(body) != tt.size {
			t.Errorf("GET %s: %d bytes, want %d", tt.path, len(body), tt.size)
		}
		if got := s.Stats().FileCopies; got != tt.copies {
			t.Errorf("after GET %s: FileCopies = %d, want %d", tt.path, got, tt.copies)
		}
	}
}

func TestUncachedLookupRunsOnPool(t *testing.T) {
	st := newSite(t, siteOptions{})
	s := newServer(t, st.conf, event.Options{Loops: 1})
	serve(t, s)
	c := dial(t, s.Addrs()[0].String())
	// A name never looked up has no dentry yet: the lookup goes to the pool.
	c.mustGet(t, fmt.Sprintf("/missing-%d.txt", time.Now().UnixNano()), 404)
	if got := s.Stats().Offloaded; got == 0 {
		t.Errorf("Offloaded = 0 after an uncached lookup")
	}
	c.mustGet(t, "/1k.txt", 200) // the connection is still fine
}

func TestKeepaliveTimeout(t *testing.T) {
	st := newSite(t, siteOptions{keepalive: "1s"})
	s := newServer(t, st.conf, event.Options{Loops: 1})
	serve(t, s)
	c := dial(t, s.Addrs()[0].String())
	c.mustGet(t, "/1k.txt", 200)
	if err := c.expectClosed(); err != nil {
		t.Fatalf("after keepalive_timeout: %v", err)
	}
	eventually(t, "the connection gone from Stats", func() bool { return s.Stats().Connections == 0 })
}

func TestWorkerConnections(t *testing.T) {
	// One slot for the listener, as in nginx, leaves two for clients.
	st := newSite(t, siteOptions{workerConnections: 3})
	logs := &logBuffer{t: t}
	s := newServer(t, st.conf, event.Options{Loops: 1, ErrorLog: logs})
	serve(t, s)
	addr := s.Addrs()[0].String()
	a, b := dial(t, addr), dial(t, addr)
	a.mustGet(t, "/1k.txt", 200)
	b.mustGet(t, "/1k.txt", 200)
	third := dial(t, addr) // queued in the kernel's backlog
	third.nc.SetDeadline(time.Now().Add(waitBudget))
	io.WriteString(third.nc, "GET /1k.txt HTTP/1.1\r\nHost: a\r\n\r\n")
	eventually(t, "the worker_connections log line", func() bool {
		return logs.count("3 worker_connections are not enough") == 1
	})
	if got := s.Stats().Accepted; got != 2 {
		t.Fatalf("Accepted = %d at the limit, want 2", got)
	}
	a.nc.Close() // frees a slot: accepting resumes
	resp, err := http.ReadResponse(third.br, nil)
	if err != nil {
		t.Fatalf("the queued connection after a slot freed: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("status %d, want 200", resp.StatusCode)
	}
	if n := logs.count("worker_connections are not enough"); n != 1 {
		t.Errorf("the limit was logged %d times, want once", n)
	}
}

func TestAcceptEMFILEPauses(t *testing.T) {
	st := newSite(t, siteOptions{})
	logs := &logBuffer{t: t}
	s := newServer(t, st.conf, event.Options{Loops: 1, ErrorLog: logs})
	var fails atomic.Int32
	fails.Store(1)
	var calls atomic.Int32
	event.SetAccept4(s, func(fd, flags int) (int, unix.Sockaddr, error) {
		calls.Add(1)
		if fails.Add(-1) >= 0 {
			return -1, nil, unix.EMFILE
		}
		return unix.Accept4(fd, flags)
	})
	serve(t, s)
	c := dial(t, s.Addrs()[0].String())
	c.mustGet(t, "/1k.txt", 200) // served once the pause is over
	if n := logs.count("(24: Too many open files)"); n != 1 {
		t.Errorf("EMFILE logged %d times, want once for the one pause", n)
	}
	// The failure paused accepting instead of retrying: accept4 ran for
	// the failure, the connection and the EAGAIN after it.
	if got := calls.Load(); got > 3 {
		t.Errorf("accept4 called %d times for 1 failure and 1 connection", got)
	}
}

func TestTwoLoopsShareTheWork(t *testing.T) {
	st := newSite(t, siteOptions{})
	s := newServer(t, st.conf, event.Options{Loops: 2})
	serve(t, s)
	addr := s.Addrs()[0].String()
	for range 64 {
		dial(t, addr).mustGet(t, "/1k.txt", 200)
	}
	stats := s.Stats()
	if len(stats.Loops) != 2 {
		t.Fatalf("%d loops, want 2", len(stats.Loops))
	}
	for i, l := range stats.Loops {
		if l.Accepted == 0 {
			t.Errorf("loop %d accepted none of 64 connections (SO_REUSEPORT spreads them)", i)
		}
	}
}

// slowBackend answers each request only when release is closed.
type slowBackend struct {
	l       net.Listener
	got     chan struct{}
	release chan struct{}
}

func startSlowBackend(t *testing.T) *slowBackend {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &slowBackend{l: l, got: make(chan struct{}, 16), release: make(chan struct{})}
	var g errgroup.Group
	g.Go(func() error {
		for {
			c, err := l.Accept()
			if err != nil {
				return nil
			}
			g.Go(func() error {
				defer c.Close()
				br := bufio.NewReader(c)
				if _, err := http.ReadRequest(br); err != nil {
					return nil
				}
				b.got <- struct{}{}
				<-b.release
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nslow")
				return nil
			})
		}
	})
	t.Cleanup(func() { l.Close(); g.Wait() })
	return b
}

func TestGracefulStop(t *testing.T) {
	backend := startSlowBackend(t)
	st := newSite(t, siteOptions{upstream: backend.l.Addr().String()})
	s := newServer(t, st.conf, event.Options{Loops: 1, ShutdownTimeout: waitBudget})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var g errgroup.Group
	g.Go(func() error { return s.Serve(ctx) })
	addr := s.Addrs()[0].String()

	idle := []*client{dial(t, addr), dial(t, addr)}
	for _, c := range idle {
		c.mustGet(t, "/1k.txt", 200)
	}
	busy := dial(t, addr)
	var resp *http.Response
	var body []byte
	var busyErr error
	var req errgroup.Group
	req.Go(func() error { resp, body, busyErr = busy.get("/app/slow"); return nil })
	select {
	case <-backend.got:
	case <-time.After(waitBudget):
		t.Fatal("the proxied request never reached the backend")
	}

	cancel()
	for i, c := range idle {
		if err := c.expectClosed(); err != nil {
			t.Errorf("idle connection %d during the stop: %v", i, err)
		}
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("a new connection was accepted during the stop")
	}
	close(backend.release)
	req.Wait()
	if busyErr != nil {
		t.Fatalf("the in-flight request: %v", busyErr)
	}
	if resp.StatusCode != 200 || string(body) != "slow" || !resp.Close {
		t.Errorf("in-flight response: %d %q close=%v, want 200 \"slow\" with Connection: close", resp.StatusCode, body, resp.Close)
	}
	if err := g.Wait(); err != nil {
		t.Errorf("Serve returned %v, want nil", err)
	}
}
