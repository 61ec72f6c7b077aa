package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/c10k/c10k/servers/config"
	"github.com/c10k/c10k/servers/http1"
	"github.com/c10k/c10k/servers/upstream"
)

// logSite writes conf (the inside of http{}) into a temp prefix with a
// docroot "html" holding a.txt, and returns the engine and the prefix.
func logSite(t *testing.T, conf string) (*Engine, string) {
	t.Helper()
	dir := docroot(t, map[string]string{"html/a.txt": "hello", "logs/": ""})
	name := filepath.Join(dir, "site.conf")
	if err := os.WriteFile(name, []byte("http {\n"+conf+"\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(cfg, Options{Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, dir
}

func readLog(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

// serveEnd serves req as a core would and ends it with head+body bytes
// sent.
func serveEnd(e *Engine, req *http1.Request, head, body int64) *Plan {
	var p Plan
	e.Serve(req, conn, &p)
	p.CloseFile()
	p.SetHeadSize(int(head))
	p.End(head + body)
	return &p
}

func TestAccessLogCombinedDefault(t *testing.T) {
	e, dir := logSite(t, "server { listen 80; }")
	serveEnd(e, request("GET", "/a.txt?x=1", "Host", "h", "User-Agent", "curl/8", "Referer", "http://r/"), 120, 5)
	serveEnd(e, request("GET", "/missing", "Host", "h"), 100, 153)
	e.Close()
	got := readLog(t, filepath.Join(dir, "logs/access.log"))
	want := `192.0.2.7 - - [01/May/2024:12:00:00 +0000] "GET /a.txt?x=1 HTTP/1.1" 200 5 "http://r/" "curl/8"` + "\n" +
		`192.0.2.7 - - [01/May/2024:12:00:00 +0000] "GET /missing HTTP/1.1" 404 153 "-" "-"` + "\n"
	if got != want {
		t.Fatalf("access.log:\n%s\nwant:\n%s", got, want)
	}
}

func TestAccessLogVariables(t *testing.T) {
	vars := []string{"remote_addr", "remote_user", "time_local", "time_iso8601", "msec", "request",
		"request_method", "request_uri", "uri", "args", "status", "body_bytes_sent", "bytes_sent",
		"request_length", "request_time", "http_x_test", "sent_http_content_type", "sent_http_content_length",
		"host", "server_name", "server_port", "connection", "connection_requests",
		"upstream_addr", "upstream_status", "upstream_response_time", "pipe"}
	f := "log_format all '"
	for i, v := range vars {
		if i > 0 {
			f += "|"
		}
		f += "$" + v
	}
	f += "';"
	e, dir := logSite(t, f+"\naccess_log logs/all.log all;\nserver { listen 80; server_name example.org; location /p/ { proxy_pass http://127.0.0.1:9; } }")
	c := conn
	c.ID, c.Requests, c.Pipelined = 42, 2, true
	var p Plan
	req := request("GET", "/a.txt?k=v", "Host", "h.test", "X-Test", "t1")
	e.Serve(req, c, &p)
	p.CloseFile()
	p.SetHeadSize(100)
	p.End(105)
	var q Plan
	e.Serve(request("GET", "/p/x", "Host", "h.test"), conn, &q)
	if _, ok := q.Proxy.Next(); !ok {
		t.Fatal("no peer")
	}
	q.Proxy.Failed(upstream.FailError, false)
	if _, ok := q.Proxy.Next(); ok {
		t.Fatal("second peer")
	}
	q.End(200)
	e.Close()
	lines := strings.Split(strings.TrimSuffix(readLog(t, filepath.Join(dir, "logs/all.log")), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("lines %q", lines)
	}
	want := []string{"192.0.2.7", "-", "01/May/2024:12:00:00 +0000", "2024-05-01T12:00:00+00:00", "1714564800.000",
		"GET /a.txt?k=v HTTP/1.1", "GET", "/a.txt?k=v", "/a.txt", "k=v", "200", "5", "105",
		"53", "0.000", "t1", "text/plain", "5", "h.test", "example.org", "80", "42", "3", "-", "-", "-", "p"}
	got := strings.Split(lines[0], "|")
	if len(got) != len(want) {
		t.Fatalf("fields %q", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("$%s = %q, want %q", vars[i], got[i], want[i])
		}
	}
	up := strings.Split(lines[1], "|")
	if up[10] != "502" || up[23] != "127.0.0.1:9" || up[24] != "502" || up[25] != "0.000" {
		t.Errorf("proxy line %q", lines[1])
	}
}

func TestAccessLogEscape(t *testing.T) {
	e, dir := logSite(t, `log_format d '$http_user_agent';
log_format j escape=json '{"ua":"$http_user_agent","ref":"$http_referer"}';
log_format n escape=none '$http_user_agent';
access_log logs/d.log d;
access_log logs/j.log j;
access_log logs/n.log n;
server { listen 80; }`)
	serveEnd(e, request("GET", "/a.txt", "Host", "h", "User-Agent", "a\"b\\c\x01\té"), 1, 1)
	e.Close()
	for name, want := range map[string]string{
		"d.log": `a\x22b\x5Cc\x01\x09\xC3\xA9` + "\n",
		"j.log": `{"ua":"a\"b\\c\u0001\té","ref":""}` + "\n",
		"n.log": "a\"b\\c\x01\té\n",
	} {
		if got := readLog(t, filepath.Join(dir, "logs", name)); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

func TestAccessLogBuffered(t *testing.T) {
	e, dir := logSite(t, `log_format s '$status';
access_log logs/big.log s buffer=64k;
access_log logs/small.log s buffer=8;
server { listen 80; }`)
	for range 3 {
		serveEnd(e, request("GET", "/a.txt", "Host", "h"), 1, 1)
	}
	if got := readLog(t, filepath.Join(dir, "logs/big.log")); got != "" {
		t.Fatalf("big.log before Close = %q", got)
	}
	// 4 bytes a line, 8 a buffer: the third line pushed the first two out.
	if got := readLog(t, filepath.Join(dir, "logs/small.log")); got != "200\n200\n" {
		t.Fatalf("small.log before Close = %q", got)
	}
	e.Close()
	for _, n := range []string{"big.log", "small.log"} {
		if got := readLog(t, filepath.Join(dir, "logs", n)); got != "200\n200\n200\n" {
			t.Fatalf("%s after Close = %q", n, got)
		}
	}
	// A request that ends after Close (a reload replaced the engine)
	// still logs.
	serveEnd(e, request("GET", "/a.txt", "Host", "h"), 1, 1)
	if got := readLog(t, filepath.Join(dir, "logs/big.log")); got != "200\n200\n200\n200\n" {
		t.Fatalf("big.log after a late request = %q", got)
	}
}

func TestAccessLogStatuses(t *testing.T) {
	e, dir := logSite(t, `log_format s '$status $bytes_sent $body_bytes_sent';
access_log logs/s.log s;
server { listen 80; location /quiet { return 444; } location /off { access_log off; } }`)
	serveEnd(e, request("GET", "/a.txt", "Host", "h"), 0, 0)    // client left before the response: 499
	serveEnd(e, request("GET", "/a.txt", "Host", "h"), 100, 2)  // partial body
	serveEnd(e, request("HEAD", "/a.txt", "Host", "h"), 100, 0) // head only
	serveEnd(e, request("GET", "/quiet", "Host", "h"), 0, 0)    // 444
	serveEnd(e, request("GET", "/off", "Host", "h"), 100, 5)    // access_log off
	var p Plan
	e.Reject(400, conn, &p)
	p.SetHeadSize(50)
	p.End(200)
	p.End(200) // idempotent
	e.Close()
	want := "499 0 0\n200 102 2\n200 100 0\n444 0 0\n400 200 150\n"
	if got := readLog(t, filepath.Join(dir, "logs/s.log")); got != want {
		t.Fatalf("s.log = %q, want %q", got, want)
	}
}

func TestAccessLogDefaultWithoutDir(t *testing.T) {
	// The implicit logs/access.log is skipped when logs/ does not exist;
	// an explicit one that cannot be opened fails New.
	dir := t.TempDir()
	cfg, err := config.Parse(filepath.Join(dir, "site.conf"), []byte("http { server { listen 80; } }"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Prefix = dir
	e, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	serveEnd(e, request("GET", "/", "Host", "h"), 1, 1)
	e.Close()
	cfg, err = config.Parse(filepath.Join(dir, "site.conf"), []byte("http { access_log nodir/x.log; server { listen 80; } }"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Prefix = dir
	if _, err := New(cfg, Options{}); err == nil || !strings.Contains(err.Error(), "site.conf:1") {
		t.Fatalf("New = %v, want an error naming site.conf:1", err)
	}
}

func TestAccessLogFlushInterval(t *testing.T) {
	e, dir := logSite(t, `log_format s '$status';
access_log logs/f.log s buffer=64k flush=1ms;
server { listen 80; }`)
	serveEnd(e, request("GET", "/a.txt", "Host", "h"), 1, 1)
	// The flusher writes the buffer once it is older than flush=; wait
	// for it (bounded) without closing the engine.
	deadline := time.Now().Add(5 * time.Second)
	for readLog(t, filepath.Join(dir, "logs/f.log")) != "200\n" {
		if time.Now().After(deadline) {
			t.Fatalf("f.log = %q: flush= never wrote the buffer", readLog(t, filepath.Join(dir, "logs/f.log")))
		}
		time.Sleep(time.Millisecond)
	}
}

func BenchmarkAccessLogLine(b *testing.B) {
	dir := docroot(b, map[string]string{"html/a.txt": "hello", "logs/": ""})
	name := filepath.Join(dir, "site.conf")
	if err := os.WriteFile(name, []byte("http { access_log logs/access.log combined buffer=64k; server { listen 80; } }"), 0o644); err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Load(name)
	if err != nil {
		b.Fatal(err)
	}
	e, err := New(cfg, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	req := request("GET", "/a.txt", "Host", "h", "User-Agent", "bench/1")
	var p Plan
	b.ReportAllocs()
	for b.Loop() {
		e.Serve(req, conn, &p)
		p.CloseFile()
		p.End(200)
	}
}
