package servertest

import (
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/c10k/c10k/servers/backend"
)

// faultsConf is the config of the fault cases. Every case has upstreams
// and stubs of its own, so the cases share no balancer state.
const faultsConf = `events {}
http {
    access_log off;
    keepalive_timeout 30s;
    proxy_read_timeout 1s;

    upstream rst_get      { server $RST_GET weight=10; server $A; }
    upstream rst_post     { server $RST_POST weight=10; server $A; }
    upstream rst_post_ni  { server $RST_POST_NI weight=10; server $A; }
    upstream refuse_next  { server $REFUSED weight=10; server $A; }
    upstream stall_next   { server $STALL_NEXT weight=10; server $A; }
    upstream stall_post   { server $STALL_POST weight=10; server $A; }
    upstream cut_counted  { server $CUT_COUNTED weight=10 max_fails=1 fail_timeout=60s; server $A; }
    upstream flaky        { server $FLAKY max_fails=2 fail_timeout=$FAIL_TIMEOUT; server $A; }
    upstream all_down     { server $DOWN1 max_fails=1 fail_timeout=$FAIL_TIMEOUT; server $DOWN2 max_fails=1 fail_timeout=$FAIL_TIMEOUT; }

    server {
        listen 127.0.0.1:0 default_server;
        server_name faults.test;

        location /rst-single/   { proxy_pass http://$RST_SINGLE; }
        location /rst-get/      { proxy_pass http://rst_get; }
        location /rst-post/     { proxy_pass http://rst_post; }
        location /rst-post-ni/  { proxy_pass http://rst_post_ni; proxy_next_upstream error timeout non_idempotent; }
        location /refuse-single/ { proxy_pass http://$REFUSED; }
        location /refuse-next/  { proxy_pass http://refuse_next; }
        location /stall-single/ { proxy_pass http://$STALL_SINGLE; }
        location /stall-next/   { proxy_pass http://stall_next; }
        location /stall-post/   { proxy_pass http://stall_post; }
        location /cut-length/   { proxy_pass http://$CUT_LENGTH; proxy_buffering off; }
        location /cut-chunked/  { proxy_pass http://$CUT_CHUNKED; proxy_buffering off; }
        location /cut-reset/    { proxy_pass http://$CUT_RESET; proxy_buffering off; }
        location /cut-counted/  { proxy_pass http://cut_counted; proxy_buffering off; }
        location /flaky/        { proxy_pass http://flaky; }
        location /all-down/     { proxy_pass http://all_down; }

        location /cgi/          { cgi_pass $SCRIPT; cgi_timeout 1s; }
        location /cgi-forks/    { cgi_pass $SCRIPT; cgi_timeout 3s; }
        location /cgi-send/     { cgi_pass $SCRIPT; cgi_timeout 30s; send_timeout 1s; }
        location = /whoami      { return 200 "faults"; }
    }
}
`

// faultScript is the CGI program of the fault cases. Each case writes
// the PIDs of what it started to "$QUERY_STRING.kids" and then its own
// PID to $QUERY_STRING, so that a test reading the latter finds the
// former complete.
const faultScript = `#!/bin/sh
case "$PATH_INFO" in
/hang)
	sleep 30 &
	echo $! > "$QUERY_STRING.kids"
	echo $$ > "$QUERY_STRING"
	sleep 30
	;;
/forks)
	i=0
	while [ $i -lt 50 ]; do sleep 30 & echo $! >> "$QUERY_STRING.kids"; i=$((i+1)); done
	echo $$ > "$QUERY_STRING"
	wait
	;;
/forks-exit)
	i=0
	while [ $i -lt 50 ]; do sleep 30 >/dev/null 2>&1 & echo $! >> "$QUERY_STRING.kids"; i=$((i+1)); done
	echo $$ > "$QUERY_STRING"
	printf 'Content-Type: text/plain\n\nforked\n'
	;;
/flood)
	: > "$QUERY_STRING.kids"
	echo $$ > "$QUERY_STRING"
	printf 'Content-Type: text/plain\n\n'
	exec yes 'c10k flood c10k flood c10k flood c10k flood c10k flood c10k flood'
	;;
/big)
	printf 'Content-Type: application/octet-stream\nContent-Length: %s\n\n' "$bigSize"
	head -c $bigSize /dev/zero
	;;
esac
`

// failTimeout is fail_timeout of the upstreams whose peers are marked
// down and must come back in the test.
const failTimeout = 2 * time.Second

// bigCGIOutput is the size of /cgi-send/big: more than the socket
// buffers of a client that does not read can take.
const bigCGIOutput = 16 << 20

// RunFaults runs the fault cases against the core start starts, on a
// config of its own, as nginx 1.22 behaves: an upstream that refuses
// (next peer, else 502), resets after the request (502; a GET moves on
// to the next peer, a POST only with non_idempotent), stalls before
// the head (504 after proxy_read_timeout; a GET moves on, a POST does
// not), or dies in the middle of the body with proxy_buffering off (the
// client's response is cut: the connection closes short of
// Content-Length or without the last chunk, and nothing follows it);
// max_fails/fail_timeout marks a peer down and it comes back after
// fail_timeout; all peers down gives 502, then recovery. CGI: a
// program that hangs is ended at cgi_timeout (504) with the process it
// forked; 50 forked sleepers die with their group whether the program
// hangs or answers; a program flooding stdout is killed at the output
// limit; a response to a client that does not read ends at
// send_timeout. No process survives (checked by PID) and no zombie is
// left.
func RunFaults(t *testing.T, start Start) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	dir := t.TempDir()
	a := startBackends(t, backend.Options{Name: "a"})[0]

	var wg sync.WaitGroup
	stubs := map[string]*faultStub{}
	for name, mode := range map[string]faultMode{
		"RST_SINGLE": modeReset, "RST_GET": modeReset, "RST_POST": modeReset, "RST_POST_NI": modeReset,
		"STALL_SINGLE": modeStall, "STALL_NEXT": modeStall, "STALL_POST": modeStall,
		"CUT_LENGTH": modeCutLength, "CUT_CHUNKED": modeCutChunked, "CUT_RESET": modeCutReset,
		"CUT_COUNTED": modeCutLength,
		"FLAKY":       modeReset, "DOWN1": modeReset, "DOWN2": modeReset,
	} {
		stubs[name] = startFaultStub(t, &wg, strings.ToLower(name), mode)
	}
	t.Cleanup(func() {
		for _, st := range stubs {
			st.close()
		}
		wg.Wait()
	})

	script := filepath.Join(dir, "faults.cgi")
	must(t, os.WriteFile(script, []byte(strings.ReplaceAll(faultScript, "$bigSize", strconv.Itoa(bigCGIOutput))), 0o755))
	vars := map[string]string{"A": a, "REFUSED": refusedAddr(t), "SCRIPT": script, "FAIL_TIMEOUT": fmt.Sprintf("%ds", int(failTimeout/time.Second))}
	for name, st := range stubs {
		vars[name] = st.addr()
	}
	// Longer names first: $RST_POST_NI before $RST_POST.
	names := slices.SortedFunc(maps.Keys(vars), func(a, b string) int { return len(b) - len(a) })
	var pairs []string
	for _, n := range names {
		pairs = append(pairs, "$"+n, vars[n])
	}
	conf := strings.NewReplacer(pairs...).Replace(faultsConf)
	confPath := filepath.Join(dir, "nginx.conf")
	must(t, os.WriteFile(confPath, []byte(conf), 0o644))
	addr := start(t, confPath).Addr
	f := &faults{addr: addr, dir: dir, stubs: stubs}
	t.Run("upstream", f.upstream)
	t.Run("health", f.health)
	t.Run("cgi", f.cgi)
	t.Run("no-zombies", wantNoZombies)
}

// faults is the running environment of the fault cases.
type faults struct {
	addr  string
	dir   string
	stubs map[string]*faultStub
}

// roundTrip sends req on a fresh connection and reads the response.
func (f *faults) roundTrip(t *testing.T, method, req string) *Response {
	t.Helper()
	c, err := Dial(f.addr)
	if err != nil {
		t.Fatalf("dial %s: %v", f.addr, err)
	}
	defer c.Close()
	r, err := c.RoundTrip(method, []byte(req))
	if err != nil {
		t.Fatalf("%s: %v", firstLine(req), err)
	}
	return r
}

func (f *faults) get(t *testing.T, target string) *Response {
	t.Helper()
	return f.roundTrip(t, "GET", request("GET", target, "faults.test", "Connection: close"))
}

func (f *faults) post(t *testing.T, target string) *Response {
	t.Helper()
	body := payload(100)
	return f.roundTrip(t, "POST", request("POST", target, "faults.test", "Content-Length: 100")+string(body))
}

// upstream runs the cases of one failing attempt.
func (f *faults) upstream(t *testing.T) {
	cases := []struct {
		name, method, target string
		stub                 string // the failing stub, "" for none
		status               int
		backend              string // X-Backend of a 200
	}{
		// Refused: the next peer, else 502.
		{"refuse-single-502", "GET", "/refuse-single/x", "", 502, ""},
		{"refuse-next-peer", "GET", "/refuse-next/x", "", 200, "a"},
		// Reset after the request, before the head: 502, and the next
		// peer for a GET or with non_idempotent, never for a POST.
		{"reset-single-502", "GET", "/rst-single/x", "RST_SINGLE", 502, ""},
		{"reset-get-next-peer", "GET", "/rst-get/x", "RST_GET", 200, "a"},
		{"reset-post-502", "POST", "/rst-post/x", "RST_POST", 502, ""},
		{"reset-post-non_idempotent", "POST", "/rst-post-ni/x", "RST_POST_NI", 200, "a"},
		// Stalled before the head: 504 after proxy_read_timeout; a
		// timeout is in the default proxy_next_upstream, so a GET
		// moves on and a POST (whose request was sent) does not.
		{"stall-single-504", "GET", "/stall-single/x", "STALL_SINGLE", 504, ""},
		{"stall-get-next-peer", "GET", "/stall-next/x", "STALL_NEXT", 200, "a"},
		{"stall-post-504", "POST", "/stall-post/x", "STALL_POST", 504, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var r *Response
			if tc.method == "POST" {
				r = f.post(t, tc.target)
			} else {
				r = f.get(t, tc.target)
			}
			if wantStatus(t, r, tc.status) && tc.backend != "" {
				wantHeader(t, r, "X-Backend", tc.backend)
			}
			if tc.stub != "" {
				if n := f.stubs[tc.stub].accepted.Load(); n != 1 {
					t.Errorf("the failing peer accepted %d connections, want 1 (tried once, not retried)", n)
				}
			}
		})
	}

	// The peer dies in the middle of the body, proxy_buffering off: the
	// head went out, so the response is cut and the connection closed;
	// the request pipelined behind it gets nothing, never a second
	// response.
	for _, tc := range []struct {
		name, target string
		framing      Framing
	}{
		{"cut-content-length", "/cut-length/x", FramingLength},
		{"cut-chunked", "/cut-chunked/x", FramingChunked},
		{"cut-reset", "/cut-reset/x", FramingLength},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f.wantCut(t, tc.target, tc.framing, f.stubs["CUT_RESET"].release)
		})
	}

	// The cut attempt counts as a failure of the peer (max_fails=1): the
	// next requests go to the other peer although the cut one weighs
	// 10. (nginx 1.22 frees the peer with state 0 once the head went
	// out and so does not count it; the engine does, as the balancer's
	// health should see a peer that dies mid-response.)
	t.Run("cut-counted", func(t *testing.T) {
		t.Parallel()
		f.wantCut(t, "/cut-counted/x", FramingLength, nil)
		for i := range 5 {
			r := f.get(t, "/cut-counted/"+strconv.Itoa(i))
			if wantStatus(t, r, 200) {
				wantHeader(t, r, "X-Backend", "a")
			}
		}
		if n := f.stubs["CUT_COUNTED"].accepted.Load(); n != 1 {
			t.Errorf("the peer that died mid-body accepted %d connections, want 1 (marked down by max_fails=1)", n)
		}
	})
}

// wantCut checks that target's response, from a peer that dies after
// part of the body, reaches the client cut: the upstream's head, fewer
// body bytes than promised (or no last chunk), the connection closed,
// and no response to a request pipelined behind it. release, if not
// nil, is called once the head has arrived (a stub that resets waits
// for it, since an RST may drop data the proxy has not read yet).
func (f *faults) wantCut(t *testing.T, target string, framing Framing, release func()) {
	t.Helper()
	c, err := Dial(f.addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	req := request("GET", target, "faults.test") + request("GET", "/whoami", "faults.test")
	if err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	c.readDeadline(IOTimeout)
	r, err := c.readHead()
	if err != nil {
		t.Fatalf("want the upstream's 200 head then a cut body: %v", err)
	}
	if release != nil {
		release()
	}
	if err = c.body("GET", r); err == nil {
		t.Fatalf("read a complete response, want the connection cut in the body:\n%s", r)
	}
	if r.Status != 200 {
		t.Fatalf("want the upstream's 200 head then a cut body, got %v (%v)", r, err)
	}
	if isTimeout(err) {
		t.Errorf("body ended with %v, want the connection closed", err)
	}
	if got := r.Get("X-Backend"); got == "" {
		t.Errorf("the cut response has no X-Backend: not the upstream's head:\n%s", r)
	}
	switch framing {
	case FramingChunked:
		if !r.HasToken("Transfer-Encoding", "chunked") {
			t.Errorf("want the chunked head of the upstream, got:\n%s", r)
		}
	case FramingLength:
		if r.Get("Content-Length") != strconv.Itoa(cutLength) {
			t.Errorf("Content-Length %q, want the upstream's %d", r.Get("Content-Length"), cutLength)
		}
	}
	if r2, err := c.ReadResponse("GET"); err == nil {
		t.Errorf("a second response after the cut one:\n%s", r2)
	}
}

// health runs the passive health cases: max_fails/fail_timeout, and
// every peer down.
func (f *faults) health(t *testing.T) {
	// max_fails=2 fail_timeout=2s: two failures mark the peer down; for
	// fail_timeout it is not tried, then it is, and once it answers it
	// is back.
	t.Run("marked-down-and-back", func(t *testing.T) {
		t.Parallel()
		flaky := f.stubs["FLAKY"]
		end := deadline()
		for i := 0; flaky.accepted.Load() < 2; i++ {
			if i == 20 || time.Now().After(end) {
				t.Fatalf("the failing peer accepted %d connections in %d requests, want 2", flaky.accepted.Load(), i)
			}
			r := f.get(t, "/flaky/"+strconv.Itoa(i))
			if wantStatus(t, r, 200) {
				wantHeader(t, r, "X-Backend", "a") // the failure moved on
			}
		}
		down := time.Now()
		for i := range 10 {
			r := f.get(t, "/flaky/down"+strconv.Itoa(i))
			if !wantStatus(t, r, 200) {
				return
			}
			// Only what finished within fail_timeout says the peer was
			// skipped; a slow machine may pass it.
			if time.Since(down) < failTimeout/2 {
				if n := flaky.accepted.Load(); n != 2 {
					t.Fatalf("the peer was tried again %v after max_fails=2 failures, within fail_timeout=%v (%d connections)", time.Since(down), failTimeout, n)
				}
			}
		}
		flaky.mode.Store(int32(modeHealthy))
		f.waitBack(t, "/flaky/back", "flaky")
	})

	// Every peer failing: 502 ("no live upstreams" once all are down),
	// and the upstream answers again once a peer does.
	t.Run("all-down-then-back", func(t *testing.T) {
		t.Parallel()
		for i := range 3 {
			wantStatus(t, f.get(t, "/all-down/"+strconv.Itoa(i)), 502)
		}
		for _, n := range []string{"DOWN1", "DOWN2"} {
			if f.stubs[n].accepted.Load() == 0 {
				t.Errorf("peer %s was never tried", strings.ToLower(n))
			}
		}
		f.stubs["DOWN1"].mode.Store(int32(modeHealthy))
		f.stubs["DOWN2"].mode.Store(int32(modeHealthy))
		f.waitBack(t, "/all-down/back", "down1", "down2")
	})
}

// waitBack sends GETs to target (bounded in count and time) until one
// is answered by one of the peers named, failing on anything but 200 or
// 502.
func (f *faults) waitBack(t *testing.T, target string, peers ...string) {
	t.Helper()
	end := time.Now().Add(failTimeout + loopBudget/2)
	for i := 0; ; i++ {
		if time.Now().After(end) {
			t.Fatalf("no request reached %v within %v of it recovering (%d tries)", peers, failTimeout+loopBudget/2, i)
		}
		r := f.get(t, target+strconv.Itoa(i))
		if !wantStatus(t, r, 200, 502) {
			return
		}
		for _, p := range peers {
			if r.Status == 200 && r.Get("X-Backend") == p {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// cgi runs the CGI fault cases.
func (f *faults) cgi(t *testing.T) {
	for _, tc := range []struct {
		name, path string
		status     int
		kids       int // processes the program started
	}{
		// Hangs with a grandchild holding stdout: both end at
		// cgi_timeout.
		{"hang-with-grandchild-504", "/cgi/hang", 504, 1},
		// 50 sleepers, then waits for them: the group ends.
		// (cgi_timeout 3s: time for the 50 forks on a busy machine,
		// within the client's IOTimeout.)
		{"fork-50-then-hang-504", "/cgi-forks/forks", 504, 50},
		// 50 sleepers detached from stdout, then a response: the
		// sleepers die with the group when the program is reaped.
		{"fork-50-then-answer", "/cgi-forks/forks-exit", 200, 50},
		// An endless stdout: killed at the output limit, 502 (under
		// cgi_timeout 30s, so that the limit ends it, not the time).
		{"flood-killed-502", "/cgi-send/flood", 502, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pidFile := filepath.Join(f.dir, filepath.Base(tc.path)+".pid")
			if status := f.slowGet(t, tc.path+"?"+pidFile); status != tc.status {
				t.Errorf("status %d, want %d", status, tc.status)
			}
			pids := []int{readPID(t, pidFile)}
			kids := readPIDs(t, pidFile+".kids")
			if len(kids) != tc.kids {
				t.Errorf("the program started %d processes, want %d", len(kids), tc.kids)
			}
			for _, pid := range append(pids, kids...) {
				waitEnded(t, pid)
			}
		})
	}

	// A client that does not read a big response: the core gives up at
	// send_timeout (1s) and closes, so the client gets less than the
	// whole body.
	t.Run("send-timeout-to-stalled-client", func(t *testing.T) {
		t.Parallel()
		nc := DialSmallWindow(t, f.addr, 4096)
		c := NewConn(nc)
		if err := c.Write([]byte(request("GET", "/cgi-send/big", "faults.test"))); err != nil {
			t.Fatal(err)
		}
		// The core has the program's output and is sending it (its
		// whole output is collected first: slow on a busy machine).
		nc.SetReadDeadline(time.Now().Add(loopBudget))
		r, err := c.readHead()
		if err != nil {
			t.Fatal(err)
		}
		// Not reading for several send_timeouts; the core must give up.
		time.Sleep(4 * time.Second)
		// What the core wrote before it gave up still drains through
		// the small window, slowly on a busy machine.
		nc.SetReadDeadline(time.Now().Add(loopBudget))
		err = c.body("GET", r)
		if err == nil {
			t.Fatalf("the whole %d-byte response arrived after the client stalled past send_timeout", len(r.Body))
		}
		if isTimeout(err) {
			t.Fatalf("want the connection closed by the core, got %v", err)
		}
	})
}

// slowGet sends a GET for target on a fresh connection and returns the
// response's status, waiting for it longer than IOTimeout: a CGI
// program's whole output (up to the runner's 64 MiB limit) is collected
// first, which takes a while on a busy machine.
func (f *faults) slowGet(t *testing.T, target string) int {
	t.Helper()
	nc, err := net.DialTimeout("tcp", f.addr, IOTimeout)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(loopBudget))
	if _, err := io.WriteString(nc, request("GET", target, "faults.test", "Connection: close")); err != nil {
		t.Fatal(err)
	}
	c := NewConn(nc)
	line, err := c.line()
	if err != nil {
		t.Fatalf("GET %s: read status line: %v", target, err)
	}
	var r Response
	if err := parseStatusLine(line, &r); err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	return r.Status
}

// readPIDs reads the PIDs in file, one a line.
func readPIDs(t *testing.T, file string) []int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("the CGI program did not write %s: %v", file, err)
	}
	var pids []int
	for _, l := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(l)
		if err != nil {
			t.Fatalf("%s: %q is no PID", file, l)
		}
		pids = append(pids, pid)
	}
	return pids
}

// waitEnded waits (bounded) until process pid no longer runs: gone, or
// a zombie whose parent is not this process (an orphan killed with its
// group, left to init to reap; the suite's no-zombies case checks this
// process's own children).
func waitEnded(t *testing.T, pid int) {
	t.Helper()
	end := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return
		}
		// pid (comm) state ppid ...
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i >= 0 {
			if f := strings.Fields(s[i+1:]); len(f) >= 2 && (f[0] == "Z" || f[0] == "X") && f[1] != strconv.Itoa(os.Getpid()) {
				return
			}
		}
		if time.Now().After(end) {
			t.Fatalf("process %d still there: %s", pid, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// faultMode is how a faultStub answers.
type faultMode int32

const (
	modeHealthy    faultMode = iota // a 200 naming the stub in X-Backend
	modeReset                       // reset (RST) after reading the request
	modeStall                       // read the request, answer nothing
	modeCutLength                   // a Content-Length head, part of the body, then close
	modeCutChunked                  // a chunked head, one chunk, then close
	modeCutReset                    // a Content-Length head, part of the body, then reset
)

// cutLength is the Content-Length the cutting modes promise; they send
// a third of it.
const cutLength = 90000

// A faultStub is an upstream server failing as its mode says, one
// request per connection. It counts the connections it accepts.
type faultStub struct {
	name     string
	l        net.Listener
	mode     atomic.Int32
	accepted atomic.Int64

	mu    sync.Mutex
	conns map[net.Conn]struct{}

	// modeCutReset resets once release was called (or after IOTimeout).
	released    chan struct{}
	releaseOnce sync.Once
}

// release lets a modeCutReset stub reset its connection.
func (s *faultStub) release() { s.releaseOnce.Do(func() { close(s.released) }) }

func startFaultStub(t *testing.T, wg *sync.WaitGroup, name string, mode faultMode) *faultStub {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("stub listen: %v", err)
	}
	s := &faultStub{name: name, l: l, conns: map[net.Conn]struct{}{}, released: make(chan struct{})}
	s.mode.Store(int32(mode))
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return // closed in cleanup
			}
			s.accepted.Add(1)
			s.mu.Lock()
			s.conns[c] = struct{}{}
			s.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.serve(c)
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
			}()
		}
	}()
	return s
}

func (s *faultStub) addr() string { return s.l.Addr().String() }

// close stops accepting and closes the connections still open.
func (s *faultStub) close() {
	s.l.Close()
	s.release()
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
}

func (s *faultStub) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * IOTimeout))
	readRequest(c)
	head := "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nX-Backend: " + s.name + "\r\nConnection: close\r\n"
	part := strings.Repeat("x", cutLength/3)
	switch faultMode(s.mode.Load()) {
	case modeHealthy:
		io.WriteString(c, head+"Content-Length: 2\r\n\r\nok")
	case modeReset:
		reset(c)
	case modeStall:
		io.Copy(io.Discard, c) // until the proxy gives up
	case modeCutLength:
		io.WriteString(c, head+"Content-Length: "+strconv.Itoa(cutLength)+"\r\n\r\n"+part)
	case modeCutChunked:
		io.WriteString(c, head+"Transfer-Encoding: chunked\r\n\r\n"+chunk([]byte(part)))
	case modeCutReset:
		io.WriteString(c, head+"Content-Length: "+strconv.Itoa(cutLength)+"\r\n\r\n"+part)
		t := time.NewTimer(IOTimeout)
		select {
		case <-s.released:
		case <-t.C:
		}
		t.Stop()
		reset(c)
	}
}

// reset closes c with an RST (SO_LINGER 0) instead of a FIN.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// readHead reads a response's status line and header fields, leaving
// its body unread, within the connection's read deadline.
func (c *Conn) readHead() (*Response, error) {
	line, err := c.line()
	if err != nil {
		return nil, fmt.Errorf("read status line: %w", err)
	}
	r := &Response{}
	if err := parseStatusLine(line, r); err != nil {
		return nil, err
	}
	if r.Header, err = c.fields(); err != nil {
		return nil, fmt.Errorf("read header of %d response: %w", r.Status, err)
	}
	return r, nil
}
