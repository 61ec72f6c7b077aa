package engine

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/c10k/c10k/servers/config"
)

func handlersEngine(t *testing.T) *Engine {
	root := docroot(t, map[string]string{
		"index.html": "home", "a.txt": "A", "dir/index.html": "dir", "50x.html": "oops page",
		"app/index.txt": "app", "named.txt": "named", "ep/": "",
	})
	srv := defServer(root, "example.com")
	b := srv.Loc
	ret := func(code int, text string) func(*config.Location) {
		return func(l *config.Location) { l.Return = &config.Return{Code: code, Text: tpl(text)} }
	}
	srv.Locations = []*config.Location{
		with(b, config.MatchPrefix, "/", nil),
		with(b, config.MatchExact, "/r301", ret(301, "/new?u=$uri")),
		with(b, config.MatchExact, "/r302abs", ret(302, "https://other.example/$arg_x")),
		with(b, config.MatchExact, "/r200", ret(200, "hello $remote_addr $host $request_method")),
		with(b, config.MatchExact, "/r204", ret(204, "")),
		with(b, config.MatchExact, "/r403", func(l *config.Location) {
			l.Return = &config.Return{Code: 403}
			l.ErrorPages = map[int]*config.ErrorPage{403: {URI: tpl("/50x.html"), Response: -1}}
		}),
		with(b, config.MatchExact, "/r444", ret(444, "")),
		with(b, config.MatchExact, "/inject", ret(302, "/x$uri")),
		with(b, config.MatchPrefix, "/ep/", func(l *config.Location) {
			l.ErrorPages = map[int]*config.ErrorPage{
				404: {URI: tpl("/50x.html"), Response: 200},
				403: {URI: tpl("@named"), Response: 0},
				405: {URI: tpl("http://errors.example/405"), Response: -1},
				500: {URI: tpl("/missing.html"), Response: -1},
			}
		}),
		with(b, config.MatchPrefix, "/tf/", func(l *config.Location) {
			l.TryFiles = []string{"$uri", "$uri/", "/app/index.txt"}
		}),
		with(b, config.MatchPrefix, "/tfc/", func(l *config.Location) { l.TryFiles = []string{"$uri", "=418"} }),
		with(b, config.MatchPrefix, "/tfn/", func(l *config.Location) { l.TryFiles = []string{"/nothing", "@named"} }),
		with(b, config.MatchPrefix, "/loop/", func(l *config.Location) { l.TryFiles = []string{"/nothing", "/loop/again"} }),
		with(b, config.MatchPrefix, "/big/", func(l *config.Location) { l.ClientMaxBodySize = 10 }),
		with(b, config.MatchPrefix, "/nokeep/", func(l *config.Location) { l.KeepaliveTimeout = 0 }),
		with(b, config.MatchNamed, "@named", ret(200, "from named $uri")),
	}
	other := defServer(root, "other.test")
	other.Locations = []*config.Location{with(other.Loc, config.MatchPrefix, "/", ret(200, "other $server_name"))}
	local := defServer(root, "local")
	local.Listens = []config.Listen{{Addr: "127.0.0.1:8080"}}
	local.Loc.Return = &config.Return{Code: 200, Text: tpl("8080 $server_port")}
	return newEngine(t, &config.HTTP{Servers: []*config.Server{srv, other, local}}, Options{})
}

func TestHandlers(t *testing.T) {
	e := handlersEngine(t)
	tests := []struct {
		name, method, target string
		fields               []string
		local                string
		status               int
		body                 string
		want                 map[string]string
	}{
		{"return 301 relative", "GET", "/r301", nil, "", 301, "<html>", map[string]string{"Location": "http://example.com/new?u=/r301"}},
		{"return 301 port", "GET", "/r301", []string{"Host", "example.com:8080"}, "127.0.0.1:8080", 200, "8080 8080", nil},
		{"return 302 abs", "GET", "/r302abs?x=q", nil, "", 302, "", map[string]string{"Location": "https://other.example/q"}},
		{"return text", "GET", "/r200", nil, "", 200, "hello 192.0.2.7 example.com GET", map[string]string{"Content-Type": "text/plain"}},
		{"return 204", "GET", "/r204", nil, "", 204, "", nil},
		{"return 403 error_page", "GET", "/r403", nil, "", 403, "oops page", nil},
		{"return 444", "GET", "/r444", nil, "", 444, "", nil},
		{"location no CRLF injection", "GET", "/inject%0d%0aSet-Cookie:%20x", nil, "", 404, "", nil},
		{"error_page =200", "GET", "/ep/missing", nil, "", 200, "oops page", nil},
		{"error_page named =", "GET", "/ep/", nil, "", 200, "from named /ep/", nil},
		{"error_page redirect", "DELETE", "/ep/x", nil, "", 302, "", map[string]string{"Location": "http://errors.example/405"}},
		{"try_files file", "GET", "/tf/../a.txt", nil, "", 200, "A", nil},
		{"try_files fallback", "GET", "/tf/none", nil, "", 200, "app", nil},
		{"try_files code", "GET", "/tfc/none", nil, "", 418, "", nil},
		{"try_files named", "GET", "/tfn/x", nil, "", 200, "from named /tfn/x", nil},
		{"redirect cycle", "GET", "/loop/x", nil, "", 500, "", nil},
		{"vhost other", "GET", "/", []string{"Host", "OTHER.test."}, "", 200, "other other.test", nil},
		{"vhost default", "GET", "/a.txt", []string{"Host", "unknown"}, "", 200, "A", nil},
		{"no host 1.1", "GET", "/a.txt", []string{"X", "y"}, "", 400, "", nil},
		{"too large", "POST", "/big/x", []string{"Host", "example.com", "Content-Length", "11"}, "", 413, "", nil},
	}
	var p Plan
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fields := tt.fields
			if fields == nil {
				fields = []string{"Host", "example.com"}
			}
			req := request(tt.method, tt.target, fields...)
			for i := 0; i+1 < len(fields); i += 2 {
				if fields[i] == "Content-Length" {
					req.ContentLength = 11
				}
			}
			c := conn
			if tt.local != "" {
				c.Local = netip.MustParseAddrPort(tt.local)
				c.Listener = listenerIndex(t, e, tt.local)
			}
			e.Serve(req, c, &p)
			if p.Status != tt.status {
				t.Fatalf("status %d, want %d (%s) %q", p.Status, tt.status, result(&p), p.Body)
			}
			if got := body(t, &p); tt.body != "" && !strings.HasPrefix(got, tt.body) {
				t.Errorf("body %q, want %q", got, tt.body)
			}
			for k, v := range tt.want {
				if got := header(&p, k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			for _, f := range p.Header {
				if strings.ContainsAny(string(f.Value), "\r\n\x00") {
					t.Errorf("header %s has CR/LF/NUL: %q", f.Name, f.Value)
				}
			}
		})
	}
	e.Serve(request("GET", "/r444", "Host", "example.com"), conn, &p)
	if !p.Close || p.KeepAlive {
		t.Errorf("444: Close %v KeepAlive %v", p.Close, p.KeepAlive)
	}
}

// listenerIndex returns the index of the listener with address addr.
func listenerIndex(t *testing.T, e *Engine, addr string) int {
	t.Helper()
	for i, l := range e.Listeners() {
		if l.Addr == addr {
			return i
		}
	}
	t.Fatalf("no listener %s in %+v", addr, e.Listeners())
	return -1
}

// TestEphemeralListeners checks "listen ...:0": virtual servers are chosen
// by the configured listener, while $server_port and redirects use the
// port the core really bound.
func TestEphemeralListeners(t *testing.T) {
	root := docroot(t, map[string]string{"dir/index.html": "dir"})
	mk := func(addr, name string) *config.Server {
		s := defServer(root, name)
		s.Listens = []config.Listen{{Addr: addr}}
		s.Locations = []*config.Location{
			with(s.Loc, config.MatchPrefix, "/", nil),
			with(s.Loc, config.MatchExact, "/who", func(l *config.Location) {
				l.Return = &config.Return{Code: 200, Text: tpl("$server_name $server_addr:$server_port")}
			}),
		}
		return s
	}
	e := newEngine(t, &config.HTTP{Servers: []*config.Server{
		mk("127.0.0.1:0", "a.test"),
		mk("127.0.0.1:0", "b.test"),
		mk("127.0.0.2:0", "c.test"),
		mk("*:0", "w.test"),
		mk("*:80", "port80.test"),
	}}, Options{})
	tests := []struct {
		name     string
		listener string // configured address
		local    string // bound address
		host     string
		target   string
		status   int
		body     string
		location string
	}{
		{"default", "127.0.0.1:0", "127.0.0.1:40001", "unknown", "/who", 200, "a.test 127.0.0.1:40001", ""},
		{"by name", "127.0.0.1:0", "127.0.0.1:40001", "b.test", "/who", 200, "b.test 127.0.0.1:40001", ""},
		{"other address", "127.0.0.2:0", "127.0.0.2:40002", "b.test", "/who", 200, "c.test 127.0.0.2:40002", ""},
		{"wildcard", "0.0.0.0:0", "10.0.0.9:40003", "a.test", "/who", 200, "w.test 10.0.0.9:40003", ""},
		{"wildcard, explicit address", "0.0.0.0:0", "127.0.0.2:40003", "x", "/who", 200, "c.test 127.0.0.2:40003", ""},
		{"bound port in redirect", "127.0.0.1:0", "127.0.0.1:40001", "b.test", "/dir", 301, "", "http://b.test:40001/dir/"},
		{"port 80 unchanged", "0.0.0.0:80", "127.0.0.1:80", "port80.test", "/dir", 301, "", "http://port80.test/dir/"},
	}
	var p Plan
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := conn
			c.Local = netip.MustParseAddrPort(tt.local)
			c.Listener = listenerIndex(t, e, tt.listener)
			e.Serve(request("GET", tt.target, "Host", tt.host), c, &p)
			if p.Status != tt.status {
				t.Fatalf("status %d, want %d (%s)", p.Status, tt.status, result(&p))
			}
			if got := body(t, &p); tt.body != "" && got != tt.body {
				t.Errorf("body %q, want %q", got, tt.body)
			}
			if got := header(&p, "Location"); got != tt.location {
				t.Errorf("Location %q, want %q", got, tt.location)
			}
		})
	}
}

func TestReturnLocationEscaped(t *testing.T) {
	root := docroot(t, nil)
	srv := defServer(root, "example.com")
	srv.Locations = []*config.Location{with(srv.Loc, config.MatchPrefix, "/", func(l *config.Location) {
		l.Return = &config.Return{Code: 302, Text: tpl("/x$uri")}
	})}
	e := newEngine(t, &config.HTTP{Servers: []*config.Server{srv}}, Options{})
	var p Plan
	e.Serve(request("GET", "/a%0d%0aSet-Cookie:%20x", "Host", "example.com"), conn, &p)
	if got, want := header(&p, "Location"), "http://example.com/x/a%0D%0ASet-Cookie:%20x"; got != want {
		t.Errorf("Location %q, want %q", got, want)
	}
}

func TestKeepAlive(t *testing.T) {
	e := handlersEngine(t)
	eApache := newEngine(t, &config.HTTP{Servers: e.cfg.HTTP.Servers}, Options{KeepaliveTimeout: 5 * time.Second})
	tests := []struct {
		name     string
		e        *Engine
		target   string
		fields   []string
		requests int
		minor    int
		want     bool
		timeout  time.Duration
	}{
		{"default", e, "/a.txt", nil, 0, 1, true, 75 * time.Second},
		{"override", eApache, "/a.txt", nil, 0, 1, true, 5 * time.Second},
		{"client close", e, "/a.txt", []string{"Connection", "close"}, 0, 1, false, 75 * time.Second},
		{"last request", e, "/a.txt", nil, 999, 1, false, 75 * time.Second},
		{"before last", e, "/a.txt", nil, 998, 1, true, 75 * time.Second},
		{"timeout 0", e, "/nokeep/x", nil, 0, 1, false, 0},
		{"400 closes", e, "/%00", nil, 0, 1, false, 75 * time.Second},
		{"404 keeps", e, "/none", nil, 0, 1, true, 75 * time.Second},
		{"500 closes", e, "/loop/x", nil, 0, 1, false, 75 * time.Second},
		{"413 closes", e, "/big/", []string{"Content-Length", "100"}, 0, 1, false, 75 * time.Second},
	}
	var p Plan
	for _, tt := range tests {
		req := request("GET", tt.target, append([]string{"Host", "example.com"}, tt.fields...)...)
		if len(tt.fields) == 2 && tt.fields[0] == "Content-Length" {
			req.ContentLength = 100
		}
		tt.e.Serve(req, Conn{Local: conn.Local, Remote: conn.Remote, Requests: tt.requests}, &p)
		if p.KeepAlive != tt.want || (tt.want && p.KeepaliveTimeout != tt.timeout) {
			t.Errorf("%s: KeepAlive %v (%v), want %v (%v); status %d", tt.name, p.KeepAlive, p.KeepaliveTimeout, tt.want, tt.timeout, p.Status)
		}
		body(t, &p)
	}
}

func TestReject(t *testing.T) {
	e := handlersEngine(t)
	var p Plan
	e.Reject(414, conn, &p)
	if p.Status != 414 || p.KeepAlive || !strings.Contains(string(p.Body), "414 Request-URI Too Large") {
		t.Errorf("Reject: %s %q", result(&p), p.Body)
	}
}

func TestListeners(t *testing.T) {
	mk := func(addr string, def bool, buf int64) *config.Server {
		s := defServer("html")
		s.Listens = []config.Listen{{Addr: addr, DefaultServer: def, Backlog: 0}}
		s.ClientHeaderBufferSize = buf
		return s
	}
	srvs := []*config.Server{mk("*:80", false, 1), mk("80", true, 2), mk("127.0.0.1:8080", false, 3), mk("[::]:80", false, 4)}
	srvs[2].Listens[0].ReusePort = true
	srvs[2].Listens[0].Backlog = 100
	e := newEngine(t, &config.HTTP{Servers: srvs}, Options{})
	got := e.Listeners()
	want := []Listener{
		{Addr: "0.0.0.0:80", Backlog: 511, HeaderBufferSize: 2},
		{Addr: "127.0.0.1:8080", Backlog: 100, ReusePort: true, HeaderBufferSize: 3},
		{Addr: "[::]:80", Backlog: 511, HeaderBufferSize: 4},
	}
	if len(got) != len(want) {
		t.Fatalf("Listeners = %+v", got)
	}
	for i := range want {
		g := got[i]
		if g.Addr != want[i].Addr || g.Backlog != want[i].Backlog || g.ReusePort != want[i].ReusePort || g.HeaderBufferSize != want[i].HeaderBufferSize {
			t.Errorf("listener %d = %+v, want %+v", i, g, want[i])
		}
	}
}

// TestServerReturn checks that a server-level return runs before any
// location is matched (nginx's server rewrite phase), also for internal
// redirects to a URI, but not for those to a named location.
func TestServerReturn(t *testing.T) {
	root := docroot(t, map[string]string{"a.txt": "A", "err.html": "err page"})
	mk := func(r *config.Return, edit func(*config.Location)) *Engine {
		srv := defServer(root, "example.com")
		srv.Locations = []*config.Location{
			with(srv.Loc, config.MatchPrefix, "/", nil),
			with(srv.Loc, config.MatchExact, "/x", func(l *config.Location) {
				l.Return = &config.Return{Code: 200, Text: tpl("location x")}
			}),
			with(srv.Loc, config.MatchPrefix, "/small/", func(l *config.Location) { l.ClientMaxBodySize = 1 }),
			with(srv.Loc, config.MatchNamed, "@named", func(l *config.Location) {
				l.Return = &config.Return{Code: 200, Text: tpl("named")}
			}),
		}
		srv.Loc.Return = r
		if edit != nil {
			edit(srv.Loc)
		}
		return newEngine(t, &config.HTTP{Servers: []*config.Server{srv}}, Options{})
	}
	moved := &config.Return{Code: 301, Text: tpl("https://example.com$request_uri")}
	errPage := func(uri string) func(*config.Location) {
		return func(l *config.Location) {
			l.ErrorPages = map[int]*config.ErrorPage{403: {URI: tpl(uri), Response: -1}}
		}
	}
	tests := []struct {
		name          string
		e             *Engine
		target        string
		contentLength int64
		status        int
		body          string
		location      string
	}{
		{"no server return", mk(nil, nil), "/x", 0, 200, "location x", ""},
		{"before exact location", mk(moved, nil), "/x", 0, 301, "", "https://example.com/x"},
		{"before prefix location", mk(moved, nil), "/a.txt?q=1", 0, 301, "", "https://example.com/a.txt?q=1"},
		{"before body size check", mk(moved, nil), "/small/", 100, 301, "", "https://example.com/small/"},
		{"text", mk(&config.Return{Code: 200, Text: tpl("server $uri")}, nil), "/x", 0, 200, "server /x", ""},
		// The error_page's internal redirect meets the return again;
		// recursive_error_pages off, the built-in page answers.
		{"error_page to URI", mk(&config.Return{Code: 403}, errPage("/err.html")), "/x", 0, 403, "<html>", ""},
		{"error_page to named", mk(&config.Return{Code: 403}, errPage("@named")), "/x", 0, 403, "named", ""},
	}
	var p Plan
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := request("POST", tt.target, "Host", "example.com")
			req.ContentLength = tt.contentLength
			tt.e.Serve(req, conn, &p)
			if p.Status != tt.status {
				t.Fatalf("status %d, want %d (%s) %q", p.Status, tt.status, result(&p), p.Body)
			}
			if got := body(t, &p); tt.body != "" && !strings.HasPrefix(got, tt.body) {
				t.Errorf("body %q, want %q", got, tt.body)
			}
			if got := header(&p, "Location"); got != tt.location {
				t.Errorf("Location %q, want %q", got, tt.location)
			}
		})
	}
}

// TestSendfile checks that the plan carries the serving location's
// sendfile setting.
func TestSendfile(t *testing.T) {
	root := docroot(t, map[string]string{"on/a.txt": "A", "off/a.txt": "B"})
	srv := defServer(root, "example.com")
	srv.Locations = []*config.Location{
		with(srv.Loc, config.MatchPrefix, "/on/", func(l *config.Location) { l.Sendfile = true }),
		with(srv.Loc, config.MatchPrefix, "/off/", func(l *config.Location) { l.Sendfile = false }),
	}
	e := newEngine(t, &config.HTTP{Servers: []*config.Server{srv}}, Options{})
	tests := []struct {
		target string
		want   bool
	}{
		{"/on/a.txt", true},
		{"/off/a.txt", false},
		{"/on/a.txt", true}, // a reused plan does not keep the last value
	}
	var p Plan
	for _, tt := range tests {
		e.Serve(request("GET", tt.target, "Host", "example.com"), conn, &p)
		if p.File == nil || p.Sendfile != tt.want {
			t.Errorf("%s: File %v Sendfile %v, want a file with Sendfile %v", tt.target, p.File != nil, p.Sendfile, tt.want)
		}
		body(t, &p)
	}
}

func TestSoftware(t *testing.T) {
	tests := []struct{ opt, want string }{
		{"", "c10k"},
		{"Apache/2.4.62", "Apache/2.4.62"},
	}
	for _, tt := range tests {
		e := newEngine(t, &config.HTTP{Servers: []*config.Server{defServer("html")}}, Options{Software: tt.opt})
		if got := e.Software(); got != tt.want {
			t.Errorf("Software() with Options.Software %q = %q, want %q", tt.opt, got, tt.want)
		}
	}
}

// TestWildcardAndExplicitListen checks that a wildcard and an ip:port on
// the same port give one socket, the wildcard, and that connections to the
// ip still reach the ip:port's server, as nginx without "bind".
func TestWildcardAndExplicitListen(t *testing.T) {
	e := confEngine(t, nil, `http {
		server { listen 127.0.0.1:18090; return 200 specific; }
		server { listen 18090; return 200 wildcard; }
		server { listen 127.0.0.1:0; return 200 eph-specific; }
		server { listen 0; return 200 eph-wildcard; }
		server { listen [::1]:18090; return 200 v6; }
	}`, Options{})
	var addrs []string
	for _, l := range e.Listeners() {
		addrs = append(addrs, l.Addr)
	}
	if got, want := strings.Join(addrs, " "), "0.0.0.0:18090 127.0.0.1:0 0.0.0.0:0 [::1]:18090"; got != want {
		t.Fatalf("Listeners = %s, want %s", got, want)
	}
	tests := []struct {
		listener string
		local    string
		want     string
	}{
		{"0.0.0.0:18090", "127.0.0.1:18090", "specific"},
		{"0.0.0.0:18090", "192.0.2.1:18090", "wildcard"},
		{"127.0.0.1:0", "127.0.0.1:40001", "eph-specific"},
		{"0.0.0.0:0", "192.0.2.1:40002", "eph-wildcard"},
		{"[::1]:18090", "[::1]:18090", "v6"},
	}
	var p Plan
	for _, tt := range tests {
		c := conn
		c.Listener = listenerIndex(t, e, tt.listener)
		c.Local = netip.MustParseAddrPort(tt.local)
		e.Serve(request("GET", "/", "Host", "x"), c, &p)
		if string(p.Body) != tt.want {
			t.Errorf("%s via %s: %d %q, want %q", tt.local, tt.listener, p.Status, p.Body, tt.want)
		}
	}
}

// TestNoHostServer checks that a request without Host (HTTP/1.0) goes to
// the server named "" of its address, as nginx documents.
func TestNoHostServer(t *testing.T) {
	e := confEngine(t, nil, `http {
		server { listen 80 default_server; server_name a.test; return 200 default; }
		server { listen 80; server_name b.test ""; return 200 empty; }
		server { listen 8080; server_name c.test; return 200 c; }
	}`, Options{})
	tests := []struct {
		port uint16
		host string
		want string
	}{
		{80, "", "empty"},
		{80, "zzz", "default"},
		{8080, "", "c"},
	}
	var p Plan
	for _, tt := range tests {
		req := request("GET", "/")
		req.Minor = 0
		if tt.host != "" {
			req = request("GET", "/", "Host", tt.host)
		}
		c := conn
		c.Local = netip.AddrPortFrom(conn.Local.Addr(), tt.port)
		c.Listener = listenerIndex(t, e, "0.0.0.0:"+itoa(int(tt.port)))
		e.Serve(req, c, &p)
		if string(p.Body) != tt.want {
			t.Errorf("port %d host %q: %d %q, want %q", tt.port, tt.host, p.Status, p.Body, tt.want)
		}
	}
}
