package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/c10k/c10k/servers/config"
)

// BenchmarkServeStatic measures a static hit; -benchmem shows its
// allocations (at most 2: the *os.File). Allocation goals live in
// benchmarks, not tests, so that a GC under load cannot fail a test.
func BenchmarkServeStatic(b *testing.B) {
	root := docroot(b, map[string]string{"f.html": strings.Repeat("x", 1024)})
	srv := defServer(root, "localhost")
	srv.Locations = []*config.Location{with(srv.Loc, config.MatchPrefix, "/", nil)}
	e := newEngine(b, &config.HTTP{Servers: []*config.Server{srv}}, Options{})
	req := request("GET", "/f.html", "Host", "localhost", "User-Agent", "bench", "Accept", "*/*")
	var p Plan
	b.ReportAllocs()
	for b.Loop() {
		e.Serve(req, conn, &p)
		if p.Status != 200 || p.File == nil {
			b.Fatalf("status %d", p.Status)
		}
		p.File.Close()
	}
}

func BenchmarkProxyHead(b *testing.B) {
	var logs []string
	now := time.Now()
	e := proxyEngine(b, &logs, &now)
	req := request("GET", "/set/api/v1/items?id=7", "Host", "example.com", "User-Agent", "bench", "Accept", "*/*", "X-Forwarded-For", "10.1.1.1",
		"Connection", "keep-alive, X-Trace", "X-Trace", "1")
	var p Plan
	b.ReportAllocs()
	for b.Loop() {
		e.Serve(req, conn, &p)
		x := p.Proxy
		if _, ok := x.Next(); !ok {
			b.Fatal("no peer")
		}
		_ = x.Head()
		x.Done()
	}
}
