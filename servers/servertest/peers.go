package servertest

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/c10k/c10k/servers/backend"
)

// startBackends starts one in-process reference backend per options value
// and returns their addresses, in order. They stop in t.Cleanup.
func startBackends(t *testing.T, opts ...backend.Options) []string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	g, gctx := errgroup.WithContext(ctx)
	addrs := make([]string, len(opts))
	ready := make(chan int, len(opts))
	for i, o := range opts {
		o.Listen = "127.0.0.1:0"
		o.ShutdownTimeout = IOTimeout
		g.Go(func() error {
			return backend.Run(gctx, o, func(a net.Addr) {
				addrs[i] = a.String()
				ready <- i
			})
		})
	}
	t.Cleanup(func() {
		cancel()
		if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("backend: %v", err)
		}
	})
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	for range opts {
		select {
		case <-ready:
		case <-gctx.Done():
			cancel()
			t.Fatalf("starting backends: %v", g.Wait())
		case <-timer.C:
			t.Fatal("backends not ready within 10s")
		}
	}
	return addrs
}

// A stub is a deliberately broken upstream server written for the suite:
// it counts the connections it accepts and answers each with its reply
// function after reading the request (head and Content-Length body).
type stub struct {
	l        net.Listener
	accepted atomic.Int64
}

// Stub replies.
var (
	// replyHangUp closes the connection without a response: an upstream
	// "error" after the request was sent.
	replyHangUp = []byte(nil)
	// reply503 is a well-formed 503 with a body.
	reply503 = []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 9\r\nConnection: close\r\nX-Backend: stub503\r\n\r\nstub 503\n")
)

// startStub starts a stub on 127.0.0.1:0 answering reply (nil: hang up).
func startStub(t *testing.T, g *errgroup.Group, reply []byte) *stub {
	t.Helper()
	s := &stub{l: ListenLocal(t)}
	g.Go(func() error {
		return serveConns(s.l, func(c net.Conn) {
			s.accepted.Add(1)
			c.SetDeadline(time.Now().Add(IOTimeout))
			readRequest(c)
			if reply != nil {
				c.Write(reply)
			}
		})
	})
	return s
}

func (s *stub) addr() string { return s.l.Addr().String() }

// readRequest reads one request head and its Content-Length body.
func readRequest(c net.Conn) {
	tp := textproto.NewReader(bufio.NewReader(c))
	if _, err := tp.ReadLine(); err != nil {
		return
	}
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		return
	}
	if n, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64); err == nil && n > 0 {
		io.CopyN(io.Discard, tp.R, n)
	}
}

// refusedAddr returns an address where connections are refused: a TCP
// socket bound to 127.0.0.1:0 that never listens, so the port cannot be
// taken by anyone else while the test runs.
func refusedAddr(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socket: %v", err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("bind: %v", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatalf("getsockname: %v", err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
}
