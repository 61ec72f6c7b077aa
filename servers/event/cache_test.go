package event_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/c10k/c10k/servers/event"
)

// cacheSite writes a config whose /app/ is proxied to upstream through
// a proxy_cache with proxy_cache_lock, and whose / serves a static
// file; the lock timeout is long enough that no waiter of these tests
// ever reaches it.
func cacheSite(t *testing.T, upstream string) string {
	t.Helper()
	dir := t.TempDir()
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
        }
    }
}
`, filepath.Join(dir, "cache"), root, upstream)
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
