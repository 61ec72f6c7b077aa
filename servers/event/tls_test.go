package event_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/c10k/c10k/servers/event"
	"github.com/c10k/c10k/servers/servertest"
)

// sslSite makes a certificate for 127.0.0.1 signed by a throwaway CA
// and returns the server directives that use it (siteOptions.ssl,
// spillSite.ssl) and a client configuration that trusts it.
func sslSite(t testing.TB) (directives string, client *tls.Config) {
	t.Helper()
	certs := servertest.TestCerts(t)
	cert, key, err := certs.Issue("server", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("ssl_certificate %s; ssl_certificate_key %s;", cert, key), certs.ClientConfig("127.0.0.1")
}

// newTLSServer starts the event core on a site whose listener is an
// ssl one, and returns it with a client configuration for it.
func newTLSServer(t *testing.T, o siteOptions, opts event.Options) (*event.Server, *tls.Config) {
	t.Helper()
	var cfg *tls.Config
	o.ssl, cfg = sslSite(t)
	st := newSite(t, o)
	s := newServer(t, st.conf, opts)
	serve(t, s)
	return s, cfg
}

// dialTLS connects with TLS and completes the handshake.
func dialTLS(t testing.TB, addr string, cfg *tls.Config) *client {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, waitBudget)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	tc := tls.Client(nc, cfg)
	tc.SetDeadline(time.Now().Add(waitBudget))
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS handshake with %s: %v", addr, err)
	}
	return &client{nc: tc, br: bufio.NewReader(tc)}
}

// TestTLS serves static files of every size, both sendfile settings,
// gzip, errors, keep-alive and pipelining over TLS, on one loop and two.
func TestTLS(t *testing.T) {
	for _, loops := range []int{1, 2} {
		t.Run(map[int]string{1: "one-loop", 2: "two-loops"}[loops], func(t *testing.T) {
			s, cfg := newTLSServer(t, siteOptions{}, event.Options{Loops: loops})
			addr := s.Addrs()[0].String()
			c := dialTLS(t, addr, cfg)
			tests := []struct {
				path   string
				status int
				size   int
				first  byte
			}{
				{"/1k.txt", 200, 1024, 'x'},
				{"/big.bin", 200, 1 << 20, '0'}, // sendfile on: read and encrypted instead
				{"/nosf/1k.txt", 200, 1024, 'y'},
				{"/missing.txt", 404, -1, 0},
				{"/1k.txt", 200, 1024, 'x'},
			}
			for _, tt := range tests {
				resp, body, err := c.get(tt.path)
				if err != nil {
					t.Fatalf("GET %s: %v", tt.path, err)
				}
				if resp.StatusCode != tt.status {
					t.Errorf("GET %s: status %d, want %d", tt.path, resp.StatusCode, tt.status)
				}
				if tt.size >= 0 && (len(body) != tt.size || body[0] != tt.first) {
					t.Errorf("GET %s: %d bytes starting %q, want %d starting %q", tt.path, len(body), body[:min(len(body), 1)], tt.size, tt.first)
				}
			}
			c.getPipelined(t) // in one record
			eventually(t, "the connection idle, holding no buffer", func() bool {
				st := s.Stats()
				return st.Idle == 1 && st.Borrowed == 0
			})
			if st := s.Stats(); st.Handshakes != 1 || st.Handshaking != 0 || st.FileCopies != 2 {
				t.Errorf("Handshakes %d, Handshaking %d, FileCopies %d; want 1, 0, 2 (sendfile off only)", st.Handshakes, st.Handshaking, st.FileCopies)
			}
		})
	}
}

// TestTLSGzip checks a compressed file body over TLS.
func TestTLSGzip(t *testing.T) {
	s, cfg := newTLSServer(t, siteOptions{gzip: true}, event.Options{Loops: 1})
	c := dialTLS(t, s.Addrs()[0].String(), cfg)
	for _, path := range []string{"/1k.txt", "/big.bin"} {
		resp, body, err := c.get(path, "Accept-Encoding: gzip\r\n")
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		if resp.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("GET %s: Content-Encoding %q, want gzip", path, resp.Header.Get("Content-Encoding"))
		}
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		plain, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("GET %s: gunzip: %v", path, err)
		}
		if want := map[string]int{"/1k.txt": 1024, "/big.bin": 1 << 20}[path]; len(plain) != want {
			t.Errorf("GET %s: %d bytes after gunzip, want %d", path, len(plain), want)
		}
	}
}

// TestTLSProxy checks proxied answers over TLS: buffered in memory,
// spilled to a temp file (sendfile on: read and encrypted instead),
// and streamed (chunked).
func TestTLSProxy(t *testing.T) {
	body := testBody(3 << 20)
	for _, tc := range []struct {
		name     string
		chunked  bool
		sendfile bool
	}{
		{"length-sendfile", false, true},
		{"chunked-nosendfile", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := startRawUpstream(t, body, tc.chunked, 0)
			ssl, cfg := sslSite(t)
			conf := spillSite{upstreams: []string{up.addr()}, sendfile: tc.sendfile, ssl: ssl}.write(t)
			s := newServer(t, conf, event.Options{Loops: 1})
			serve(t, s)
			c := dialTLS(t, s.Addrs()[0].String(), cfg)
			c.send(t, "GET /app/small HTTP/1.1\r\nHost: a\r\n\r\n")
			resp, err := http.ReadResponse(c.br, nil)
			if err != nil {
				t.Fatal(err)
			}
			small, _ := io.ReadAll(resp.Body)
			if string(small) != "ok" {
				t.Fatalf("GET /app/small: %q, want ok", small)
			}
			// A request body of 1 MiB: past the memory buffer, spooled.
			upload := testBody(1 << 20)
			c.send(t, fmt.Sprintf("POST /app/upload HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n", len(upload)))
			if _, err := c.nc.Write(upload); err != nil {
				t.Fatalf("write the request body: %v", err)
			}
			resp, err = http.ReadResponse(c.br, nil)
			if err != nil {
				t.Fatalf("POST /app/upload: %v", err)
			}
			small, _ = io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || string(small) != "ok" {
				t.Fatalf("POST /app/upload: %d %q, want 200 ok", resp.StatusCode, small)
			}
			c.send(t, "GET /app/big HTTP/1.1\r\nHost: a\r\n\r\n")
			c.readBig(t, body, !tc.chunked)
			if got := s.Stats().Spilled; got != 1 {
				t.Errorf("Spilled = %d, want 1", got)
			}
		})
	}
}

// recordConn records the bytes a connection reads.
type recordConn struct {
	net.Conn
	mu  sync.Mutex
	got []byte
}

func (r *recordConn) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.mu.Lock()
	r.got = append(r.got, p[:n]...)
	r.mu.Unlock()
	return n, err
}

// lastRecordType walks the TLS records in b and returns the type of the
// last whole one.
func lastRecordType(b []byte) byte {
	var typ byte
	for len(b) >= 5 {
		n := int(b[3])<<8 | int(b[4])
		if len(b) < 5+n {
			break
		}
		typ = b[0]
		b = b[5+n:]
	}
	return typ
}

// TestTLSCloseNotify checks that a connection closed after its last
// response ends with close_notify: with TLS 1.2 the alert's record type
// (21) is in the clear.
func TestTLSCloseNotify(t *testing.T) {
	s, cfg := newTLSServer(t, siteOptions{}, event.Options{Loops: 1})
	nc, err := net.DialTimeout("tcp", s.Addrs()[0].String(), waitBudget)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	rc := &recordConn{Conn: nc}
	cfg.MaxVersion = tls.VersionTLS12
	tc := tls.Client(rc, cfg)
	tc.SetDeadline(time.Now().Add(waitBudget))
	c := &client{nc: tc, br: bufio.NewReader(tc)}
	resp, body, err := c.get("/1k.txt", "Connection: close\r\n")
	if err != nil || resp.StatusCode != 200 || len(body) != 1024 {
		t.Fatalf("GET /1k.txt: %v", err)
	}
	if _, err := c.br.ReadByte(); err != io.EOF {
		t.Fatalf("after the last response: %v, want io.EOF", err)
	}
	if st := tc.ConnectionState(); st.Version != tls.VersionTLS12 {
		t.Fatalf("version %x, want TLS 1.2", st.Version)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if typ := lastRecordType(rc.got); typ != 21 {
		t.Errorf("the last record's type is %d, want 21 (alert: close_notify)", typ)
	}
}

// TestTLSResumption checks that a second connection resumes the first
// one's session (a ticket) and that both are served.
func TestTLSResumption(t *testing.T) {
	s, cfg := newTLSServer(t, siteOptions{}, event.Options{Loops: 1})
	cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	for i, want := range []bool{false, true} {
		c := dialTLS(t, s.Addrs()[0].String(), cfg)
		c.mustGet(t, "/1k.txt", 200) // TLS 1.3 tickets come after the handshake
		if got := c.nc.(*tls.Conn).ConnectionState().DidResume; got != want {
			t.Errorf("connection %d: DidResume %v, want %v", i, got, want)
		}
		c.nc.Close()
	}
}

// TestTLSIdleConnectionsHoldNoGoroutine opens many TLS connections
// that each complete one request and then sit idle, and checks that
// the server holds no goroutine for them: the handshake goroutines are
// gone, and the count is what it was before they came.
func TestTLSIdleConnectionsHoldNoGoroutine(t *testing.T) {
	const n = 400
	s, cfg := newTLSServer(t, siteOptions{}, event.Options{Loops: 2, TLSHandshakes: 8})
	addr := s.Addrs()[0].String()
	// One connection first, so that Serve's goroutines are all counted.
	warm := dialTLS(t, addr, cfg)
	warm.mustGet(t, "/1k.txt", 200)
	warm.nc.Close()
	eventually(t, "the first connection gone", func() bool { return s.Stats().Connections == 0 })
	before := runtime.NumGoroutine()
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = dialTLS(t, addr, cfg)
		clients[i].mustGet(t, "/1k.txt", 200)
	}
	eventually(t, "every TLS connection idle, no handshake running", func() bool {
		st := s.Stats()
		return st.Idle == n && st.Handshaking == 0 && st.Handshakes == n+1
	})
	// The last handshake goroutines may still be returning after their
	// post; they all end.
	deadline := time.Now().Add(waitBudget)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if now := runtime.NumGoroutine(); now > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines with %d idle TLS connections, %d before them:\n%s", now, n, before, buf[:runtime.Stack(buf, true)])
	}
	for _, i := range []int{0, n / 2, n - 1} {
		clients[i].mustGet(t, "/1k.txt", 200) // idle, not forgotten
	}
}

// TestTLSHandshakeTimeout checks client_header_timeout during a
// handshake: a client that sends part of a ClientHello, and one that
// stops after its ClientHello (its handshake goroutine waits for the
// next flight), are both closed, and the goroutine ends.
func TestTLSHandshakeTimeout(t *testing.T) {
	ssl, cfg := sslSite(t)
	st := newSite(t, siteOptions{headerTimeout: "1s", ssl: ssl})
	logs := servertest.NewLogBuffer(t)
	s := newServer(t, st.conf, event.Options{Loops: 1, ErrorLog: logs})
	serve(t, s)
	addr := s.Addrs()[0].String()

	partial, err := net.DialTimeout("tcp", addr, waitBudget)
	if err != nil {
		t.Fatal(err)
	}
	defer partial.Close()
	partial.Write([]byte{0x16, 3, 1, 0, 200, 1}) // a record header and one byte of 200

	stalled, handshook := stallHandshake(t, s, cfg)
	handshook() // ends when the server closes
	for name, nc := range map[string]net.Conn{"partial": partial, "stalled": stalled} {
		nc.SetReadDeadline(time.Now().Add(waitBudget))
		if _, err := io.Copy(io.Discard, nc); err != nil && !strings.Contains(err.Error(), "reset") {
			t.Errorf("%s ClientHello: %v, want the connection closed", name, err)
		}
	}
	eventually(t, "no connection and no handshake left", func() bool {
		st := s.Stats()
		return st.Connections == 0 && st.Handshaking == 0
	})
	if st := s.Stats(); st.Handshakes != 0 {
		t.Errorf("Handshakes = %d, want 0", st.Handshakes)
	}
	if n := logs.Count("client timed out (110: Connection timed out) while SSL handshaking"); n != 2 {
		t.Errorf("%d handshake timeouts logged, want 2 (nginx's info line)", n)
	}
}

// stallHandshake dials s's first address and starts a TLS handshake
// that stops after its ClientHello (helloOnly), so s's handshake
// goroutine waits for the next flight; it returns once s counts the
// handshake as running. The handshake ends when either side closes
// stalled (closed in t.Cleanup too); handshook waits for the client's
// Handshake call to return.
func stallHandshake(t *testing.T, s *event.Server, cfg *tls.Config) (stalled net.Conn, handshook func()) {
	t.Helper()
	stalled, err := net.DialTimeout("tcp", s.Addrs()[0].String(), waitBudget)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stalled.Close() })
	tc := tls.Client(&helloOnly{Conn: stalled}, cfg)
	tc.SetDeadline(time.Now().Add(waitBudget))
	var hs sync.WaitGroup
	hs.Go(func() { tc.Handshake() })
	eventually(t, "the stalled handshake running", func() bool { return s.Stats().Handshaking == 1 })
	return stalled, hs.Wait
}

// helloOnly sends the first write (the ClientHello) and drops the rest.
type helloOnly struct {
	net.Conn
	sent bool
}

func (h *helloOnly) Write(p []byte) (int, error) {
	if h.sent {
		return len(p), nil
	}
	h.sent = true
	return h.Conn.Write(p)
}

// TestTLSPlainRequest checks a plain HTTP request on an ssl port: 400
// with nginx's text, and the connection closed.
func TestTLSPlainRequest(t *testing.T) {
	s, _ := newTLSServer(t, siteOptions{}, event.Options{Loops: 1})
	c := dial(t, s.Addrs()[0].String())
	resp, body, err := c.get("/1k.txt")
	if err != nil {
		t.Fatalf("plain GET on the ssl port: %v", err)
	}
	if resp.StatusCode != 400 || !strings.Contains(string(body), "The plain HTTP request was sent to HTTPS port") {
		t.Errorf("plain GET on the ssl port: %d %q, want 400 and nginx's text", resp.StatusCode, body)
	}
	if err := c.expectClosed(); err != nil {
		t.Errorf("after the 400: %v", err)
	}
	if st := s.Stats(); st.Handshakes != 0 {
		t.Errorf("Handshakes = %d, want 0", st.Handshakes)
	}
}

// TestTLSHandshakeQueue checks Options.TLSHandshakes: with one slot,
// held by a client that stalls after its ClientHello, another client's
// handshake waits in the queue and completes once the stalled client
// leaves.
func TestTLSHandshakeQueue(t *testing.T) {
	s, cfg := newTLSServer(t, siteOptions{}, event.Options{Loops: 1, TLSHandshakes: 1})
	addr := s.Addrs()[0].String()
	stalled, handshook := stallHandshake(t, s, cfg)

	queued, err := net.DialTimeout("tcp", addr, waitBudget)
	if err != nil {
		t.Fatal(err)
	}
	defer queued.Close()
	qc := tls.Client(queued, cfg)
	qc.SetDeadline(time.Now().Add(waitBudget))
	var qerr error
	var g sync.WaitGroup
	g.Go(func() { qerr = qc.Handshake() })
	eventually(t, "the second handshake queued", func() bool { return s.Stats().HandshakesWaiting == 1 })
	if st := s.Stats(); st.Handshaking != 1 || st.Handshakes != 0 {
		t.Errorf("with one slot taken and one waiting: Handshaking %d, Handshakes %d; want 1, 0", st.Handshaking, st.Handshakes)
	}
	stalled.Close()
	handshook()
	g.Wait()
	if qerr != nil {
		t.Fatalf("the queued handshake: %v", qerr)
	}
	c := &client{nc: qc, br: bufio.NewReader(qc)}
	c.mustGet(t, "/1k.txt", 200)
	if st := s.Stats(); st.Handshakes != 1 || st.HandshakesWaiting != 0 {
		t.Errorf("Handshakes %d, HandshakesWaiting %d; want 1, 0", st.Handshakes, st.HandshakesWaiting)
	}
}

// TestTLSStopDuringHandshake checks that a stop does not wait for a
// stalled handshake past Options.ShutdownTimeout: its goroutine gives
// up and Serve returns.
func TestTLSStopDuringHandshake(t *testing.T) {
	ssl, cfg := sslSite(t)
	st := newSite(t, siteOptions{ssl: ssl})
	s := newServer(t, st.conf, event.Options{Loops: 1, ShutdownTimeout: 100 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var g errgroup.Group
	g.Go(func() error { return s.Serve(ctx) })
	_, handshook := stallHandshake(t, s, cfg)
	cancel()
	served := make(chan error, 1)
	go func() { served <- g.Wait() }()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(waitBudget):
		t.Fatal("Serve did not return with a handshake stalled")
	}
	handshook()
	if st := s.Stats(); st.Handshaking != 0 || st.Connections != 0 {
		t.Errorf("after the stop: Handshaking %d, Connections %d; want 0, 0", st.Handshaking, st.Connections)
	}
}

// TestTLSBadFirstRecord checks first records crypto/tls refuses: the
// handshake goroutine fails, the failure is logged at info as nginx's
// SSL_do_handshake() line, and the connection closes.
func TestTLSBadFirstRecord(t *testing.T) {
	tests := []struct {
		name  string
		bytes []byte
	}{
		{"not-a-client-hello", []byte{0x16, 3, 1, 0, 4, 0xff, 0, 0, 0}},
		{"sslv2-hello", []byte{0x80, 0x2e, 1, 3, 1, 0, 0x15, 0, 0, 0, 0x10}},
		{"oversized-record", []byte{0x16, 3, 1, 0xff, 0xff, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ssl, _ := sslSite(t)
			st := newSite(t, siteOptions{ssl: ssl})
			logs := servertest.NewLogBuffer(t)
			s := newServer(t, st.conf, event.Options{Loops: 1, ErrorLog: logs})
			serve(t, s)
			nc, err := net.DialTimeout("tcp", s.Addrs()[0].String(), waitBudget)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			nc.Write(tt.bytes)
			nc.SetReadDeadline(time.Now().Add(waitBudget))
			if _, err := io.Copy(io.Discard, nc); err != nil && !strings.Contains(err.Error(), "reset") {
				t.Fatalf("after %x: %v, want the connection closed", tt.bytes, err)
			}
			eventually(t, "no connection and no handshake left", func() bool {
				st := s.Stats()
				return st.Connections == 0 && st.Handshaking == 0
			})
			if logs.Count("SSL_do_handshake() failed") != 1 {
				t.Errorf("the failure was not logged as SSL_do_handshake() failed")
			}
		})
	}
}

// bigHello returns cfg with an ALPN list that makes its ClientHello
// about 5 KiB: larger than the first read's 4 KiB buffer, as large
// tickets or post-quantum key shares make real ones.
func bigHello(cfg *tls.Config) *tls.Config {
	big := cfg.Clone()
	for i := range 24 {
		big.NextProtos = append(big.NextProtos, strings.Repeat(string(rune('a'+i)), 200))
	}
	return big
}

// TestTLSBigClientHello: a ClientHello over 4 KiB that arrives whole is
// read whole before its handshake starts, directly and after waiting
// in the handshake queue; the handshake used to stall on the first
// 4 KiB until client_header_timeout.
func TestTLSBigClientHello(t *testing.T) {
	t.Run("direct", func(t *testing.T) {
		s, cfg := newTLSServer(t, siteOptions{}, event.Options{Loops: 1})
		nc, err := net.Dial("tcp", s.Addrs()[0].String())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		tc := tls.Client(nc, bigHello(cfg))
		tc.SetDeadline(time.Now().Add(5 * time.Second))
		if err := tc.Handshake(); err != nil {
			t.Fatalf("handshake with a 5 KiB ClientHello: %v (stats %+v)", err, s.Stats().LoopStats)
		}
	})
	t.Run("queued", func(t *testing.T) {
		s, cfg := newTLSServer(t, siteOptions{}, event.Options{Loops: 1, TLSHandshakes: 1})
		stalled, handshook := stallHandshake(t, s, cfg)
		nc, err := net.Dial("tcp", s.Addrs()[0].String())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		tc := tls.Client(nc, bigHello(cfg))
		tc.SetDeadline(time.Now().Add(5 * time.Second))
		done := make(chan error, 1)
		go func() { done <- tc.Handshake() }()
		eventually(t, "the handshake queued", func() bool { return s.Stats().HandshakesWaiting == 1 })
		stalled.Close()
		handshook()
		if err := <-done; err != nil {
			t.Fatalf("queued handshake with a 5 KiB ClientHello: %v (stats %+v)", err, s.Stats().LoopStats)
		}
	})
}
