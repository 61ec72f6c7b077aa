package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"testing/fstest"
	"time"
)

// load loads src as site.conf, with files (name, content pairs) beside
// it, or fails t.
func load(t *testing.T, src string, files ...string) *Config {
	t.Helper()
	cfg, err := LoadFS(siteFS(src, files...), "site.conf")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// siteFS is a file system holding src as site.conf and files (name,
// content pairs) beside it.
func siteFS(src string, files ...string) fstest.MapFS {
	fsys := fstest.MapFS{"site.conf": {Data: []byte(src)}}
	for i := 0; i+1 < len(files); i += 2 {
		fsys[files[i]] = &fstest.MapFile{Data: []byte(files[i+1])}
	}
	return fsys
}

// wantLoadError fails t unless loading site.conf from fsys fails with
// exactly want, as a *Error.
func wantLoadError(t *testing.T, fsys fstest.MapFS, want string) {
	t.Helper()
	_, err := LoadFS(fsys, "site.conf")
	if err == nil {
		t.Fatalf("no error, want %s", want)
	}
	if err.Error() != want {
		t.Errorf("error\n got %s\nwant %s", err, want)
	}
	if _, ok := errors.AsType[*Error](err); !ok {
		t.Errorf("error %T is not a *Error", err)
	}
}

func TestIncludeGlob(t *testing.T) {
	cfg := load(t, "http {\ninclude sites/*.conf;\ninclude none/*.conf;\n}",
		"sites/b.conf", "server { server_name b; }",
		"sites/a.conf", "server { server_name a; }",
		"sites/c.txt", "bogus;")
	var names []string
	for _, s := range cfg.HTTP.Servers {
		names = append(names, s.Names[0].Name)
	}
	if want := []string{"a", "b"}; !reflect.DeepEqual(names, want) {
		t.Errorf("servers %v, want %v (glob order)", names, want)
	}
}

func TestIncludeRelativeToMainFile(t *testing.T) {
	// Includes resolve against the main file's directory, even from an
	// included file in another directory.
	fsys := fstest.MapFS{
		"etc/site.conf":       {Data: []byte("http {\ninclude conf.d/a.conf;\n}")},
		"etc/conf.d/a.conf":   {Data: []byte("include snippets/s.conf;")},
		"etc/snippets/s.conf": {Data: []byte("server { listen 81; }")},
		"abs.conf":            {Data: []byte("server { listen 82; }")},
	}
	cfg, err := LoadFS(fsys, "etc/site.conf")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.HTTP.Servers[0].Listens[0].Addr; got != "*:81" {
		t.Errorf("listen %q", got)
	}
	if cfg.Prefix != "etc" {
		t.Errorf("Prefix %q", cfg.Prefix)
	}
	fsys["etc/site.conf"] = &fstest.MapFile{Data: []byte("http {\ninclude /abs.conf;\n}")}
	if cfg, err = LoadFS(fsys, "etc/site.conf"); err != nil {
		t.Fatal(err)
	}
	if got := cfg.HTTP.Servers[0].Listens[0].Addr; got != "*:82" {
		t.Errorf("listen %q", got)
	}
}

func TestIncludeDisk(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("nginx.conf", "http {\ninclude mime.types;\ninclude conf.d/*.conf;\ninclude "+filepath.Join(dir, "abs.conf")+";\n}")
	write("mime.types", "types { text/x-own own; }")
	write("conf.d/a.conf", "server { listen 8001; root www; location /a/ { alias /data/a/; } }")
	write("abs.conf", "server { listen 8002; }")
	cfg, err := Load(filepath.Join(dir, "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.HTTP.Servers) != 2 {
		t.Fatalf("%d servers", len(cfg.HTTP.Servers))
	}
	s := cfg.HTTP.Servers[0]
	if want := map[string]string{"own": "text/x-own"}; !reflect.DeepEqual(s.Loc.Types, want) {
		t.Errorf("Types = %v, want the file's table %v", s.Loc.Types, want)
	}
	if s.Loc.Root != filepath.Join(dir, "www") {
		t.Errorf("Root = %q, want it resolved against %q", s.Loc.Root, dir)
	}
	if a := s.Locations[0].Alias; a != "/data/a/" {
		t.Errorf("Alias = %q", a)
	}
	if cfg.Prefix != dir || cfg.Path("logs/access.log") != filepath.Join(dir, "logs/access.log") || cfg.Path("/x") != "/x" {
		t.Errorf("Prefix %q, Path %q", cfg.Prefix, cfg.Path("logs/access.log"))
	}

	// Parse reads includes from disk relative to the name's directory.
	cfg, err = Parse(filepath.Join(dir, "other.conf"), []byte("http { include conf.d/a.conf; }"))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.HTTP.Servers[0].Listens[0].Addr; got != "*:8001" {
		t.Errorf("Parse: listen %q", got)
	}
}

func TestBuiltinMimeTypes(t *testing.T) {
	m := builtinTypes()
	for ext, typ := range map[string]string{
		"html": "text/html", "htm": "text/html", "css": "text/css", "js": "application/javascript",
		"json": "application/json", "png": "image/png", "svg": "image/svg+xml", "woff2": "font/woff2",
		"bin": "application/octet-stream", "exe": "application/octet-stream", "mp4": "video/mp4", "avi": "video/x-msvideo",
		"docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	} {
		if m[ext] != typ {
			t.Errorf("builtin %q = %q, want %q", ext, m[ext], typ)
		}
	}
	if len(m) < 100 {
		t.Errorf("builtin table has %d entries", len(m))
	}

	// include mime.types without the file: the built-in copy, even from a
	// subdirectory path.
	cfg := load(t, "http {\ninclude conf/mime.types;\ntypes { application/wasm wasm; }\nserver {}\n}")
	types := cfg.HTTP.Servers[0].Loc.Types
	if types["html"] != "text/html" || types["wasm"] != "application/wasm" {
		t.Errorf("types from built-in mime.types plus a types block: html %q wasm %q", types["html"], types["wasm"])
	}
	// No types at all: the built-in table.
	cfg = load(t, "http { server {} }")
	if got := cfg.HTTP.Servers[0].Loc.Types; got["css"] != "text/css" {
		t.Errorf("default Types lacks css")
	}
	// A types block in a location replaces the inherited table.
	cfg = load(t, "http { server { location /x { types { text/plain html; } } } }")
	loc := cfg.HTTP.Servers[0].Locations[0]
	if want := map[string]string{"html": "text/plain"}; !reflect.DeepEqual(loc.Types, want) {
		t.Errorf("location Types = %v", loc.Types)
	}
}

func TestInheritance(t *testing.T) {
	cfg := load(t, `
http {
    keepalive_timeout 10s;
    proxy_set_header X-A a;
    error_page 404 /404.html;
    client_body_timeout 5s;
    server {
        keepalive_timeout 20s;
        proxy_set_header X-B b;
        proxy_set_header host $host;
        location /a/ {
            location /a/b/ {
                keepalive_timeout 0;
                proxy_set_header X-C c;
                error_page 500 =200 /500.html;
            }
        }
        location /c/ {
            proxy_pass http://127.0.0.1:9000;
            send_timeout 1s;
        }
    }
    server {
        return 404;
        location / {}
    }
    # http-level settings apply to servers before them, as nginx merges later.
    sendfile on;
}
`)
	s := cfg.HTTP.Servers[0]
	a := s.Locations[0]
	b := a.Locations[0]
	c := s.Locations[1]
	for _, tt := range []struct {
		name string
		got  time.Duration
		want time.Duration
	}{
		{"server keepalive", s.Loc.KeepaliveTimeout, 20 * time.Second},
		{"location keepalive", a.KeepaliveTimeout, 20 * time.Second},
		{"nested keepalive", b.KeepaliveTimeout, 0},
		{"server body timeout", s.ClientBodyTimeout, 5 * time.Second},
		{"location send timeout", c.SendTimeout, time.Second},
		{"server send timeout", s.SendTimeout, 60 * time.Second},
	} {
		if tt.got != tt.want {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	headers := func(l *Location) []string {
		var hs []string
		for _, h := range l.ProxySetHeaders {
			hs = append(hs, h.Name+"="+h.Value.Raw)
		}
		return hs
	}
	if got, want := headers(a), []string{"X-B=b", "host=$host", "Connection=close"}; !reflect.DeepEqual(got, want) {
		t.Errorf("/a/ headers %v, want %v", got, want)
	}
	if got, want := headers(b), []string{"X-C=c", "Host=$proxy_host", "Connection=close"}; !reflect.DeepEqual(got, want) {
		t.Errorf("/a/b/ headers %v, want %v", got, want)
	}
	if got, want := headers(cfg.HTTP.Servers[1].Locations[0]), []string{"X-A=a", "Host=$proxy_host", "Connection=close"}; !reflect.DeepEqual(got, want) {
		t.Errorf("second server headers %v, want %v", got, want)
	}
	if p := a.ErrorPages[404]; p == nil || p.URI.Raw != "/404.html" || p.Response != -1 {
		t.Errorf("/a/ error_page 404 = %+v", p)
	}
	if b.ErrorPages[404] != nil || b.ErrorPages[500] == nil || b.ErrorPages[500].Response != 200 {
		t.Errorf("/a/b/ error pages %v: a level's error_page replaces the inherited ones", b.ErrorPages)
	}
	if !s.Loc.Sendfile || !b.Sendfile {
		t.Error("sendfile on at http level after the servers not inherited")
	}
	if c.ProxyPass == nil || a.ProxyPass != nil || b.ProxyPass != nil {
		t.Error("proxy_pass must not be inherited")
	}
	s2 := cfg.HTTP.Servers[1]
	if s2.Loc.Return == nil || s2.Loc.Return.Code != 404 || s2.Locations[0].Return != nil {
		t.Errorf("return: server %+v, location %+v (not inherited)", s2.Loc.Return, s2.Locations[0].Return)
	}
}

func TestServerNames(t *testing.T) {
	cfg := load(t, `http { server { server_name Example.COM *.Example.org .example.net www.example.* ~^(?<sub>\w+)\.test$ ~^A\.test$ "" _; } }`)
	names := cfg.HTTP.Servers[0].Names
	want := []struct {
		kind NameKind
		name string
		dot  bool
	}{
		{NameExact, "example.com", false},
		{NameSuffix, ".example.org", false},
		{NameSuffix, ".example.net", true},
		{NamePrefix, "www.example.", false},
		{NameRegex, `^(?<sub>\w+)\.test$`, false},
		{NameRegex, `^A\.test$`, false},
		{NameExact, "", false},
		{NameExact, "_", false},
	}
	if len(names) != len(want) {
		t.Fatalf("%d names, want %d", len(names), len(want))
	}
	for i, w := range want {
		n := names[i]
		if n.Kind != w.kind || n.Name != w.name || n.Dot != w.dot || (n.Regex != nil) != (w.kind == NameRegex) {
			t.Errorf("name %d = %+v, want %+v", i, n, w)
		}
	}
	if !names[4].Regex.MatchString("abc.test") || names[4].Regex.MatchString("ABC.TEST") {
		t.Error("lower-case regex must be case-sensitive (nginx)")
	}
	if !names[5].Regex.MatchString("a.test") {
		t.Error("regex with upper case must be case-insensitive (nginx)")
	}
	// Named captures are variables.
	load(t, `http { server { server_name ~^(?<sub>\w+)\.test$; return 200 $sub; } }`)
	// Default name.
	cfg = load(t, "http { server {} }")
	if got := cfg.HTTP.Servers[0].Names; len(got) != 1 || got[0] != (ServerName{}) {
		t.Errorf("default names %+v", got)
	}
}

func TestListen(t *testing.T) {
	tests := []struct {
		in   string
		want Listen
	}{
		{"80", Listen{Addr: "*:80", Backlog: 511}},
		{"8080 default_server", Listen{Addr: "*:8080", Backlog: 511, DefaultServer: true}},
		{"127.0.0.1", Listen{Addr: "127.0.0.1:80", Backlog: 511}},
		{"*:81 backlog=16 reuseport", Listen{Addr: "*:81", Backlog: 16, ReusePort: true}},
		{"0.0.0.0:82", Listen{Addr: "*:82", Backlog: 511}},
		{"*", Listen{Addr: "*:80", Backlog: 511}},
		{"[::]:80", Listen{Addr: "[::]:80", Backlog: 511}},
		{"[::1]", Listen{Addr: "[::1]:80", Backlog: 511}},
		{"localhost:8080", Listen{Addr: "localhost:8080", Backlog: 511}},
		// Port 0 (an ephemeral port) is a c10k extension for tests.
		{"127.0.0.1:0", Listen{Addr: "127.0.0.1:0", Backlog: 511}},
		{"*:0", Listen{Addr: "*:0", Backlog: 511}},
		{"0", Listen{Addr: "*:0", Backlog: 511}},
		{"[::1]:0", Listen{Addr: "[::1]:0", Backlog: 511}},
	}
	for _, tt := range tests {
		cfg := load(t, "http { server {\nlisten "+tt.in+";\n} }")
		got := cfg.HTTP.Servers[0].Listens[0]
		got.Pos = Pos{}
		if got != tt.want {
			t.Errorf("listen %s = %+v, want %+v", tt.in, got, tt.want)
		}
	}
	// Socket options set on one listen apply to every server on the address.
	cfg := load(t, "http {\nserver { listen 80; }\nserver { listen 80 backlog=64 reuseport; }\nserver { }\n}")
	for i, s := range cfg.HTTP.Servers {
		if l := s.Listens[0]; l.Backlog != 64 || !l.ReusePort {
			t.Errorf("server %d: %+v", i, l)
		}
	}
}

func TestProxyPassAndReturn(t *testing.T) {
	cfg := load(t, `
http {
    server {
        location /a/ { proxy_pass http://Backend; }
        location /b/ { proxy_pass http://127.0.0.1:8081/x/; }
        location /c/ { proxy_pass http://localhost; }
        location /d/ { proxy_pass http://[::1]; }
        location /e/ { proxy_pass http://app.internal:9000; }
        location /f/ { return 301 $scheme://example.com$request_uri; }
        location /g/ { return https://example.com; }
        location /h/ { return 204; }
        location ~ ^/i/(\d+)$ { return 200 "id $1"; }
    }
    upstream backend { server 127.0.0.1:8080; }
}`)
	locs := cfg.HTTP.Servers[0].Locations
	for i, want := range []ProxyPass{
		{Scheme: "http", Host: "Backend", Upstream: "backend"},
		{Scheme: "http", Host: "127.0.0.1:8081", Addr: "127.0.0.1:8081", Addrs: []string{"127.0.0.1:8081"}, URI: "/x/", HasURI: true},
		{Scheme: "http", Host: "localhost", Addr: "localhost:80", Addrs: []string{"127.0.0.1:80"}},
		{Scheme: "http", Host: "[::1]", Addr: "[::1]:80", Addrs: []string{"[::1]:80"}},
		{Scheme: "http", Host: "app.internal:9000", Addr: "app.internal:9000", Addrs: []string{"10.0.0.5:9000"}},
	} {
		got := *locs[i].ProxyPass
		got.Pos = Pos{}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %+v, want %+v", locs[i].Path, got, want)
		}
	}
	for i, want := range []Return{
		{Code: 301, Text: Template{Raw: "$scheme://example.com$request_uri"}},
		{Code: 302, Text: Template{Raw: "https://example.com"}},
		{Code: 204},
		{Code: 200, Text: Template{Raw: "id $1"}},
	} {
		got := locs[5+i].Return
		if got == nil || got.Code != want.Code || got.Text.Raw != want.Text.Raw {
			t.Errorf("%s: %+v, want %+v", locs[5+i].Path, got, want)
		}
	}
}

func TestLocations(t *testing.T) {
	cfg := load(t, `http { server {
        location / {}
        location = /x {}
        location =/y {}
        location ^~ /z/ {}
        location ~ \.php$ {}
        location ~* \.JPG$ {}
        location ~\.gif$ {}
        location @named {}
        location /a/ { location ~ \.png$ {} location /a/b/ {} }
    } }`)
	want := []struct {
		m    MatchKind
		path string
	}{
		{MatchPrefix, "/"}, {MatchExact, "/x"}, {MatchExact, "/y"}, {MatchPrefixFinal, "/z/"},
		{MatchRegex, `\.php$`}, {MatchRegexFold, `\.JPG$`}, {MatchRegex, `\.gif$`}, {MatchNamed, "@named"}, {MatchPrefix, "/a/"},
	}
	locs := cfg.HTTP.Servers[0].Locations
	if len(locs) != len(want) {
		t.Fatalf("%d locations", len(locs))
	}
	for i, w := range want {
		if locs[i].Match != w.m || locs[i].Path != w.path {
			t.Errorf("location %d = %v %q, want %v %q", i, locs[i].Match, locs[i].Path, w.m, w.path)
		}
	}
	if !locs[5].Regex.MatchString("/a.jpg") || locs[4].Regex.MatchString("/a.PHP") {
		t.Error("~* must fold case and ~ must not")
	}
	if n := len(locs[8].Locations); n != 2 {
		t.Errorf("%d nested locations", n)
	}
}

func TestMainDirectives(t *testing.T) {
	cfg := load(t, "worker_processes 4;\nevents { worker_connections 1024; }\nerror_log stderr;\npid x.pid;\n")
	if cfg.WorkerProcesses != 4 || cfg.WorkerConnections != 1024 || cfg.ErrorLog != "stderr" || cfg.ErrorLogLevel != "error" || cfg.PID != "x.pid" || cfg.HTTP != nil {
		t.Errorf("%+v", cfg)
	}
	cfg = load(t, "")
	if cfg.WorkerProcesses != 1 || cfg.WorkerConnections != 512 || cfg.ErrorLog != "logs/error.log" {
		t.Errorf("defaults %+v", cfg)
	}
}
