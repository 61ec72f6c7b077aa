package servertest

import (
	"net"
	"sync"
	"testing"

	"golang.org/x/sync/errgroup"
)

// ListenLocal listens on a free TCP port of 127.0.0.1 or fails tb; the
// listener is for a test upstream to serve with ServeConns.
func ListenLocal(tb testing.TB) net.Listener {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen on 127.0.0.1: %v", err)
	}
	return l
}

// ServeConns is the accept loop of a test upstream: it runs serve on
// every connection l accepts, each in a goroutine of its own, and closes
// the connection when serve returns. It stops in tb.Cleanup: l closes,
// then every connection still open (so a serve blocked on a read or a
// write returns), and the cleanup waits for every serve to return. A
// cleanup the caller registers after ServeConns runs before that one,
// the place to release serves held on a channel.
func ServeConns(tb testing.TB, l net.Listener, serve func(net.Conn)) {
	var (
		mu     sync.Mutex
		open   = map[net.Conn]struct{}{}
		closed bool
	)
	track := func(c net.Conn) bool {
		mu.Lock()
		defer mu.Unlock()
		if closed {
			return false
		}
		open[c] = struct{}{}
		return true
	}
	var g errgroup.Group
	g.Go(func() error {
		return serveConns(l, func(c net.Conn) {
			if !track(c) {
				return
			}
			serve(c)
			mu.Lock()
			delete(open, c)
			mu.Unlock()
		})
	})
	tb.Cleanup(func() {
		l.Close()
		mu.Lock()
		closed = true
		for c := range open {
			c.Close()
		}
		mu.Unlock()
		g.Wait()
	})
}

// serveConns runs serve on every connection l accepts, each in a
// goroutine of its own, closing the connection when serve returns. It
// returns nil once l is closed and every serve has returned.
func serveConns(l net.Listener, serve func(net.Conn)) error {
	var conns errgroup.Group
	defer conns.Wait()
	for {
		c, err := l.Accept()
		if err != nil {
			return nil // l closed
		}
		conns.Go(func() error {
			defer c.Close()
			serve(c)
			return nil
		})
	}
}
