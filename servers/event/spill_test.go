package event_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/c10k/c10k/servers/event"
	"github.com/c10k/c10k/servers/internal/proctest"
	"github.com/c10k/c10k/servers/servertest"
)

// bigAnswer is the size of the spilled answers: far more than the
// default Options.ProxyBuffer (1 MiB) plus what the client socket's
// buffers absorb, so only a temp file lets the upstream finish while
// the client reads nothing.
const bigAnswer = 8 << 20

// testBody returns n reproducible pseudo-random bytes.
func testBody(n int) []byte {
	r := rand.New(rand.NewPCG(uint64(n), 7))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// rawUpstream is a small HTTP/1.1 upstream on raw TCP. /app/big gets
// body, with a Content-Length or chunked, or only its first cut bytes
// before the connection is closed; anything else gets "ok". It reports
// on channels when it wrote a whole big answer, when the proxy closed a
// connection after one (released) and when a connection that served one
// brings another request (reused: the proxy pooled it).
type rawUpstream struct {
	ln       net.Listener
	body     []byte
	chunked  bool
	cut      int
	wrote    chan struct{}
	released chan struct{}
	reused   chan struct{}
	bigs     atomic.Int32 // big requests received

	mu    sync.Mutex
	conns map[net.Conn]bool
}

func startRawUpstream(t *testing.T, body []byte, chunked bool, cut int) *rawUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &rawUpstream{
		ln: ln, body: body, chunked: chunked, cut: cut,
		wrote: make(chan struct{}, 16), released: make(chan struct{}, 16), reused: make(chan struct{}, 16),
		conns: map[net.Conn]bool{},
	}
	var g errgroup.Group
	g.Go(func() error {
		for {
			c, err := ln.Accept()
			if err != nil {
				return nil
			}
			u.mu.Lock()
			u.conns[c] = true
			u.mu.Unlock()
			g.Go(func() error {
				u.serve(c)
				u.mu.Lock()
				delete(u.conns, c)
				u.mu.Unlock()
				return nil
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		u.mu.Lock()
		for c := range u.conns {
			c.Close()
		}
		u.mu.Unlock()
		g.Wait()
	})
	return u
}

func (u *rawUpstream) addr() string { return u.ln.Addr().String() }

func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (u *rawUpstream) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * waitBudget))
	br := bufio.NewReader(c)
	served := false
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			if served {
				notify(u.released)
			}
			return
		}
		io.Copy(io.Discard, req.Body)
		if served {
			notify(u.reused)
		}
		if !strings.HasPrefix(req.URL.Path, "/app/big") {
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); err != nil {
				return
			}
			continue
		}
		u.bigs.Add(1)
		if err := u.writeBig(c, req.Method == "HEAD"); err != nil || u.cut > 0 {
			return
		}
		notify(u.wrote)
		served = true
	}
}

func (u *rawUpstream) writeBig(w io.Writer, head bool) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	body := u.body
	if u.cut > 0 {
		body = body[:u.cut]
	}
	if u.chunked {
		bw.WriteString("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
		for !head && len(body) > 0 {
			n := min(len(body), 100003) // chunks that straddle the proxy's reads
			fmt.Fprintf(bw, "%x\r\n", n)
			bw.Write(body[:n])
			bw.WriteString("\r\n")
			body = body[n:]
		}
		if !head && u.cut == 0 {
			bw.WriteString("0\r\n\r\n")
		}
	} else {
		fmt.Fprintf(bw, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(u.body))
		if !head {
			bw.Write(body)
		}
	}
	return bw.Flush()
}

// spillSite is a config proxying /app/ to upstreams, with a static 1k.txt.
type spillSite struct {
	upstreams   []string
	keepalive   bool   // upstream keepalive with HTTP/1.1
	sendfile    bool   // sendfile on
	sendTimeout string // send_timeout when set
	ssl         string // with "listen ... ssl", these server directives (sslSite)
}

func (o spillSite) write(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, "html")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "1k.txt"), bytes.Repeat([]byte("x"), 1024), 0o644); err != nil {
		t.Fatal(err)
	}
	var servers, pool, loc, extra, listen string
	if o.ssl != "" {
		listen = " ssl;\n        " + strings.TrimSuffix(o.ssl, ";")
	}
	for _, a := range o.upstreams {
		servers += "server " + a + "; "
	}
	if o.keepalive {
		pool = "keepalive 4;"
		loc = `proxy_http_version 1.1; proxy_set_header Connection "";`
	}
	if o.sendTimeout != "" {
		extra = "send_timeout " + o.sendTimeout + ";"
	}
	sf := map[bool]string{true: "on", false: "off"}[o.sendfile]
	conf := fmt.Sprintf(`worker_processes 1;
http {
    sendfile %s;
    %s
    upstream app { %s %s }
    server {
        listen 127.0.0.1:0%s;
        root %s;
        location / { }
        location /app/ { proxy_pass http://app; proxy_read_timeout 30s; %s }
    }
}
`, sf, extra, servers, pool, listen, root, loc)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// dialSlow connects with a 64 KiB receive buffer: a client on a slow
// network whose socket takes little before the server's send blocks.
func dialSlow(t *testing.T, addr string) *client {
	nc := servertest.DialSmallWindow(t, addr, 64<<10)
	return &client{nc: nc, br: bufio.NewReader(nc)}
}

// send writes a raw request.
func (c *client) send(t *testing.T, req string) {
	t.Helper()
	c.nc.SetDeadline(time.Now().Add(3 * waitBudget))
	if _, err := io.WriteString(c.nc, req); err != nil {
		t.Fatalf("write request: %v", err)
	}
}

// drain forgets the reports already made.
func drain(ch chan struct{}) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// wait waits (bounded) for a report of the upstream.
func wait(t *testing.T, ch chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitBudget):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// readBig reads a response to GET /app/big and checks it is 200 with
// want as its body, byte for byte, framed by a Content-Length when
// wantLength.
func (c *client) readBig(t *testing.T, want []byte, wantLength bool) {
	t.Helper()
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		t.Fatalf("read the response head: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	if wantLength && resp.ContentLength != int64(len(want)) {
		t.Errorf("Content-Length %d (Transfer-Encoding %v), want %d", resp.ContentLength, resp.TransferEncoding, len(want))
	}
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	if err != nil {
		t.Fatalf("read the body after %d bytes: %v", n, err)
	}
	if n != int64(len(want)) {
		t.Fatalf("body of %d bytes, want %d", n, len(want))
	}
	if sum := sha256.Sum256(want); !bytes.Equal(h.Sum(nil), sum[:]) {
		t.Fatalf("body of the right length but different bytes")
	}
}

// TestSpillReleasesUpstream checks that a buffered answer larger than
// the memory buffer is read to its end into a temp file while the
// client reads nothing, so the upstream connection is released (closed,
// or pooled and reused for another client) before the client has read
// a byte; the client then gets the whole body, byte-exact, with a
// Content-Length, and the temp file is gone.
func TestSpillReleasesUpstream(t *testing.T) {
	body := testBody(bigAnswer)
	for _, tc := range []struct {
		name               string
		chunked, keepalive bool
		sendfile           bool
	}{
		{"content-length", false, false, true},
		{"chunked", true, false, true},
		{"chunked-keepalive", true, true, true},
		{"sendfile-off", false, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := startRawUpstream(t, body, tc.chunked, 0)
			conf := spillSite{upstreams: []string{up.addr()}, keepalive: tc.keepalive, sendfile: tc.sendfile}.write(t)
			s := newServer(t, conf, event.Options{Loops: 1})
			serve(t, s)
			addr := s.Addrs()[0].String()

			slow := dialSlow(t, addr)
			slow.send(t, "GET /app/big HTTP/1.1\r\nHost: t\r\n\r\n")
			wait(t, up.wrote, "the upstream to write its whole answer")
			if tc.keepalive {
				// The response starts only once the upstream is released:
				// wait for its first byte (the client reads none of it).
				if _, err := slow.br.Peek(1); err != nil {
					t.Fatalf("waiting for the response: %v", err)
				}
				// The pooled connection serves another client meanwhile.
				if body := dial(t, addr).mustGet(t, "/app/small", 200); string(body) != "ok" {
					t.Fatalf("the small answer: %q", body)
				}
				wait(t, up.reused, "the upstream connection to be reused from the pool")
			} else {
				wait(t, up.released, "the proxy to close the upstream connection")
			}
			// The slow client has read nothing yet: less than half.
			st := s.Stats()
			if st.Spilled != 1 || st.TempFiles != 1 {
				t.Errorf("while the client waits: Spilled %d, TempFiles %d; want 1, 1", st.Spilled, st.TempFiles)
			}
			if !tc.keepalive {
				// The close the upstream saw is counted right after it.
				eventually(t, "no upstream connection open", func() bool { return s.Stats().Upstreams == 0 })
			}

			slow.readBig(t, body, true)
			if !tc.sendfile {
				if got := s.Stats().FileCopies; got != 1 {
					t.Errorf("FileCopies = %d with sendfile off, want 1", got)
				}
			}
			// HEAD: the head only, and the connection goes on.
			slow.send(t, "HEAD /app/big HTTP/1.1\r\nHost: t\r\n\r\n")
			resp, err := http.ReadResponse(slow.br, &http.Request{Method: "HEAD"})
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("HEAD: %v %v", resp, err)
			}
			if cl := resp.Header.Get("Content-Length"); !tc.chunked && cl != strconv.Itoa(bigAnswer) {
				t.Errorf("HEAD: Content-Length %q, want %d", cl, bigAnswer)
			}
			if got := slow.mustGet(t, "/1k.txt", 200); len(got) != 1024 {
				t.Errorf("after HEAD: %d bytes, want 1024", len(got))
			}
			eventually(t, "the temp file closed and the exchange returned", func() bool {
				st := s.Stats()
				return st.TempFiles == 0 && st.Borrowed == 0
			})
		})
	}
}

// TestSpillUpstreamDiesMidBody checks that an upstream failing after
// part of its body went to the temp file is an attempt failure like
// one in memory: 502 from a single peer, with the request pipelined
// behind it answered, and the whole answer of the next peer otherwise.
func TestSpillUpstreamDiesMidBody(t *testing.T) {
	body := testBody(bigAnswer)
	for _, chunked := range []bool{false, true} {
		name := map[bool]string{false: "content-length", true: "chunked"}[chunked]
		t.Run(name+"/single-peer", func(t *testing.T) {
			bad := startRawUpstream(t, body, chunked, 3<<20)
			conf := spillSite{upstreams: []string{bad.addr()}, sendfile: true}.write(t)
			s := newServer(t, conf, event.Options{Loops: 1})
			serve(t, s)
			c := dial(t, s.Addrs()[0].String())
			c.send(t, "GET /app/big HTTP/1.1\r\nHost: t\r\n\r\nGET /1k.txt HTTP/1.1\r\nHost: t\r\n\r\n")
			resp, err := http.ReadResponse(c.br, nil)
			if err != nil {
				t.Fatalf("want a complete 502: %v", err)
			}
			got, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != 502 {
				t.Fatalf("status %d (%v), want 502: %.200s", resp.StatusCode, err, got)
			}
			if resp.Close {
				if err := c.expectClosed(); err != nil {
					t.Error(err)
				}
			} else {
				resp, err := http.ReadResponse(c.br, nil)
				if err != nil || resp.StatusCode != 200 {
					t.Fatalf("the pipelined request: %v %v", resp, err)
				}
				io.Copy(io.Discard, resp.Body)
			}
			if st := s.Stats(); st.Spilled != 1 {
				t.Errorf("Spilled = %d, want 1: the failure came while spilling", st.Spilled)
			}
			eventually(t, "the temp file closed", func() bool { return s.Stats().TempFiles == 0 })
		})
		t.Run(name+"/next-upstream", func(t *testing.T) {
			bad := startRawUpstream(t, body, chunked, 3<<20)
			good := startRawUpstream(t, body, chunked, 0)
			conf := spillSite{upstreams: []string{bad.addr(), good.addr()}, sendfile: true}.write(t)
			s := newServer(t, conf, event.Options{Loops: 1})
			serve(t, s)
			c := dial(t, s.Addrs()[0].String())
			for range 2 { // round robin: the dying peer is tried once
				c.send(t, "GET /app/big HTTP/1.1\r\nHost: t\r\n\r\n")
				c.readBig(t, body, true)
			}
			if n := bad.bigs.Load(); n != 1 {
				t.Errorf("the dying peer got %d requests, want 1 (then marked down)", n)
			}
			eventually(t, "the temp files closed", func() bool { return s.Stats().TempFiles == 0 })
		})
	}
}

// TestSpillTempFileLimit checks the fall back to streaming past
// Options.ProxyMaxTempFile: memory part, file part and the rest arrive
// in order, chunked to an HTTP/1.1 client when the length is unknown.
func TestSpillTempFileLimit(t *testing.T) {
	body := testBody(1<<20 + 12345)
	for _, chunked := range []bool{false, true} {
		t.Run(map[bool]string{false: "content-length", true: "chunked"}[chunked], func(t *testing.T) {
			up := startRawUpstream(t, body, chunked, 0)
			conf := spillSite{upstreams: []string{up.addr()}, sendfile: true}.write(t)
			s := newServer(t, conf, event.Options{Loops: 1, ProxyBuffer: 64 << 10, ProxyMaxTempFile: 200 << 10})
			serve(t, s)
			c := dial(t, s.Addrs()[0].String())
			for range 2 { // the connection stays usable: framing intact
				c.send(t, "GET /app/big HTTP/1.1\r\nHost: t\r\n\r\n")
				c.readBig(t, body, !chunked)
			}
			if st := s.Stats(); st.Spilled != 2 {
				t.Errorf("Spilled = %d, want 2", st.Spilled)
			}
			eventually(t, "the temp files closed", func() bool { return s.Stats().TempFiles == 0 })
		})
	}
}

// TestSpillOneLoopServesOthers checks that, with one loop, a pending
// spilled response to a client that does not read does not hold up
// other clients.
func TestSpillOneLoopServesOthers(t *testing.T) {
	body := testBody(bigAnswer)
	up := startRawUpstream(t, body, false, 0)
	conf := spillSite{upstreams: []string{up.addr()}, sendfile: true}.write(t)
	s := newServer(t, conf, event.Options{Loops: 1})
	serve(t, s)
	addr := s.Addrs()[0].String()
	slow := dialSlow(t, addr)
	slow.send(t, "GET /app/big HTTP/1.1\r\nHost: t\r\n\r\n")
	wait(t, up.wrote, "the upstream to write its whole answer")
	eventually(t, "the response pending on its temp file", func() bool { return s.Stats().TempFiles == 1 })
	other := dial(t, addr)
	if got := other.mustGet(t, "/1k.txt", 200); len(got) != 1024 {
		t.Errorf("static: %d bytes, want 1024", len(got))
	}
	if got := other.mustGet(t, "/app/small", 200); string(got) != "ok" {
		t.Errorf("proxied: %q, want ok", got)
	}
	if st := s.Stats(); st.TempFiles != 1 {
		t.Errorf("TempFiles = %d while the slow client still waits, want 1", st.TempFiles)
	}
	slow.readBig(t, body, true)
}

// TestSpillNoFDLeak runs spilled responses through every way they end
// (complete, upstream dead mid-body, client gone mid-send, send_timeout)
// and checks that no descriptor, temp file or buffer stays behind.
func TestSpillNoFDLeak(t *testing.T) {
	body := testBody(bigAnswer)
	good := startRawUpstream(t, body, true, 0)
	bad := startRawUpstream(t, body, false, 3<<20)
	conf := spillSite{upstreams: []string{good.addr()}, sendfile: true, sendTimeout: "1s"}.write(t)
	s := newServer(t, conf, event.Options{Loops: 1})
	serve(t, s)
	addr := s.Addrs()[0].String()
	badConf := spillSite{upstreams: []string{bad.addr()}, sendfile: true}.write(t)
	sb := newServer(t, badConf, event.Options{Loops: 1})
	serve(t, sb)

	settled := func() bool {
		for _, srv := range []*event.Server{s, sb} {
			st := srv.Stats()
			if st.Connections != 0 || st.Upstreams != 0 || st.TempFiles != 0 || st.Borrowed != 0 {
				return false
			}
		}
		return true
	}
	for _, srv := range []*event.Server{s, sb} { // both loops running
		w := dial(t, srv.Addrs()[0].String())
		w.mustGet(t, "/1k.txt", 200)
		w.nc.Close()
	}
	eventually(t, "the servers idle", settled)
	before, beforeDeleted := proctest.OpenFDs(t)
	beforeList := proctest.FDList()

	// Complete.
	c := dialSlow(t, addr)
	c.send(t, "GET /app/big HTTP/1.1\r\nHost: t\r\n\r\n")
	c.readBig(t, body, true)
	c.nc.Close()

	// The upstream dies while spilling.
	b := dial(t, sb.Addrs()[0].String())
	b.mustGet(t, "/app/big", 502)
	b.nc.Close()

	// The client leaves after part of the body.
	gone := dialSlow(t, addr)
	gone.send(t, "GET /app/big HTTP/1.1\r\nHost: t\r\n\r\n")
	if _, err := io.ReadFull(gone.br, make([]byte, 64<<10)); err != nil {
		t.Fatalf("the start of the response: %v", err)
	}
	gone.nc.Close()

	// The client stops reading: send_timeout closes it.
	drain(good.wrote)
	stuck := dialSlow(t, addr)
	stuck.send(t, "GET /app/big HTTP/1.1\r\nHost: t\r\n\r\n")
	wait(t, good.wrote, "the upstream to write its whole answer")
	eventually(t, "send_timeout to close the stuck client", settled)
	got, _ := io.Copy(io.Discard, stuck.br)
	if got >= bigAnswer {
		t.Errorf("the stuck client got %d bytes after send_timeout, want a cut response", got)
	}
	stuck.nc.Close()

	if st := s.Stats(); st.Spilled != 3 {
		t.Errorf("Spilled = %d, want 3", st.Spilled)
	}
	deadline := time.Now().Add(waitBudget)
	for {
		n, deleted := proctest.OpenFDs(t)
		if n == before && deleted == beforeDeleted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d descriptors open (%d deleted files), %d (%d) before:\n%s\nbefore:\n%s", n, deleted, before, beforeDeleted, proctest.FDList(), beforeList)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSpillTempFileFails checks that a temp file that cannot be created
// ends the exchange with a 500, logged, and nothing left open, while
// answers that fit in memory go on.
func TestSpillTempFileFails(t *testing.T) {
	body := testBody(bigAnswer)
	up := startRawUpstream(t, body, false, 0)
	conf := spillSite{upstreams: []string{up.addr()}, sendfile: true}.write(t)
	logs := &logBuffer{t: t}
	s := newServer(t, conf, event.Options{Loops: 1, ErrorLog: logs})
	serve(t, s)
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "missing"))
	c := dial(t, s.Addrs()[0].String())
	resp, got, err := c.get("/app/big")
	if err != nil || resp.StatusCode != 500 {
		t.Fatalf("GET /app/big without a temp dir: %v %v, want 500", resp, err)
	}
	if !resp.Close {
		t.Errorf("the 500 keeps the connection open, want Connection: close (%d body bytes)", len(got))
	}
	if n := logs.count("while reading upstream"); n != 1 {
		t.Errorf("the temp file failure logged %d times, want once", n)
	}
	if got := dial(t, s.Addrs()[0].String()).mustGet(t, "/app/small", 200); string(got) != "ok" {
		t.Errorf("an answer in memory: %q, want ok", got)
	}
	eventually(t, "nothing left open", func() bool {
		st := s.Stats()
		return st.TempFiles == 0 && st.Upstreams == 0
	})
}
