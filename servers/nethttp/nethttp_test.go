package nethttp_test

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/c10k/c10k/servers/backend"
	"github.com/c10k/c10k/servers/config"
	"github.com/c10k/c10k/servers/engine"
	"github.com/c10k/c10k/servers/nethttp"
)

// The conformance suite (servers/servertest) is not run here, but for its
// reload cases (reload_test.go): net/http answers obs-fold and
// Content-Length-with-chunked requests itself, and this core has no
// upstream keepalive pool (see the package findings). This smoke test
// covers what the benchmark relies on.

const siteConf = `
http {
  access_log off;
  keepalive_timeout 30s;
  server {
    listen 127.0.0.1:0;
    root html;
    location = /gone { return 444; }
    location = /sendfile-off { sendfile off; alias html/1k.txt; }
    location /app/ { proxy_pass http://$BACKEND; }
  }
}
`

func start(t *testing.T) (addr string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "html"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "html", "1k.txt"), []byte(strings.Repeat("x", 1024)), 0o644); err != nil {
		t.Fatal(err)
	}
	bl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bs, err := backend.New(backend.Options{Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	var g errgroup.Group
	hs := &http.Server{Handler: bs.Handler()}
	g.Go(func() error { hs.Serve(bl); return nil })
	conf := strings.ReplaceAll(siteConf, "$BACKEND", bl.Addr().String())
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(confPath)
	if err != nil {
		t.Fatal(err)
	}
	if got := nethttp.IdleTimeoutOf(cfg); got != 30*time.Second {
		t.Errorf("IdleTimeoutOf = %v, want the config's 30s", got)
	}
	e, err := engine.New(cfg, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := nethttp.New(e, nethttp.Options{IdleTimeout: nethttp.IdleTimeoutOf(cfg), ShutdownTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g.Go(func() error { return s.Serve(ctx) })
	t.Cleanup(func() {
		cancel()
		hs.Close()
		if err := g.Wait(); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s.Addrs()[0].String()
}

func TestSmoke(t *testing.T) {
	addr := start(t)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	// One keep-alive connection through every kind of plan.
	for _, tc := range []struct {
		method, path string
		status       int
		body         string // prefix of the body
		header       string // a field "Name: value" the response must carry
	}{
		{"GET", "/1k.txt", 200, "xxxx", "Content-Length: 1024"},
		{"HEAD", "/1k.txt", 200, "", "Content-Length: 1024"},
		{"GET", "/sendfile-off", 200, "xxxx", "Content-Length: 1024"},
		{"GET", "/missing", 404, "<html>", "Server: c10k"},
		{"GET", "/app/x", 200, "", "X-Backend: a"},
	} {
		req := tc.method + " " + tc.path + " HTTP/1.1\r\nHost: t\r\n\r\n"
		if _, err := c.Write([]byte(req)); err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.path, err)
		}
		resp, err := http.ReadResponse(br, &http.Request{Method: tc.method})
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.path, err)
		}
		var b strings.Builder
		_, err = bufio.NewReader(resp.Body).WriteTo(&b)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s %s: body: %v", tc.method, tc.path, err)
		}
		name, value, _ := strings.Cut(tc.header, ": ")
		if resp.StatusCode != tc.status || !strings.HasPrefix(b.String(), tc.body) || resp.Header.Get(name) != value || resp.Close {
			t.Errorf("%s %s = %d %v close=%v body %.20q, want %d with %q, kept alive", tc.method, tc.path, resp.StatusCode, resp.Header, resp.Close, b.String(), tc.status, tc.header)
		}
		if tc.method == "HEAD" && b.Len() != 0 {
			t.Errorf("HEAD sent a body of %d bytes", b.Len())
		}
	}
	// 444 closes without a response.
	c.Write([]byte("GET /gone HTTP/1.1\r\nHost: t\r\n\r\n"))
	if n, err := br.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Errorf("GET /gone read %d bytes, err %v; want the connection closed without a response", n, err)
	}
}
