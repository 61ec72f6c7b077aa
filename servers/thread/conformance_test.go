package thread_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/c10k/c10k/servers/config"
	"github.com/c10k/c10k/servers/engine"
	"github.com/c10k/c10k/servers/servertest"
	"github.com/c10k/c10k/servers/thread"
)

// TestConformance runs the shared conformance suite against the thread
// core with its default (Apache worker MPM) options.
func TestConformance(t *testing.T) {
	servertest.Run(t, func(t *testing.T, confPath string) string { return startThread(t, confPath) })
}

// BenchmarkStatic1K measures the thread core serving a 1 KB file over
// keep-alive connections.
func BenchmarkStatic1K(b *testing.B) {
	servertest.BenchmarkStatic(b, startThread)
}

// BenchmarkStatic1KOpenFileCache is BenchmarkStatic1K with
// open_file_cache on: no open, fstat or close per request.
func BenchmarkStatic1KOpenFileCache(b *testing.B) {
	servertest.BenchmarkStatic(b, startThread, servertest.BenchOptions{HTTP: servertest.OpenFileCache})
}

// startThread starts the thread core with its default (Apache worker
// MPM) options on the config at confPath.
func startThread(t testing.TB, confPath string) string {
	t.Helper()
	cfg, err := config.Load(confPath)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	e, err := engine.New(cfg, engine.Options{
		KeepaliveTimeout: thread.DefaultKeepAliveTimeout,
		ErrorLog:         func(level, msg string) { t.Logf("engine [%s] %s", level, msg) },
	})
	if err != nil {
		t.Fatalf("engine: %v", err)
	}
	s, err := thread.New(e, thread.Options{
		ShutdownTimeout: 5 * time.Second,
		ErrorLog:        logWriter{t},
	})
	if err != nil {
		t.Fatalf("thread.New: %v", err)
	}
	if err := s.Listen(); err != nil {
		t.Fatalf("Listen: %v", err)
	}
	addrs := s.Addrs()
	if len(addrs) != 1 {
		t.Fatalf("Addrs() = %v, want the one listen address of the config", addrs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var g errgroup.Group
	g.Go(func() error { return s.Serve(ctx) })
	t.Cleanup(func() {
		cancel()
		if err := g.Wait(); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return addrs[0].String()
}

// logWriter sends the core's error log to the test log.
type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log("error log: " + strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestCGI runs the shared cgi_pass cases against the thread core.
func TestCGI(t *testing.T) {
	servertest.RunCGI(t, func(t *testing.T, confPath string) string { return startThread(t, confPath) })
}
