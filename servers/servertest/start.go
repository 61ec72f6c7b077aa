package servertest

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/c10k/c10k/servers/config"
	"github.com/c10k/c10k/servers/engine"
)

// Server is what a core offers its tests: bind now, serve until the
// context ends, and say where it listens.
type Server interface {
	Listen() error
	Serve(ctx context.Context) error
	Addrs() []net.Addr
}

// Reloader is a Server whose engine can be swapped while it serves, as
// c10k serve does on SIGHUP.
type Reloader interface {
	Server
	Reload(*engine.Engine) error
}

// Start starts a core serving the nginx.conf at confPath; the core must
// stop (and be waited for) in t.Cleanup. ServeCore makes its result.
type Start func(t *testing.T, confPath string) Core

// Core is a core a Start started.
type Core struct {
	Addr string // the address it accepts on
	// Reload makes the core serve the config at confPath from its next
	// request on: it builds the engine as the core's first one was built
	// (the same engine.Options) and hands it to the core's Reload.
	Reload func(confPath string) error
}

// Engine loads the config at confPath and builds the shared engine a
// core under test serves, failing tb on any error, and closes it when
// tb ends. Without an ErrorLog in opts, engine log lines go to tb's log.
func Engine(tb testing.TB, confPath string, opts engine.Options) *engine.Engine {
	tb.Helper()
	e, err := newEngine(tb, confPath, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

func newEngine(tb testing.TB, confPath string, opts engine.Options) (*engine.Engine, error) {
	cfg, err := config.Load(confPath)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if opts.ErrorLog == nil {
		opts.ErrorLog = func(level, msg string) { tb.Logf("engine [%s] %s", level, msg) }
	}
	e, err := engine.New(cfg, opts)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	// After the core that serves it has stopped (cleanups run last
	// first): the engine's goroutines (a proxy_cache zone's manager,
	// the access-log flusher) end with the test. Close is idempotent,
	// so an engine a reload already closed is fine.
	tb.Cleanup(func() { e.Close() })
	return e, nil
}

// ServeCore is Serve for a core that reloads: it serves srv until tb
// ends and returns it as a Core whose Reload builds engines with opts
// (the options srv's first engine was built with) as Engine does.
func ServeCore(tb testing.TB, srv Reloader, opts engine.Options) Core {
	tb.Helper()
	addr := Serve(tb, srv)
	return Core{Addr: addr, Reload: func(confPath string) error {
		e, err := newEngine(tb, confPath, opts)
		if err != nil {
			return err
		}
		if err := srv.Reload(e); err != nil {
			e.Close()
			return err
		}
		return nil
	}}
}

// Serve binds srv and serves it until tb ends: the stop is waited for in
// tb.Cleanup, and Serve must return nil. It returns srv's only address
// (the suite's configs listen on one).
func Serve(tb testing.TB, srv Server) string {
	tb.Helper()
	if err := srv.Listen(); err != nil {
		tb.Fatalf("Listen: %v", err)
	}
	addrs := srv.Addrs()
	if len(addrs) != 1 {
		tb.Fatalf("Addrs() = %v, want the one listen address of the config", addrs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var g errgroup.Group
	g.Go(func() error { return srv.Serve(ctx) })
	tb.Cleanup(func() {
		cancel()
		if err := g.Wait(); err != nil {
			tb.Errorf("Serve: %v", err)
		}
	})
	return addrs[0].String()
}

// LogWriter returns a writer that sends a core's error log to tb's log.
func LogWriter(tb testing.TB) io.Writer { return logWriter{tb} }

type logWriter struct{ tb testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.tb.Log("error log: " + strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// A LogBuffer is a LogWriter that also keeps what it is sent, for a test
// to count the lines a core logged. It is safe for concurrent use.
type LogBuffer struct {
	w  logWriter
	mu sync.Mutex
	b  strings.Builder
}

// NewLogBuffer returns a LogBuffer that sends to tb's log as well.
func NewLogBuffer(tb testing.TB) *LogBuffer { return &LogBuffer{w: logWriter{tb}} }

// Write sends p to the test's log and keeps it.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.w.Write(p)
	return l.b.Write(p)
}

// Count returns how many times s stands in what was written so far.
func (l *LogBuffer) Count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}
