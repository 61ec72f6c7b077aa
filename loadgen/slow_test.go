package loadgen

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/c10k/c10k/loadgen/result"
	"golang.org/x/sync/errgroup"
)

// waitFor polls cond every 10 ms for at most limit; it reports whether
// cond came true. The limit is a bound against hanging, never a speed
// requirement.
func waitFor(limit time.Duration, cond func() bool) bool {
	for end := time.Now().Add(limit); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// bigBody serves /big: an endless-looking body of size bytes written in
// 32 KiB pieces. started closes when the first request arrives, ended
// when a handler stops because its client went away.
type bigBody struct {
	size           int
	startOnce      sync.Once
	endOnce        sync.Once
	started, ended chan struct{}
}

func newBigBody(size int) *bigBody {
	return &bigBody{size: size, started: make(chan struct{}), ended: make(chan struct{})}
}

func (b *bigBody) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.startOnce.Do(func() { close(b.started) })
	w.Header().Set("Content-Type", "application/octet-stream") // no length: chunked
	piece := make([]byte, 32<<10)
	for sent := 0; sent < b.size; sent += len(piece) {
		if _, err := w.Write(piece); err != nil {
			b.endOnce.Do(func() { close(b.ended) })
			return
		}
	}
}

// TestSlowReadersPace runs slow readers on a big body and checks that
// each receives at most one chunk plus the rate times the time it ran —
// a bound their pacing guarantees, not a speed — and that they stop and
// close their connections when their context ends.
func TestSlowReadersPace(t *testing.T) {
	big := newBigBody(64 << 20)
	base := testServer(t, big)
	tg, err := ParseTarget(base + "/big")
	if err != nil {
		t.Fatal(err)
	}
	const readers, rate = 2, 5000
	s := newSlow(slowOptions{Target: tg, Wire: tg.request(true), Readers: readers, Rate: rate, Timeout: 10 * time.Second})
	if s.chunk != rate/10 || s.interval != slowTick {
		t.Fatalf("chunk %d every %v, want %d every %v", s.chunk, s.interval, rate/10, slowTick)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var g errgroup.Group
	start := time.Now()
	g.Go(func() error { s.run(ctx); return nil })
	// Let them read a few chunks each.
	if !waitFor(20*time.Second, func() bool { return s.bytes.Load() >= 3*readers*rate/10 }) {
		t.Errorf("slow readers read %d bytes in 20s", s.bytes.Load())
	}
	cancel()
	g.Wait()
	elapsed := time.Since(start)
	st := s.stats()
	if limit := int64(readers * (rate/10 + rate*elapsed.Seconds())); st.Bytes > limit {
		t.Errorf("%d readers at %d B/s read %d bytes in %v, more than the bound %d", readers, rate, st.Bytes, elapsed, limit)
	}
	if st.Readers != readers || st.Responses != 0 || st.Errors != 0 {
		t.Errorf("stats %+v: want %d readers, no response read in full (64 MiB), no errors", st, readers)
	}
	select {
	case <-big.ended:
	case <-time.After(10 * time.Second):
		t.Error("the server still writes to a slow reader 10s after it stopped")
	}
}

// TestSlowRates checks the chunk and interval of rates around the tick:
// chunk bytes per interval never exceed the rate.
func TestSlowRates(t *testing.T) {
	for _, tc := range []struct {
		rate     int64
		chunk    int
		interval time.Duration
	}{
		{0, DefaultSlowRate / 10, 99609375},
		{1, 1, time.Second},
		{15, 1, 66666667},
		{10, 1, 100 * time.Millisecond},
		{1024, 102, 99609375},
		{1 << 30, 1 << 16, 61036},
	} {
		s := newSlow(slowOptions{Rate: tc.rate})
		if s.chunk != tc.chunk || s.interval != tc.interval {
			t.Errorf("rate %d: chunk %d every %v, want %d every %v", tc.rate, s.chunk, s.interval, tc.chunk, tc.interval)
		}
		if r := float64(s.chunk) / s.interval.Seconds(); r > float64(s.o.Rate) {
			t.Errorf("rate %d: %d bytes every %v is %.3f B/s", tc.rate, s.chunk, s.interval, r)
		}
	}
}

// TestSlowReadersRun runs slow readers beside a closed-model load whose
// one request the server holds until the slow path was asked three times
// on one connection: the reader read two answers in full and reused its
// keep-alive connection, and the load's end stopped it.
func TestSlowReadersRun(t *testing.T) {
	var hits atomic.Int64
	var mu sync.Mutex
	peers := map[string]bool{}
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		peers[r.RemoteAddr] = true
		mu.Unlock()
		hits.Add(1)
		w.Write([]byte(strings.Repeat("s", 300)))
	})
	mux.HandleFunc("/gate", func(w http.ResponseWriter, r *http.Request) {
		if !waitFor(20*time.Second, func() bool { return hits.Load() >= 3 }) {
			http.Error(w, "the slow reader did not come back", http.StatusInternalServerError)
			return
		}
		w.Write([]byte("open"))
	})
	base := testServer(t, mux)
	const rate = 2000
	start := time.Now()
	s, err := Run(context.Background(), Options{Request: Request{URL: base + "/gate"}, Connections: 1, Requests: 1,
		Timeout: 30 * time.Second, SlowReaders: 1, SlowPath: "/slow", SlowRate: rate})
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if s.StatusCodes["200"] != 1 {
		t.Fatalf("load answers %v (first error %q): want the gate's one 200", s.StatusCodes, s.FirstError)
	}
	sl := s.Slow
	if sl == nil || sl.Readers != 1 || sl.Responses < 2 || sl.Errors != 0 || sl.Bytes < 2*300 {
		t.Fatalf("slow readers %+v: want 1 reader, at least 2 answers and 600 bytes, no errors", sl)
	}
	if limit := int64(rate/10 + rate*elapsed.Seconds()); sl.Bytes > limit {
		t.Errorf("a reader at %d B/s read %d bytes in %v, more than the bound %d", rate, sl.Bytes, elapsed, limit)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(peers) != 1 {
		t.Errorf("the slow reader used %d connections, want 1 (keep-alive)", len(peers))
	}
	if ok, errs := timelineCounts(t, s.Timeline); ok != 1 || errs != 0 {
		t.Errorf("timeline %d ok %d errors: slow readers are not load requests", ok, errs)
	}
}

// TestSlowReadersLoadEnd holds slow readers on a big body beside no load
// for a short duration: Run returns, and the server sees them go.
func TestSlowReadersLoadEnd(t *testing.T) {
	big := newBigBody(64 << 20)
	base := testServer(t, big)
	const readers, rate = 3, 1000
	start := time.Now()
	s, err := Run(context.Background(), Options{Request: Request{URL: base + "/big"}, Duration: 300 * time.Millisecond,
		SlowReaders: readers, SlowRate: rate})
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	sl := s.Slow
	if s.Model != result.ModelNone || s.Requests != 0 || sl == nil || sl.Readers != readers || sl.Responses != 0 || sl.Errors != 0 {
		t.Fatalf("model %s, %d requests, slow readers %+v: want none, 0, %d readers with nothing read in full and no errors", s.Model, s.Requests, sl, readers)
	}
	if limit := int64(readers * (rate/10 + rate*elapsed.Seconds())); sl.Bytes > limit {
		t.Errorf("%d readers at %d B/s read %d bytes in %v, more than the bound %d", readers, rate, sl.Bytes, elapsed, limit)
	}
	select {
	case <-big.started:
	default:
		return // no reader got its request in before the end: nothing to see go
	}
	select {
	case <-big.ended:
	case <-time.After(10 * time.Second):
		t.Error("the server still writes to a slow reader 10s after the load ended")
	}
}

// TestSlowHeadTimeout checks that the timeout bounds the wait for an
// answer's head: a server that never answers costs errors, while a head
// read slowly (longer than the timeout at the reader's rate) does not.
func TestSlowHeadTimeout(t *testing.T) {
	t.Run("silent server", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		var held errgroup.Group
		var mu sync.Mutex
		var conns []net.Conn
		held.Go(func() error {
			for {
				c, err := l.Accept()
				if err != nil {
					return nil
				}
				mu.Lock()
				conns = append(conns, c) // accepted, never answered
				mu.Unlock()
			}
		})
		defer func() {
			l.Close()
			held.Wait()
			for _, c := range conns {
				c.Close()
			}
		}()
		tg, _ := ParseTarget("http://" + l.Addr().String() + "/")
		s := newSlow(slowOptions{Target: tg, Wire: tg.request(true), Readers: 1, Timeout: 50 * time.Millisecond})
		ctx, cancel := context.WithCancel(context.Background())
		var g errgroup.Group
		g.Go(func() error { s.run(ctx); return nil })
		ok := waitFor(20*time.Second, func() bool { return s.errs.Load() >= 2 })
		cancel()
		g.Wait()
		if !ok || s.responses.Load() != 0 {
			t.Errorf("stats %+v: want timeouts counted as errors", s.stats())
		}
	})
	t.Run("slow head", func(t *testing.T) {
		base := testServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Pad", strings.Repeat("p", 300))
			w.WriteHeader(http.StatusNoContent)
		}))
		tg, _ := ParseTarget(base + "/")
		// About 400 bytes of head at 200 B/s: two seconds of reading
		// against a 500 ms timeout, which the pauses do not count in.
		s := newSlow(slowOptions{Target: tg, Wire: tg.request(true), Readers: 1, Rate: 200, Timeout: 500 * time.Millisecond})
		ctx, cancel := context.WithCancel(context.Background())
		var g errgroup.Group
		g.Go(func() error { s.run(ctx); return nil })
		waitFor(30*time.Second, func() bool { return s.responses.Load()+s.errs.Load() >= 1 })
		cancel()
		g.Wait()
		if st := s.stats(); st.Responses < 1 || st.Errors != 0 {
			t.Errorf("stats %+v: want the slowly read head answered, no timeout", st)
		}
	})
}

func TestSlowOptions(t *testing.T) {
	tg, err := ParseTarget("http://127.0.0.1:1/a?b=c")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		o       Options
		path    string
		wantErr string
	}{
		{o: Options{}, path: "/a?b=c"},
		{o: Options{SlowPath: "/big?x=1"}, path: "/big?x=1"},
		{o: Options{SlowPath: "big"}, wantErr: "SlowPath"},
		{o: Options{SlowPath: "/a b"}, wantErr: "SlowPath"},
		{o: Options{SlowPath: "/a\r\nX: y"}, wantErr: "SlowPath"},
		{o: Options{SlowPath: "/a#frag"}, wantErr: "SlowPath"},
		{o: Options{SlowPath: "/\x7f"}, wantErr: "SlowPath"},
		{o: Options{SlowRate: -1}, wantErr: "SlowRate"},
		{o: Options{SlowReaders: -1}, wantErr: "SlowReaders"},
	} {
		got, err := tc.o.slowTarget(tg)
		switch {
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%+v: error %v, want one naming %s", tc.o, err, tc.wantErr)
		case tc.wantErr == "" && (err != nil || got.Path != tc.path || got.Addr != tg.Addr):
			t.Errorf("%+v: target %+v, %v; want path %q", tc.o, got, err, tc.path)
		}
	}
	// The slow readers count in the preflight.
	_, err = Run(context.Background(), Options{Request: Request{URL: "http://127.0.0.1:1/"}, Connections: 1, Duration: time.Second, SlowReaders: 1 << 30})
	if !errors.Is(err, ErrPreflight) {
		t.Errorf("a billion slow readers: %v, want ErrPreflight", err)
	}
}

// TestSlowReadersFast checks that a rate above what 512-byte reads give
// is still the rate: with the server far ahead, a read takes a whole
// chunk.
func TestSlowReadersFast(t *testing.T) {
	big := newBigBody(64 << 20)
	base := testServer(t, big)
	tg, err := ParseTarget(base + "/big")
	if err != nil {
		t.Fatal(err)
	}
	const rate = 200 << 10 // 20 KiB a tick
	s := newSlow(slowOptions{Target: tg, Wire: tg.request(true), Readers: 1, Rate: rate, Timeout: 10 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	var g errgroup.Group
	start := time.Now()
	g.Go(func() error { s.run(ctx); return nil })
	if !waitFor(30*time.Second, func() bool { return s.reads.Load() >= 6 }) {
		t.Errorf("%d reads in 30s, want 6", s.reads.Load())
	}
	cancel()
	g.Wait()
	elapsed := time.Since(start)
	n, reads := s.bytes.Load(), s.reads.Load()
	if n <= 1024*reads {
		t.Errorf("%d bytes in %d reads: want reads of up to a %d-byte chunk, not of a small fixed buffer", n, reads, s.chunk)
	}
	if limit := int64(rate/10 + rate*elapsed.Seconds()); n > limit {
		t.Errorf("read %d bytes in %v, more than the bound %d", n, elapsed, limit)
	}
}
