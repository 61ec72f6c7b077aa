package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/c10k/c10k/loadgen/result"
	"golang.org/x/sync/errgroup"
)

// testServer serves h on 127.0.0.1 and returns its base URL.
func testServer(t *testing.T, h http.Handler) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: h}
	var g errgroup.Group
	g.Go(func() error { hs.Serve(l); return nil })
	t.Cleanup(func() {
		hs.Close()
		g.Wait()
	})
	return "http://" + l.Addr().String()
}

func testHandler() http.Handler {
	mux := http.NewServeMux()
	body := strings.Repeat("x", 1024)
	mux.HandleFunc("/fixed", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1024")
		w.Write([]byte(body))
	})
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		for range 3 {
			w.Write([]byte(body))
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/close", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		w.Write([]byte("bye"))
	})
	mux.HandleFunc("/missing", http.NotFound)
	var n atomic.Int64
	mux.HandleFunc("/reset", func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%2 == 0 {
			c, _, _ := w.(http.Hijacker).Hijack()
			c.Close() // no response at all
			return
		}
		w.Write([]byte("ok"))
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("X-Test") != "1" || r.ProtoMajor != 1 {
			http.Error(w, "bad request shape", http.StatusBadRequest)
			return
		}
		b := make([]byte, 16)
		k, _ := r.Body.Read(b)
		w.Write(b[:k])
	})
	return mux
}

func TestClosedModel(t *testing.T) {
	base := testServer(t, testHandler())
	for _, tc := range []struct {
		path      string
		req       Request
		noReuse   bool
		wantCodes map[string]int64
		wantErrs  bool
	}{
		{path: "/fixed", wantCodes: map[string]int64{"200": 200}},
		{path: "/chunked", wantCodes: map[string]int64{"200": 200}},
		{path: "/close", wantCodes: map[string]int64{"200": 200}},
		{path: "/fixed", noReuse: true, wantCodes: map[string]int64{"200": 200}},
		{path: "/missing", wantCodes: map[string]int64{"404": 200}, wantErrs: true},
		{path: "/reset", wantErrs: true},
		{path: "/echo", req: Request{Method: "POST", Header: http.Header{"X-Test": {"1"}}, Body: []byte("hello")}, wantCodes: map[string]int64{"200": 200}},
	} {
		t.Run(fmt.Sprintf("%s reuse=%v", tc.path, !tc.noReuse), func(t *testing.T) {
			r := tc.req
			r.URL = base + tc.path
			s, err := Run(context.Background(), Options{Request: r, Connections: 4, Requests: 200, NoReuse: tc.noReuse, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if s.Model != result.ModelClosed || s.Requests != 200 {
				t.Fatalf("model %s, %d requests; want closed, 200", s.Model, s.Requests)
			}
			if tc.wantCodes != nil && fmt.Sprint(s.StatusCodes) != fmt.Sprint(tc.wantCodes) {
				t.Errorf("status codes %v, want %v (errors %v, first %q)", s.StatusCodes, tc.wantCodes, s.Errors, s.FirstError)
			}
			if (len(s.Errors) > 0) != tc.wantErrs {
				t.Errorf("errors %v, want some: %v", s.Errors, tc.wantErrs)
			}
			if s.Fairness == nil || s.Fairness.Conns != 4 || s.Hist.Latency.TotalCount() != 200 {
				t.Errorf("fairness %+v, latency count %d; want 4 connections, 200 samples", s.Fairness, s.Hist.Latency.TotalCount())
			}
			if !s.Valid {
				t.Errorf("invalid: %s", s.InvalidReason)
			}
		})
	}
}

func TestClosedModelUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	s, err := Run(context.Background(), Options{Request: Request{URL: "http://" + addr + "/"}, Connections: 2, Duration: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if s.Connections.Failed == 0 || s.Requests != 0 {
		t.Errorf("connections %+v, %d requests; want failed connects and no requests", s.Connections, s.Requests)
	}
}

// TestOpenModelPacing checks that the open model sends every scheduled
// request and reports rate and schedule lag beside the latency. How
// closely it keeps the schedule is a speed figure, so it is shown by
// benchmarks and c10k attack runs, not asserted here (the schedule
// itself is tested exactly in TestSchedules).
func TestOpenModelPacing(t *testing.T) {
	base := testServer(t, testHandler())
	out := filepath.Join(t.TempDir(), "r.bin")
	s, err := Run(context.Background(), Options{Request: Request{URL: base + "/fixed"}, Rate: 2000, Duration: 500 * time.Millisecond,
		Connections: 50, Output: out})
	if err != nil {
		t.Fatal(err)
	}
	if s.Model != result.ModelOpen || s.Scheduled != 1000 || s.Requests != 1000 {
		t.Fatalf("model %s, %d scheduled, %d done; want open, 1000, 1000", s.Model, s.Scheduled, s.Requests)
	}
	if s.RateTarget != 2000 || s.RateAchieved <= 0 || s.RateAchieved > s.RateTarget*1.01 {
		t.Errorf("rate achieved %.0f of target %.0f: want a positive rate, never above the schedule", s.RateAchieved, s.RateTarget)
	}
	if s.Lag == nil || s.Service == nil {
		t.Errorf("schedule lag %+v, service time %+v: want both reported", s.Lag, s.Service)
	}
	// The results file is vegeta's; the summary beside it is ours.
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	vs, err := result.FromVegeta(f)
	if err != nil || vs.Requests != 1000 {
		t.Fatalf("vegeta results: %v requests, %v", vs, err)
	}
	side, err := result.ReadFile(out)
	if err != nil || side.Requests != 1000 || side.Hist.Service == nil {
		t.Fatalf("sidecar: %+v, %v", side, err)
	}
}

// TestCoordinatedOmission stalls the server once for a known time while
// one connection carries a 1000/s schedule: the requests scheduled during
// the stall wait for it, so the latency from the intended start must show
// the stall and the service time must not.
func TestCoordinatedOmission(t *testing.T) {
	const stall = 500 * time.Millisecond
	var n atomic.Int64
	base := testServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 20 {
			time.Sleep(stall)
		}
		w.Write([]byte("ok"))
	}))
	s, err := Run(context.Background(), Options{Request: Request{URL: base + "/"}, Rate: 1000, Duration: 600 * time.Millisecond, Connections: 1})
	if err != nil {
		t.Fatal(err)
	}
	if s.Requests != 600 {
		t.Fatalf("%d requests, want 600", s.Requests)
	}
	// Most of the 600 requests were due during the stall: the corrected
	// median is well into it; the service-time p99 is one stalled request
	// in 600, so it stays fast.
	if s.Latency.P90 < float64(stall/time.Millisecond)/3 {
		t.Errorf("latency from intended start p90 %.1f ms, want it to show the %v stall", s.Latency.P90, stall)
	}
	// Only one request in 600 was stalled: its service time is the max,
	// and the p99 stays under half the stall even on a loaded machine.
	if s.Service == nil || s.Service.P99 > float64(stall/time.Millisecond)/2 || s.Service.Max < float64(stall/time.Millisecond)*0.9 {
		t.Errorf("service time %+v: want a fast p99 and the stall only at the max", s.Service)
	}
	if s.Generator.LateBlocked == 0 {
		t.Errorf("generator %+v: want late ticks blamed on the server", s.Generator)
	}
}

func TestRunInterrupted(t *testing.T) {
	base := testServer(t, testHandler())
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	s, err := Run(ctx, Options{Request: Request{URL: base + "/fixed"}, Rate: 500, Duration: time.Minute, Connections: 4})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Interrupted || s.Valid || s.Requests == 0 || s.Scheduled > s.Requests+5 {
		t.Errorf("interrupted %v valid %v, %d requests of %d scheduled; want a partial, invalid summary", s.Interrupted, s.Valid, s.Requests, s.Scheduled)
	}
}

func TestRunBadInput(t *testing.T) {
	for _, o := range []Options{
		{Request: Request{URL: "ftp://x/"}, Connections: 1, Duration: time.Second},
		{Request: Request{URL: "http://127.0.0.1:1/"}, Shape: Shape{Kind: ShapeRamp, From: 1, To: 2}},
		{Request: Request{URL: "http://127.0.0.1:1/"}, Connections: 1, Shard: Shard{3, 4}, Duration: time.Second},
		{Request: Request{URL: "http://127.0.0.1:1/"}, Connections: 1 << 30, Duration: time.Second},
	} {
		if _, err := Run(context.Background(), o); err == nil {
			t.Errorf("Run(%+v) = nil error", o)
		}
	}
	_, err := Run(context.Background(), Options{Request: Request{URL: "http://127.0.0.1:1/"}, Connections: 1 << 30, Duration: time.Second})
	if !errors.Is(err, ErrPreflight) {
		t.Errorf("a billion connections: %v, want ErrPreflight", err)
	}
}
