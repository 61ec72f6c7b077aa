package event_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/c10k/c10k/servers/servertest"
)

// Figures of TestMaximalHeadsMemory.
const (
	// maximalConns is how many connections each hold a maximal head.
	maximalConns = 10000
	// headLimit is what large_client_header_buffers 4 8k lets a head
	// take (http1.LimitsFor: 4 × 8 KiB), and headBuffer the most an
	// exchange's head buffer grows to (coreio.HeadLimits: that plus
	// client_header_buffer_size 1k).
	headLimit  = 4 * 8 << 10
	headBuffer = 1<<10 + headLimit
	// perConnBound is the server memory a held maximal head may cost:
	// its head buffer, the 4 KiB first buffer it outgrew (garbage until
	// a collection), and 16 KiB for the rest of the exchange (parser,
	// request, plan, response-head buffer) and the connection; times two,
	// since Go lets the heap grow to twice what is live before it
	// collects (GOGC=100).
	perConnBound = 2 * (headBuffer + 4<<10 + 16<<10)
)

// TestMaximalHeadsMemory holds 10,000 connections against the event
// core, each having sent a head just under the large_client_header_buffers
// limit (about 31 KiB, lines under 8 KiB) without its final empty line,
// and checks that the server's resident memory grows by less than
// perConnBound per connection: a held head costs its buffer and a
// bounded exchange, nothing that grows with time or count. The core
// runs as a child process (servertest.StartChild), so that client and
// server ends do not share one descriptor limit, and its RSS is read
// from /proc. -short holds 1,000.
func TestMaximalHeadsMemory(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector multiplies the server's memory: the bound is for a plain build")
	}
	n := maximalConns
	if testing.Short() {
		n = 1000
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if need := uint64(n + 1000); lim.Cur < need {
		t.Skipf("RLIMIT_NOFILE is %d: %d connections need at least %d descriptors in this process and in the server's", lim.Cur, n, need)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`worker_processes 1;
events { worker_connections %d; }
http {
    access_log off;
    client_header_buffer_size 1k;
    large_client_header_buffers 4 8k;
    server {
        listen 127.0.0.1:0 backlog=4096;
        location / { return 200 "ok"; }
    }
}
`, n+100)), 0o644); err != nil {
		t.Fatal(err)
	}
	child := servertest.StartChild(t, "TestChildCore", conf, 0)
	base := child.RSS(t)

	// The head: request line, Host, four fields of 7,900-byte values;
	// no empty line, so the request never starts.
	var b strings.Builder
	b.WriteString("GET /held HTTP/1.1\r\nHost: x\r\n")
	for i := range 4 {
		fmt.Fprintf(&b, "X-Fill-%d: %s\r\n", i, strings.Repeat("a", 7900))
	}
	head := []byte(b.String())
	if len(head) >= headLimit {
		t.Fatalf("the head is %d bytes, want under the %d-byte limit", len(head), headLimit)
	}

	deadline := time.Now().Add(60 * time.Second)
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range n {
		c, err := net.DialTimeout("tcp", child.Addr, servertest.IOTimeout)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		conns = append(conns, c)
		c.SetWriteDeadline(deadline)
		if _, err := c.Write(head); err != nil {
			t.Fatalf("connection %d: writing the head: %v", i, err)
		}
	}
	// Every head read and held: the server's descriptors count the
	// connections (none was answered and closed), and its memory stops
	// growing once the heads are in.
	for child.FDs(t) < n {
		if time.Now().After(deadline) {
			t.Fatalf("the server holds %d descriptors, want at least the %d connections", child.FDs(t), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	rss := child.RSS(t)
	for {
		time.Sleep(500 * time.Millisecond)
		next := child.RSS(t)
		if next <= rss+rss/100 || time.Now().After(deadline) {
			rss = max(rss, next)
			break
		}
		rss = next
	}
	per := (rss - base) / int64(n)
	t.Logf("server RSS %.1f MiB before, %.1f MiB with %d maximal heads held: %.1f KiB per connection (bound %.1f KiB)",
		float64(base)/(1<<20), float64(rss)/(1<<20), n, float64(per)/1024, float64(perConnBound)/1024)
	if per > perConnBound {
		t.Errorf("the server grew %d bytes per held maximal head, want at most %d (2 × (%d head buffer + 4 KiB + 16 KiB))", per, perConnBound, headBuffer)
	}
	// A fresh request is still served.
	c, err := servertest.Dial(child.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r, err := c.RoundTrip("GET", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	if err != nil || r.Status != 200 {
		t.Errorf("a fresh request with %d maximal heads held: %v %v", n, r, err)
	}
}
