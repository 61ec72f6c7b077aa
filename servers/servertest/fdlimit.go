package servertest

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/c10k/c10k/servers/backend"
)

// fdLimitConf is the config of RunFDLimit: a local answer and a proxied
// one.
const fdLimitConf = `events { worker_connections 4096; }
http {
    access_log off;
    keepalive_timeout 60s;
    server {
        listen 127.0.0.1:0 default_server;
        location / { return 200 "ok"; }
        location /proxy/ { proxy_pass http://$BACKEND; }
    }
}
`

// Figures of RunFDLimit.
const (
	// childNofile is the RLIMIT_NOFILE of the child core: enough for the
	// runtime, the listener and a few connections.
	childNofile = 64
	// fillConns is how many connections fill the child's descriptors:
	// more than childNofile, fewer than the listen backlog, so the rest
	// wait in the kernel's queue.
	fillConns = 100
	// spinWindow is how long the child's CPU time is watched while its
	// descriptors are exhausted and connections wait.
	spinWindow = 2 * time.Second
	// maxSpinTicks bounds the child's CPU time over spinWindow, in clock
	// ticks (1/100 s on Linux): a core at rest uses next to none, one
	// retrying accept4 in a loop a whole CPU (200), or its share of one
	// on a machine shared by many.
	maxSpinTicks = 40
)

// RunFDLimit runs the out-of-descriptors cases against a core serving
// in a child process with RLIMIT_NOFILE 64 (StartChild: helper is the
// name of the core package's test whose body is ServeChild). It fills
// the child's descriptors with idle connections and checks, as nginx
// behaves:
//
//   - accept4 failing with EMFILE is logged once for the episode
//     ("accept4() ... failed (24: Too many open files)"), not once per
//     retry, and the core does not spin: its CPU time over 2s stays
//     near zero while connections wait in the backlog;
//   - a proxied request on a connection accepted earlier, whose
//     upstream socket() fails with EMFILE, gets 500 (nginx 1.22:
//     ngx_event_connect_peer returns NGX_ERROR and the request is
//     finalized with 500, not 502, the peer not counted as failed) and
//     the line "socket() failed (24: Too many open files) while
//     connecting to upstream"; local answers need no descriptor;
//   - once the connections close, the core accepts and serves again,
//     and says so in its log.
//
// sendsLocally is false for a core that needs descriptors for every
// response (the cgi core's child per request): it may close the
// connection instead of sending the 500.
func RunFDLimit(t *testing.T, helper string, sendsLocally bool) {
	dir := t.TempDir()
	addrs := startBackends(t, backend.Options{Name: "a"})
	conf := strings.ReplaceAll(fdLimitConf, "$BACKEND", addrs[0])
	confPath := filepath.Join(dir, "nginx.conf")
	must(t, os.WriteFile(confPath, []byte(conf), 0o644))
	child := StartChild(t, helper, confPath, childNofile)

	// A keep-alive connection served before the descriptors run out.
	first, err := Dial(child.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	r := roundTrip(t, first, "GET", request("GET", "/", "x"))
	wantStatus(t, r, 200)

	// Fill: idle connections, accepted until accept4 fails with EMFILE;
	// the rest wait in the listen backlog.
	var fill []net.Conn
	defer func() {
		for _, c := range fill {
			c.Close()
		}
	}()
	for i := range fillConns {
		c, err := net.DialTimeout("tcp", child.Addr, IOTimeout)
		if err != nil {
			t.Fatalf("filling connection %d: %v", i, err)
		}
		fill = append(fill, c)
	}
	child.WaitLine(t, "(24: Too many open files)", loopBudget)
	settle(t, child)

	const failed = "failed (24: Too many open files)"
	const works = "works again after"
	failures, recoveries := child.Count(failed), child.Count(works)
	before := child.CPUTicks(t)
	time.Sleep(spinWindow)
	if ticks := child.CPUTicks(t) - before; ticks > maxSpinTicks {
		t.Errorf("the child used %d clock ticks of CPU in %v with its descriptors exhausted, want at most %d: it spins", ticks, spinWindow, maxSpinTicks)
	}
	// Retries are every 500ms: a line per retry would be 4 more. A new
	// episode may begin only after a descriptor freed and an accept
	// worked, which is logged.
	if f, r := child.Count(failed)-failures, child.Count(works)-recoveries; f > r {
		t.Errorf("%d more accept4() failure lines in %v with descriptors exhausted, and %d lines saying accepting worked again: want one failure line per episode", f, spinWindow, r)
	}

	// The upstream socket() has no descriptor either.
	r, err = first.RoundTrip("GET", []byte(request("GET", "/proxy/x", "x")))
	switch {
	case sendsLocally && err != nil:
		t.Errorf("GET /proxy/x with no descriptor for the upstream socket: %v, want 500", err)
	case sendsLocally || err == nil:
		wantStatus(t, r, 500)
	}
	child.WaitLine(t, "socket() failed (24: Too many open files) while connecting to upstream", IOTimeout)
	first.Close()

	// Free the descriptors: the core accepts again and serves.
	for _, c := range fill {
		c.Close()
	}
	fill = nil
	deadline := time.Now().Add(loopBudget)
	for {
		r, err := fresh(child.Addr)
		if err == nil && r.Status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no 200 from a fresh connection within %v of the descriptors freeing: %v %v", loopBudget, r, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	child.WaitLine(t, "works again after", IOTimeout)
}

// settle waits until the child core has no process of its own left (a
// cgi child of the request before the fill holds pipes until it exits)
// and its descriptor count holds still, so that no descriptor frees up
// and the episode watched is one.
func settle(t *testing.T, child *Child) {
	t.Helper()
	deadline := time.Now().Add(loopBudget)
	last, same := -1, 0
	for same < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("the child core's descriptors and processes did not settle within %v", loopBudget)
		}
		n := child.FDs(t)
		if child.Children(t) > 0 || child.Open(t, "anon_inode:[pidfd]") > 0 {
			n = -1 // a process of its own runs, or is not yet waited for
		}
		if n == last {
			same++
		} else {
			last, same = n, 0
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// fresh sends GET / on a new connection.
func fresh(addr string) (*Response, error) {
	c, err := Dial(addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.RoundTrip("GET", []byte(request("GET", "/", "x", "Connection: close")))
}
