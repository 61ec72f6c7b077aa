package engine

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/c10k/c10k/servers/config"
	"github.com/c10k/c10k/servers/http1"
)

// confEngine builds an Engine from config text; "ROOT" in src stands for
// a temp directory holding files.
func confEngine(t *testing.T, files map[string]string, src string, opts Options) *Engine {
	t.Helper()
	root := docroot(t, files)
	src = strings.ReplaceAll(src, "ROOT", root)
	cfg, err := config.Parse(filepath.Join(root, "site.conf"), []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return newEngine(t, cfg.HTTP, opts)
}

func TestKeepaliveSetOverride(t *testing.T) {
	src := `http { server { server_name example.com;
		location /def/ { return 204; }
		location /set75/ { keepalive_timeout 75s; return 204; }
		location /set10/ { keepalive_timeout 10s; return 204; location /set10/in/ { return 204; } }
	} }`
	plain := confEngine(t, nil, src, Options{})
	apache := confEngine(t, nil, src, Options{KeepaliveTimeout: 5 * time.Second})
	tests := []struct {
		name   string
		e      *Engine
		target string
		want   time.Duration
	}{
		{"nginx default", plain, "/def/", 75 * time.Second},
		{"core default replaces unset", apache, "/def/", 5 * time.Second},
		{"explicit 75s kept", apache, "/set75/", 75 * time.Second},
		{"explicit 10s kept", apache, "/set10/", 10 * time.Second},
		{"inherited explicit kept", apache, "/set10/in/", 10 * time.Second},
		{"explicit without override", plain, "/set10/", 10 * time.Second},
	}
	var p Plan
	for _, tt := range tests {
		tt.e.Serve(request("GET", tt.target, "Host", "example.com"), conn, &p)
		if !p.KeepAlive || p.KeepaliveTimeout != tt.want {
			t.Errorf("%s: KeepAlive %v, timeout %v; want %v", tt.name, p.KeepAlive, p.KeepaliveTimeout, tt.want)
		}
	}
}

func TestAutoRedirect(t *testing.T) {
	e := confEngine(t, map[string]string{"app": "a file named app"}, `http { server { server_name example.com; root ROOT;
		location / {}
		location /app/ { proxy_pass http://127.0.0.1:8080; }
		location = /exact { return 200 exact; }
		location /exact/ { proxy_pass http://127.0.0.1:8080; }
		location /big/ { client_max_body_size 10; proxy_pass http://127.0.0.1:8080; }
		location /static/ {}
		location /fallback/ { try_files $uri /app; }
	} }`, Options{})
	tests := []struct {
		name, method, target string
		status               int
		location             string
		proxy                bool
	}{
		{"redirect", "GET", "/app", 301, "http://example.com/app/", false},
		{"query kept", "GET", "/app?a=1&b=2", 301, "http://example.com/app/?a=1&b=2", false},
		{"HEAD too", "HEAD", "/app", 301, "http://example.com/app/", false},
		{"POST too", "POST", "/app", 301, "http://example.com/app/", false},
		{"with slash", "GET", "/app/", 0, "", true},
		{"below", "GET", "/app/x", 0, "", true},
		{"exact location wins", "GET", "/exact", 200, "", false},
		{"no proxy_pass, no redirect", "GET", "/static", 404, "", false},
		{"413 before redirect", "POST", "/big", 413, "", false},
		{"internal redirect", "GET", "/fallback/none", 301, "http://example.com/app/", false},
	}
	var p Plan
	for _, tt := range tests {
		req := request(tt.method, tt.target, "Host", "example.com")
		if tt.name == "413 before redirect" {
			req.ContentLength = 100
		}
		e.Serve(req, conn, &p)
		if (p.Proxy != nil) != tt.proxy || !tt.proxy && p.Status != tt.status || header(&p, "Location") != tt.location {
			t.Errorf("%s: %s %s = %s (proxy %v); want %d Location %q (proxy %v)",
				tt.name, tt.method, tt.target, result(&p), p.Proxy != nil, tt.status, tt.location, tt.proxy)
		}
		if p.File != nil {
			p.File.Close()
		}
	}
}

func TestRegexCaptures(t *testing.T) {
	e := confEngine(t, map[string]string{"files/a.txt": "A", "files/b/c.txt": "C", "t/x.txt": "X"}, `http { server { server_name example.com; root ROOT;
		location ~ ^/r/(\w+)/(?P<ID>\d+)$ { return 200 "$1-$id-${2}-$3-$0"; }
		location ~ ^/go/(.*)$ { return 302 /to/$1?$args; }
		location ~ ^/img/(.+)$ { alias ROOT/files/$1; }
		location ~ ^/d/x(.*)$ { alias ROOT/files/$1; }
		location ~ ^/t/(\w+)$ { try_files /$1.txt =404; root ROOT/t; }
		location ~ ^/p/(?<user>\w+)$ { proxy_pass http://127.0.0.1:8080; proxy_set_header X-User $user; proxy_set_header X-One $1; }
		location ~ ^/n/(\w+)/ { location ~ \.txt$ { return 200 "nested $1"; } }
		location ~ ^/opt/(a)?(b)$ { return 200 "[$1][$2]"; }
		location /plain/ { return 200 "[$1]"; }
	} }`, Options{})
	tests := []struct {
		target string
		status int
		body   string
		header map[string]string
	}{
		{"/r/abc/42", 200, "abc-42-42--/r/abc/42", nil},
		{"/go/x/y?q=1", 302, "", map[string]string{"Location": "http://example.com/to/x/y?q=1"}},
		{"/img/a.txt", 200, "A", nil},
		{"/img/b/c.txt", 200, "C", nil},
		{"/d/x..", 404, "", nil},
		{"/t/x", 200, "X", nil},
		{"/t/none", 404, "", nil},
		{"/n/in/x.txt", 200, "nested in", nil},
		{"/opt/b", 200, "[][b]", nil},
		{"/plain/", 200, "[]", nil},
	}
	var p Plan
	for _, tt := range tests {
		e.Serve(request("GET", tt.target, "Host", "example.com"), conn, &p)
		got := body(t, &p)
		if p.Status != tt.status || tt.body != "" && got != tt.body {
			t.Errorf("GET %s = %s %q, want %d %q", tt.target, result(&p), got, tt.status, tt.body)
		}
		for k, v := range tt.header {
			if h := header(&p, k); h != v {
				t.Errorf("GET %s: %s %q, want %q", tt.target, k, h, v)
			}
		}
	}

	e.Serve(request("GET", "/p/bob", "Host", "example.com"), conn, &p)
	if p.Proxy == nil {
		t.Fatalf("GET /p/bob = %s, want a proxy plan", result(&p))
	}
	head := string(p.Proxy.Head())
	if !containsAll(head, "X-User: bob\r\n", "X-One: bob\r\n") {
		t.Errorf("proxy head %q lacks the captures", head)
	}
}

func TestPages(t *testing.T) {
	e := confEngine(t, nil, `http { server { server_name example.com;
		location = /302 { return 302 /x; }
		location = /401 { return 401; }
		location = /497 { return 497; }
		location = /418 { return 418; }
	} }`, Options{})
	page := func(title, h1 string, extra string) string {
		return "<html>\r\n<head><title>" + title + "</title></head>\r\n<body>\r\n<center><h1>" + h1 +
			"</h1></center>\r\n" + extra + "<hr><center>c10k</center>\r\n</body>\r\n</html>\r\n"
	}
	tests := []struct {
		target string
		status int
		body   string
	}{
		{"/302", 302, page("302 Found", "302 Found", "")},
		{"/401", 401, page("401 Authorization Required", "401 Authorization Required", "")},
		{"/497", 400, page("400 The plain HTTP request was sent to HTTPS port", "400 Bad Request",
			"<center>The plain HTTP request was sent to HTTPS port</center>\r\n")},
		{"/418", 418, ""},
	}
	var p Plan
	for _, tt := range tests {
		e.Serve(request("GET", tt.target, "Host", "example.com"), conn, &p)
		if got := body(t, &p); p.Status != tt.status || got != tt.body {
			t.Errorf("GET %s = %d %q, want %d %q", tt.target, p.Status, got, tt.status, tt.body)
		}
	}
	for _, code := range pageCodes {
		if http1.StatusText(code) == "" {
			t.Errorf("http1.StatusText(%d) is empty", code)
		}
	}
}

// TestServerNameCaptures checks that the captures of a regex server_name
// are variables, named and numbered, and that a location regex with
// groups takes over the numbered ones, as in nginx.
func TestServerNameCaptures(t *testing.T) {
	e := confEngine(t, map[string]string{"sites/blog/index.html": "blog"}, `http {
		server { server_name default.test; return 200 default; }
		server {
			server_name ~^(?<d>.+)\.example\.com$;
			root ROOT/sites/$d;
			location = /vars { return 200 "$d $1"; }
			location ~ ^/re/(.+)$ { return 200 "$d $1"; }
			location ~ ^/nogroup$ { return 200 "$d $1"; }
		}
	}`, Options{})
	tests := []struct {
		host, target string
		status       int
		body         string
	}{
		{"blog.example.com", "/vars", 200, "blog blog"},
		{"Blog.Example.COM:8080", "/vars", 200, "blog blog"},
		{"blog.example.com", "/re/x", 200, "blog x"},
		{"blog.example.com", "/nogroup", 200, "blog blog"},
		{"blog.example.com", "/", 200, "blog"},
		{"other.test", "/vars", 200, "default"},
	}
	var p Plan
	for _, tt := range tests {
		e.Serve(request("GET", tt.target, "Host", tt.host), conn, &p)
		if got := body(t, &p); p.Status != tt.status || got != tt.body {
			t.Errorf("%s%s = %d %q, want %d %q", tt.host, tt.target, p.Status, got, tt.status, tt.body)
		}
		if p.File != nil {
			p.File.Close()
		}
	}
}
