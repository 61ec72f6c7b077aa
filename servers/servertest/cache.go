package servertest

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
)

// cacheConf is the config of the proxy_cache cases: a memory zone for
// most of them, a disk zone for the restart, one with max_size for
// eviction. Every case uses URIs of its own, so they share no entry.
const cacheConf = `events {}
http {
    access_log off;
    proxy_cache_path memory: keys_zone=mem:1m;
    proxy_cache_path $DIR/disk levels=1:2 keys_zone=dsk:1m;
    proxy_cache_path $DIR/evict keys_zone=ev:1m max_size=100k;
    proxy_cache_valid 200 1h;
    server {
        listen 127.0.0.1:0 default_server;
        server_name cache.test;
        add_header X-Cache-Status $upstream_cache_status always;
        proxy_cache mem;
        location / { proxy_pass http://$UP; }
        location /valid/ { proxy_cache_valid 404 1m; proxy_pass http://$UP; }
        location /lock/ { proxy_cache_lock on; proxy_cache_lock_timeout 30s; proxy_pass http://$UP; }
        location /stale/ {
            proxy_cache_use_stale error timeout;
            proxy_read_timeout 300ms;
            proxy_pass http://$UP;
        }
        location /cut/ { proxy_buffering off; proxy_pass http://$UP; }
        location /disk/ { proxy_cache dsk; proxy_pass http://$UP; }
        location /evict/ { proxy_cache ev; proxy_pass http://$UP; }
        location /nocache/ { proxy_cache off; proxy_pass http://$UP; }
    }
}
`

// counter is the cases' upstream: it counts the requests of each
// target (path and query) and answers "TARGET #N" with the count in
// X-Count. Query arguments shape the answer: cc= (Cache-Control),
// expires= (Expires, seconds from now), cookie=1 (Set-Cookie), vary=1
// (Vary: Accept-Encoding, and the body names the request's),
// status=, size= (the body padded to that length), hold=1 (the answer
// waits until release), and after=hangup|stall|cut: from the second
// request on (first for cut) the upstream closes without answering,
// stalls without answering, or sends half the body and closes.
type counter struct {
	l       net.Listener
	mu      sync.Mutex
	counts  map[string]int
	held    chan struct{} // a hold=1 request arrived
	release chan struct{} // closed: hold=1 requests answer
	stop    chan struct{} // closed at cleanup: stalls end
	once    sync.Once
}

func (c *counter) addr() string { return c.l.Addr().String() }

func (c *counter) count(target string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[target]
}

func (c *counter) releaseAll() { c.once.Do(func() { close(c.release) }) }

func startCounter(t *testing.T) *counter {
	t.Helper()
	l := ListenLocal(t)
	c := &counter{l: l, counts: map[string]int{}, held: make(chan struct{}, 64),
		release: make(chan struct{}), stop: make(chan struct{})}
	srv := &http.Server{Handler: c, ReadHeaderTimeout: IOTimeout}
	var g errgroup.Group
	g.Go(func() error { srv.Serve(l); return nil })
	t.Cleanup(func() {
		close(c.stop)
		c.releaseAll()
		srv.Close()
		g.Wait()
	})
	return c
}

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.URL.RequestURI()
	c.mu.Lock()
	c.counts[target]++
	n := c.counts[target]
	c.mu.Unlock()
	q := r.URL.Query()
	switch after := q.Get("after"); {
	case after == "hangup" && n > 1, after == "stall" && n > 1, after == "cut" && n == 1:
		conn, bw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		switch after {
		case "stall":
			select {
			case <-c.stop:
			case <-time.After(2 * IOTimeout):
			}
		case "cut":
			bw.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n")
			bw.WriteString(strings.Repeat("c", 500))
			bw.Flush()
		}
		return
	}
	if q.Get("hold") == "1" {
		c.held <- struct{}{}
		select {
		case <-c.release:
		case <-c.stop:
		}
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain")
	h.Set("X-Count", strconv.Itoa(n))
	if v := q.Get("cc"); v != "" {
		h.Set("Cache-Control", v)
	}
	if v := q.Get("expires"); v != "" {
		s, _ := strconv.Atoi(v)
		h.Set("Expires", time.Now().Add(time.Duration(s)*time.Second).UTC().Format(http.TimeFormat))
	}
	if q.Get("cookie") == "1" {
		h.Set("Set-Cookie", "session=1")
	}
	body := target + " #" + strconv.Itoa(n)
	if q.Get("vary") == "1" {
		h.Set("Vary", "Accept-Encoding")
		body += " for " + r.Header.Get("Accept-Encoding")
	}
	if q.Get("after") == "cut" {
		body = strings.Repeat("c", 1000)
	}
	if s, _ := strconv.Atoi(q.Get("size")); s > len(body) {
		body += strings.Repeat("x", s-len(body))
	}
	status := 200
	if s, _ := strconv.Atoi(q.Get("status")); s != 0 {
		status = s
	}
	w.WriteHeader(status)
	w.Write([]byte(body))
}

// RunCache runs the proxy_cache cases against the core start starts, on
// a config of its own with an upstream that counts its requests: a miss
// then a hit (one upstream request), the key's arguments, the
// proxy_cache_valid of each status, Cache-Control no-store, private and
// max-age (EXPIRED once it passed), Expires, Set-Cookie, HEAD served
// from the GET entry, Vary variants, proxy_cache_lock (20 concurrent misses, one
// upstream request), proxy_cache_use_stale error and timeout, a disk
// entry that survives a restart of the core, max_size eviction, an
// upstream that dies mid-body (nothing partial stored), and a reload
// that keeps the entries. $upstream_cache_status comes back in every
// answer through add_header.
func RunCache(t *testing.T, start Start) {
	dir := t.TempDir()
	up := startCounter(t)
	conf := strings.NewReplacer("$DIR", dir, "$UP", up.addr()).Replace(cacheConf)
	confPath := filepath.Join(dir, "nginx.conf")
	must(t, os.WriteFile(confPath, []byte(conf), 0o644))
	const host = "cache.test"

	var core Core
	t.Run("restart-disk", func(t *testing.T) {
		// The first core serves this sub-test only: it stops at its end.
		first := start(t, confPath)
		fetchCache(t, first.Addr, "GET", "/disk/a?size=3000", 200, "MISS")
		fetchCache(t, first.Addr, "GET", "/disk/a?size=3000", 200, "HIT")
	})
	core = start(t, confPath)
	addr := core.Addr
	if t.Failed() {
		return
	}
	t.Run("restart-disk-hit", func(t *testing.T) {
		r := fetchCache(t, addr, "GET", "/disk/a?size=3000", 200, "HIT")
		if n := up.count("/disk/a?size=3000"); n != 1 || len(r.Body) != 3000 {
			t.Errorf("after a restart: %d upstream requests, %d body bytes; want 1 and 3000", n, len(r.Body))
		}
	})

	// The cases run in parallel, and are all done before the reload.
	t.Run("cases", func(t *testing.T) {
		t.Run("miss-then-hit", func(t *testing.T) {
			t.Parallel()
			a := fetchCache(t, addr, "GET", "/hit", 200, "MISS")
			b := fetchCache(t, addr, "GET", "/hit", 200, "HIT")
			if string(a.Body) != string(b.Body) || a.Get("X-Count") != "1" || b.Get("X-Count") != "1" || up.count("/hit") != 1 {
				t.Errorf("hit: bodies %q and %q, %d upstream requests; want the first answer twice, one request", a.Body, b.Body, up.count("/hit"))
			}
		})
		t.Run("key-args", func(t *testing.T) {
			t.Parallel()
			fetchCache(t, addr, "GET", "/key?a=1", 200, "MISS")
			fetchCache(t, addr, "GET", "/key?a=2", 200, "MISS")
			fetchCache(t, addr, "GET", "/key?a=1", 200, "HIT")
		})
		t.Run("valid-per-status", func(t *testing.T) {
			t.Parallel()
			fetchCache(t, addr, "GET", "/valid/nf?status=404", 404, "MISS")
			fetchCache(t, addr, "GET", "/valid/nf?status=404", 404, "HIT")
			// This level's proxy_cache_valid replaces the http level's.
			fetchCache(t, addr, "GET", "/valid/ok", 200, "MISS")
			fetchCache(t, addr, "GET", "/valid/ok", 200, "MISS")
			fetchCache(t, addr, "GET", "/valid/err?status=500", 500, "MISS")
			fetchCache(t, addr, "GET", "/valid/err?status=500", 500, "MISS")
		})
		t.Run("not-stored", func(t *testing.T) {
			t.Parallel()
			for _, target := range []string{"/cc?cc=no-store", "/cc?cc=private,max-age=60", "/cc?cc=no-cache", "/cookie?cookie=1", "/cc?cc=max-age=0"} {
				fetchCache(t, addr, "GET", target, 200, "MISS")
				fetchCache(t, addr, "GET", target, 200, "MISS")
			}
		})
		t.Run("expires", func(t *testing.T) {
			t.Parallel()
			fetchCache(t, addr, "GET", "/exp?expires=3600", 200, "MISS")
			fetchCache(t, addr, "GET", "/exp?expires=3600", 200, "HIT")
			fetchCache(t, addr, "GET", "/exp?expires=-10", 200, "MISS")
			fetchCache(t, addr, "GET", "/exp?expires=-10", 200, "MISS")
		})
		t.Run("vary", func(t *testing.T) {
			t.Parallel()
			for i, s := range []struct{ ae, cache string }{{"gzip", "MISS"}, {"br", "MISS"}, {"gzip", "HIT"}, {"br", "HIT"}} {
				r := fetchCache(t, addr, "GET", "/vary?vary=1", 200, s.cache, "Accept-Encoding: "+s.ae)
				if !strings.HasSuffix(string(r.Body), " for "+s.ae) {
					t.Errorf("request %d (Accept-Encoding: %s): body %q, want the variant for it", i+1, s.ae, r.Body)
				}
			}
		})
		t.Run("head-from-get", func(t *testing.T) {
			t.Parallel()
			fetchCache(t, addr, "GET", "/head", 200, "MISS")
			r := fetchCache(t, addr, "HEAD", "/head", 200, "HIT")
			if len(r.Body) != 0 || up.count("/head") != 1 {
				t.Errorf("HEAD: %d body bytes, %d upstream requests; want none and 1", len(r.Body), up.count("/head"))
			}
		})
		t.Run("max-age-expiry", func(t *testing.T) {
			t.Parallel()
			fetchCache(t, addr, "GET", "/age?cc=max-age=1", 200, "MISS")
			fetchCache(t, addr, "GET", "/age?cc=max-age=1", 200, "HIT")
			time.Sleep(1100 * time.Millisecond)
			r := fetchCache(t, addr, "GET", "/age?cc=max-age=1", 200, "EXPIRED")
			if r.Get("X-Count") != "2" {
				t.Errorf("expired: X-Count %q, want a new upstream answer (2)", r.Get("X-Count"))
			}
		})
		t.Run("use-stale-error", func(t *testing.T) {
			t.Parallel()
			const target = "/stale/e?cc=max-age=1&after=hangup"
			a := fetchCache(t, addr, "GET", target, 200, "MISS")
			time.Sleep(1100 * time.Millisecond)
			b := fetchCache(t, addr, "GET", target, 200, "STALE")
			if string(a.Body) != string(b.Body) {
				t.Errorf("stale body %q, want %q", b.Body, a.Body)
			}
		})
		t.Run("use-stale-timeout", func(t *testing.T) {
			t.Parallel()
			const target = "/stale/t?cc=max-age=1&after=stall"
			fetchCache(t, addr, "GET", target, 200, "MISS")
			time.Sleep(1100 * time.Millisecond)
			fetchCache(t, addr, "GET", target, 200, "STALE")
		})
		t.Run("lock", func(t *testing.T) {
			t.Parallel()
			const target, n = "/lock/l?hold=1", 20
			statuses := make([]string, n)
			var g errgroup.Group
			for i := range n {
				g.Go(func() error {
					r, err := tryCache(addr, "GET", target)
					if err != nil {
						return err
					}
					statuses[i] = r.Get("X-Cache-Status")
					return nil
				})
			}
			select {
			case <-up.held:
			case <-time.After(IOTimeout):
				t.Error("no request reached the upstream")
			}
			// The others are waiting for the lock now, or will find the
			// entry; either way the upstream is asked once.
			time.Sleep(100 * time.Millisecond)
			up.releaseAll()
			if err := g.Wait(); err != nil {
				t.Fatal(err)
			}
			misses := 0
			for _, s := range statuses {
				switch s {
				case "MISS":
					misses++
				case "HIT":
				default:
					t.Errorf("X-Cache-Status %q, want MISS or HIT", s)
				}
			}
			if c := up.count(target); c != 1 || misses != 1 {
				t.Errorf("%d concurrent misses: %d upstream requests, %d MISS; want 1 and 1 (%v)", n, c, misses, statuses)
			}
		})
		t.Run("cut-body", func(t *testing.T) {
			t.Parallel()
			// Streamed (proxy_buffering off: the client gets a cut-short
			// response) and buffered (the core may answer 502 instead,
			// nothing having gone out yet): never a whole 200, never
			// stored.
			for _, target := range []string{"/cut/c?after=cut", "/cutbuf?after=cut"} {
				c, err := Dial(addr)
				if err != nil {
					t.Fatal(err)
				}
				r, err := c.RoundTrip("GET", []byte(request("GET", target, host)))
				c.Close()
				if err == nil && r.Status == 200 && len(r.Body) == 1000 {
					t.Fatalf("%s: an upstream that died mid-body gave a whole response:\n%s", target, r)
				}
				r2 := fetchCache(t, addr, "GET", target, 200, "MISS")
				if len(r2.Body) != 1000 || up.count(target) != 2 {
					t.Errorf("%s after a cut body: %d bytes, %d upstream requests; want 1000 and 2", target, len(r2.Body), up.count(target))
				}
				fetchCache(t, addr, "GET", target, 200, "HIT")
			}
		})
		t.Run("max-size-eviction", func(t *testing.T) {
			t.Parallel()
			for _, u := range []string{"/evict/1", "/evict/2", "/evict/3"} {
				fetchCache(t, addr, "GET", u+"?size=40000", 200, "MISS")
			}
			fetchCache(t, addr, "GET", "/evict/3?size=40000", 200, "HIT")
			fetchCache(t, addr, "GET", "/evict/1?size=40000", 200, "MISS") // the least recently used went
		})
		t.Run("uncached-location", func(t *testing.T) {
			t.Parallel()
			r := fetchCache(t, addr, "GET", "/nocache/x", 200, "")
			if r.Has("X-Cache-Status") {
				t.Errorf("proxy_cache off: X-Cache-Status %q, want none", r.Get("X-Cache-Status"))
			}
		})
	})

	t.Run("reload-keeps-entries", func(t *testing.T) {
		if core.Reload == nil {
			t.Skip("the core does not reload")
		}
		fetchCache(t, addr, "GET", "/reload", 200, "MISS")
		if err := core.Reload(confPath); err != nil {
			t.Fatalf("reload: %v", err)
		}
		fetchCache(t, addr, "GET", "/reload", 200, "HIT")
		fetchCache(t, addr, "GET", "/hit", 200, "HIT")
	})
}

// fetchCache sends one request of the cache cases on a fresh connection
// and checks its status and, unless cache is "", X-Cache-Status.
func fetchCache(t *testing.T, addr, method, target string, status int, cache string, fields ...string) *Response {
	t.Helper()
	r, err := tryCache(addr, method, target, fields...)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != status || cache != "" && r.Get("X-Cache-Status") != cache {
		t.Errorf("%s %s: status %d, X-Cache-Status %q; want %d %q\n%s", method, target, r.Status, r.Get("X-Cache-Status"), status, cache, r)
	}
	return r
}

// tryCache sends one request of the cache cases on a fresh connection.
func tryCache(addr, method, target string, fields ...string) (*Response, error) {
	c, err := Dial(addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	defer c.Close()
	r, err := c.RoundTrip(method, []byte(request(method, target, "cache.test", fields...)))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, target, err)
	}
	return r, nil
}
