package engine

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/c10k/c10k/servers/config"
	"github.com/c10k/c10k/servers/internal/proctest"
)

// clock is an injected Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// ofcEngine serves root with open_file_cache set by edit on the server
// level, on the injected clock.
func ofcEngine(t *testing.T, root string, clk *clock, edit func(*config.Location)) *Engine {
	t.Helper()
	srv := defServer(root, "localhost")
	srv.Loc.OpenFileCache = &config.OpenFileCache{Max: 10, Inactive: 20 * time.Second}
	srv.Loc.OpenFileCacheValid, srv.Loc.OpenFileCacheMinUses = 60*time.Second, 1
	if edit != nil {
		edit(srv.Loc)
	}
	e := newEngine(t, &config.HTTP{Servers: []*config.Server{srv}}, Options{Now: clk.now})
	t.Cleanup(func() { e.Close() })
	return e
}

// openFDs counts this process's descriptors open on path.
func openFDs(t *testing.T, path string) int {
	t.Helper()
	fds, err := proctest.FDs()
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	n := 0
	for _, target := range fds {
		if target == path {
			n++
		}
	}
	return n
}

func get(t *testing.T, e *Engine, target string) *Plan {
	t.Helper()
	p := new(Plan)
	e.Serve(request("GET", target, "Host", "localhost"), conn, p)
	return p
}

func TestOpenFileCacheShares(t *testing.T) {
	root := docroot(t, map[string]string{"a.txt": "0123456789", "b.txt": "b"})
	a := filepath.Join(root, "a.txt")
	clk := &clock{t: testNow}
	e := ofcEngine(t, root, clk, nil)

	p1, p2 := get(t, e, "/a.txt"), get(t, e, "/a.txt")
	if p1.File == nil || p1.File != p2.File || !p1.FileShared() {
		t.Fatalf("two requests: files %p %p (shared %v), want one cached descriptor", p1.File, p2.File, p1.FileShared())
	}
	if n := openFDs(t, a); n != 1 {
		t.Fatalf("%d descriptors open on a.txt, want 1", n)
	}
	p1.CloseFile()
	p1.CloseFile() // idempotent
	if body(t, p2) != "0123456789" {
		t.Error("the second request cannot read the shared descriptor after the first released it")
	}
	if n := openFDs(t, a); n != 1 {
		t.Errorf("after both released: %d descriptors, want 1 (kept by the cache)", n)
	}
	// A third request: no open, the same descriptor.
	p3 := get(t, e, "/a.txt")
	if p3.File != p2.File && p3.File == nil {
		t.Error("hit did not reuse the cached descriptor")
	}
	p3.CloseFile()
}

func TestOpenFileCacheEvictAfterRelease(t *testing.T) {
	root := docroot(t, map[string]string{"a.txt": "0123456789", "b.txt": "b", "c.txt": "c"})
	a := filepath.Join(root, "a.txt")
	tests := []struct {
		name  string
		evict func(e *Engine, clk *clock)
	}{
		{"inactive", func(e *Engine, clk *clock) {
			clk.add(21 * time.Second)
			get(t, e, "/b.txt").CloseFile() // any lookup expires old entries
		}},
		{"lru beyond max", func(e *Engine, clk *clock) {
			clk.add(time.Second)
			get(t, e, "/b.txt").CloseFile()
			clk.add(time.Second)
			get(t, e, "/c.txt").CloseFile() // max=2: a.txt, the least recently used, goes
		}},
		{"engine close", func(e *Engine, clk *clock) { e.Close() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &clock{t: testNow}
			e := ofcEngine(t, root, clk, func(l *config.Location) { l.OpenFileCache.Max = 2 })
			held := get(t, e, "/a.txt")
			tt.evict(e, clk)
			if n := openFDs(t, a); n != 1 {
				t.Fatalf("evicted while a request sends it: %d descriptors, want 1", n)
			}
			if got := body(t, held); got != "0123456789" { // body releases
				t.Errorf("body %q after eviction", got)
			}
			if n := openFDs(t, a); n != 0 {
				t.Errorf("after eviction and the last release: %d descriptors, want 0", n)
			}
			p := get(t, e, "/a.txt") // opened again
			if got := body(t, p); got != "0123456789" {
				t.Errorf("after eviction: body %q", got)
			}
		})
	}
}

// TestOpenFileCacheAfterClose: a closed engine (one a reload replaced)
// still serves the requests running on it, but its cache keeps nothing:
// each request's descriptor is its own and closed when it is done.
func TestOpenFileCacheAfterClose(t *testing.T) {
	root := docroot(t, map[string]string{"a.txt": "0123456789"})
	a := filepath.Join(root, "a.txt")
	clk := &clock{t: testNow}
	e := ofcEngine(t, root, clk, nil)
	e.Close()
	for i := range 2 {
		p := get(t, e, "/a.txt")
		if p.Status != 200 || p.File == nil || p.FileShared() {
			t.Fatalf("request %d after Close: status %d, file %v, shared %v; want 200 with a descriptor of its own", i, p.Status, p.File != nil, p.FileShared())
		}
		if got := body(t, p); got != "0123456789" { // body closes the file
			t.Errorf("request %d after Close: body %q", i, got)
		}
		if n := openFDs(t, a); n != 0 {
			t.Errorf("request %d after Close: %d descriptors left on a.txt, want 0", i, n)
		}
	}
	for _, c := range e.caches {
		if n := c.len(); n != 0 {
			t.Errorf("the closed cache holds %d entries, want 0", n)
		}
	}
}

func TestOpenFileCacheConcurrent(t *testing.T) {
	root := docroot(t, map[string]string{"a.txt": strings.Repeat("x", 4096), "b.txt": "b"})
	a := filepath.Join(root, "a.txt")
	clk := &clock{t: testNow}
	e := ofcEngine(t, root, clk, nil)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range 16 {
		wg.Go(func() {
			<-start
			var p Plan
			buf := make([]byte, 4096)
			for i := range 200 {
				e.Serve(request("GET", "/a.txt", "Host", "localhost"), conn, &p)
				if n, err := p.File.ReadAt(buf, p.Offset); n != len(buf) || err != nil {
					t.Errorf("goroutine %d: pread of the shared descriptor: %d, %v", g, n, err)
				}
				if g == 0 && i%50 == 0 {
					clk.add(21 * time.Second) // expire while others send
					var q Plan
					e.Serve(request("GET", "/b.txt", "Host", "localhost"), conn, &q)
					q.CloseFile()
				}
				p.CloseFile()
			}
		})
	}
	close(start)
	wg.Wait()
	e.Close()
	if n := openFDs(t, a); n != 0 {
		t.Errorf("after all requests and Close: %d descriptors on a.txt, want 0", n)
	}
}

func TestOpenFileCacheValid(t *testing.T) {
	root := docroot(t, map[string]string{"a.txt": "old", "index.html": "home"})
	a := filepath.Join(root, "a.txt")
	clk := &clock{t: testNow}
	e := ofcEngine(t, root, clk, func(l *config.Location) { l.OpenFileCacheValid = 30 * time.Second })
	if got := body(t, get(t, e, "/a.txt")); got != "old" {
		t.Fatalf("body %q", got)
	}
	// Replace a.txt (a new inode) and remove index.html.
	tmp := filepath.Join(root, "a.new")
	if err := os.WriteFile(tmp, []byte("new!"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, a); err != nil {
		t.Fatal(err)
	}
	get(t, e, "/").CloseFile() // caches the stat of index.html
	if err := os.Remove(filepath.Join(root, "index.html")); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		after       time.Duration
		body        string
		indexStatus int
	}{
		{10 * time.Second, "old", 200},  // still valid: the cached descriptor and stat
		{25 * time.Second, "new!", 403}, // revalidated: the new file, the index gone
	}
	for _, s := range steps {
		clk.add(s.after)
		if got := body(t, get(t, e, "/a.txt")); got != s.body {
			t.Errorf("+%v: body %q, want %q", s.after, got, s.body)
		}
		p := get(t, e, "/")
		if p.Status != s.indexStatus {
			t.Errorf("+%v: / status %d, want %d", s.after, p.Status, s.indexStatus)
		}
		p.CloseFile()
	}
	if n := openFDs(t, a); n != 1 {
		t.Errorf("%d descriptors on a.txt, want 1 (the replaced file's closed)", n)
	}
}

func TestOpenFileCacheMinUsesAndErrors(t *testing.T) {
	tests := []struct {
		name    string
		minUses int
		errors  bool
		fds     []int // descriptors on a.txt after each request
		missing int   // status of a file created after a 404
	}{
		{"defaults", 1, false, []int{1, 1}, 200},
		{"min_uses 2", 2, false, []int{0, 1, 1}, 200},
		{"errors on", 1, true, []int{1}, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := docroot(t, map[string]string{"a.txt": "a"})
			a := filepath.Join(root, "a.txt")
			clk := &clock{t: testNow}
			e := ofcEngine(t, root, clk, func(l *config.Location) {
				l.OpenFileCacheMinUses, l.OpenFileCacheErrors = tt.minUses, tt.errors
			})
			for i, want := range tt.fds {
				get(t, e, "/a.txt").CloseFile()
				if n := openFDs(t, a); n != want {
					t.Errorf("after request %d: %d descriptors, want %d", i+1, n, want)
				}
			}
			if p := get(t, e, "/late.txt"); p.Status != 404 {
				t.Fatalf("missing file: %d", p.Status)
			}
			if err := os.WriteFile(filepath.Join(root, "late.txt"), []byte("late"), 0o644); err != nil {
				t.Fatal(err)
			}
			p := get(t, e, "/late.txt")
			p.CloseFile()
			if p.Status != tt.missing {
				t.Errorf("file created after a 404: %d, want %d (errors cached: %v)", p.Status, tt.missing, tt.errors)
			}
		})
	}
}

// TestOpenFileCacheHitNoAlloc checks that a cache hit under ServeCached
// allocates nothing (and so opens and stats nothing: os.NewFile would
// allocate).
func TestOpenFileCacheHitNoAlloc(t *testing.T) {
	root := docroot(t, map[string]string{"a.txt": "0123456789"})
	clk := &clock{t: testNow}
	e := ofcEngine(t, root, clk, nil)
	req := request("GET", "/a.txt", "Host", "localhost")
	var p Plan
	serve := func() {
		if !e.ServeCached(req, conn, &p) || p.Status != 200 || !p.FileShared() {
			t.Fatalf("ServeCached hit: status %d shared %v", p.Status, p.FileShared())
		}
		p.CloseFile()
	}
	serve()
	if n := testing.AllocsPerRun(100, serve); n != 0 {
		t.Errorf("%v allocations per hit, want 0", n)
	}
}
