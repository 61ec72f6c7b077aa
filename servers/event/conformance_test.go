package event_test

import (
	"testing"
	"time"

	"github.com/c10k/c10k/servers/engine"
	"github.com/c10k/c10k/servers/event"
	"github.com/c10k/c10k/servers/servertest"
)

// TestConformance runs the shared conformance suite, reloads included,
// against the event core with one loop, and with two.
func TestConformance(t *testing.T) {
	for _, loops := range []int{1, 2} {
		t.Run(map[int]string{1: "one-loop", 2: "two-loops"}[loops], func(t *testing.T) {
			servertest.Run(t, func(t *testing.T, confPath string) servertest.Core {
				return startEvent(t, confPath, event.Options{Loops: loops})
			})
		})
	}
}

// startEvent starts the event core on the config at confPath and
// returns it, reloadable; it stops in t.Cleanup.
func startEvent(t *testing.T, confPath string, opts event.Options) servertest.Core {
	t.Helper()
	return servertest.ServeCore(t, newServer(t, confPath, opts), engine.Options{})
}

// newServer builds and binds an event Server for the config at confPath.
func newServer(t *testing.T, confPath string, opts event.Options) *event.Server {
	t.Helper()
	if opts.ErrorLog == nil {
		opts.ErrorLog = servertest.LogWriter(t)
	}
	return newServerTB(t, confPath, opts)
}

// newServerTB is newServer for tests and benchmarks; engine lines go to
// the test log.
func newServerTB(t testing.TB, confPath string, opts event.Options) *event.Server {
	t.Helper()
	e := servertest.Engine(t, confPath, engine.Options{})
	if opts.ShutdownTimeout == 0 {
		opts.ShutdownTimeout = 5 * time.Second
	}
	s, err := event.New(e, opts)
	if err != nil {
		t.Fatalf("event.New: %v", err)
	}
	if err := s.Listen(); err != nil {
		t.Fatalf("Listen: %v", err)
	}
	return s
}

// serve runs s until the test ends.
func serve(t *testing.T, s *event.Server) {
	t.Helper()
	servertest.Serve(t, s)
}

// TestCGI runs the shared cgi_pass cases against the event core.
func TestCGI(t *testing.T) {
	servertest.RunCGI(t, func(t *testing.T, confPath string) servertest.Core { return startEvent(t, confPath, event.Options{}) })
}
