package thread

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/c10k/c10k/servers/internal/coreio"
)

// echoServe is a fake connection handler: it echoes each read back, like
// a request/response protocol, idling in stateWait between "requests"
// exactly as the HTTP handler does. A read starting with "slow" is
// answered after 300ms.
func echoServe(w *worker, c *accepted) {
	s := sock{fd: c.fd}
	s.setReadTimeout(w.s.opts.KeepAliveTimeout)
	buf := make([]byte, 512)
	for {
		w.set(stateWait)
		if w.s.closing.Load() {
			return
		}
		n, err := s.read(buf)
		if err != nil {
			return
		}
		w.set(stateBusy)
		if bytes.HasPrefix(buf[:n], []byte("slow")) {
			time.Sleep(300 * time.Millisecond)
		}
		if s.write(buf[:n]) != nil {
			return
		}
		w.requests.Add(1)
	}
}

// startFake serves echoServe on a fresh 127.0.0.1:0 listener.
func startFake(t *testing.T, opts Options) (s *Server, addr string, stop func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	addr = ln.Addr().String()
	s = newServer(opts)
	s.serve = echoServe
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ServeListeners(ctx, f) }()
	// The caller's listener stays open (the server holds a dup) until
	// stop, so the address cannot be reused under the test.
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		err := <-done
		f.Close()
		ln.Close()
		return err
	}
	t.Cleanup(func() { stop() })
	return s, addr, stop
}

func echo(t *testing.T, c net.Conn, msg string, within time.Duration) error {
	t.Helper()
	c.SetDeadline(time.Now().Add(within))
	if _, err := c.Write([]byte(msg)); err != nil {
		return err
	}
	buf := make([]byte, len(msg))
	_, err := c.Read(buf)
	if err == nil && string(buf) != msg {
		t.Fatalf("echo = %q, want %q", buf, msg)
	}
	return err
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPoolKeepAlive(t *testing.T) {
	s, addr, _ := startFake(t, Options{Workers: 4})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 5 {
		if err := echo(t, c, "ping"+string(rune('0'+i)), 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "5 requests counted", func() bool { return s.Stats().Requests == 5 })
	if st := s.Stats(); st.Accepted != 1 {
		t.Fatalf("stats = %+v, want 1 connection, 5 requests", st)
	}
}

// TestC10kStall reproduces the thread-per-connection stall: with two
// workers held by two idle keep-alive connections, a third connection is
// left in the kernel backlog until one of them closes.
func TestC10kStall(t *testing.T) {
	s, addr, _ := startFake(t, Options{Workers: 2, KeepAliveTimeout: time.Minute})
	var idle []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := echo(t, c, "hello", 5*time.Second); err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	waitFor(t, "both workers idling on keep-alive", func() bool { return s.Stats().KeepAlive == 2 })

	third, err := net.Dial("tcp", addr) // completes in the kernel backlog
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	if _, err := third.Write([]byte("third")); err != nil {
		t.Fatal(err)
	}
	third.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := third.Read(make([]byte, 5)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("third connection served while all workers are held: %v", err)
	}
	if st := s.Stats(); st.Accepted != 2 || st.Idle != 0 {
		t.Fatalf("stats = %+v, want 2 accepted, no idle worker", st)
	}

	idle[0].Close()
	third.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 5)
	if _, err := third.Read(buf); err != nil || string(buf) != "third" {
		t.Fatalf("third connection after a worker freed: %q, %v", buf, err)
	}
	if st := s.Stats(); st.Accepted != 3 {
		t.Fatalf("stats = %+v, want 3 accepted", st)
	}
}

func TestKeepAliveTimeoutCloses(t *testing.T) {
	s, addr, _ := startFake(t, Options{Workers: 1, KeepAliveTimeout: 100 * time.Millisecond})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := echo(t, c, "hi", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("idle connection not closed by the server: %v", err)
	}
	waitFor(t, "the worker to be idle", func() bool { return s.Stats().Idle == 1 })
}

func TestGracefulStop(t *testing.T) {
	s, addr, stop := startFake(t, Options{Workers: 4, KeepAliveTimeout: time.Minute})
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	if err := echo(t, idle, "idle", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	busy, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	if _, err := busy.Write([]byte("slow request")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the slow request in flight", func() bool { st := s.Stats(); return st.Busy == 2 && st.KeepAlive == 1 })

	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()

	busy.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := bufio.NewReader(busy).ReadString('t')
	if err != nil || got != "slow request" {
		t.Fatalf("in-flight request during stop: %q, %v", got, err)
	}
	idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := idle.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("idle keep-alive connection not closed by stop: %v", err)
	}
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("Serve = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		// The test's own listener still exists until stop returns; after
		// it, nothing accepts.
		c.Close()
	}
}

func TestForcedStop(t *testing.T) {
	_, addr, stop := startFake(t, Options{Workers: 1, ShutdownTimeout: 50 * time.Millisecond})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Half a request: the worker is busy (bytes received), not idle.
	if _, err := c.Write([]byte("slow")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	done := make(chan error, 1)
	go func() { done <- stop() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("forced stop did not end Serve")
	}
}

func TestErrnoText(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{coreio.ErrTimeout, "(timed out)"},
	} {
		if got := errnoText(tc.err); !strings.Contains(got, tc.want) {
			t.Errorf("errnoText(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// TestProcs checks that Options.Procs sets GOMAXPROCS while the Server
// serves and restores it when Serve returns, and that zero leaves it
// alone.
func TestProcs(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	tests := []struct {
		procs, want int
	}{
		{0, before},
		{before + 3, before + 3},
	}
	for _, tt := range tests {
		_, addr, stop := startFake(t, Options{Workers: 2, Procs: tt.procs})
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		// An answer means the workers run, after Serve set GOMAXPROCS.
		if err := echo(t, c, "ping", 5*time.Second); err != nil {
			t.Fatal(err)
		}
		if got := runtime.GOMAXPROCS(0); got != tt.want {
			t.Errorf("Procs %d: GOMAXPROCS %d while serving, want %d", tt.procs, got, tt.want)
		}
		c.Close()
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if got := runtime.GOMAXPROCS(0); got != before {
			t.Errorf("Procs %d: GOMAXPROCS %d after Serve returned, want %d back", tt.procs, got, before)
		}
	}
}
