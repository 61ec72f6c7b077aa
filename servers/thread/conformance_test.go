package thread_test

import (
	"testing"
	"time"

	"github.com/c10k/c10k/servers/engine"
	"github.com/c10k/c10k/servers/servertest"
	"github.com/c10k/c10k/servers/thread"
)

// TestConformance runs the shared conformance suite, reloads included,
// against the thread core with its default (Apache worker MPM) options.
func TestConformance(t *testing.T) {
	servertest.Run(t, func(t *testing.T, confPath string) servertest.Core { return startThreadCore(t, confPath) })
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
// MPM) options on the config at confPath and returns its address.
func startThread(t testing.TB, confPath string) string {
	t.Helper()
	return startThreadCore(t, confPath).Addr
}

// startThreadCore is startThread for the suite: the core, reloadable.
func startThreadCore(t testing.TB, confPath string) servertest.Core {
	t.Helper()
	opts := engine.Options{KeepaliveTimeout: thread.DefaultKeepAliveTimeout}
	s, err := thread.New(servertest.Engine(t, confPath, opts), thread.Options{ShutdownTimeout: 5 * time.Second, ErrorLog: servertest.LogWriter(t)})
	if err != nil {
		t.Fatalf("thread.New: %v", err)
	}
	return servertest.ServeCore(t, s, opts)
}

// TestCGI runs the shared cgi_pass cases against the thread core.
func TestCGI(t *testing.T) {
	servertest.RunCGI(t, func(t *testing.T, confPath string) servertest.Core { return startThreadCore(t, confPath) })
}
