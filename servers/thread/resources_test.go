package thread

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/c10k/c10k/servers/backend"
	"github.com/c10k/c10k/servers/internal/proctest"
	"github.com/c10k/c10k/servers/servertest"
)

// waitRequests waits until s has completed want requests: a worker
// counts a request only after it released what the request held.
func waitRequests(t *testing.T, s *Server, want uint64) {
	t.Helper()
	end := time.Now().Add(10 * time.Second)
	for s.Stats().Requests < want {
		if time.Now().After(end) {
			t.Fatalf("%d requests completed within 10s, want %d", s.Stats().Requests, want)
		}
		time.Sleep(time.Millisecond)
	}
}

// openOn counts this process's fds open on files named name.
func openOn(t *testing.T, name string) int {
	t.Helper()
	fds, err := proctest.FDs()
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	n := 0
	for _, target := range fds {
		if filepath.Base(target) == name {
			n++
		}
	}
	return n
}

// TestFileClosedOnEveryPath checks that a static file's fd is closed
// however its request ends: a malformed body, a body cut by the client,
// HEAD, and a plain GET.
func TestFileClosedOnEveryPath(t *testing.T) {
	const n = 50
	cases := []struct {
		name string
		req  string
		cut  bool // half-close after the request: the body never ends
	}{
		{"bad-chunked-body", "GET /1k.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false},
		{"body-cut", "GET /1k.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789", true},
		{"head", "HEAD /1k.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", false},
		{"get", "GET /1k.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr, s := startHTTP(t, "", map[string][]byte{"1k.txt": make([]byte, 1024)}, Options{Workers: 4})
			before := openOn(t, "1k.txt")
			for range n {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				c.SetDeadline(time.Now().Add(10 * time.Second))
				if _, err := io.WriteString(c, tc.req); err != nil {
					t.Fatal(err)
				}
				if tc.cut {
					c.(*net.TCPConn).CloseWrite()
				}
				if _, err := io.Copy(io.Discard, c); err != nil && !errors.Is(err, unix.ECONNRESET) {
					t.Fatal(err)
				}
				c.Close()
			}
			waitRequests(t, s, n)
			if after := openOn(t, "1k.txt"); after != before {
				t.Errorf("%d fds open on 1k.txt after %d requests, want %d", after, n, before)
			}
		})
	}
}

// TestBodyBuffersReleased proxies a 5 MB chunked request body and large
// upstream responses through one worker: the body must reach the
// backend intact, and afterwards the worker must keep no more buffer
// memory than after a small request (clientBodyBuffer in memory, the
// rest spooled to a temp file; big response buffers go back to a pool).
func TestBodyBuffersReleased(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var g errgroup.Group
	ready := make(chan string, 1)
	g.Go(func() error {
		return backend.Run(ctx, backend.Options{Name: "a", Listen: "127.0.0.1:0", ShutdownTimeout: time.Second},
			func(a net.Addr) { ready <- a.String() })
	})
	t.Cleanup(func() {
		cancel()
		if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("backend: %v", err)
		}
	})
	var up string
	select {
	case up = <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("backend not ready within 10s")
	}
	addr, s := startHTTP(t, "client_max_body_size 0;\n location / { proxy_pass http://"+up+"; }", nil, Options{Workers: 1})
	c := dialClient(t, addr)

	post := func(body []byte, chunked bool) {
		t.Helper()
		req := servertest.UploadRequest("/echo", body, chunked)
		resp, got := c.do(t, req)
		if resp.StatusCode != 200 {
			t.Fatalf("POST of %d bytes: status %d: %s", len(body), resp.StatusCode, got)
		}
		var e backend.Echo
		if err := json.Unmarshal(got, &e); err != nil {
			t.Fatalf("not an echo: %v: %.200s", err, got)
		}
		sum := sha256.Sum256(body)
		if e.BodyLength != int64(len(body)) || e.BodySHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("backend got %d bytes (sha256 %s), want %d (sha256 %x)", e.BodyLength, e.BodySHA256, len(body), sum)
		}
	}
	get := func(size int) {
		t.Helper()
		resp, got := c.do(t, "GET /?size="+strconv.Itoa(size)+" HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp.StatusCode != 200 || len(got) != size {
			t.Fatalf("GET size=%d: status %d, %d body bytes", size, resp.StatusCode, len(got))
		}
	}

	small := make([]byte, 100)
	post(small, false)
	get(100)
	waitRequests(t, s, 2)
	base := s.Stats().Buffers
	if base <= 0 {
		t.Fatalf("Stats().Buffers = %d after two requests, want the worker's buffers", base)
	}

	big := make([]byte, 5<<20)
	for i := range big {
		big[i] = byte(i * 7 >> 3)
	}
	post(big, true)
	post(big[:3<<20], false)
	get(500000)  // buffered whole in a borrowed buffer
	get(3 << 20) // beyond ProxyBuffer: the rest buffered in a temp file
	waitRequests(t, s, 6)
	if got := s.Stats().Buffers; got != base {
		t.Errorf("after 5 MB bodies the worker keeps %d bytes of buffers, want %d as after small ones", got, base)
	}
}

// TestSetUpstreamDuringKill checks that retiring the upstream socket
// while a forced stop is shutting the worker's fds down (state
// stateKilling) leaves the worker in the state it was in, never in
// stateKilling, where every later state change would spin forever. The
// outcome does not depend on how the two goroutines interleave.
func TestSetUpstreamDuringKill(t *testing.T) {
	w := newWorker(newServer(Options{Workers: 1}), 0)
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[1])
	w.ufd.Store(int32(p[0]))
	w.state.Store(stateKilling) // kill found stateBusy and is at work
	done := make(chan struct{})
	go func() {
		w.setUpstream(-1, true)
		close(done)
	}()
	w.state.Store(stateBusy) // kill restores the state it found
	<-done
	if st := w.state.Load(); st != stateBusy {
		t.Fatalf("state after setUpstream = %d, want stateBusy (%d)", st, stateBusy)
	}
	if fd := w.ufd.Load(); fd != -1 {
		t.Errorf("ufd = %d after retiring it, want -1", fd)
	}
}

// TestValidateOptions checks the option errors New reports.
func TestValidateOptions(t *testing.T) {
	// Pin the system's thread count: other processes (and other test
	// binaries running at once) change it between two reads.
	inUse := systemThreads()
	threadsInUse = func() int { return inUse }
	t.Cleanup(func() { threadsInUse = systemThreads })
	max, _ := maxWorkers()
	cases := []struct {
		name string
		opts Options
		want []string // substrings of the error; nil: valid
	}{
		{"defaults", Options{}, nil},
		{"at-limit", Options{Workers: max}, nil},
		{"above-limit", Options{Workers: max + 1}, []string{"thread: " + strconv.Itoa(max+1) + " workers", strconv.Itoa(max)}},
		{"huge", Options{Workers: 50000000}, []string{"50000000 workers", "allows"}},
		{"negative-workers", Options{Workers: -1}, []string{"workers -1", "negative"}},
		{"negative-backlog", Options{Backlog: -5}, []string{"backlog -5", "negative"}},
		{"negative-keepalive", Options{KeepAliveTimeout: -time.Second}, []string{"keep-alive timeout -1s"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.opts.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate() = nil, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to mention %q", err, w)
				}
			}
		})
	}
}
