package servertest

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/c10k/c10k/servers/backend"
)

// logsConf is the config of the access-log cases: every line of
// access.log is "STATUS BODY_BYTES BYTES METHOD URI".
const logsConf = `events {}
http {
    log_format st '$status $body_bytes_sent $bytes_sent $request_method $request_uri';
    log_format custom escape=json '{"m":"$request_method","u":"$uri","s":$status,"b":$body_bytes_sent,"tag":"$http_x_tag"}';
    access_log $DIR/access.log st;
    server {
        listen 127.0.0.1:0 default_server;
        server_name logs.test;
        root $ROOT;
        location / { }
        location /off/ { access_log off; }
        location /custom/ { access_log $DIR/custom.log custom; }
        location /proxy/ { proxy_pass http://$BACKEND; }
        location /cgi/ { cgi_pass $SCRIPT; }
    }
}
`

// bigSize is the file a client stops reading: larger than what loopback
// socket buffers hold, so the server cannot send it all.
const bigSize = 32 << 20

// RunLogs runs the access-log cases against the core start starts, on a
// config of its own: one line per request with the final status and the
// body bytes actually sent, for a static file, a 404, a proxied and a
// CGI response, a HEAD, a 304 and a client that hangs up mid-response;
// "access_log off" logs nothing; a custom log_format with escape=json;
// a reload writes the old engine's buffered lines and logs to the new
// config's files.
// The CGI case needs /bin/sh.
func RunLogs(t *testing.T, start Start) {
	dir := t.TempDir()
	root := filepath.Join(dir, "html")
	must(t, os.MkdirAll(filepath.Join(root, "off"), 0o755))
	must(t, os.MkdirAll(filepath.Join(root, "custom"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "file.txt"), []byte("hello logs\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(root, "off", "file.txt"), []byte("not logged\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(root, "custom", "file.txt"), []byte("custom\n"), 0o644))
	big, err := os.Create(filepath.Join(root, "big.bin"))
	must(t, err)
	must(t, big.Truncate(bigSize))
	must(t, big.Close())
	script := filepath.Join(dir, "logs.cgi")
	must(t, os.WriteFile(script, []byte("#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\ncgi output'\n"), 0o755))
	addrs := startBackends(t, backend.Options{Name: "a"})
	conf := strings.NewReplacer("$DIR", dir, "$ROOT", root, "$BACKEND", addrs[0], "$SCRIPT", script).Replace(logsConf)
	confPath := filepath.Join(dir, "nginx.conf")
	must(t, os.WriteFile(confPath, []byte(conf), 0o644))
	core := start(t, confPath)
	addr := core.Addr
	_, err = os.Stat("/bin/sh")
	haveSh := err == nil
	accessLog := filepath.Join(dir, "access.log")
	const host = "logs.test"

	// check sends req on a new connection and waits for its line.
	check := func(t *testing.T, method, target string, fields ...string) (*Response, []string) {
		t.Helper()
		c, err := Dial(addr)
		if err != nil {
			t.Fatalf("dial %s: %v", addr, err)
		}
		defer c.Close()
		r := roundTrip(t, c, method, request(method, target, host, fields...))
		return r, waitLine(t, accessLog, " "+method+" "+target)
	}
	// wantLine checks a line's status and body bytes: those the client
	// got, or more for a chunked body (the framing is body bytes too).
	wantLine := func(t *testing.T, f []string, r *Response, status int) {
		t.Helper()
		if f[0] != strconv.Itoa(status) {
			t.Errorf("logged status %s, want %d (line %q)", f[0], status, f)
		}
		body, _ := strconv.Atoi(f[1])
		sent, _ := strconv.Atoi(f[2])
		chunked := r.HasToken("Transfer-Encoding", "chunked")
		if !chunked && body != len(r.Body) || chunked && body <= len(r.Body) {
			t.Errorf("logged %d body bytes, the client got %d (chunked %v; line %q)", body, len(r.Body), chunked, f)
		}
		if sent <= body {
			t.Errorf("bytes_sent %d not above body_bytes_sent %d: no head counted (line %q)", sent, body, f)
		}
	}

	t.Run("static", func(t *testing.T) {
		r, f := check(t, "GET", "/file.txt")
		wantStatus(t, r, 200)
		wantLine(t, f, r, 200)
		if f[1] != "11" {
			t.Errorf("body_bytes_sent %s, want 11", f[1])
		}
	})
	t.Run("not-found", func(t *testing.T) {
		r, f := check(t, "GET", "/missing.txt")
		wantStatus(t, r, 404)
		wantLine(t, f, r, 404)
	})
	t.Run("head", func(t *testing.T) {
		r, f := check(t, "HEAD", "/file.txt?head")
		wantStatus(t, r, 200)
		wantLine(t, f, r, 200)
		if f[1] != "0" {
			t.Errorf("HEAD: body_bytes_sent %s, want 0", f[1])
		}
	})
	t.Run("not-modified", func(t *testing.T) {
		r, _ := check(t, "GET", "/file.txt?first")
		lm := r.Get("Last-Modified")
		if lm == "" {
			t.Fatal("no Last-Modified")
		}
		r, f := check(t, "GET", "/file.txt?ims", "If-Modified-Since: "+lm)
		wantStatus(t, r, 304)
		wantLine(t, f, r, 304)
	})
	t.Run("proxy", func(t *testing.T) {
		r, f := check(t, "GET", "/proxy/x?size=300")
		wantStatus(t, r, 200)
		wantLine(t, f, r, 200)
	})
	t.Run("cgi", func(t *testing.T) {
		if !haveSh {
			t.Skip("no /bin/sh")
		}
		r, f := check(t, "GET", "/cgi/run")
		wantStatus(t, r, 200)
		wantLine(t, f, r, 200)
	})
	t.Run("client-hangs-up", func(t *testing.T) {
		nc, err := net.DialTimeout("tcp", addr, IOTimeout)
		if err != nil {
			t.Fatal(err)
		}
		nc.(*net.TCPConn).SetReadBuffer(4096)
		nc.SetDeadline(time.Now().Add(IOTimeout))
		if _, err := nc.Write([]byte(request("GET", "/big.bin", host))); err != nil {
			t.Fatal(err)
		}
		var b [4096]byte
		if _, err := nc.Read(b[:]); err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b[:], []byte("HTTP/1.1 200")) {
			t.Fatalf("response %q", b[:32])
		}
		nc.(*net.TCPConn).SetLinger(0) // reset: the server's next writes fail
		nc.Close()
		f := waitLine(t, accessLog, " GET /big.bin")
		body, _ := strconv.Atoi(f[1])
		if f[0] != "200" || body >= bigSize {
			t.Errorf("line %q, want status 200 and fewer than %d body bytes", f, bigSize)
		}
	})
	t.Run("access-log-off", func(t *testing.T) {
		c, err := Dial(addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		wantStatus(t, roundTrip(t, c, "GET", request("GET", "/off/file.txt", host)), 200)
		wantStatus(t, roundTrip(t, c, "GET", request("GET", "/file.txt?after-off", host)), 200)
		waitLine(t, accessLog, " GET /file.txt?after-off")
		if b, _ := os.ReadFile(accessLog); bytes.Contains(b, []byte("/off/")) {
			t.Errorf("access_log off: logged anyway:\n%s", b)
		}
	})
	t.Run("custom-format", func(t *testing.T) {
		c, err := Dial(addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		wantStatus(t, roundTrip(t, c, "GET", request("GET", "/custom/file.txt", host, `X-Tag: a"b`)), 200)
		want := `{"m":"GET","u":"/custom/file.txt","s":200,"b":7,"tag":"a\"b"}`
		deadline := time.Now().Add(IOTimeout)
		for {
			b, _ := os.ReadFile(filepath.Join(dir, "custom.log"))
			if string(b) == want+"\n" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("custom.log = %q, want %q", b, want+"\n")
			}
			time.Sleep(10 * time.Millisecond)
		}
		if b, _ := os.ReadFile(accessLog); bytes.Contains(b, []byte("/custom/")) {
			t.Errorf("a location's own access_log must replace the inherited one:\n%s", b)
		}
	})
	t.Run("one-line-per-request", func(t *testing.T) {
		b, err := os.ReadFile(accessLog)
		must(t, err)
		seen := map[string]int{}
		for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			f := strings.Fields(l)
			if len(f) == 5 {
				seen[f[3]+" "+f[4]]++
			}
		}
		for k, n := range seen {
			if n != 1 {
				t.Errorf("%q logged %d times", k, n)
			}
		}
	})
	t.Run("reload-flushes-and-reopens", func(t *testing.T) {
		if core.Reload == nil {
			t.Skip("the core does not reload")
		}
		// A buffered log: nothing is written until the reload closes the
		// old engine, which flushes it; the new config's log then takes
		// the next request.
		buffered := strings.Replace(conf, "access_log "+accessLog+" st;",
			"access_log "+filepath.Join(dir, "buffered.log")+" st buffer=64k;", 1)
		must(t, os.WriteFile(confPath, []byte(buffered), 0o644))
		must(t, core.Reload(confPath))
		c, err := Dial(addr)
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, roundTrip(t, c, "GET", request("GET", "/file.txt?buffered", host, "Connection: close")), 200)
		c.Close()
		after := strings.Replace(conf, "access_log "+accessLog+" st;",
			"access_log "+filepath.Join(dir, "after.log")+" st;", 1)
		must(t, os.WriteFile(confPath, []byte(after), 0o644))
		must(t, core.Reload(confPath))
		waitLine(t, filepath.Join(dir, "buffered.log"), " GET /file.txt?buffered")
		c, err = Dial(addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		wantStatus(t, roundTrip(t, c, "GET", request("GET", "/file.txt?after", host)), 200)
		waitLine(t, filepath.Join(dir, "after.log"), " GET /file.txt?after")
	})
}

// waitLine waits (up to IOTimeout: a core writes the line once the
// response is out, so it may follow the client's read by a moment) for
// the line of path containing sub, and returns its fields.
func waitLine(t *testing.T, path, sub string) []string {
	t.Helper()
	deadline := time.Now().Add(IOTimeout)
	for {
		b, _ := os.ReadFile(path)
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l+"\n", sub+"\n") {
				return strings.Fields(l)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no line with %q in %s:\n%s", sub, path, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
