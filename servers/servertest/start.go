package servertest

import (
	"context"
	"io"
	"net"
	"strings"
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

// Engine loads the config at confPath and builds the shared engine a
// core under test serves, failing tb on any error. Without an ErrorLog
// in opts, engine log lines go to tb's log.
func Engine(tb testing.TB, confPath string, opts engine.Options) *engine.Engine {
	tb.Helper()
	cfg, err := config.Load(confPath)
	if err != nil {
		tb.Fatalf("config: %v", err)
	}
	if opts.ErrorLog == nil {
		opts.ErrorLog = func(level, msg string) { tb.Logf("engine [%s] %s", level, msg) }
	}
	e, err := engine.New(cfg, opts)
	if err != nil {
		tb.Fatalf("engine: %v", err)
	}
	return e
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
