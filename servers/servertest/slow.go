package servertest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/c10k/c10k/servers/backend"
)

// slowConf is the config of the slow-client cases: every client timeout
// is 1s, and every line of access.log is "STATUS BODY_BYTES BYTES METHOD
// URI".
const slowConf = `events {}
http {
    log_format st '$status $body_bytes_sent $bytes_sent $request_method $request_uri';
    access_log $DIR/access.log st;
    client_header_timeout 1s;
    client_body_timeout 1s;
    send_timeout 1s;
    keepalive_timeout 30s;
    server {
        listen 127.0.0.1:0 default_server;
        server_name slow.test;
        root $ROOT;
        location / { }
        location /proxy/ { proxy_pass http://$BACKEND; }
        location /stream/ { proxy_pass http://$STREAM; proxy_buffering off; }
    }
}
`

// slowTimeout is the client timeouts of slowConf.
const slowTimeout = time.Second

// trickleEvery is how often a trickling client sends its next byte:
// well within slowTimeout, so only a timeout that covers the whole head
// ends it.
const trickleEvery = 200 * time.Millisecond

// slowBudget bounds how long a case waits for the core to act on a
// timeout; a core that never does fails the case then.
const slowBudget = 8 * time.Second

// RunSlow runs the slow-client cases against the core start starts, on
// a config of its own with client_header_timeout, client_body_timeout
// and send_timeout of 1s, measured as nginx 1.22 measures them:
//
//   - client_header_timeout covers the whole request head: from the
//     accept for a connection's first request (nginx arms the timer in
//     ngx_http_init_connection and ngx_http_read_request_header only
//     re-arms it when it is not set), from its first byte for a
//     keep-alive one (ngx_http_keepalive_handler deletes the keep-alive
//     timer when bytes arrive). Bytes trickling in do not extend it: a
//     slowloris sending a byte every 200 ms is closed after 1s, without
//     a response, and the access log shows 408 once a byte had arrived
//     (nothing for a connection that sent nothing);
//   - client_body_timeout runs between two reads: a body that stops is
//     closed after 1s, without a response (nginx 1.22 terminates the
//     request: ngx_http_finalize_request with NGX_HTTP_REQUEST_TIME_OUT
//     sends nothing), with 408 in the access log; a body that trickles
//     is read whole and answered;
//   - send_timeout runs between two writes: a client that stops reading
//     a large file, or a proxied response with proxy_buffering off, is
//     closed after 1s; the access log keeps the status already sent
//     (200) with the bytes that went out, and the proxied response's
//     upstream connection is closed too.
func RunSlow(t *testing.T, start Start) {
	dir := t.TempDir()
	root := filepath.Join(dir, "html")
	must(t, os.MkdirAll(root, 0o755))
	big, err := os.Create(filepath.Join(root, "big.bin"))
	must(t, err)
	must(t, big.Truncate(bigSize))
	must(t, big.Close())
	must(t, os.WriteFile(filepath.Join(root, "index.html"), []byte("slow index\n"), 0o644))
	addrs := startBackends(t, backend.Options{Name: "a"})
	stream := startStream(t)
	conf := strings.NewReplacer("$DIR", dir, "$ROOT", root, "$BACKEND", addrs[0], "$STREAM", stream.addr()).Replace(slowConf)
	confPath := filepath.Join(dir, "nginx.conf")
	must(t, os.WriteFile(confPath, []byte(conf), 0o644))
	addr := start(t, confPath).Addr
	accessLog := filepath.Join(dir, "access.log")
	const host = "slow.test"

	t.Run("cases", func(t *testing.T) {
		t.Run("slowloris", func(t *testing.T) {
			t.Parallel()
			begin := time.Now()
			c := dialAddr(t, addr)
			head := request("GET", "/slowloris", host)
			// The request line and Host, then one byte of a field every
			// 200 ms: the head never ends.
			must(t, c.Write([]byte(head[:len(head)-2]+"X-Slow: ")))
			elapsed := trickleUntilClosed(t, c, begin)
			if elapsed < slowTimeout {
				t.Errorf("closed %v after the connect, before client_header_timeout %v", elapsed, slowTimeout)
			}
			f := waitLine(t, accessLog, " GET /slowloris")
			if f[0] != "408" || f[1] != "0" {
				t.Errorf("access log %q, want status 408 and nothing sent", f)
			}
		})
		t.Run("silent", func(t *testing.T) {
			t.Parallel()
			// Nothing sent: closed at client_header_timeout, nothing
			// logged (checked with the other 408 lines below).
			begin := time.Now()
			c := dialAddr(t, addr)
			if err := c.expectClosedWithin(slowBudget); err != nil {
				t.Fatalf("a connection that sends nothing: %v", err)
			}
			if d := time.Since(begin); d < slowTimeout {
				t.Errorf("closed %v after the connect, before client_header_timeout %v", d, slowTimeout)
			}
		})
		t.Run("keepalive-trickle", func(t *testing.T) {
			t.Parallel()
			// A keep-alive connection's next head trickles in: its
			// client_header_timeout runs from its first byte, not from
			// the end of the previous response (keepalive_timeout is
			// 30s), and is not extended by the bytes.
			c := dialAddr(t, addr)
			r := roundTrip(t, c, "GET", request("GET", "/index.html", host))
			wantStatus(t, r, 200)
			time.Sleep(trickleEvery)
			begin := time.Now()
			head := request("GET", "/trickle2", host)
			must(t, c.Write([]byte(head[:len(head)-2]+"X-Slow: ")))
			elapsed := trickleUntilClosed(t, c, begin)
			if elapsed < slowTimeout {
				t.Errorf("closed %v after the first byte, before client_header_timeout %v", elapsed, slowTimeout)
			}
			f := waitLine(t, accessLog, " GET /trickle2")
			if f[0] != "408" {
				t.Errorf("access log %q, want status 408", f)
			}
		})
		t.Run("stalled-body", func(t *testing.T) {
			t.Parallel()
			// 10 of 100 announced bytes, then nothing: closed after
			// client_body_timeout with no response, 408 logged.
			c := dialAddr(t, addr)
			must(t, c.Write([]byte("POST /proxy/stalled HTTP/1.1\r\nHost: "+host+"\r\nContent-Length: 100\r\n\r\n0123456789")))
			begin := time.Now()
			if err := c.expectClosedWithin(slowBudget); err != nil {
				t.Fatalf("a body that stops: %v", err)
			}
			if d := time.Since(begin); d < slowTimeout {
				t.Errorf("closed %v after the last body byte, before client_body_timeout %v", d, slowTimeout)
			}
			f := waitLine(t, accessLog, " POST /proxy/stalled")
			if f[0] != "408" || f[1] != "0" {
				t.Errorf("access log %q, want status 408 and nothing sent", f)
			}
		})
		t.Run("trickling-body", func(t *testing.T) {
			t.Parallel()
			// A byte of the body every 200 ms, 2s in all: each read
			// comes within client_body_timeout of the previous one, so
			// the body is read whole and answered.
			c := dialAddr(t, addr)
			body := "0123456789"
			must(t, c.Write([]byte("POST /proxy/trickle HTTP/1.1\r\nHost: "+host+"\r\nContent-Length: 10\r\n\r\n")))
			for i := range len(body) {
				time.Sleep(trickleEvery)
				must(t, c.Write([]byte(body[i:i+1])))
			}
			r, err := c.ReadResponse("POST")
			if err != nil {
				t.Fatalf("a body trickling within client_body_timeout: %v", err)
			}
			wantStatus(t, r, 200)
			if e := echo(t, r); e.BodyLength != int64(len(body)) {
				t.Errorf("the backend got %d body bytes, want %d", e.BodyLength, len(body))
			}
		})
		t.Run("stalled-reader", func(t *testing.T) {
			t.Parallel()
			// A client that stops reading a 32 MiB file: closed after
			// send_timeout, 200 logged with the bytes sent.
			nc := DialSmallWindow(t, addr, 4096)
			c := NewConn(nc)
			must(t, c.Write([]byte(request("GET", "/big.bin", host))))
			f := waitLineWithin(t, accessLog, " GET /big.bin", slowBudget)
			body, _ := strconv.ParseInt(f[1], 10, 64)
			if f[0] != "200" || body >= bigSize {
				t.Errorf("access log %q, want 200 with less than the %d-byte body", f, bigSize)
			}
			if n, err := drain(nc); err != nil || n >= bigSize {
				t.Errorf("after send_timeout the client read %d bytes then %v, want fewer than %d then the close", n, err, bigSize)
			}
		})
		t.Run("stalled-proxy-reader", func(t *testing.T) {
			t.Parallel()
			// The same with an endless upstream response and
			// proxy_buffering off: after send_timeout the client and
			// the upstream connection are closed.
			nc := DialSmallWindow(t, addr, 4096)
			c := NewConn(nc)
			must(t, c.Write([]byte(request("GET", "/stream/endless", host))))
			f := waitLineWithin(t, accessLog, " GET /stream/endless", slowBudget)
			if f[0] != "200" {
				t.Errorf("access log %q, want 200", f)
			}
			if n, err := drain(nc); err != nil || n == 0 {
				t.Errorf("after send_timeout the client read %d bytes then %v, want part of the response then the close", n, err)
			}
			select {
			case err := <-stream.ended:
				if err != nil {
					t.Errorf("upstream connection: %v", err)
				}
			case <-time.After(slowBudget):
				t.Error("the upstream connection is still open after the client's send_timeout")
			}
		})
	})

	// Exactly one 408 line per case that sent a head or a body: none for
	// the connection that sent nothing.
	b, err := os.ReadFile(accessLog)
	must(t, err)
	var got []string
	for l := range strings.SplitSeq(string(b), "\n") {
		if strings.HasPrefix(l, "408 ") {
			got = append(got, l)
		}
	}
	if len(got) != 3 {
		t.Errorf("408 lines in the access log: %q, want one each for /slowloris, /trickle2 and /proxy/stalled", got)
	}
}

// trickleUntilClosed sends a byte every trickleEvery on c until the
// core closes it (or slowBudget passes: an error), and returns the time
// from begin to the close. The core must close without a response.
func trickleUntilClosed(t *testing.T, c *Conn, begin time.Time) time.Duration {
	t.Helper()
	stop := make(chan struct{})
	var g errgroup.Group
	g.Go(func() error {
		tick := time.NewTicker(trickleEvery)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return nil
			case <-tick.C:
				if err := c.Write([]byte("x")); err != nil {
					return nil // closed by the core
				}
			}
		}
	})
	err := c.expectClosedWithin(slowBudget)
	elapsed := time.Since(begin)
	close(stop)
	g.Wait()
	if err != nil {
		t.Fatalf("a head trickling in a byte every %v: %v (client_header_timeout must cover the whole head)", trickleEvery, err)
	}
	return elapsed
}

// drain reads nc until the core's close and returns the byte count; a
// connection still open after IOTimeout is an error.
func drain(nc net.Conn) (int64, error) {
	nc.SetReadDeadline(time.Now().Add(IOTimeout))
	n, err := io.Copy(io.Discard, nc)
	if err == nil || isClosed(err) {
		return n, nil
	}
	return n, err
}

// waitLineWithin is waitLine with a budget of d.
func waitLineWithin(t *testing.T, path, sub string, d time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		b, _ := os.ReadFile(path)
		for l := range strings.SplitSeq(string(b), "\n") {
			if strings.Contains(l+"\n", sub+"\n") {
				return strings.Fields(l)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no line with %q in %s within %v:\n%s", sub, path, d, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// streamStub is an upstream that answers every request with an endless
// body, written until the connection fails, and reports on ended how
// each connection ended: nil when the peer closed it, an error when it
// was still open after slowBudget.
type streamStub struct {
	l     net.Listener
	ended chan error
	conns atomic.Int64
}

func (s *streamStub) addr() string { return s.l.Addr().String() }

func startStream(t *testing.T) *streamStub {
	t.Helper()
	s := &streamStub{l: ListenLocal(t), ended: make(chan error, 16)}
	ServeConns(t, s.l, s.serve)
	return s
}

// serve reads a request on c and streams the endless answer.
func (s *streamStub) serve(c net.Conn) {
	s.conns.Add(1)
	c.SetReadDeadline(time.Now().Add(IOTimeout))
	readRequest(c)
	c.SetWriteDeadline(time.Now().Add(slowBudget))
	if _, err := c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 1073741824\r\n\r\n")); err != nil {
		s.ended <- nil
		return
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err := c.Write(chunk); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				s.ended <- fmt.Errorf("still open %v after the response began", slowBudget)
			} else {
				s.ended <- nil
			}
			return
		}
	}
}
