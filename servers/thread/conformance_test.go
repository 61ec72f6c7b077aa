package thread_test

import (
	"testing"
	"time"

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
	e := servertest.Engine(t, confPath, engine.Options{KeepaliveTimeout: thread.DefaultKeepAliveTimeout})
	s, err := thread.New(e, thread.Options{ShutdownTimeout: 5 * time.Second, ErrorLog: servertest.LogWriter(t)})
	if err != nil {
		t.Fatalf("thread.New: %v", err)
	}
	return servertest.Serve(t, s)
}

// TestCGI runs the shared cgi_pass cases against the thread core.
func TestCGI(t *testing.T) {
	servertest.RunCGI(t, func(t *testing.T, confPath string) string { return startThread(t, confPath) })
}
