package event_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/c10k/c10k/servers/backend"
	"github.com/c10k/c10k/servers/event"
	"github.com/c10k/c10k/servers/servertest"
)

// startBackend runs the reference application server until the test
// ends and returns its address.
func startBackend(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var g errgroup.Group
	ready := make(chan string, 1)
	g.Go(func() error {
		return backend.Run(ctx, backend.Options{Name: "a", Listen: "127.0.0.1:0", ShutdownTimeout: waitBudget},
			func(a net.Addr) { ready <- a.String() })
	})
	t.Cleanup(func() {
		cancel()
		if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("backend: %v", err)
		}
	})
	select {
	case addr := <-ready:
		return addr
	case <-time.After(waitBudget):
		t.Fatalf("backend not ready within %v", waitBudget)
	}
	return ""
}

// TestLargeBodySpooled checks that request bodies past the spool's
// memory reach the upstream intact, chunked or not, and that the loop's
// buffers return to what it keeps after small requests: the body went
// through a temp file, not through memory the loop retains.
func TestLargeBodySpooled(t *testing.T) {
	up := startBackend(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`worker_processes 1;
http {
    server {
        listen 127.0.0.1:0;
        client_max_body_size 0;
        location / { proxy_pass http://%s; }
    }
}
`, up)), 0o644); err != nil {
		t.Fatal(err)
	}
	s := newServer(t, conf, event.Options{Loops: 1})
	addr := s.Addrs()[0].String()
	serve(t, s)
	c := dial(t, addr)

	post := func(body []byte, chunked bool) {
		t.Helper()
		req := servertest.UploadRequest("/echo", body, chunked)
		var g errgroup.Group // the server answers only after the whole body
		g.Go(func() error { _, err := io.WriteString(c.nc, req); return err })
		resp, err := http.ReadResponse(c.br, nil)
		if err != nil {
			t.Fatalf("POST of %d bytes: %v", len(body), err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if werr := g.Wait(); err == nil {
			err = werr
		}
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("POST of %d bytes: status %d, %v: %.200s", len(body), resp.StatusCode, err, got)
		}
		var e backend.Echo
		if err := json.Unmarshal(got, &e); err != nil {
			t.Fatalf("not an echo: %v: %.200s", err, got)
		}
		sum := sha256.Sum256(body)
		if e.BodyLength != int64(len(body)) || e.BodySHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("backend got %d bytes (sha256 %s), want %d (sha256 %x)", e.BodyLength, e.BodySHA256, len(body), sum)
		}
	}
	settled := func() bool { return s.Stats().Borrowed == 0 }

	post(make([]byte, 100), false)
	eventually(t, "the exchange back on the free list", settled)
	base := s.Stats().Buffers
	if base <= 0 || base >= 1<<20 {
		t.Fatalf("Stats().Buffers = %d after a small request, want the free exchange's buffers, well under 1 MiB", base)
	}

	big := make([]byte, 5<<20)
	for i := range big {
		big[i] = byte(i * 7 >> 3)
	}
	post(big, true)
	post(big[:3<<20], false)
	eventually(t, "the exchange back on the free list", settled)
	if got := s.Stats().Buffers; got != base {
		t.Errorf("after 5 MB bodies the loop keeps %d bytes of buffers, want %d as after a small one", got, base)
	}
}
