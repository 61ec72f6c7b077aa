package cgi_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/c10k/c10k/servers/servertest"
)

// cacheUpstream answers every request with body, framed by a
// Content-Length or chunked, then closes; it counts the requests.
type cacheUpstream struct {
	ln       net.Listener
	body     []byte
	chunked  bool
	requests atomic.Int32
}

func startCacheUpstream(t *testing.T, body []byte, chunked bool) *cacheUpstream {
	t.Helper()
	u := &cacheUpstream{ln: servertest.ListenLocal(t), body: body, chunked: chunked}
	servertest.ServeConns(t, u.ln, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		u.requests.Add(1)
		bw := bufio.NewWriterSize(c, 64<<10)
		if !u.chunked {
			fmt.Fprintf(bw, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", len(u.body))
			bw.Write(u.body)
			bw.Flush()
			return
		}
		bw.WriteString("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
		for b := u.body; len(b) > 0; {
			n := min(len(b), 100003)
			fmt.Fprintf(bw, "%x\r\n", n)
			bw.Write(b[:n])
			bw.WriteString("\r\n")
			b = b[n:]
		}
		bw.WriteString("0\r\n\r\n")
		bw.Flush()
	})
	return u
}

// cacheConf writes a config that proxies / to upstream through a
// proxy_cache zone (a directory of the test, or "memory:"), with more
// directives for the location.
func cacheConf(t *testing.T, upstream, zone, extra string) string {
	t.Helper()
	dir := t.TempDir()
	if zone == "" {
		zone = filepath.Join(dir, "cache")
	}
	conf := fmt.Sprintf(`events {}
http {
    access_log off;
    proxy_cache_path %s keys_zone=c:1m;
    server {
        listen 127.0.0.1:0;
        location / {
            proxy_pass http://%s;
            proxy_read_timeout 30s;
            proxy_cache c;
            proxy_cache_valid 200 10m;
            %s
        }
    }
}
`, zone, upstream, extra)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// pattern returns n bytes that differ from one offset to the next.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

// getBody sends GET /big on c and returns the response body.
func getBody(t *testing.T, c *servertest.Conn) []byte {
	t.Helper()
	r, err := c.RoundTrip("GET", []byte("GET /big HTTP/1.1\r\nHost: x\r\n\r\n"))
	if err != nil {
		t.Fatalf("GET /big: %v", err)
	}
	if r.Status != 200 {
		t.Fatalf("status %d, want 200", r.Status)
	}
	return r.Body
}

// TestCacheFillThroughChild fills an entry through the child's relay
// (its "body" reports to the parent), with proxy_buffering on and off,
// a Content-Length or chunked, into a disk or a memory zone, and checks
// that the next request, on a new connection as soon as the response
// is read, is a hit, byte for byte, without the upstream.
func TestCacheFillThroughChild(t *testing.T) {
	for _, tc := range []struct {
		name    string
		chunked bool
		zone    string
		extra   string
	}{
		{name: "buffered"},
		{name: "buffered chunked memory zone", chunked: true, zone: "memory:"},
		{name: "streamed", extra: "proxy_buffering off;"},
		{name: "streamed chunked", chunked: true, extra: "proxy_buffering off;"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := pattern(300 << 10)
			up := startCacheUpstream(t, body, tc.chunked)
			addr := startCGI(t, cacheConf(t, up.ln.Addr().String(), tc.zone, tc.extra))
			for i := range 2 {
				// A new connection each time: the hit must not depend
				// on the parent having finished with the first request.
				c, err := servertest.Dial(addr)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if got := getBody(t, c); !bytes.Equal(got, body) {
					t.Fatalf("request %d: body of %d bytes, not the upstream's %d", i+1, len(got), len(body))
				}
				if n := up.requests.Load(); n != 1 {
					t.Fatalf("request %d: %d requests reached the upstream, want 1", i+1, n)
				}
			}
		})
	}
}

// TestCacheFillCutByClient checks that a fill whose client leaves
// mid-body (streamed, chunked: only the child knows the body is not
// whole) is not stored: the next request, which proxy_cache_lock makes
// wait for the end of that fill, goes upstream again.
func TestCacheFillCutByClient(t *testing.T) {
	body := pattern(8 << 20)
	up := startCacheUpstream(t, body, true)
	addr := startCGI(t, cacheConf(t, up.ln.Addr().String(), "", "proxy_buffering off; proxy_cache_lock on; proxy_cache_lock_timeout 60s;"))
	gone := servertest.DialSmallWindow(t, addr, 64<<10)
	gone.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(gone, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(gone).ReadString('\n')
	if err != nil || !strings.Contains(line, " 200 ") {
		t.Fatalf("status line %q, %v", line, err)
	}
	gone.Close()

	c, err := servertest.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := getBody(t, c); !bytes.Equal(got, body) {
		t.Fatalf("body of %d bytes, want the upstream's %d", len(got), len(body))
	}
	if n := up.requests.Load(); n != 2 {
		t.Errorf("%d requests reached the upstream, want 2: the cut fill must not be stored", n)
	}
}
