package event_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/c10k/c10k/servers/event"
)

// cacheSite writes a config whose /app/ is proxied to upstream through
// a disk proxy_cache with proxy_cache_lock, and whose / serves a static
// file; the lock timeout is long enough that no waiter of these tests
// ever reaches it.
func cacheSite(t *testing.T, upstream string) string {
	return cacheSiteWith(t, upstream, "", "")
}

// cacheSiteWith is cacheSite with the zone's path ("" for a directory
// of the test, or config.MemoryCachePath) and more directives for /app/.
func cacheSiteWith(t *testing.T, upstream, zonePath, extra string) string {
	t.Helper()
	dir := t.TempDir()
	if zonePath == "" {
		zonePath = filepath.Join(dir, "cache")
	}
	root := filepath.Join(dir, "html")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "1k.txt"), make([]byte, 1024), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`worker_processes 1;
events { worker_connections 1024; }
http {
    proxy_cache_path %s keys_zone=c:1m;
    sendfile on;
    server {
        listen 127.0.0.1:0;
        root %s;
        location / { }
        location /app/ {
            proxy_pass http://%s;
            proxy_read_timeout 30s;
            proxy_cache c;
            proxy_cache_valid 200 10m;
            proxy_cache_lock on;
            proxy_cache_lock_timeout 60s;
            %s
        }
    }
}
`, zonePath, root, upstream, extra)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCacheLockDoesNotBlockTheLoop checks that a request waiting for
// another one's fill of its cache entry (proxy_cache_lock) is parked:
// the one loop serves other requests meanwhile, a waiter whose client
// leaves is dropped, and the others get the entry once it is filled,
// with one upstream request in all.
func TestCacheLockDoesNotBlockTheLoop(t *testing.T) {
	backend := startSlowBackend(t)
	s := newServer(t, cacheSite(t, backend.l.Addr().String()), event.Options{Loops: 1})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var srv errgroup.Group
	srv.Go(func() error { return s.Serve(ctx) })
	defer func() {
		cancel()
		srv.Wait()
	}()
	addr := s.Addrs()[0].String()

	type result struct {
		resp *http.Response
		body []byte
		err  error
	}
	get := func(c *client, out *result) func() error {
		return func() error {
			out.resp, out.body, out.err = c.get("/app/x")
			return nil
		}
	}
	var reqs errgroup.Group
	var filler result
	reqs.Go(get(dial(t, addr), &filler))
	wait(t, backend.got, "the filling request at the upstream")

	waiters := make([]result, 2)
	for i := range waiters {
		reqs.Go(get(dial(t, addr), &waiters[i]))
	}
	eventually(t, "two requests waiting for the fill", func() bool { return s.Stats().Waiting == 2 })

	// A waiter that leaves is dropped from the wait.
	leaving := dial(t, addr)
	if _, err := leaving.nc.Write([]byte("GET /app/x HTTP/1.1\r\nHost: test\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the third waiter", func() bool { return s.Stats().Waiting == 3 })
	leaving.nc.Close()
	eventually(t, "the waiter that left to be dropped", func() bool { return s.Stats().Waiting == 2 })

	// The loop is free meanwhile.
	dial(t, addr).mustGet(t, "/1k.txt", 200)

	close(backend.release)
	reqs.Wait()
	for i, r := range append([]result{filler}, waiters...) {
		if r.err != nil {
			t.Fatalf("request %d: %v", i, r.err)
		}
		if r.resp.StatusCode != 200 || string(r.body) != "slow" {
			t.Errorf("request %d: %d %q, want 200 \"slow\"", i, r.resp.StatusCode, r.body)
		}
	}
	if n := len(backend.got); n != 0 {
		t.Errorf("%d more requests reached the upstream, want the fill alone", n)
	}
	if st := s.Stats(); st.Waiting != 0 {
		t.Errorf("Stats().Waiting = %d after the fill, want 0", st.Waiting)
	}
}

// TestCacheFillEveryBodyPath fills an entry through each way the core
// reads an upstream body (buffered in memory, spilled to the temp file,
// streamed with proxy_buffering off; with a Content-Length or chunked;
// into a disk or a memory zone) and checks that the next request is
// answered from the entry, byte for byte, without the upstream.
func TestCacheFillEveryBodyPath(t *testing.T) {
	for _, tc := range []struct {
		name    string
		size    int
		chunked bool
		memory  bool
		extra   string
		buffer  int // Options.ProxyBuffer; 0 for the default
	}{
		{name: "memory buffer", size: 32 << 10},
		{name: "memory buffer chunked", size: 32 << 10, chunked: true, memory: true},
		{name: "spilled", size: 1 << 20, buffer: 64 << 10},
		{name: "spilled chunked memory zone", size: 1 << 20, buffer: 64 << 10, chunked: true, memory: true},
		{name: "streamed", size: 1 << 20, extra: "proxy_buffering off;"},
		{name: "streamed chunked", size: 1 << 20, chunked: true, extra: "proxy_buffering off;"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := testBody(tc.size)
			up := startRawUpstream(t, body, tc.chunked, 0)
			zone := ""
			if tc.memory {
				zone = "memory:"
			}
			s := newServer(t, cacheSiteWith(t, up.addr(), zone, tc.extra), event.Options{Loops: 1, ProxyBuffer: tc.buffer})
			serve(t, s)
			c := dial(t, s.Addrs()[0].String())
			for i := range 2 {
				c.send(t, "GET /app/big HTTP/1.1\r\nHost: t\r\n\r\n")
				c.readBig(t, body, false)
				if n := up.bigs.Load(); n != 1 {
					t.Fatalf("request %d: %d requests reached the upstream, want 1", i+1, n)
				}
			}
			if tc.buffer != 0 && s.Stats().Spilled == 0 {
				t.Errorf("the fill never spilled to a temp file")
			}
		})
	}
}

// TestCacheFillCutByClient checks that a fill whose client goes away
// mid-body (proxy_buffering off, chunked, so that only the core knows
// the body is incomplete) is not stored: the next request goes to the
// upstream again and gets the whole body.
func TestCacheFillCutByClient(t *testing.T) {
	body := testBody(bigAnswer)
	up := startRawUpstream(t, body, true, 0)
	s := newServer(t, cacheSiteWith(t, up.addr(), "", "proxy_buffering off;"), event.Options{Loops: 1})
	serve(t, s)
	addr := s.Addrs()[0].String()
	gone := dialSlow(t, addr)
	gone.send(t, "GET /app/big HTTP/1.1\r\nHost: t\r\n\r\n")
	if line, err := gone.br.ReadString('\n'); err != nil || !strings.Contains(line, " 200 ") {
		t.Fatalf("status line %q, %v", line, err)
	}
	gone.nc.Close()
	eventually(t, "the cut exchange to end", func() bool { st := s.Stats(); return st.Connections == 0 && st.Borrowed == 0 })
	c := dial(t, addr)
	c.send(t, "GET /app/big HTTP/1.1\r\nHost: t\r\n\r\n")
	c.readBig(t, body, false)
	if n := up.bigs.Load(); n != 2 {
		t.Errorf("%d requests reached the upstream, want 2: the cut fill must not be stored", n)
	}
}
