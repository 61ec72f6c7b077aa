package thread

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/c10k/c10k/servers/internal/proctest"
	"github.com/c10k/c10k/servers/servertest"
	"golang.org/x/sys/unix"
)

const spoolBody = 8 << 20 // past Options.ProxyBuffer (1 MiB): spooled to a temp file

// bigBody returns n bytes that differ along the body, so a misplaced
// piece changes the hash.
func bigBody(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>11)
	}
	return b
}

// rawUpstream is a test upstream on 127.0.0.1:0 speaking raw HTTP/1.1:
// it answers GET /small with "ok" and any other request with body, with
// Content-Length or chunked, or cut after cut body bytes (cut > 0: the
// connection is closed mid-body). It serves every request of a
// connection in turn and reports each big answer written in full
// (written), each connection it accepted (conns) and each connection
// whose peer closed it (closed).
type rawUpstream struct {
	addr    string
	body    []byte
	chunked bool
	cut     int

	written chan struct{}
	conns   chan struct{}
	closed  chan struct{}
}

func startRawUpstream(t *testing.T, body []byte, chunked bool, cut int) *rawUpstream {
	t.Helper()
	ln := servertest.ListenLocal(t)
	u := &rawUpstream{
		addr: ln.Addr().String(), body: body, chunked: chunked, cut: cut,
		written: make(chan struct{}, 100), conns: make(chan struct{}, 100), closed: make(chan struct{}, 100),
	}
	servertest.ServeConns(t, ln, func(c net.Conn) {
		u.conns <- struct{}{}
		u.serve(c)
	})
	return u
}

// serve answers the requests on c until it closes.
func (u *rawUpstream) serve(c net.Conn) {
	r := bufio.NewReader(c)
	for {
		c.SetDeadline(time.Now().Add(30 * time.Second))
		line, err := r.ReadString('\n')
		if err != nil {
			if errors.Is(err, io.EOF) {
				u.closed <- struct{}{}
			}
			return
		}
		for { // the rest of the head; GET requests carry no body
			l, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if l == "\r\n" {
				break
			}
		}
		if strings.HasPrefix(line, "HEAD ") {
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: "+strconv.Itoa(len(u.body))+"\r\n\r\n"); err != nil {
				return
			}
			continue
		}
		if strings.HasPrefix(line, "GET /small ") {
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); err != nil {
				return
			}
			continue
		}
		if !u.write(c) {
			return
		}
		u.written <- struct{}{}
	}
}

// write sends the big answer; false when the connection is to close.
func (u *rawUpstream) write(c net.Conn) bool {
	body := u.body
	if u.cut > 0 {
		body = body[:u.cut]
	}
	if !u.chunked {
		head := "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: " + strconv.Itoa(len(u.body)) + "\r\n\r\n"
		if _, err := c.Write(append([]byte(head), body...)); err != nil {
			return false
		}
		return u.cut == 0
	}
	w := bufio.NewWriterSize(c, 64<<10)
	w.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
	for len(body) > 0 {
		n := min(len(body), 50000) // chunk boundaries apart from read boundaries
		fmt.Fprintf(w, "%x\r\n", n)
		w.Write(body[:n])
		w.WriteString("\r\n")
		body = body[n:]
	}
	if u.cut > 0 {
		w.Flush()
		return false
	}
	w.WriteString("0\r\n\r\n")
	return w.Flush() == nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// dialSlow connects to addr with a 16 KiB receive buffer: a client
// that reads slowly soon stops the server's writes.
func dialSlow(t *testing.T, addr string) net.Conn {
	c := servertest.DialSmallWindow(t, addr, 16<<10)
	c.SetDeadline(time.Now().Add(30 * time.Second))
	return c
}

// waitSignal waits for a report of the test upstream, bounded.
func waitSignal(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: not within 20s", what)
	}
}

// TestProxySpoolSlowClient proxies an 8 MiB answer, larger than the
// memory buffer, to a client that reads slowly: with proxy_buffering on
// the thread core keeps the body past the memory buffer in a temp file,
// so the upstream is done with — its connection closed, or back in the
// keepalive pool and serving another client — while the client has read
// less than half of the body. The client then gets all of it, byte-exact,
// with a Content-Length even when the upstream answered chunked.
func TestProxySpoolSlowClient(t *testing.T) {
	body := bigBody(spoolBody)
	want := sha256.Sum256(body)
	cases := []struct {
		name      string
		chunked   bool
		keepalive bool // upstream keepalive: the connection goes back to the pool
	}{
		{"content-length", false, false},
		{"chunked", true, false},
		{"content-length-keepalive", false, true},
		{"chunked-keepalive", true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			up := startRawUpstream(t, body, tc.chunked, 0)
			httpConf := "upstream app { server " + up.addr + "; }"
			conf := "  location / { proxy_pass http://app; }"
			if tc.keepalive {
				httpConf = "upstream app { server " + up.addr + "; keepalive 2; }"
				conf = "  location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection \"\"; }"
			}
			addr, s := startHTTPBlock(t, httpConf, conf, nil, Options{Workers: 2})

			c := dialSlow(t, addr)
			cr := &countingReader{r: c}
			br := bufio.NewReaderSize(cr, 4096)
			if _, err := io.WriteString(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 200 || resp.ContentLength != int64(len(body)) || len(resp.TransferEncoding) != 0 {
				t.Fatalf("status %d, Content-Length %d, Transfer-Encoding %q; want 200 with Content-Length %d",
					resp.StatusCode, resp.ContentLength, resp.TransferEncoding, len(body))
			}
			h := sha256.New()
			if _, err := io.CopyN(h, resp.Body, 64<<10); err != nil {
				t.Fatal(err)
			}

			// The client reads nothing more until the upstream is done:
			// the answer written, the worker holding no upstream
			// connection, and that connection closed (or, with
			// keepalive, reused below).
			waitSignal(t, up.written, "the upstream's answer written")
			waitFor(t, "the worker to let go of the upstream connection", func() bool {
				for _, w := range s.workers {
					if w.ufd.Load() >= 0 {
						return false
					}
				}
				return true
			})
			if !tc.keepalive {
				waitSignal(t, up.closed, "the upstream connection closed by the core")
			}
			if cr.n >= len(body)/2 {
				t.Fatalf("the client had read %d bytes when the upstream was done, want less than half of %d", cr.n, len(body))
			}

			n, err := io.Copy(h, resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if n+64<<10 != int64(len(body)) || !bytes.Equal(h.Sum(nil), want[:]) {
				t.Fatalf("body: %d bytes, sha256 %x; want %d bytes, sha256 %x", n+64<<10, h.Sum(nil), len(body), want)
			}
			// The connection stays usable.
			io.WriteString(c, "GET /small HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, err = http.ReadResponse(br, &http.Request{Method: "GET"})
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || string(got) != "ok" {
				t.Fatalf("next request on the connection: %d %q", resp.StatusCode, got)
			}
			if want := map[bool]int{false: 2, true: 1}[tc.keepalive]; len(up.conns) != want {
				t.Errorf("upstream saw %d connections, want %d (keepalive %v: the first one pooled, or closed)", len(up.conns), want, tc.keepalive)
			}
		})
	}
}

// TestProxySpoolBodies fetches answers larger than the memory buffer
// every way they can be buffered: whole in the temp file, past
// coreio.MaxTempFile (the rest streamed, as nginx does past
// proxy_max_temp_file_size), and with the file limit at zero. Each
// arrives byte-exact; a chunked answer is sent with a Content-Length
// when all of it was buffered, chunked when it was streamed.
func TestProxySpoolBodies(t *testing.T) {
	t.Run("no-temp-file", func(t *testing.T) {
		// The disk, not the upstream, failed: a 500 that closes, as
		// nginx and the event core answer.
		for _, chunked := range []bool{false, true} {
			up := startRawUpstream(t, bigBody(3<<20), chunked, 0)
			addr, _ := startHTTP(t, "  location / { proxy_pass http://"+up.addr+"; }", nil, Options{Workers: 1})
			t.Setenv("TMPDIR", "/nonexistent/c10k") // after startHTTP's own TempDir
			c := dialClient(t, addr)
			resp, _ := c.do(t, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
			if resp.StatusCode != 500 || !resp.Close {
				t.Errorf("chunked %v: status %d, close %v; want 500 and a closed connection", chunked, resp.StatusCode, resp.Close)
			}
		}
	})

	body := bigBody(3<<20 + 12345)
	cases := []struct {
		name        string
		chunked     bool
		maxTemp     int64
		tmpdir      string // TMPDIR; "" leaves it
		wantChunked bool
	}{
		{"length", false, 0, "", false},
		{"chunked", true, 0, "", false},
		{"length-past-max-temp", false, 1 << 20, "", false},
		{"chunked-past-max-temp", true, 1 << 20, "", true},
		{"chunked-max-temp-zero", true, -1, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			up := startRawUpstream(t, body, tc.chunked, 0)
			addr, s := startHTTP(t, "  location / { proxy_pass http://"+up.addr+"; }", nil, Options{Workers: 1})
			if tc.tmpdir != "" {
				t.Setenv("TMPDIR", tc.tmpdir) // after startHTTP's own TempDir
			}
			switch {
			case tc.maxTemp > 0:
				s.maxTemp.Store(tc.maxTemp)
			case tc.maxTemp < 0:
				s.maxTemp.Store(0)
			}
			c := dialClient(t, addr)
			for i := range 2 { // the connection stays usable
				resp, got := c.do(t, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
				if resp.StatusCode != 200 || !bytes.Equal(got, body) {
					t.Fatalf("request %d: status %d, %d bytes; want 200 and the %d bytes", i, resp.StatusCode, len(got), len(body))
				}
				if chunked := len(resp.TransferEncoding) > 0; chunked != tc.wantChunked {
					t.Errorf("request %d: chunked %v (Content-Length %d), want %v", i, chunked, resp.ContentLength, tc.wantChunked)
				}
			}
			io.WriteString(c, "HEAD /big HTTP/1.1\r\nHost: x\r\n\r\n")
			if resp, got := c.read(t, "HEAD"); resp.StatusCode != 200 || resp.ContentLength != int64(len(body)) || len(got) != 0 {
				t.Fatalf("HEAD: status %d, Content-Length %d, %d body bytes", resp.StatusCode, resp.ContentLength, len(got))
			}
		})
	}
}

// TestProxySpoolUpstreamDies has the upstream close mid-body after more
// than the memory buffer: while the body is being spooled nothing has
// reached the client, so the attempt fails as on the memory path — the
// next peer answers, or the client gets a 502 — and a request pipelined
// behind it is still answered. Past coreio.MaxTempFile the head has gone
// out, so the client connection is cut instead.
func TestProxySpoolUpstreamDies(t *testing.T) {
	body := bigBody(spoolBody)
	cases := []struct {
		name    string
		chunked bool
		next    bool  // a healthy second peer, tried after the dying one
		maxTemp int64 // 0: the default
		status  int   // 0: the connection is cut after the head
	}{
		{"length-502", false, false, 0, 502},
		{"chunked-502", true, false, 0, 502},
		{"length-next-upstream", false, true, 0, 200},
		{"chunked-next-upstream", true, true, 0, 200},
		{"past-max-temp-cut", false, false, 1 << 20, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dying := startRawUpstream(t, body, tc.chunked, 3<<20)
			servers := "server " + dying.addr + " weight=100;" // the first pick
			if tc.next {
				good := startRawUpstream(t, body, tc.chunked, 0)
				servers += " server " + good.addr + ";"
			}
			addr, s := startHTTPBlock(t, "upstream app { "+servers+" }", "  location / { proxy_pass http://app; }", nil, Options{Workers: 1})
			if tc.maxTemp > 0 {
				s.maxTemp.Store(tc.maxTemp)
			}
			c := dialClient(t, addr)
			io.WriteString(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\nGET /small HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, err := http.ReadResponse(c.r, &http.Request{Method: "GET"})
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			if tc.status == 0 {
				if resp.StatusCode != 200 || err == nil {
					t.Fatalf("status %d, %d body bytes, err %v; want the 200 head, then the connection cut", resp.StatusCode, len(got), err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status || tc.status == 200 && !bytes.Equal(got, body) {
				t.Fatalf("status %d, %d body bytes; want %d", resp.StatusCode, len(got), tc.status)
			}
			if resp.Close {
				return // the error response ended the connection
			}
			// Answered on its own: a single peer is never marked down.
			if resp, got = c.read(t, "GET"); resp.StatusCode != 200 || string(got) != "ok" {
				t.Fatalf("the pipelined request: %d %q, want 200 \"ok\"", resp.StatusCode, got)
			}
		})
	}
}

// TestProxySpoolNoFDLeak runs spooled answers through every ending — a
// whole one, a chunked one, one past the temp file cap, an upstream that
// dies mid-body, a client that leaves mid-body — and checks that the
// process holds as many descriptors afterwards as before, and no temp
// file.
func TestProxySpoolNoFDLeak(t *testing.T) {
	body := bigBody(spoolBody)
	whole := startRawUpstream(t, body, false, 0)
	chunked := startRawUpstream(t, body, true, 0)
	dying := startRawUpstream(t, body, false, 3<<20)
	conf := "  location /whole/ { proxy_pass http://" + whole.addr + "; }\n" +
		"  location /chunked/ { proxy_pass http://" + chunked.addr + "; }\n" +
		"  location /dying/ { proxy_pass http://" + dying.addr + "; }\n" +
		"  location = /r { return 200 ok; }\n"
	addr, s := startHTTP(t, conf, nil, Options{Workers: 2})

	get := func(path string, leave bool) {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		if leave {
			if _, err := io.ReadFull(c, make([]byte, 100<<10)); err != nil {
				t.Fatal(err)
			}
			return // closed with the rest unread
		}
		if _, err := io.Copy(io.Discard, c); err != nil && !errors.Is(err, unix.ECONNRESET) {
			t.Fatal(err)
		}
	}
	get("/r", false) // the server's and runtime's own descriptors are open now
	waitRequests(t, s, 1)
	before, _ := proctest.OpenFDs(t)

	get("/whole/a", false)
	get("/chunked/a", false)
	get("/dying/a", false)
	get("/whole/b", true)
	get("/chunked/b", true)
	s.maxTemp.Store(1 << 20)
	get("/whole/c", false)
	get("/whole/d", true)
	waitRequests(t, s, 8)
	waitFor(t, "the descriptors of the requests closed", func() bool {
		all, deleted := proctest.OpenFDs(t)
		return all <= before && deleted == 0
	})
}
