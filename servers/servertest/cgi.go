package servertest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/c10k/c10k/servers/internal/proctest"
)

// cgiScript is the test CGI program: a POSIX shell script whose
// behaviour PATH_INFO chooses. /pid writes the script's PID to the
// file in its QUERY_STRING before sleeping, so that a test can watch
// the process end.
const cgiScript = `#!/bin/sh
case "$PATH_INFO" in
/env)
	printf 'Content-Type: text/plain\r\nX-Script: yes\r\n\r\n'
	env
	;;
/body)
	printf 'Status: 201 Created\nContent-Type: text/plain\n\n'
	printf 'len=%s\n' "$CONTENT_LENGTH"
	cat
	;;
/local)
	printf 'Location: /static.txt\n\n'
	;;
/client)
	printf 'Location: http://example.com/there\n\n'
	;;
/toproxy)
	printf 'Location: /up/echo\n\n'
	;;
/noheader)
	printf 'just text, no header block'
	;;
/badheader)
	printf 'this is no header\n\n'
	;;
/fail)
	echo 'cgi test: failing on purpose' >&2
	exit 3
	;;
/stderr)
	echo 'cgi test: a line on stderr' >&2
	printf 'Content-Type: text/plain\n\nok'
	;;
/sleep)
	echo $$ > "$QUERY_STRING"
	sleep 30
	;;
*)
	printf 'Status: 404 Not Found\nContent-Type: text/plain\n\nno such case\n'
	;;
esac
`

// RunCGI runs the cgi_pass cases against the core start starts: the
// RFC 3875 environment (and nothing of the server's), httpoxy, a
// chunked request body, local redirects (to a file and to a proxied
// location) and client redirects, broken programs
// (502), cgi_timeout (504, the child killed), a client that hangs up
// (the child killed), and no zombie children afterwards. It needs
// /bin/sh; the zombie check needs /proc and the core in this process.
func RunCGI(t *testing.T, start Start) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh")
	}
	dir := t.TempDir()
	root := filepath.Join(dir, "html")
	script := filepath.Join(dir, "test.cgi")
	must(t, os.MkdirAll(root, 0o755))
	must(t, os.WriteFile(filepath.Join(root, "static.txt"), []byte("static file\n"), 0o644))
	must(t, os.WriteFile(script, []byte(cgiScript), 0o755))
	// The proxied location a local redirect may lead to: it answers
	// with what it got.
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "%s content-length=%q body=%d", r.Method, r.Header.Get("Content-Length"), n)
	}))
	t.Cleanup(up.Close)
	conf := fmt.Sprintf(`events {}
http {
    access_log off;
    server {
        listen 127.0.0.1:0;
        server_name cgi.test;
        root %s;
        location /cgi/ { cgi_pass %s; }
        location /slow/ { cgi_pass %s; cgi_timeout 1s; }
        location /up/ { proxy_pass %s; }
    }
}
`, root, script, script, up.URL)
	confPath := filepath.Join(dir, "nginx.conf")
	must(t, os.WriteFile(confPath, []byte(conf), 0o644))
	addr := start(t, confPath).Addr
	t.Run("cases", func(t *testing.T) { runCGICases(t, addr, dir, root, script) })
	t.Run("no-zombies", wantNoZombies) // after every case above has ended
}

func runCGICases(t *testing.T, addr, dir, root, script string) {
	get := func(t *testing.T, target string, fields ...string) *Response {
		t.Helper()
		c, err := Dial(addr)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer c.Close()
		r, err := c.RoundTrip("GET", []byte(request("GET", target, "cgi.test", fields...)))
		if err != nil {
			t.Fatalf("GET %s: %v", target, err)
		}
		return r
	}
	t.Run("env", func(t *testing.T) {
		t.Parallel()
		r := get(t, "/cgi/env?a=1&b=2", "X-Test: hello", "Proxy: http://evil.example:3128", "Content-Type: text/x")
		if !wantStatus(t, r, 200) {
			return
		}
		wantHeader(t, r, "X-Script", "yes")
		env := map[string]string{}
		for _, l := range strings.Split(string(r.Body), "\n") {
			if k, v, ok := strings.Cut(l, "="); ok {
				env[k] = v
			}
		}
		want := map[string]string{
			"GATEWAY_INTERFACE": "CGI/1.1",
			"SERVER_PROTOCOL":   "HTTP/1.1",
			"SERVER_NAME":       "cgi.test",
			"SERVER_PORT":       addr[strings.LastIndexByte(addr, ':')+1:],
			"REQUEST_METHOD":    "GET",
			"QUERY_STRING":      "a=1&b=2",
			"SCRIPT_NAME":       "/cgi",
			"PATH_INFO":         "/env",
			"PATH_TRANSLATED":   filepath.Join(root, "env"),
			"SCRIPT_FILENAME":   script,
			"REMOTE_ADDR":       "127.0.0.1",
			"HTTP_X_TEST":       "hello",
			"HTTP_HOST":         "cgi.test",
			"PATH":              "/usr/local/bin:/usr/bin:/bin",
		}
		for k, v := range want {
			if env[k] != v {
				t.Errorf("%s = %q, want %q", k, env[k], v)
			}
		}
		for _, k := range []string{"SERVER_SOFTWARE", "REMOTE_PORT"} {
			if env[k] == "" {
				t.Errorf("%s missing", k)
			}
		}
		for _, k := range []string{"HTTP_PROXY", "CONTENT_LENGTH", "CONTENT_TYPE", "HOME", "USER", "GOPATH", "C10K_CGI_CHILD"} {
			if v, ok := env[k]; ok {
				t.Errorf("%s = %q reached the program", k, v)
			}
		}
	})

	t.Run("chunked-body", func(t *testing.T) {
		t.Parallel()
		body := []byte("hello, chunked world")
		c, err := Dial(addr)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer c.Close()
		req := request("POST", "/cgi/body", "cgi.test", "Transfer-Encoding: chunked") + chunk(body[:7]) + chunk(body[7:]) + "0\r\n\r\n"
		r, err := c.RoundTrip("POST", []byte(req))
		if err != nil {
			t.Fatalf("POST: %v", err)
		}
		if !wantStatus(t, r, 201) {
			return
		}
		wantBody(t, r, append([]byte("len="+strconv.Itoa(len(body))+"\n"), body...))
	})

	t.Run("local-redirect", func(t *testing.T) {
		t.Parallel()
		r := get(t, "/cgi/local")
		if wantStatus(t, r, 200) {
			wantBody(t, r, []byte("static file\n"))
		}
	})

	// A local redirect is a GET without the body, as nginx's internal
	// redirect after X-Accel-Redirect: to a proxied location too, with
	// no Content-Length promising the body the program consumed.
	t.Run("local-redirect-proxy", func(t *testing.T) {
		t.Parallel()
		for _, framing := range []string{"Content-Length: 5", "Transfer-Encoding: chunked"} {
			c, err := Dial(addr)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			body := "hello"
			if framing != "Content-Length: 5" {
				body = chunk([]byte(body)) + "0\r\n\r\n"
			}
			r, err := c.RoundTrip("POST", []byte(request("POST", "/cgi/toproxy", "cgi.test", framing)+body))
			c.Close()
			if err != nil {
				t.Fatalf("POST with %s: %v", framing, err)
			}
			if wantStatus(t, r, 200) {
				wantBody(t, r, []byte(`GET content-length="" body=0`))
			}
		}
	})

	t.Run("client-redirect", func(t *testing.T) {
		t.Parallel()
		r := get(t, "/cgi/client")
		if wantStatus(t, r, 302) {
			wantHeader(t, r, "Location", "http://example.com/there")
		}
	})

	for _, c := range []string{"noheader", "badheader", "fail"} {
		t.Run(c, func(t *testing.T) {
			t.Parallel()
			wantStatus(t, get(t, "/cgi/"+c), 502)
		})
	}

	t.Run("stderr", func(t *testing.T) {
		t.Parallel()
		r := get(t, "/cgi/stderr")
		if wantStatus(t, r, 200) {
			wantBody(t, r, []byte("ok"))
		}
	})

	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		pidFile := filepath.Join(dir, "timeout.pid")
		r := get(t, "/slow/sleep?"+pidFile)
		wantStatus(t, r, 504)
		waitGone(t, pidFile)
	})

	t.Run("client-hangup", func(t *testing.T) {
		t.Parallel()
		pidFile := filepath.Join(dir, "hangup.pid")
		c, err := Dial(addr)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		if err := c.Write([]byte(request("GET", "/cgi/sleep?"+pidFile, "cgi.test"))); err != nil {
			t.Fatalf("write: %v", err)
		}
		readPID(t, pidFile)
		c.Close()
		waitGone(t, pidFile)
	})

}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// readPID waits (bounded) for the script to write its PID to file.
func readPID(t *testing.T, file string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(file)
		if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && perr == nil && pid > 0 {
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("the CGI program did not write %s", file)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitGone waits (bounded) until the process whose PID is in file has
// ended and been reaped: no /proc entry, or not a zombie.
func waitGone(t *testing.T, file string) {
	t.Helper()
	pid := readPID(t, file)
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("CGI child %d still there: %s", pid, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// wantNoZombies fails t when this process still has zombie children
// after about a second.
func wantNoZombies(t *testing.T) {
	t.Helper()
	for i := 0; ; i++ {
		z := zombies(t)
		if len(z) == 0 {
			return
		}
		if i == 50 {
			t.Fatalf("zombie children of the test process: %v", z)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// zombies lists the zombie children of this process.
func zombies(t *testing.T) []string {
	kids, err := proctest.Children()
	if err != nil {
		t.Skip("no /proc:", err)
	}
	var z []string
	for _, k := range kids {
		if k.State == 'Z' {
			z = append(z, strconv.Itoa(k.PID))
		}
	}
	return z
}
