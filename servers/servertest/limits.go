package servertest

import (
	"bufio"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// limitsConf is the config of the limit_req and limit_conn cases. Every
// case has zones of its own, so the cases do not share state. Rates of
// 1r/m make "immediately" mean anything under a minute: no case depends
// on how fast the machine is.
const limitsConf = `events {}
http {
    access_log off;
    keepalive_timeout 30s;
    limit_req_zone $binary_remote_addr zone=one:64k rate=1r/m;
    limit_req_zone $binary_remote_addr zone=s429:64k rate=1r/m;
    limit_req_zone $binary_remote_addr zone=burst:64k rate=1r/m;
    limit_req_zone $binary_remote_addr zone=delay:64k rate=2r/s;
    limit_req_zone $binary_remote_addr zone=ep:64k rate=1r/m;
    limit_req_zone $http_x_key zone=keyed:64k rate=1r/m;
    limit_conn_zone $binary_remote_addr zone=conn:64k;
    limit_conn_zone $binary_remote_addr zone=gone:64k;
    server {
        listen 127.0.0.1:0 default_server;
        server_name limits.test;
        root $ROOT;
        location /one/ { limit_req zone=one; }
        location /s429/ { limit_req zone=s429; limit_req_status 429; }
        location /burst/ { limit_req zone=burst burst=2 nodelay; }
        location /delay/ { limit_req zone=delay burst=1; }
        location /ep/ { limit_req zone=ep; error_page 503 /limited.html; }
        location /keyed/ { limit_req zone=keyed; }
        location = /limited.html { }
        location /conn/ { limit_conn conn 1; proxy_pass http://$UPSTREAM; }
        location /gone/ { limit_conn gone 1; proxy_pass http://$GONE; }
        location / { }
    }
}
`

// RunLimits runs the limit_req and limit_conn cases against the core
// start starts, on a config of its own: rate=1r/m without burst lets one
// request through and answers the next 503 (or limit_req_status 429,
// or the error_page), on a connection that stays usable; burst=2
// nodelay lets three through and refuses the fourth; burst= without
// nodelay delays the second request, which then succeeds; an empty key
// is not limited; limit_conn 1 refuses a second request while a proxied
// one is in flight, and passes a new one after it ended (no leaked
// count), also when the client of the request in flight went away.
func RunLimits(t *testing.T, start Start) {
	dir := t.TempDir()
	root := filepath.Join(dir, "html")
	for _, d := range []string{"", "one", "s429", "burst", "delay", "ep", "keyed"} {
		must(t, os.MkdirAll(filepath.Join(root, d), 0o755))
		must(t, os.WriteFile(filepath.Join(root, d, "file.txt"), []byte("file in /"+d+"\n"), 0o644))
	}
	must(t, os.WriteFile(filepath.Join(root, "limited.html"), []byte("custom limited page\n"), 0o644))
	up, gone := startHolder(t), startHolder(t)
	conf := strings.NewReplacer("$ROOT", root, "$UPSTREAM", up.addr(), "$GONE", gone.addr()).Replace(limitsConf)
	confPath := filepath.Join(dir, "nginx.conf")
	must(t, os.WriteFile(confPath, []byte(conf), 0o644))
	addr := start(t, confPath).Addr
	const host = "limits.test"

	get := func(t *testing.T, c *Conn, target string, fields ...string) *Response {
		t.Helper()
		return roundTrip(t, c, "GET", request("GET", target, host, fields...))
	}
	// steps sends GETs on one connection and checks each status.
	steps := func(t *testing.T, target string, statuses ...int) *Conn {
		t.Helper()
		c := dialAddr(t, addr)
		for i, want := range statuses {
			r := get(t, c, target)
			if r.Status != want {
				t.Fatalf("request %d of %s: status %d, want %d\n%s", i+1, target, r.Status, want, r)
			}
		}
		return c
	}

	t.Run("rate-no-burst", func(t *testing.T) {
		t.Parallel()
		c := steps(t, "/one/file.txt", 200, 503)
		// The connection stays usable after the 503; an unlimited
		// location answers on it.
		if r := get(t, c, "/file.txt"); r.Status != 200 || string(r.Body) != "file in /\n" {
			t.Fatalf("after a 503 the connection answers:\n%s", r)
		}
	})
	t.Run("limit-req-status", func(t *testing.T) {
		t.Parallel()
		c := steps(t, "/s429/file.txt", 200, 429)
		if r := get(t, c, "/file.txt"); r.Status != 200 {
			t.Fatalf("after a 429 the connection answers:\n%s", r)
		}
	})
	t.Run("error-page", func(t *testing.T) {
		t.Parallel()
		c := dialAddr(t, addr)
		get(t, c, "/ep/file.txt")
		r := get(t, c, "/ep/file.txt")
		if r.Status != 503 || string(r.Body) != "custom limited page\n" {
			t.Fatalf("a limited request with error_page 503 gets:\n%s", r)
		}
	})
	t.Run("burst-nodelay", func(t *testing.T) {
		t.Parallel()
		steps(t, "/burst/file.txt", 200, 200, 200, 503)
	})
	t.Run("burst-delay", func(t *testing.T) {
		t.Parallel()
		// rate=2r/s burst=1: the second request is delayed until half a
		// second after the first arrived, then served.
		begin := time.Now()
		steps(t, "/delay/file.txt", 200, 200)
		if d := time.Since(begin); d < 250*time.Millisecond {
			t.Fatalf("the delayed request was answered %v after the first was sent, want at least 250ms (half the 500ms delay)", d)
		}
	})
	t.Run("empty-key-not-limited", func(t *testing.T) {
		t.Parallel()
		c := steps(t, "/keyed/file.txt", 200, 200, 200)
		if r := get(t, c, "/keyed/file.txt", "X-Key: k"); r.Status != 200 {
			t.Fatalf("first keyed request:\n%s", r)
		}
		if r := get(t, c, "/keyed/file.txt", "X-Key: k"); r.Status != 503 {
			t.Fatalf("second keyed request:\n%s", r)
		}
	})
	t.Run("limit-conn", func(t *testing.T) {
		t.Parallel()
		c1 := dialAddr(t, addr)
		must(t, c1.Write([]byte(request("GET", "/conn/hold", host))))
		select {
		case <-up.held:
		case <-time.After(IOTimeout):
			t.Fatal("the held request did not reach the upstream")
		}
		c2 := dialAddr(t, addr)
		if r := get(t, c2, "/conn/other"); r.Status != 503 {
			up.release()
			t.Fatalf("a second request while one is in flight gets:\n%s", r)
		}
		up.release()
		r, err := c1.ReadResponse("GET")
		if err != nil || r.Status != 200 {
			t.Fatalf("the held request: %v\n%v", err, r)
		}
		// Its slot is free again once the core has ended the request
		// (Plan.End, which a threaded core may call just after the
		// client read the response): the connection that got the 503
		// passes, and then passes again at once (no count leaked by the
		// rejections).
		for end := time.Now().Add(IOTimeout); ; {
			r := get(t, c2, "/conn/other")
			if r.Status == 200 && string(r.Body) == "ok" {
				break
			}
			if r.Status != 503 || time.Now().After(end) {
				t.Fatalf("a request after the held one ended:\n%s", r)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if r := get(t, c2, "/conn/other"); r.Status != 200 || string(r.Body) != "ok" {
			t.Fatalf("the next request after the held one ended:\n%s", r)
		}
	})
	t.Run("limit-conn-client-gone", func(t *testing.T) {
		t.Parallel()
		c1 := dialAddr(t, addr)
		must(t, c1.Write([]byte(request("GET", "/gone/hold", host))))
		select {
		case <-gone.held:
		case <-time.After(IOTimeout):
			t.Fatal("the held request did not reach the upstream")
		}
		c1.Close() // the client leaves while its request is in flight
		gone.release()
		// However the core learns it (at once or when it writes the
		// response), the request ends and its slot comes back.
		c2 := dialAddr(t, addr)
		for end := time.Now().Add(IOTimeout); ; {
			r := get(t, c2, "/gone/other")
			if r.Status == 200 {
				break
			}
			if r.Status != 503 || time.Now().After(end) {
				t.Fatalf("a request after the client left:\n%s", r)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// holder is an upstream that holds the first request whose target ends
// in /hold until release, and answers every other one at once.
type holder struct {
	l        net.Listener
	held     chan struct{}
	released chan struct{}
	once     sync.Once
}

func (h *holder) addr() string { return h.l.Addr().String() }
func (h *holder) release()     { h.once.Do(func() { close(h.released) }) }

func startHolder(t *testing.T) *holder {
	t.Helper()
	h := &holder{l: ListenLocal(t), held: make(chan struct{}, 1), released: make(chan struct{})}
	ServeConns(t, h.l, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(2 * IOTimeout))
		tp := textproto.NewReader(bufio.NewReader(c))
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		if _, err := tp.ReadMIMEHeader(); err != nil {
			return
		}
		if strings.Contains(line, "/hold ") {
			h.held <- struct{}{}
			<-h.released
		}
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"))
	})
	t.Cleanup(h.release) // before ServeConns's cleanup waits for the held
	return h
}
