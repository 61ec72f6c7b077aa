package servertest

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/c10k/c10k/servers/internal/coreio"
)

// reloadConf is the config of the reload cases. VERSION is what
// /version answers; v1 proxies /slow/ to an upstream that answers only
// when the test lets it, v2 answers /slow/ itself. EXTRA is more
// server blocks.
const reloadConf = `events {}
http {
    access_log off;
    keepalive_timeout 30s;
    open_file_cache max=16 inactive=60s;
    server {
        listen 127.0.0.1:0;
        server_name reload.test;
        root $ROOT;
        location = /version { return 200 "$VERSION"; }
        location /slow/ { $SLOW }
    }
$EXTRA}
`

// bigFile is the size of the file a request is still sending while the
// core reloads: more than the kernel buffers a loopback connection can
// hold (tcp_rmem's 32 MiB maximum and tcp_wmem's 4 MiB here), so the
// core is in the middle of sending it.
const bigFile = 48 << 20

// reloadSite is the reload cases' environment.
type reloadSite struct {
	dir, conf, root string
	slow            *heldUpstream
	big             []byte
}

// write writes the config with /version answering version; extra is
// more server blocks.
func (rs *reloadSite) write(t *testing.T, version, extra string) {
	t.Helper()
	slow := "proxy_pass http://" + rs.slow.l.Addr().String() + "; proxy_read_timeout 30s;"
	if version != "v1" {
		slow = `return 410 "gone in ` + version + `";`
	}
	conf := strings.NewReplacer("$ROOT", rs.root, "$VERSION", version, "$SLOW", slow, "$EXTRA", extra).Replace(reloadConf)
	must(t, os.WriteFile(rs.conf, []byte(conf), 0o644))
}

// RunReload runs the reload cases against the core start starts, on a
// config of their own:
//
//   - a reload changes what new requests get (return 200 "v1" → "v2",
//     a proxied location → a return) while requests started before it
//     complete unchanged: one proxied to an upstream that answers only
//     after the reload, one sending a file (from the open_file_cache the
//     reload empties) too large to be sent before it;
//   - a keep-alive connection's next request gets the new config;
//   - a config that listens elsewhere is refused (coreio's
//     ErrListenChanged) and the current one keeps serving;
//   - clients on keep-alive and new connections see no failure while
//     the config is reloaded again and again.
func RunReload(t *testing.T, start Start) {
	dir := t.TempDir()
	rs := &reloadSite{dir: dir, conf: filepath.Join(dir, "nginx.conf"), root: filepath.Join(dir, "html")}
	must(t, os.MkdirAll(rs.root, 0o755))
	rs.big = bytes.Repeat(payload(1<<16), bigFile>>16)
	must(t, os.WriteFile(filepath.Join(rs.root, "big.bin"), rs.big, 0o644))
	must(t, os.WriteFile(filepath.Join(rs.root, "small.txt"), []byte("small file\n"), 0o644))
	rs.slow = startHeld(t)
	rs.write(t, "v1", "")
	core := start(t, rs.conf)
	if core.Reload == nil {
		t.Fatal("Start returned a Core without Reload")
	}
	t.Run("in-flight-and-keepalive", func(t *testing.T) { testReloadInFlight(t, rs, core) })
	t.Run("listen-change-refused", func(t *testing.T) { testReloadListenChange(t, rs, core) })
	t.Run("under-load", func(t *testing.T) { testReloadUnderLoad(t, rs, core) })
}

// get sends one request on a fresh connection.
func get(t *testing.T, addr, target string) *Response {
	t.Helper()
	c, err := Dial(addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	r, err := c.RoundTrip("GET", []byte(request("GET", target, "reload.test")))
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	return r
}

func wantReply(t *testing.T, what string, r *Response, status int, body string) {
	t.Helper()
	if r.Status != status || string(r.Body) != body {
		t.Errorf("%s: got\n%s\nwant %d %q", what, r, status, body)
	}
}

func testReloadInFlight(t *testing.T, rs *reloadSite, core Core) {
	ka := dialAddr(t, core.Addr)
	r := roundTrip(t, ka, "GET", request("GET", "/version", "reload.test"))
	wantReply(t, "keep-alive connection, first request", r, 200, "v1")

	// A proxied request, held by its upstream until after the reload.
	slow := dialAddr(t, core.Addr)
	if err := slow.Write([]byte(request("GET", "/slow/x", "reload.test"))); err != nil {
		t.Fatal(err)
	}
	select {
	case <-rs.slow.arrived:
	case <-time.After(IOTimeout):
		t.Fatalf("the upstream got no request within %v", IOTimeout)
	}

	// A file being sent: its head read, the body left in the socket.
	nc, err := net.DialTimeout("tcp", core.Addr, IOTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(loopBudget))
	if _, err := nc.Write([]byte(request("GET", "/big.bin", "reload.test"))); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	tp := textproto.NewReader(br)
	line, err := tp.ReadLine()
	if err != nil {
		t.Fatalf("GET /big.bin: %v", err)
	}
	hdr, err := tp.ReadMIMEHeader()
	if err != nil {
		t.Fatalf("GET /big.bin: %v", err)
	}
	if !strings.HasPrefix(line, "HTTP/1.1 200 ") || hdr.Get("Content-Length") != strconv.Itoa(bigFile) {
		t.Fatalf("GET /big.bin: %q, Content-Length %q; want 200 with %d bytes", line, hdr.Get("Content-Length"), bigFile)
	}

	rs.write(t, "v2", "")
	if err := core.Reload(rs.conf); err != nil {
		t.Fatalf("Reload: %v", err)
	}

	// New requests get the new config.
	wantReply(t, "new connection after the reload", get(t, core.Addr, "/version"), 200, "v2")
	wantReply(t, "a location the reload changed", get(t, core.Addr, "/slow/y"), 410, "gone in v2")
	// The keep-alive connection moves at its next request.
	r = roundTrip(t, ka, "GET", request("GET", "/version", "reload.test"))
	wantReply(t, "keep-alive connection, request after the reload", r, 200, "v2")

	// The requests in flight complete as the old config planned them.
	rs.slow.releaseAll()
	r, err = slow.ReadResponse("GET")
	if err != nil {
		t.Fatalf("the proxied request in flight during the reload: %v", err)
	}
	wantReply(t, "the proxied request in flight during the reload", r, 200, "slow")
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(br, bigFile))
	if err != nil || n != bigFile {
		t.Fatalf("the file in flight during the reload: %d of %d bytes, %v", n, bigFile, err)
	}
	if got, want := h.Sum(nil), sha256.Sum256(rs.big); !bytes.Equal(got, want[:]) {
		t.Errorf("the file in flight during the reload: body differs from the file")
	}
}

func testReloadListenChange(t *testing.T, rs *reloadSite, core Core) {
	rs.write(t, "v3", "    server { listen 127.0.0.1:1; return 200 \"elsewhere\"; }\n")
	err := core.Reload(rs.conf)
	if !errors.Is(err, coreio.ErrListenChanged) {
		t.Errorf("Reload of a config with a new listen address: %v, want %v", err, coreio.ErrListenChanged)
	}
	wantReply(t, "after a refused reload", get(t, core.Addr, "/version"), 200, "v2")
}

func testReloadUnderLoad(t *testing.T, rs *reloadSite, core Core) {
	const (
		clients = 4
		reloads = 20
	)
	stop := make(chan struct{})
	var done atomic.Int64 // requests completed
	var g errgroup.Group
	for i := range clients {
		g.Go(func() error {
			var c *Conn
			defer func() {
				if c != nil {
					c.Close()
				}
			}()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return nil
				default:
				}
				if c == nil || i%2 == 1 { // odd clients: a new connection per request
					if c != nil {
						c.Close()
					}
					var err error
					if c, err = Dial(core.Addr); err != nil {
						return err
					}
				}
				target, want := "/version", []string{"v1", "v2"}
				if n%2 == 1 {
					target, want = "/small.txt", []string{"small file\n"}
				}
				r, err := c.RoundTrip("GET", []byte(request("GET", target, "reload.test")))
				if err != nil {
					return fmt.Errorf("client %d, GET %s: %w", i, target, err)
				}
				if r.Status != 200 || (string(r.Body) != want[0] && (len(want) == 1 || string(r.Body) != want[1])) {
					return fmt.Errorf("client %d, GET %s: got\n%s\nwant 200 with one of %q", i, target, r, want)
				}
				if r.HasToken("Connection", "close") {
					c.Close()
					c = nil
				}
				done.Add(1)
			}
		})
	}
	deadline := time.Now().Add(loopBudget)
	for k := range reloads {
		rs.write(t, []string{"v1", "v2"}[k%2], "")
		if err := core.Reload(rs.conf); err != nil {
			t.Errorf("reload %d: %v", k, err)
			break
		}
		// Let every client get through a few requests on this config.
		for from := done.Load(); done.Load() < from+2*clients && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	}
	close(stop)
	if err := g.Wait(); err != nil {
		t.Errorf("a request failed while the config was reloaded: %v", err)
	}
	if done.Load() == 0 {
		t.Error("no request completed")
	}
}

// heldUpstream is an upstream that reads a request, says so on arrived,
// and answers 200 "slow" only once released.
type heldUpstream struct {
	l       net.Listener
	arrived chan struct{}
	release chan struct{}
	once    sync.Once
}

func (u *heldUpstream) releaseAll() { u.once.Do(func() { close(u.release) }) }

// startHeld starts a heldUpstream on 127.0.0.1:0; it stops in t.Cleanup.
func startHeld(t *testing.T) *heldUpstream {
	t.Helper()
	u := &heldUpstream{l: ListenLocal(t), arrived: make(chan struct{}, 16), release: make(chan struct{})}
	ServeConns(t, u.l, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(loopBudget))
		readRequest(c)
		select {
		case u.arrived <- struct{}{}:
		default:
		}
		<-u.release
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\nConnection: close\r\n\r\nslow"))
	})
	t.Cleanup(u.releaseAll) // before ServeConns's cleanup waits for the held
	return u
}
