package thread

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/c10k/c10k/servers/engine"
	"github.com/c10k/c10k/servers/servertest"
)

// TestSlowlorisExhaustsPool shows the thread core's weakness, as
// Apache's: with a pool of N workers, N slowloris clients (a partial
// head, then nothing) hold every worker, so a fresh connection waits in
// the listen backlog, not accepted, until client_header_timeout (1s
// here) frees the workers; the core says so once in its error log, as
// Apache's "server reached MaxRequestWorkers setting".
func TestSlowlorisExhaustsPool(t *testing.T) {
	const workers = 4
	const headerTimeout = time.Second
	dir := t.TempDir()
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(`events {}
http {
    access_log off;
    client_header_timeout 1s;
    server {
        listen 127.0.0.1:0;
        location / { return 200 "fresh"; }
    }
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	logs := servertest.NewLogBuffer(t)
	s, err := New(servertest.Engine(t, conf, engine.Options{}), Options{Workers: workers, ShutdownTimeout: 5 * time.Second, ErrorLog: logs})
	if err != nil {
		t.Fatal(err)
	}
	addr := servertest.Serve(t, s)

	begin := time.Now()
	var slow []net.Conn
	t.Cleanup(func() {
		for _, c := range slow {
			c.Close()
		}
	})
	for i := range workers {
		c, err := net.DialTimeout("tcp", addr, servertest.IOTimeout)
		if err != nil {
			t.Fatalf("slowloris %d: %v", i, err)
		}
		slow = append(slow, c)
		c.SetDeadline(time.Now().Add(servertest.IOTimeout))
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: a"); err != nil {
			t.Fatalf("slowloris %d: %v", i, err)
		}
	}
	waitFor(t, "every worker to hold a slowloris connection", func() bool {
		st := s.Stats()
		return st.Busy == workers && st.Accepted == workers
	})

	fresh, err := servertest.Dial(addr) // completes in the kernel's backlog
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	if err := fresh.Write([]byte("GET /fresh HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the MaxRequestWorkers log line", func() bool {
		return logs.Count("server reached MaxRequestWorkers setting") == 1
	})
	// Before any header timeout could have fired (on a machine too slow
	// to get here within it, there is nothing to check).
	got := s.Stats().Accepted
	if time.Since(begin) < headerTimeout && got != workers {
		t.Fatalf("accepted %d connections with every worker busy, want %d: the fresh one must wait in the backlog", got, workers)
	}

	// The header timeouts free the workers; then the fresh request is
	// served, and not before.
	r, err := fresh.ReadResponse("GET")
	if err != nil {
		t.Fatalf("the fresh request after the slowloris timeouts: %v", err)
	}
	if r.Status != 200 || string(r.Body) != "fresh" {
		t.Errorf("fresh request: %d %q, want 200 \"fresh\"", r.Status, r.Body)
	}
	if d := time.Since(begin); d < headerTimeout {
		t.Errorf("the fresh request was served %v after the pool filled, before client_header_timeout %v freed a worker", d, headerTimeout)
	}
	for i, c := range slow {
		c.SetReadDeadline(time.Now().Add(servertest.IOTimeout))
		if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
			t.Errorf("slowloris %d: read %d bytes, %v; want closed by client_header_timeout without a response", i, n, err)
		}
	}
	if n := logs.Count("server reached MaxRequestWorkers setting"); n != 1 {
		t.Errorf("the full pool was logged %d times, want once", n)
	}
}
