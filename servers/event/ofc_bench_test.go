package event_test

import (
	"context"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/c10k/c10k/servers/event"
	"github.com/c10k/c10k/servers/servertest"
)

// startBench starts the event core with one loop for
// servertest.BenchmarkStatic; it stops when the benchmark ends.
func startBench(tb testing.TB, confPath string) string {
	s := newServerTB(tb, confPath, event.Options{Loops: 1})
	ctx, cancel := context.WithCancel(context.Background())
	var g errgroup.Group
	g.Go(func() error { return s.Serve(ctx) })
	tb.Cleanup(func() { cancel(); g.Wait() })
	return s.Addrs()[0].String()
}

// BenchmarkStatic1KShared is BenchmarkStatic1K through the shared
// servertest.BenchmarkStatic client, the baseline of the variants below
// (the thread core's BenchmarkStatic1K uses the same client).
func BenchmarkStatic1KShared(b *testing.B) {
	servertest.BenchmarkStatic(b, startBench)
}

// BenchmarkStatic1KOpenFileCache serves the file with open_file_cache
// on: no open, fstat or close per request.
func BenchmarkStatic1KOpenFileCache(b *testing.B) {
	servertest.BenchmarkStatic(b, startBench, servertest.BenchOptions{HTTP: servertest.OpenFileCache})
}
