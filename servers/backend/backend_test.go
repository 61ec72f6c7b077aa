package backend

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
)

// A testServer is a Server serving on 127.0.0.1:0 until the test ends.
type testServer struct {
	*Server
	addr   string
	url    string
	client *http.Client
	stop   context.CancelFunc
	done   chan error // receives Serve's result
}

func start(t *testing.T, opts Options, hook func(*http.Request)) *testServer {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.hook = hook
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	ts := &testServer{
		Server: s,
		addr:   l.Addr().String(),
		url:    "http://" + l.Addr().String(),
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 100}},
		stop:   cancel,
		done:   make(chan error, 1),
	}
	go func() { ts.done <- s.Serve(ctx, l) }()
	t.Cleanup(func() {
		ts.client.CloseIdleConnections()
		cancel()
		<-ts.done
	})
	return ts
}

// get fetches path and checks X-Backend, which every response carries.
func (ts *testServer) get(t *testing.T, path string) (*http.Response, []byte) {
	t.Helper()
	resp, err := ts.client.Get(ts.url + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: body: %v", path, err)
	}
	if got := resp.Header.Get("X-Backend"); got != ts.Name() {
		t.Errorf("GET %s: X-Backend = %q, want %q", path, got, ts.Name())
	}
	return resp, body
}

// waitFor polls cond: it proves an event happened without guessing how
// long it takes. The deadline only guards against a hung test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// gate is a test hook that records the order requests reach it (by their
// id query parameter) and holds each one until released.
type gate struct {
	mu      sync.Mutex
	entered []string
	release chan struct{}
}

func newGate() *gate { return &gate{release: make(chan struct{})} }

func (g *gate) hook(r *http.Request) {
	g.mu.Lock()
	g.entered = append(g.entered, r.URL.Query().Get("id"))
	g.mu.Unlock()
	<-g.release
}

func (g *gate) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.entered)
}

func TestEveryResponse(t *testing.T) {
	ts := start(t, Options{Name: "app1", ErrorRate: 1, Seed: 1}, nil)
	tests := []struct {
		path   string
		status int
		body   string
	}{
		{"/health", 200, "ok"},
		{"/health?status=503&latency=1h&close=1", 200, "ok"},
		{"/", 500, ""},
		{"/?status=503", 503, ""},
		{"/?status=204", 204, ""},
		{"/?status=99", 400, ""},
		{"/?status=x", 400, ""},
		{"/?latency=x", 400, ""},
		{"/?latency=-1s", 400, ""},
		{"/?cpu=1", 400, ""},
		{"/?size=-1", 400, ""},
	}
	for _, tt := range tests {
		resp, body := ts.get(t, tt.path)
		if resp.StatusCode != tt.status {
			t.Errorf("GET %s: status %d, want %d", tt.path, resp.StatusCode, tt.status)
		}
		if tt.body != "" && string(body) != tt.body {
			t.Errorf("GET %s: body %q, want %q", tt.path, body, tt.body)
		}
	}
	var st Stats
	_, body := ts.get(t, "/stats")
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("/stats: %v", err)
	}
	// /health, /stats and the 400s are not counted.
	if want := (Stats{Served: 3, Errors: 1, MaxInFlight: 1}); st != want {
		t.Errorf("/stats = %+v, want %+v", st, want)
	}
}

func TestEcho(t *testing.T) {
	ts := start(t, Options{Name: "app1"}, nil)
	tests := []struct {
		name     string
		request  string
		method   string
		uri      string
		body     string
		length   int64
		encoding []string
	}{
		{
			name:    "get",
			request: "GET /a/b?c=d&e HTTP/1.1\r\nHost: example.com\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2\r\n\r\n",
			method:  "GET", uri: "/a/b?c=d&e",
		},
		{
			name:    "length",
			request: "POST /post HTTP/1.1\r\nHost: example.com\r\nContent-Length: 11\r\n\r\nhello world",
			method:  "POST", uri: "/post", body: "hello world", length: 11,
		},
		{
			name:    "chunked",
			request: "PUT /up%20load HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
			method:  "PUT", uri: "/up%20load", body: "hello world", length: -1, encoding: []string{"chunked"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := rawRoundTrip(t, ts.addr, tt.request)
			if resp.StatusCode != 200 || resp.Header.Get("X-Backend") != "app1" {
				t.Fatalf("status %d, X-Backend %q", resp.StatusCode, resp.Header.Get("X-Backend"))
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var e Echo
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("echo %s: %v", body, err)
			}
			sum := sha256.Sum256([]byte(tt.body))
			want := Echo{
				Backend: "app1", Method: tt.method, URI: tt.uri, Proto: "HTTP/1.1",
				Host: "example.com", ContentLength: tt.length, TransferEncoding: tt.encoding,
				BodyLength: int64(len(tt.body)), BodySHA256: hex.EncodeToString(sum[:]),
			}
			got := e
			got.Headers, got.RemoteAddr = nil, ""
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("echo\n got %+v\nwant %+v", got, want)
			}
			if !strings.HasPrefix(e.RemoteAddr, "127.0.0.1:") {
				t.Errorf("remote_addr %q", e.RemoteAddr)
			}
			if tt.name == "get" {
				if got := e.Headers["X-Forwarded-For"]; fmt.Sprint(got) != "[10.0.0.1 10.0.0.2]" {
					t.Errorf("X-Forwarded-For %q", got)
				}
			}
		})
	}
}

// rawRoundTrip writes request on a new connection and reads one response.
func rawRoundTrip(t *testing.T, addr, request string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second)) // a hang guard only
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestSize(t *testing.T) {
	ts := start(t, Options{Size: 10}, nil)
	tests := []struct {
		path string
		size int
	}{
		{"/", 10},
		{"/?size=1", 1},
		{"/?size=65", 65},
		{"/?size=200000", 200000},
	}
	for _, tt := range tests {
		resp, body := ts.get(t, tt.path)
		if resp.StatusCode != 200 || len(body) != tt.size || resp.ContentLength != int64(tt.size) {
			t.Errorf("GET %s: status %d, %d bytes, Content-Length %d; want 200, %d", tt.path, resp.StatusCode, len(body), resp.ContentLength, tt.size)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/octet-stream" {
			t.Errorf("GET %s: Content-Type %q", tt.path, ct)
		}
		for i, b := range body {
			if b != patternAlphabet[i%64] {
				t.Errorf("GET %s: byte %d is %q, want %q", tt.path, i, b, patternAlphabet[i%64])
				break
			}
		}
	}
	// size=0 asks for the echo even when Options.Size is set.
	if resp, _ := ts.get(t, "/?size=0"); resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("size=0: Content-Type %q", resp.Header.Get("Content-Type"))
	}
}

func TestErrorRate(t *testing.T) {
	const n = 400
	tests := []struct {
		rate     float64
		min, max int
	}{
		{0, 0, 0},
		{1, n, n},
		{0.25, n / 8, n * 3 / 8},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.rate), func(t *testing.T) {
			ts := start(t, Options{ErrorRate: tt.rate, Seed: 42, Size: 1}, nil)
			var failed []int
			for i := range n {
				resp, _ := ts.get(t, "/")
				switch resp.StatusCode {
				case 200:
				case 500:
					failed = append(failed, i)
				default:
					t.Fatalf("status %d", resp.StatusCode)
				}
			}
			// The same seed makes the same draws: replay them.
			replay, _ := New(Options{Seed: 42})
			var want []int
			for i := range n {
				if unit(replay.draw()>>32) < tt.rate {
					want = append(want, i)
				}
			}
			if fmt.Sprint(failed) != fmt.Sprint(want) {
				t.Errorf("failed requests %v, want %v", failed, want)
			}
			if len(failed) < tt.min || len(failed) > tt.max {
				t.Errorf("%d of %d failed, want %d to %d", len(failed), n, tt.min, tt.max)
			}
			if got := ts.Stats().Errors; got != uint64(len(failed)) {
				t.Errorf("Stats().Errors = %d, want %d", got, len(failed))
			}
		})
	}
}

func TestJitter(t *testing.T) {
	s, err := New(Options{Latency: 10 * time.Millisecond, Jitter: 20 * time.Millisecond, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := http.NewRequest("GET", "/", nil)
	var zero, above int
	for range 1000 {
		p, _ := s.params(r, s.draw())
		if p.latency < 0 || p.latency > 30*time.Millisecond {
			t.Fatalf("latency %v outside [0, 30ms]", p.latency)
		}
		if p.latency == 0 {
			zero++
		}
		if p.latency > 10*time.Millisecond {
			above++
		}
	}
	// A quarter of draws fall below zero and are clamped; half go above.
	if zero < 150 || zero > 350 || above < 400 || above > 600 {
		t.Errorf("%d clamped to 0 and %d above 10ms of 1000", zero, above)
	}
}

func TestHangUps(t *testing.T) {
	ts := start(t, Options{}, nil)
	tests := []struct {
		name, path string
		want       string // the exact bytes the client receives
	}{
		{"close", "/?close=1", ""},
		{"close after work", "/?close=1&latency=1ms&cpu=1ms", ""},
		{"partial", "/?partial=1&size=100", strings.Repeat(patternAlphabet, 2)[:50]},
		{"partial odd", "/?partial=1&size=3", "A"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", ts.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(5 * time.Second)) // a hang guard only
			fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", tt.path)
			got, err := io.ReadAll(conn)
			if err != nil {
				t.Fatalf("read: %v (want a clean close)", err)
			}
			if tt.want == "" {
				if len(got) != 0 {
					t.Fatalf("got %q, want nothing", got)
				}
				return
			}
			head, body, ok := strings.Cut(string(got), "\r\n\r\n")
			if !ok || !strings.HasPrefix(head, "HTTP/1.1 200 OK") || body != tt.want {
				t.Fatalf("got %q", got)
			}
			resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(string(got))), nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadAll(resp.Body); !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("reading the body: %v, want %v", err, io.ErrUnexpectedEOF)
			}
			if resp.Header.Get("X-Backend") == "" {
				t.Error("no X-Backend")
			}
		})
	}
	waitFor(t, "all requests counted", func() bool { return ts.Stats().Served == uint64(len(tests)) })
}

func TestStall(t *testing.T) {
	ts := start(t, Options{}, nil)

	// The client gives up: the handler ends.
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "GET", ts.url+"/?stall=1", nil)
		_, err := ts.client.Do(req)
		errc <- err
	}()
	waitFor(t, "the stall to start", func() bool { return ts.Stats().InFlight == 1 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("client: %v, want %v", err, context.Canceled)
	}
	waitFor(t, "the stall to end", func() bool { return ts.Stats().InFlight == 0 })

	// The server stops: the connection is dropped, no answer is sent.
	go func() {
		_, err := rawClient(ts.addr, "GET /?stall=1 HTTP/1.1\r\nHost: x\r\n\r\n")
		errc <- err
	}()
	waitFor(t, "the stall to start", func() bool { return ts.Stats().InFlight == 1 })
	ts.stop()
	if err := <-errc; !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		t.Errorf("client: %v, want EOF", err)
	}
	if err := <-ts.done; err != nil {
		t.Errorf("Serve: %v", err)
	}
	ts.done <- nil // for the cleanup
}

// rawClient sends request on a new connection and reads one response.
func rawClient(addr, request string) (*http.Response, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second)) // a hang guard only
	if _, err := io.WriteString(conn, request); err != nil {
		return nil, err
	}
	return http.ReadResponse(bufio.NewReader(conn), nil)
}

func TestModels(t *testing.T) {
	const n = 10
	tests := []struct {
		name    string
		opts    Options
		running int // requests the model runs at once
	}{
		{"sync 2", Options{Model: ModelSync, Workers: 2}, 2},
		{"sync default", Options{Model: ModelSync}, 1},
		{"async", Options{Model: ModelAsync, Workers: 2}, n},
		{"zero", Options{}, n},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGate()
			ts := start(t, tt.opts, g.hook)
			var eg errgroup.Group
			// One arrival at a time, so that arrival order is known.
			for i := range n {
				eg.Go(func() error {
					resp, err := ts.client.Get(fmt.Sprintf("%s/?id=%d", ts.url, i))
					if err != nil {
						return err
					}
					resp.Body.Close()
					if resp.StatusCode != 200 {
						return fmt.Errorf("request %d: status %d", i, resp.StatusCode)
					}
					return nil
				})
				waitFor(t, fmt.Sprintf("request %d to arrive", i), func() bool {
					return g.count()+int(ts.Stats().Queued) == i+1
				})
			}
			st := ts.Stats()
			if want := (Stats{InFlight: int64(tt.running), MaxInFlight: int64(tt.running), Queued: int64(n - tt.running)}); st != want {
				t.Errorf("with all arrived: %+v, want %+v", st, want)
			}
			// Release one at a time; each frees a slot for the next in line.
			for k := range n {
				g.release <- struct{}{}
				next := min(tt.running+k+1, n)
				waitFor(t, "the next request", func() bool { return g.count() == next })
			}
			if err := eg.Wait(); err != nil {
				t.Fatal(err)
			}
			if got, want := fmt.Sprint(g.entered), "[0 1 2 3 4 5 6 7 8 9]"; got != want {
				t.Errorf("processing order %s, want %s", got, want)
			}
			waitFor(t, "the last request to be counted", func() bool { return ts.Stats().Served == n })
			if st := ts.Stats(); st.MaxInFlight != int64(tt.running) || st.InFlight != 0 || st.Queued != 0 {
				t.Errorf("at the end: %+v", st)
			}
		})
	}
}

func TestQueuedClientLeaves(t *testing.T) {
	g := newGate()
	ts := start(t, Options{Model: ModelSync, Workers: 1}, g.hook)
	errc := make(chan error, 2)
	go func() {
		resp, err := ts.client.Get(ts.url + "/?id=0")
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	waitFor(t, "the first request", func() bool { return g.count() == 1 })
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "GET", ts.url+"/?id=1", nil)
		_, err := ts.client.Do(req)
		errc <- err
	}()
	waitFor(t, "the second request to queue", func() bool { return ts.Stats().Queued == 1 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("queued client: %v", err)
	}
	waitFor(t, "the queue to empty", func() bool { return ts.Stats().Queued == 0 })
	close(g.release)
	if err := <-errc; err != nil {
		t.Error(err)
	}
	// The slot is free again and the one who left never ran.
	ts.get(t, "/?id=2")
	if got := fmt.Sprint(g.entered); got != "[0 2]" {
		t.Errorf("processed %s, want [0 2]", got)
	}
}

func TestOptions(t *testing.T) {
	tests := []struct {
		opts   Options
		option string // "" when valid
	}{
		{Options{}, ""},
		{Options{Model: ModelSync, Workers: 0}, ""},
		{Options{Model: ModelAsync, Workers: 2}, ""},
		{Options{Model: ModelAsync, Workers: -1}, "Workers"},
		{Options{Name: "a\r\nX-Injected: 1"}, "Name"},
		{Options{ErrorRate: 1, Latency: time.Second, Jitter: 2 * time.Second}, ""},
		{Options{Latency: -1}, "Latency"},
		{Options{Jitter: -time.Second}, "Jitter"},
		{Options{CPU: -time.Millisecond}, "CPU"},
		{Options{ShutdownTimeout: -1}, "ShutdownTimeout"},
		{Options{Size: -1}, "Size"},
		{Options{ErrorRate: 1.5}, "ErrorRate"},
		{Options{ErrorRate: -0.1}, "ErrorRate"},
		{Options{Model: "prefork"}, "Model"},
		{Options{Model: ModelSync, Workers: -2}, "Workers"},
	}
	for _, tt := range tests {
		s, err := New(tt.opts)
		var oe *OptionError
		switch {
		case tt.option == "" && err != nil:
			t.Errorf("New(%+v): %v", tt.opts, err)
		case tt.option == "":
			if s.Name() != DefaultListen {
				t.Errorf("New(%+v).Name() = %q, want %q", tt.opts, s.Name(), DefaultListen)
			}
		case !errors.As(err, &oe) || oe.Option != tt.option || !errors.Is(err, ErrInvalidOption):
			t.Errorf("New(%+v): %v, want an error about %s", tt.opts, err, tt.option)
		case !strings.Contains(err.Error(), tt.option) || !strings.Contains(err.Error(), oe.Value):
			t.Errorf("New(%+v): %q does not name the option and value", tt.opts, err)
		}
	}
	if err := Run(t.Context(), Options{Listen: "127.0.0.1:0", ErrorRate: 2}, nil); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("Run: %v, want %v", err, ErrInvalidOption)
	}
}

func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Listen: "127.0.0.1:0"}, func(a net.Addr) { addrc <- a })
	}()
	addr := (<-addrc).String()
	resp, err := rawClient(addr, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Header.Get("X-Backend"); got != addr {
		t.Errorf("X-Backend %q, want the bound address %q", got, addr)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Error("still listening after Run returned")
	}

	// A taken address is an error naming it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	err = Run(t.Context(), Options{Listen: l.Addr().String()}, nil)
	if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), l.Addr().String()) {
		t.Errorf("Run on a taken address: %v", err)
	}
}

func TestGracefulStop(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration
		wantErr error // from Serve; nil means the request completes
	}{
		{"drains", 0, nil},
		{"bounded", 20 * time.Millisecond, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGate()
			defer close(g.release)
			ts := start(t, Options{ShutdownTimeout: tt.timeout}, g.hook)
			errc := make(chan error, 1)
			go func() {
				resp, err := rawClient(ts.addr, "GET /?id=0 HTTP/1.1\r\nHost: x\r\n\r\n")
				if err == nil && resp.StatusCode != 200 {
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
				errc <- err
			}()
			waitFor(t, "the request to start", func() bool { return g.count() == 1 })
			ts.stop()
			waitFor(t, "the listener to close", func() bool {
				c, err := net.Dial("tcp", ts.addr)
				if err == nil {
					c.Close()
				}
				return err != nil
			})
			if tt.wantErr == nil {
				select {
				case err := <-ts.done:
					t.Fatalf("Serve returned %v with a request in flight", err)
				default:
				}
				g.release <- struct{}{}
				if err := <-errc; err != nil {
					t.Errorf("in-flight request: %v", err)
				}
			}
			err := <-ts.done
			ts.done <- nil // for the cleanup
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Errorf("Serve: %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				if err := <-errc; err == nil {
					t.Error("the cut-off request got an answer")
				}
			}
		})
	}
}

func TestBurn(t *testing.T) {
	const d = 20 * time.Millisecond
	before := cpuTime(t)
	burn(d)
	if used := cpuTime(t) - before; used < d {
		t.Errorf("burn(%v) used %v of CPU", d, used)
	}
}

func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Skip("getrusage:", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkEcho(b *testing.B) {
	s, _ := New(Options{})
	h := s.Handler()
	r, _ := http.NewRequest("GET", "/x?y=1", nil)
	w := discard{http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, r)
	}
}

type discard struct{ h http.Header }

func (d discard) Header() http.Header         { return d.h }
func (d discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) WriteHeader(int)             {}
