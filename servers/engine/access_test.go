package engine

import (
	"net/http"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/c10k/c10k/servers/config"
	"github.com/c10k/c10k/servers/http1"
	"github.com/c10k/c10k/servers/upstream"
)

// from returns conn with the client address a ("" for none: nginx's
// unix-domain socket).
func from(a string) Conn {
	c := conn
	c.Remote = netip.AddrPort{}
	if a != "" {
		c.Remote = netip.AddrPortFrom(netip.MustParseAddr(a), 40000)
	}
	return c
}

const accessConf = `http {
    deny 192.0.2.1;
    server {
        server_name example.com;
        root ROOT;
        location / { }
        location = /forbidden.html { }
        location /open/ { allow all; }
        location /v4/ {
            allow 10.0.0.0/8;
            deny all;
            location /v4/nested/ { }
            location /v4/own/ { allow 192.0.2.0/24; deny all; }
        }
        location /v6/ { allow 2001:db8::/32; deny all; }
        location /v6only/ { deny 2001:db8::/32; }
        location /first/ { allow 10.1.2.3; deny 10.0.0.0/8; }
        location /mapped6/ { deny ::ffff:10.0.0.0/104; }
        location /zone/ { deny fe80::/10; }
        location /unix/ { allow unix:; deny all; }
        location /ep/ { deny all; error_page 403 /forbidden.html; }
        location /eploop/ { deny all; error_page 403 /eploop/page.html; }
        location /ret/ { deny all; return 200 "returned"; }
        location /tf/ { deny all; try_files $uri /open/a.txt; }
        location /tfin/ { try_files /nothing /v4/a.txt; }
        location /proxy/ { deny all; proxy_pass http://127.0.0.1:9; }
        location /cgi/ { deny all; cgi_pass /bin/true; }
    }
}`

var accessFiles = map[string]string{
	"a.txt": "A", "forbidden.html": "custom forbidden", "open/a.txt": "open",
	"v4/a.txt": "v4", "v4/nested/a.txt": "nested", "v4/own/a.txt": "own",
	"v6/a.txt": "v6", "v6only/a.txt": "v6only", "first/a.txt": "first",
	"mapped6/a.txt": "mapped6", "zone/a.txt": "zone", "unix/a.txt": "unix",
	"ep/a.txt": "ep", "eploop/page.html": "page", "tf/a.txt": "tf",
}

func TestAccess(t *testing.T) {
	var logs []string
	e := confEngine(t, accessFiles, accessConf, Options{ErrorLog: func(level, msg string) { logs = append(logs, level+": "+msg) }})
	tests := []struct {
		name, remote, target string
		status               int
		body                 string // prefix
	}{
		{"no rules at this level: inherited from http", "192.0.2.7", "/a.txt", 200, "A"},
		{"inherited deny", "192.0.2.1", "/a.txt", 403, "<html>"},
		{"allow all replaces the inherited list", "192.0.2.1", "/open/a.txt", 200, "open"},
		{"v4 CIDR allows", "10.200.0.1", "/v4/a.txt", 200, "v4"},
		{"deny all after it", "192.0.2.7", "/v4/a.txt", 403, "<html>"},
		{"nested location inherits", "192.0.2.7", "/v4/nested/a.txt", 403, "<html>"},
		{"nested inherits allow", "10.0.0.1", "/v4/nested/a.txt", 200, "nested"},
		{"nested own list", "192.0.2.7", "/v4/own/a.txt", 200, "own"},
		{"nested own list denies", "10.0.0.1", "/v4/own/a.txt", 403, "<html>"},
		{"v6 client, v4 rule skipped, deny all", "2001:db9::1", "/v4/a.txt", 403, "<html>"},
		{"v6 CIDR allows", "2001:db8:1::5", "/v6/a.txt", 200, "v6"},
		{"v6 outside the CIDR", "2001:db9::1", "/v6/a.txt", 403, "<html>"},
		{"v4 client against v6 rules and all", "10.0.0.1", "/v6/a.txt", 403, "<html>"},
		{"only v6 rules: a v4 client is allowed", "192.0.2.7", "/v6only/a.txt", 200, "v6only"},
		{"only v6 rules: a matching v6 client is denied", "2001:db8::1", "/v6only/a.txt", 403, "<html>"},
		{"only v6 rules: another v6 client is allowed", "2001:db9::1", "/v6only/a.txt", 200, "v6only"},
		{"first match wins: allow", "10.1.2.3", "/first/a.txt", 200, "first"},
		{"first match wins: deny", "10.1.2.4", "/first/a.txt", 403, "<html>"},
		{"no match allows", "192.0.2.7", "/first/a.txt", 200, "first"},
		{"v4-mapped client checked as v4", "::ffff:10.9.9.9", "/v4/a.txt", 200, "v4"},
		{"v4-mapped client denied as v4", "::ffff:192.0.2.7", "/v4/a.txt", 403, "<html>"},
		{"v4-mapped client, no v4 rules: v6 rules", "::ffff:10.1.1.1", "/mapped6/a.txt", 403, "<html>"},
		{"plain v4 client, no v4 rules", "10.1.1.1", "/mapped6/a.txt", 200, "mapped6"},
		{"client address with a zone", "fe80::1%eth0", "/zone/a.txt", 403, "<html>"},
		{"no IP address: unix: rule", "", "/unix/a.txt", 200, "unix"},
		{"no IP address: deny all", "", "/v4/a.txt", 403, "<html>"},
		{"IP client skips unix:", "10.0.0.1", "/unix/a.txt", 403, "<html>"},
		{"error_page 403", "10.0.0.1", "/ep/a.txt", 403, "custom forbidden"},
		{"error_page into the denied location", "10.0.0.1", "/eploop/a.txt", 403, "<html>"},
		{"return runs before access (rewrite phase)", "10.0.0.1", "/ret/", 200, "returned"},
		{"access before try_files", "10.0.0.1", "/tf/a.txt", 403, "<html>"},
		{"internal redirect checks the new location", "192.0.2.7", "/tfin/x", 403, "<html>"},
		{"internal redirect allowed", "10.0.0.1", "/tfin/x", 200, "v4"},
		{"no proxy attempt", "10.0.0.1", "/proxy/x", 403, "<html>"},
		{"no CGI child", "10.0.0.1", "/cgi/x", 403, "<html>"},
	}
	var p Plan
	for _, tt := range tests {
		e.Serve(request("GET", tt.target, "Host", "example.com"), from(tt.remote), &p)
		if p.Status != tt.status || !strings.HasPrefix(body(t, &p), tt.body) || p.Proxy != nil || p.CGI != nil {
			t.Errorf("%s: %s from %q = %d %q (proxy %v, cgi %v), want %d %q", tt.name, tt.target, tt.remote,
				p.Status, p.Body, p.Proxy != nil, p.CGI != nil, tt.status, tt.body)
		}
		if tt.status == 403 && !p.KeepAlive {
			t.Errorf("%s: a 403 closes the connection; nginx keeps it", tt.name)
		}
		p.CloseFile()
	}

	logs = nil
	e.Serve(request("GET", "/v4/x?a=1", "Host", "example.com"), from("192.0.2.9"), &p)
	want := []string{`error: access forbidden by rule, client: 192.0.2.9, server: example.com, request: "GET /v4/x?a=1 HTTP/1.1", host: "example.com"`}
	if !slices.Equal(logs, want) {
		t.Errorf("log %q, want %q", logs, want)
	}
	logs = nil
	e.Serve(request("GET", "/open/a.txt", "Host", "example.com"), from("192.0.2.9"), &p)
	p.CloseFile()
	if len(logs) != 0 {
		t.Errorf("an allowed request logged %q", logs)
	}
}

// TestAccessLogOnce checks that a denied request whose error_page needs
// a disk lookup, abandoned by ServeCached and served again by Serve,
// logs its line once.
func TestAccessLogOnce(t *testing.T) {
	var logs []string
	fresh := "/fresh-" + strconv.FormatInt(time.Now().UnixNano(), 10) + ".html"
	e := confEngine(t, nil, `http { server { server_name example.com; root ROOT;
		location / { deny all; error_page 403 /pages`+fresh+`; }
		location /pages/ { } } }`,
		Options{ErrorLog: func(level, msg string) { logs = append(logs, level+": "+msg) }})
	var p Plan
	req := request("GET", "/x", "Host", "example.com")
	cached := e.ServeCached(req, conn, &p)
	if !cached {
		e.Serve(req, conn, &p)
	}
	if p.Status != 404 {
		t.Errorf("status %d, want the missing error page's 404", p.Status)
	}
	n := 0
	for _, l := range logs {
		if strings.HasPrefix(l, "error: access forbidden by rule, client: 192.0.2.7") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("logs %q (ServeCached done: %v), want one access forbidden line", logs, cached)
	}
}

// TestAccessWarnings checks that New logs the config's warnings.
func TestAccessWarnings(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Parse(filepath.Join(dir, "site.conf"), []byte("http {\n server {\n  allow 10.1.2.3/8;\n }\n}\n"))
	if err != nil {
		t.Fatal(err)
	}
	var logs []string
	if _, err := New(cfg, Options{ErrorLog: func(level, msg string) { logs = append(logs, level+": "+msg) }}); err != nil {
		t.Fatal(err)
	}
	want := []string{"warn: " + filepath.Join(dir, "site.conf") + ":3: low address bits of 10.1.2.3/8 are meaningless"}
	if !slices.Equal(logs, want) {
		t.Errorf("logs %q, want %q", logs, want)
	}
}

const addHeaderConf = `http {
    add_header X-Http h;
    server {
        server_name example.com;
        root ROOT;
        add_header X-Srv "$server_name";
        add_header X-Srv-Always s always;
        location /inherit/ { }
        location /own/ {
            add_header X-Own "$uri $status";
            add_header X-Empty "";
            add_header X-Empty-Var $arg_none always;
            add_header X-Always "a $remote_addr" always;
            add_header Cache-Control no-cache;
            location /own/nested/ { }
            location /own/replaced/ { add_header X-Nested n; }
        }
        location /etag/ { add_header ETag '"mine"'; add_header Last-Modified ""; }
        location /inject/ { add_header X-Uri $uri always; }
        location /owned/ { add_header Server other; add_header Content-Length 1; add_header X-Ok ok; }
        location ~ ^/re/(?<id>[0-9]+)$ { add_header X-Id "$id/$1"; return 200 re; }
        location = /err.html { add_header X-Err e always; add_header X-Err-Safe s; }
        location /ep/ { error_page 404 /err.html; }
        location /ep200/ { error_page 404 =200 /err.html; }
        location /proxy/ { add_header X-P "$status" ; add_header X-P-Always pa always; proxy_pass http://127.0.0.1:9; }
        location /proxyep/ { error_page 502 =200 /err.html; proxy_pass http://127.0.0.1:9; }
        location /cgi/ { add_header X-C "$status"; add_header X-C-Always ca always; cgi_pass /bin/true; }
    }
}`

// fields lists the values of the fields in names that p's header has,
// "Name: value", in header order.
func fields(p *Plan, names ...string) string {
	var out []string
	for _, f := range p.Header {
		for _, n := range names {
			if http1.EqualFold(f.Name, n) {
				out = append(out, string(f.Name)+": "+string(f.Value))
			}
		}
	}
	return strings.Join(out, " | ")
}

var added = []string{"X-Http", "X-Srv", "X-Srv-Always", "X-Own", "X-Empty", "X-Empty-Var", "X-Always", "Cache-Control",
	"X-Nested", "X-Uri", "Server", "Content-Length", "X-Ok", "X-Id", "X-Err", "X-Err-Safe",
	"X-P", "X-P-Always", "X-C", "X-C-Always"}

func TestAddHeaderStatic(t *testing.T) {
	files := map[string]string{
		"a.txt": "A", "inherit/a.txt": "I", "own/a.txt": "O", "own/nested/a.txt": "N", "own/replaced/a.txt": "R",
		"etag/a.txt": "E", "owned/a.txt": "W", "err.html": "error page",
	}
	e := confEngine(t, files, addHeaderConf, Options{})
	lm := testNow.Add(-time.Hour).Format(http.TimeFormat)
	tests := []struct {
		name, method, target string
		fields               []string
		status               int
		want                 string
	}{
		{"server level replaces http", "GET", "/a.txt", nil, 200, "X-Srv: example.com | X-Srv-Always: s"},
		{"inherited by a location", "GET", "/inherit/a.txt", nil, 200, "X-Srv: example.com | X-Srv-Always: s"},
		{"404 gets always only", "GET", "/inherit/missing", nil, 404, "X-Srv-Always: s"},
		{"own list, variables, empty omitted", "GET", "/own/a.txt", nil, 200,
			"X-Own: /own/a.txt 200 | X-Always: a 192.0.2.7 | Cache-Control: no-cache"},
		{"HEAD too", "HEAD", "/own/a.txt", nil, 200, "X-Own: /own/a.txt 200 | X-Always: a 192.0.2.7 | Cache-Control: no-cache"},
		{"nested inherits", "GET", "/own/nested/a.txt", nil, 200,
			"X-Own: /own/nested/a.txt 200 | X-Always: a 192.0.2.7 | Cache-Control: no-cache"},
		{"nested own list", "GET", "/own/replaced/a.txt", nil, 200, "X-Nested: n"},
		{"404 in the own location: always only", "GET", "/own/missing", nil, 404, "X-Always: a 192.0.2.7"},
		{"304", "GET", "/own/a.txt", []string{"If-Modified-Since", lm}, 304,
			"X-Own: /own/a.txt 304 | X-Always: a 192.0.2.7 | Cache-Control: no-cache"},
		{"206", "GET", "/own/a.txt", []string{"Range", "bytes=0-0"}, 206,
			"X-Own: /own/a.txt 206 | X-Always: a 192.0.2.7 | Cache-Control: no-cache"},
		{"416 always only", "GET", "/own/a.txt", []string{"Range", "bytes=5-"}, 416, "X-Always: a 192.0.2.7"},
		{"412 always only", "GET", "/own/a.txt", []string{"If-Unmodified-Since", "Mon, 01 Jan 2001 00:00:00 GMT"}, 412, "X-Always: a 192.0.2.7"},
		{"301 directory redirect", "GET", "/own/nested", nil, 301, "X-Own: /own/nested 301 | X-Always: a 192.0.2.7 | Cache-Control: no-cache"},
		{"CR LF in a value become spaces", "GET", "/inject/%0d%0aSet-Cookie:%20x", nil, 404, "X-Uri: /inject/  Set-Cookie: x"},
		{"serializer-owned names stay in the plan", "GET", "/owned/a.txt", nil, 200, "Server: other | Content-Length: 1 | X-Ok: ok"},
		{"regex captures", "GET", "/re/42", nil, 200, "X-Id: 42/42"},
		{"error_page: the final location's lines, status 404", "GET", "/ep/missing", nil, 404, "X-Err: e"},
		{"error_page =200: all lines", "GET", "/ep200/missing", nil, 200, "X-Err: e | X-Err-Safe: s"},
	}
	var p Plan
	for _, tt := range tests {
		e.Serve(request(tt.method, tt.target, append([]string{"Host", "example.com"}, tt.fields...)...), conn, &p)
		if got := fields(&p, added...); p.Status != tt.status || got != tt.want {
			t.Errorf("%s: %s %s = %d %q, want %d %q", tt.name, tt.method, tt.target, p.Status, got, tt.status, tt.want)
		}
		p.CloseFile()
	}
	// ETag and Last-Modified replace the response's own (an empty
	// value removes it), as nginx's ngx_http_set_response_header.
	e.Serve(request("GET", "/etag/a.txt", "Host", "example.com"), conn, &p)
	if got := fields(&p, "ETag", "Last-Modified"); p.Status != 200 || got != `ETag: "mine"` {
		t.Errorf("ETag and Last-Modified: %d %q, want 200 %q", p.Status, got, `ETag: "mine"`)
	}
	p.CloseFile()
	e.Serve(request("GET", "/own/a.txt", "Host", "example.com"), conn, &p)
	if got := fields(&p, "ETag", "Last-Modified"); !strings.Contains(got, "ETag: ") || !strings.Contains(got, "Last-Modified: ") {
		t.Errorf("static ETag and Last-Modified without add_header: %q", got)
	}
	p.CloseFile()
}

func TestAddHeaderReturn(t *testing.T) {
	e := confEngine(t, nil, `http { server { server_name example.com;
		location / { add_header X-A "$status" ; add_header X-B b always; return 200 ok; }
		location = /201 { add_header X-A "$status"; add_header X-B b always; return 201 x; }
		location = /202 { add_header X-A "$status"; add_header X-B b always; return 202 x; }
		location = /204 { add_header X-A "$status"; add_header X-B b always; return 204; }
		location = /301 { add_header X-A "$status"; add_header X-B b always; return 301 /x; }
		location = /302 { add_header X-A "$status"; add_header X-B b always; return 302 /x; }
		location = /303 { add_header X-A "$status"; add_header X-B b always; return 303 /x; }
		location = /307 { add_header X-A "$status"; add_header X-B b always; return 307 /x; }
		location = /308 { add_header X-A "$status"; add_header X-B b always; return 308 /x; }
		location = /400 { add_header X-A "$status"; add_header X-B b always; return 400; }
		location = /404 { add_header X-A "$status"; add_header X-B b always; return 404 text; }
		location = /500 { add_header X-A "$status"; add_header X-B b always; return 500; }
		location = /503 { add_header X-A "$status"; add_header X-B b always; return 503; }
		location = /444 { add_header X-A "$status"; add_header X-B b always; return 444; }
	} }`, Options{})
	var p Plan
	for _, code := range []int{200, 201, 202, 204, 301, 302, 303, 307, 308, 400, 404, 500, 503} {
		target := "/" + itoa(code)
		if code == 200 {
			target = "/"
		}
		e.Serve(request("GET", target, "Host", "example.com"), conn, &p)
		want := "X-B: b"
		if addsAlways(code) {
			want = "X-A: " + itoa(code) + " | X-B: b"
		}
		if got := fields(&p, "X-A", "X-B"); p.Status != code || got != want {
			t.Errorf("return %d: %d %q, want %q", code, p.Status, got, want)
		}
	}
	e.Serve(request("GET", "/444", "Host", "example.com"), conn, &p)
	if !p.Close || len(p.Header) != 0 {
		t.Errorf("return 444: Close %v, header %q; want nothing sent", p.Close, result(&p))
	}
	// A head the parser refused: the default server's server-level
	// lines, "always" ones only for its 4xx.
	e2 := confEngine(t, nil, `http { add_header X-H h always; server { add_header X-S s always; add_header X-N n; } }`, Options{})
	e2.Reject(400, conn, &p)
	if got := fields(&p, "X-H", "X-S", "X-N"); p.Status != 400 || got != "X-S: s" {
		t.Errorf("Reject: %d %q, want 400 %q", p.Status, got, "X-S: s")
	}
}

func TestAddHeaderProxy(t *testing.T) {
	e := confEngine(t, map[string]string{"err.html": "error page"}, addHeaderConf, Options{})
	var p Plan
	for _, tt := range []struct {
		status int
		want   string
	}{
		{200, "X-Up: u | X-P: 200 | X-P-Always: pa"},
		{304, "X-Up: u | X-P: 304 | X-P-Always: pa"},
		{404, "X-Up: u | X-P-Always: pa"},
		{502, "X-Up: u | X-P-Always: pa"},
	} {
		e.Serve(request("GET", "/proxy/x", "Host", "example.com"), conn, &p)
		x := p.Proxy
		if x == nil {
			t.Fatal("no proxy plan")
		}
		if got := fields(&p, added...); got != "" {
			t.Errorf("proxy plan before the response has %q", got)
		}
		x.Next()
		if x.Response(&http1.Response{Status: tt.status, ContentLength: 0, Header: http1.Header{{Name: []byte("X-Up"), Value: []byte("u")}}}) {
			t.Fatal("retry")
		}
		x.Done()
		if got := fields(&p, append([]string{"X-Up"}, added...)...); p.Status != tt.status || got != tt.want {
			t.Errorf("upstream %d: %d %q, want %q", tt.status, p.Status, got, tt.want)
		}
	}
	// An upstream that fails: the 502 error page gets the always lines.
	e.Serve(request("GET", "/proxy/x", "Host", "example.com"), conn, &p)
	x := p.Proxy
	x.Next()
	if x.Failed(upstream.FailError, false) {
		if _, ok := x.Next(); ok {
			t.Fatal("another attempt with one peer")
		}
	}
	if got := fields(&p, added...); p.Status != 502 || got != "X-P-Always: pa" {
		t.Errorf("failed upstream: %d %q, want 502 %q", p.Status, got, "X-P-Always: pa")
	}
	// error_page 502 =200 after a failure: the error page's location.
	e.Serve(request("GET", "/proxyep/x", "Host", "example.com"), conn, &p)
	x = p.Proxy
	x.Next()
	if x.Failed(upstream.FailError, false) {
		if _, ok := x.Next(); ok {
			t.Fatal("another attempt with one peer")
		}
	}
	if got := fields(&p, added...); p.Status != 200 || got != "X-Err: e | X-Err-Safe: s" {
		t.Errorf("error_page after a failure: %d %q, want 200 %q", p.Status, got, "X-Err: e | X-Err-Safe: s")
	}
	p.CloseFile()
}

func TestAddHeaderCGI(t *testing.T) {
	e := confEngine(t, nil, addHeaderConf, Options{})
	var p Plan
	for _, tt := range []struct {
		out    string
		status int
		want   string
	}{
		{"Content-Type: text/plain\r\nX-Script: s\r\n\r\nbody", 200, "X-Script: s | X-C: 200 | X-C-Always: ca"},
		{"Status: 201 Created\n\n", 201, "X-C: 201 | X-C-Always: ca"},
		{"Location: http://example.org/\n\n", 302, "X-C: 302 | X-C-Always: ca"},
		{"Status: 500 Oops\nX-Script: s\n\n", 500, "X-Script: s | X-C-Always: ca"},
		{"no header block", 502, "X-C-Always: ca"},
	} {
		e.Serve(request("GET", "/cgi/x", "Host", "example.com"), conn, &p)
		x := p.CGI
		if x == nil {
			t.Fatal("no CGI plan")
		}
		if got := fields(&p, added...); got != "" {
			t.Errorf("CGI plan before the response has %q", got)
		}
		x.Response([]byte(tt.out))
		if got := fields(&p, append([]string{"X-Script"}, added...)...); p.Status != tt.status || got != tt.want {
			t.Errorf("CGI output %q: %d %q, want %d %q", tt.out, p.Status, got, tt.status, tt.want)
		}
	}
	e.Serve(request("GET", "/cgi/x", "Host", "example.com"), conn, &p)
	p.CGI.Failed("timed out", true)
	if got := fields(&p, added...); p.Status != 504 || got != "X-C-Always: ca" {
		t.Errorf("CGI timeout: %d %q, want 504 %q", p.Status, got, "X-C-Always: ca")
	}
}
