package loadgen

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
)

func TestParseSourceIPs(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    string // addresses joined by spaces
		wantErr bool
	}{
		{"", "", false},
		{"127.0.0.2", "127.0.0.2", false},
		{"127.0.0.2-127.0.0.4", "127.0.0.2 127.0.0.3 127.0.0.4", false},
		{"127.0.0.254-127.0.1.1", "127.0.0.254 127.0.0.255 127.0.1.0 127.0.1.1", false},
		{"127.0.0.2, 127.0.0.9", "127.0.0.2 127.0.0.9", false},
		{"::1-::2", "::1 ::2", false},
		{"127.0.0.4-127.0.0.2", "", true},
		{"127.0.0.1-::1", "", true},
		{"127.0.0.x", "", true},
		{"10.0.0.0-10.1.0.0", "", true}, // more than maxSources
	} {
		got, err := ParseSourceIPs(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("ParseSourceIPs(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		var s []string
		for _, a := range got {
			s = append(s, a.String())
		}
		if j := strings.Join(s, " "); j != tc.want {
			t.Errorf("ParseSourceIPs(%q) = %q, want %q", tc.in, j, tc.want)
		}
	}
}

func TestLimitsCheck(t *testing.T) {
	for _, tc := range []struct {
		nofile         uint64
		conns, sources int
		want           string // substring of the error; "" for none
	}{
		{20000, 10000, 20, ""},
		{20000, 10000, 0, ""},
		{20000, 19936, 20, ""},
		{20000, 19937, 20, "RLIMIT_NOFILE is 20000"},
		{1 << 20, 30000, 0, "ip_local_port_range 32768-60999 gives 28232 ports"},
		{1 << 20, 30000, 2, ""},
	} {
		l := Limits{NoFile: tc.nofile, NoFileMax: tc.nofile, PortLow: 32768, PortHigh: 60999}
		err := l.Check(tc.conns, tc.sources)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("Check(%d, %d) = %v, want nil", tc.conns, tc.sources, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrPreflight)):
			t.Errorf("Check(%d, %d) = %v, want an ErrPreflight naming %q", tc.conns, tc.sources, err, tc.want)
		}
	}
}

func TestPreflightRaisesNoFile(t *testing.T) {
	l, err := Preflight(1, 0)
	if err != nil {
		t.Fatalf("Preflight(1, 0): %v", err)
	}
	if l.NoFile != l.NoFileMax || l.Ports() <= 0 {
		t.Errorf("Preflight(1, 0) = %+v, want the soft limit raised to the hard one and a port range", l)
	}
}

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Target
		bad  bool
	}{
		{"http://127.0.0.1:8080/1k.txt", Target{"127.0.0.1:8080", "127.0.0.1:8080", "/1k.txt", false}, false},
		{"http://localhost", Target{"localhost:80", "localhost", "/", false}, false},
		{"http://h:1/a?b=c", Target{"h:1", "h:1", "/a?b=c", false}, false},
		{"https://h/", Target{"h:443", "h", "/", true}, false},
		{"https://127.0.0.1:8443/x", Target{"127.0.0.1:8443", "127.0.0.1:8443", "/x", true}, false},
		{"ftp://h/", Target{}, true},
		{"127.0.0.1:80", Target{}, true},
	} {
		got, err := ParseTarget(tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("ParseTarget(%q) = %+v, %v; want %+v, error %v", tc.in, got, err, tc.want, tc.bad)
		}
	}
}

func TestRSS(t *testing.T) {
	if _, err := RSS(0); err == nil {
		t.Error("RSS(0) = nil error, want one for a pid that is no process")
	}
}

// server is an in-process HTTP server on 127.0.0.1:0 that can hold back
// its answers until released.
type server struct {
	url     string
	release chan struct{} // closed: answer; nil: answer at once
	hold    bool
	mu      sync.Mutex
	conns   map[net.Conn]http.ConnState
}

func startServer(t *testing.T, hold bool) *server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{url: "http://" + l.Addr().String() + "/x", release: make(chan struct{}), hold: hold, conns: map[net.Conn]http.ConnState{}}
	hs := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if s.hold {
				<-s.release
			}
			w.Write([]byte("hello"))
		}),
		ConnState: func(c net.Conn, st http.ConnState) {
			s.mu.Lock()
			s.conns[c] = st
			s.mu.Unlock()
		},
	}
	var g errgroup.Group
	g.Go(func() error { hs.Serve(l); return nil })
	t.Cleanup(func() {
		s.unblock()
		hs.Close()
		g.Wait()
	})
	return s
}

func (s *server) unblock() {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.release:
	default:
		close(s.release)
	}
}

// idle counts the server's connections idle between requests.
func (s *server) idle() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, st := range s.conns {
		if st == http.StateIdle {
			n++
		}
	}
	return n
}

func TestHoldIdle(t *testing.T) {
	s := startServer(t, false)
	target, _ := ParseTarget(s.url)
	src := []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3")}
	set, err := HoldIdle(context.Background(), IdleOptions{
		Target: target, Conns: 20, OpenRate: 1000, Timeout: 10 * time.Second,
		Dialer: &Dialer{Sources: src},
	})
	if err != nil {
		t.Fatal(err)
	}
	st := set.Stats()
	if st.Opened != 20 || st.Failed != 0 || st.Held != 20 {
		t.Errorf("Stats() = %+v, want 20 opened and held", st)
	}
	// net/http marks a connection idle after the client may already
	// have read the response: wait for the hook, boundedly.
	for deadline := time.Now().Add(10 * time.Second); s.idle() != 20 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if n := s.idle(); n != 20 {
		t.Errorf("the server sees %d idle connections, want 20", n)
	}
	// The server closing them is counted.
	s.mu.Lock()
	var first net.Conn
	for c := range s.conns {
		first = c
		break
	}
	s.mu.Unlock()
	first.Close()
	deadline := time.Now().Add(10 * time.Second)
	for set.Stats().ClosedByServer != 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if st := set.Stats(); st.ClosedByServer != 1 || st.Held != 19 {
		t.Errorf("after the server closed one: %+v, want 1 closed by server, 19 held", st)
	}
	if err := set.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if st := set.Stats(); st.ClosedByServer != 1 {
		t.Errorf("Close counted its own closes as the server's: %+v", st)
	}
}

func TestHoldIdleFailures(t *testing.T) {
	s := startServer(t, true) // never answers until released
	target, _ := ParseTarget(s.url)
	set, err := HoldIdle(context.Background(), IdleOptions{Target: target, Conns: 3, OpenRate: 1000, Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	if st := set.Stats(); st.Opened != 0 || st.Failed != 3 || !strings.Contains(st.FirstError, "timed out") {
		t.Errorf("Stats() = %+v, want 3 failed with a timeout", st)
	}
}

func TestProbe(t *testing.T) {
	for _, tc := range []struct {
		name         string
		hold         bool
		wantOK       int64
		wantTimeouts int64
	}{
		{"answered", false, 10, 0},
		{"stalled", true, 0, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, tc.hold)
			target, _ := ParseTarget(s.url)
			timeout := 10 * time.Second
			if tc.hold {
				timeout = 100 * time.Millisecond
			}
			r, err := Probe(context.Background(), ProbeOptions{Target: target, Rate: 200, Duration: 50 * time.Millisecond, Timeout: timeout})
			if err != nil {
				t.Fatal(err)
			}
			sum := r.Summary()
			if sum.Sent != 10 || sum.OK != tc.wantOK || sum.Timeouts != tc.wantTimeouts || sum.Errors != tc.wantTimeouts {
				t.Errorf("Summary() = %+v, want 10 sent, %d ok, %d timeouts (errors)", sum, tc.wantOK, tc.wantTimeouts)
			}
			if r.Latency.TotalCount() != 10 {
				t.Errorf("histogram holds %d values, want 10 (timeouts included)", r.Latency.TotalCount())
			}
			if tc.hold && sum.P50 < float64(timeout.Milliseconds()) {
				t.Errorf("p50 = %vms, want a timed-out probe recorded with at least its timeout %v", sum.P50, timeout)
			}
			if tc.hold && sum.Kinds["timeout"] != 10 {
				t.Errorf("error kinds = %v, want 10 timeouts", sum.Kinds)
			}
		})
	}
}

func TestProbeRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	r, err := Probe(context.Background(), ProbeOptions{Target: Target{Addr: addr, Host: addr, Path: "/"}, Rate: 100, Duration: 30 * time.Millisecond, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if s := r.Summary(); s.Errors != 3 || s.Kinds["refused"] != 3 || r.Latency.TotalCount() != 0 {
		t.Errorf("Summary() = %+v, want 3 refused errors and no latency recorded", s)
	}
}

func TestRunC10k(t *testing.T) {
	s := startServer(t, false)
	res, err := RunC10k(context.Background(), C10kOptions{
		URL: s.url, Idle: 10, OpenRate: 1000, ProbeRate: 200, Duration: 50 * time.Millisecond, Timeout: 10 * time.Second,
		Sources: []netip.Addr{netip.MustParseAddr("127.0.0.2")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Idle.Held != 10 || res.IdleEnd.Held != 10 || res.Probe.Sent != 10 || res.Probe.OK != 10 {
		t.Errorf("RunC10k = idle %+v, end %+v, probe %+v; want 10 held throughout and 10 probes answered", res.Idle, res.IdleEnd, res.Probe)
	}
}
