package engine

import (
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/c10k/c10k/servers/config"
	"github.com/c10k/c10k/servers/http1"
	"github.com/c10k/c10k/servers/upstream"
)

func proxyEngine(t testing.TB, logs *[]string, now *time.Time) *Engine {
	srv := defServer("html", "example.com")
	b := srv.Loc
	pass := func(host, uri string, hasURI bool, edit func(*config.Location)) func(*config.Location) {
		return func(l *config.Location) {
			l.ProxyPass = &config.ProxyPass{Scheme: "http", Host: host, URI: uri, HasURI: hasURI}
			if edit != nil {
				edit(l)
			}
		}
	}
	srv.Locations = []*config.Location{
		with(b, config.MatchPrefix, "/name/", pass("127.0.0.1", "/remote/", true, nil)),
		with(b, config.MatchPrefix, "/plain/", pass("127.0.0.1:8080", "", false, nil)),
		with(b, config.MatchExact, "/exact", pass("127.0.0.1:8080", "/other", true, nil)),
		with(b, config.MatchRegex, `^/re/`, pass("127.0.0.1:8080", "/x/", true, nil)),
		with(b, config.MatchPrefix, "/set/", pass("app", "", false, func(l *config.Location) {
			l.ProxyHTTPVersion = "1.1"
			l.ProxySetHeaders = config.EffectiveProxyHeaders([]config.HeaderSet{
				{Name: "Host", Value: tpl("$host")},
				{Name: "X-Real-IP", Value: tpl("$remote_addr")},
				{Name: "X-Forwarded-For", Value: tpl("$proxy_add_x_forwarded_for")},
				{Name: "Connection", Value: tpl("")},
				{Name: "X-Uri", Value: tpl("$uri")},
				{Name: "User-Agent", Value: tpl("")},
			})
		})),
		with(b, config.MatchPrefix, "/app/", pass("app", "", false, func(l *config.Location) {
			l.ProxyNextUpstream |= config.NextHTTP502
			l.ErrorPages = map[int]*config.ErrorPage{504: {URI: tpl("@down"), Response: -1}}
		})),
		with(b, config.MatchNamed, "@down", func(l *config.Location) { l.Return = &config.Return{Code: 200, Text: tpl("down")} }),
	}
	app := &config.Upstream{Name: "app", KeepaliveTimeout: time.Minute, KeepaliveRequests: 1000, Keepalive: 8}
	for _, a := range []string{"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"} {
		app.Servers = append(app.Servers, config.UpstreamServer{Addr: a, Weight: 1, MaxFails: 1, FailTimeout: 10 * time.Second})
	}
	return newEngine(t, &config.HTTP{Servers: []*config.Server{srv}, Upstreams: map[string]*config.Upstream{"app": app}}, Options{
		Now:      func() time.Time { return *now },
		ErrorLog: func(level, msg string) { *logs = append(*logs, level+": "+msg) },
	})
}

func TestProxyHead(t *testing.T) {
	var logs []string
	now := testNow
	e := proxyEngine(t, &logs, &now)
	tests := []struct {
		name, method, target string
		fields               []string
		body                 int64
		want                 string
		pool                 int
	}{
		{"replace prefix", "GET", "/name/a%20b/../c%3f?q=1", nil, -1,
			"GET /remote/c%3F?q=1 HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", 0},
		{"replace escaped", "GET", "/name/a%20b", nil, -1,
			"GET /remote/a%20b HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", 0},
		{"unchanged", "GET", "/plain/a%20b/../c?q=1", nil, -1,
			"GET /plain/a%20b/../c?q=1 HTTP/1.0\r\nHost: 127.0.0.1:8080\r\nConnection: close\r\n\r\n", 0},
		{"exact", "GET", "/exact?a", nil, -1,
			"GET /other?a HTTP/1.0\r\nHost: 127.0.0.1:8080\r\nConnection: close\r\n\r\n", 0},
		{"regex unchanged", "GET", "/re/y", nil, -1,
			"GET /re/y HTTP/1.0\r\nHost: 127.0.0.1:8080\r\nConnection: close\r\n\r\n", 0},
		{"hop-by-hop", "POST", "/plain/", []string{"Connection", "keep-alive, X-Foo", "Keep-Alive", "300", "TE", "trailers",
			"Upgrade", "websocket", "Transfer-Encoding", "chunked", "Expect", "100-continue", "Accept", "*/*", "Proxy-Connection", "x"}, 42,
			"POST /plain/ HTTP/1.0\r\nHost: 127.0.0.1:8080\r\nConnection: close\r\nAccept: */*\r\nContent-Length: 42\r\n\r\n", 0},
		// RFC 9110 section 7.6.1: the fields Connection names are
		// hop-by-hop, in any case and in any of several Connection lines.
		{"connection-listed fields", "GET", "/plain/", []string{"Connection", "foo", "Foo", "bar", "X-Keep", "1",
			"connection", " X-Trace ,, x-other", "x-trace", "t", "X-Other", "o", "X-Foo-Bar", "kept"}, -1,
			"GET /plain/ HTTP/1.0\r\nHost: 127.0.0.1:8080\r\nConnection: close\r\nX-Keep: 1\r\nX-Foo-Bar: kept\r\n\r\n", 0},
		{"set headers", "GET", "/set/%0d%0ax", []string{"X-Forwarded-For", "1.1.1.1", "User-Agent", "curl", "X-Real-IP", "spoof"}, -1,
			"GET /set/%0d%0ax HTTP/1.1\r\nHost: example.com\r\nX-Real-IP: 192.0.2.7\r\nX-Forwarded-For: 1.1.1.1, 192.0.2.7\r\n\r\n", 8},
	}
	var p Plan
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.Serve(request(tt.method, tt.target, append([]string{"Host", "Example.com"}, tt.fields...)...), conn, &p)
			x := p.Proxy
			if x == nil {
				t.Fatalf("no proxy: %s", result(&p))
			}
			if !p.ReadBody || p.MaxBody != 1<<20 {
				t.Errorf("ReadBody %v MaxBody %d", p.ReadBody, p.MaxBody)
			}
			if tt.body >= 0 {
				x.SetBody(tt.body)
			}
			if _, ok := x.Next(); !ok {
				t.Fatal("Next: no peer")
			}
			if got := string(x.Head()); got != tt.want {
				t.Errorf("Head:\n%q\nwant\n%q", got, tt.want)
			}
			if got := string(x.Head()); got != tt.want {
				t.Errorf("second Head differs: %q", got)
			}
			if idle, _, _ := x.Pool(); idle != tt.pool {
				t.Errorf("Pool idle %d, want %d", idle, tt.pool)
			}
			x.Done()
		})
	}
	if len(logs) == 0 || !strings.Contains(logs[0], "X-Uri") {
		t.Errorf("injection not logged: %q", logs)
	}
}

func TestProxyResponse(t *testing.T) {
	var logs []string
	now := testNow
	e := proxyEngine(t, &logs, &now)
	var p Plan
	e.Serve(request("GET", "/plain/", "Host", "example.com"), conn, &p)
	x := p.Proxy
	x.Next()
	resp := &http1.Response{Major: 1, Minor: 1, Status: 200, Chunked: true, ContentLength: -1, Header: http1.Header{
		{Name: []byte("Server"), Value: []byte("gunicorn")}, {Name: []byte("Date"), Value: []byte("x")},
		{Name: []byte("Connection"), Value: []byte("keep-alive")}, {Name: []byte("Transfer-Encoding"), Value: []byte("chunked")},
		{Name: []byte("Keep-Alive"), Value: []byte("timeout=5")}, {Name: []byte("Content-Type"), Value: []byte("text/html")},
		{Name: []byte("Set-Cookie"), Value: []byte("a=1")}, {Name: []byte("Set-Cookie"), Value: []byte("b=2")},
	}}
	if x.Response(resp) {
		t.Fatal("retry on 200")
	}
	x.Done()
	if got, want := result(&p), "200 | Content-Type: text/html | Set-Cookie: a=1 | Set-Cookie: b=2"; got != want {
		t.Errorf("response %q, want %q", got, want)
	}
	if p.ContentLength != -1 || !p.KeepAlive {
		t.Errorf("ContentLength %d KeepAlive %v", p.ContentLength, p.KeepAlive)
	}
	// HTTP/1.0 client and unknown length: close.
	req := request("HEAD", "/plain/", "Host", "example.com")
	req.Minor = 0
	e.Serve(req, conn, &p)
	p.Proxy.Next()
	resp.Status = 200
	p.Proxy.Response(resp)
	if !p.HeadOnly {
		t.Errorf("HEAD response not HeadOnly")
	}
	p.Proxy.Done()
}

// TestProxyFailureLog checks the error-log line of a failed attempt:
// the error text, then the stage the core reported, nginx's wording.
func TestProxyFailureLog(t *testing.T) {
	tests := []struct {
		name     string
		stage    Stage // -1: not reported
		err      string
		fail     Failure
		response bool // Response came first: the body failed
		want     string
	}{
		{"refused", StageConnect, "connect() failed (111: Connection refused)", upstream.FailError, false,
			"connect() failed (111: Connection refused) while connecting to upstream"},
		{"connect timeout", -1, "", upstream.FailTimeout, false,
			"upstream timed out (110: Connection timed out) while connecting to upstream"},
		{"send", StageSend, "writev() failed (32: Broken pipe)", upstream.FailError, false,
			"writev() failed (32: Broken pipe) while sending request to upstream"},
		{"header closed", StageReadHeader, "", upstream.FailError, false,
			"upstream prematurely closed connection while reading response header from upstream"},
		{"invalid header", StageReadHeader, "", upstream.FailInvalidHeader, false,
			"upstream sent invalid header while reading response header from upstream"},
		{"body timeout", -1, "", upstream.FailTimeout, true,
			"upstream timed out (110: Connection timed out) while reading upstream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs []string
			now := testNow
			e := proxyEngine(t, &logs, &now)
			var p Plan
			e.Serve(request("GET", "/plain/a", "Host", "example.com"), conn, &p)
			x := p.Proxy
			addr, ok := x.Next()
			if !ok {
				t.Fatal("Next: no peer")
			}
			if tt.response && x.Response(&http1.Response{Status: 200, ContentLength: 10}) {
				t.Fatal("retry on 200")
			}
			if tt.stage >= 0 {
				x.SetStage(tt.stage)
			}
			if tt.err != "" {
				x.SetError(errString(tt.err))
			}
			x.Failed(tt.fail, false)
			want := "error: " + tt.want + `, client: 192.0.2.7, server: example.com, request: "GET /plain/a HTTP/1.1", upstream: "http://` +
				addr + `/plain/a", host: "example.com"`
			if len(logs) != 1 || logs[0] != want {
				t.Errorf("log %q\nwant %q", logs, want)
			}
		})
	}
}

// TestProxyHeadOnly checks that a proxy plan's HeadOnly follows the
// upstream response, and an error plan after a failed exchange its own
// status, whatever an earlier step set.
func TestProxyHeadOnly(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		status   int  // upstream status; 0: no response
		fail     bool // the attempt fails after Response (before anything was sent)
		want     bool
		wantPlan int
	}{
		{"before Response", "GET", 0, false, false, 0},
		{"200", "GET", 200, false, false, 200},
		{"HEAD 200", "HEAD", 200, false, true, 200},
		{"204", "GET", 204, false, true, 204},
		{"304", "GET", 304, false, true, 304},
		{"304 then failed", "GET", 304, true, false, 502},
		{"HEAD failed", "HEAD", 200, true, true, 502},
	}
	var logs []string
	now := testNow
	e := proxyEngine(t, &logs, &now)
	var p Plan
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.Serve(request(tt.method, "/plain/x", "Host", "example.com"), conn, &p)
			x := p.Proxy
			if x == nil || p.HeadOnly {
				t.Fatalf("Serve: Proxy %v HeadOnly %v, want a proxy plan without HeadOnly", x != nil, p.HeadOnly)
			}
			if _, ok := x.Next(); !ok {
				t.Fatal("Next: no peer")
			}
			if tt.status != 0 && x.Response(&http1.Response{Status: tt.status, ContentLength: -1}) {
				t.Fatal("Response asks to retry")
			}
			if tt.fail {
				if x.Failed(upstream.FailError, false) {
					if _, ok := x.Next(); ok {
						t.Fatal("Next after the last peer failed")
					}
				}
			} else {
				x.Done()
			}
			if p.HeadOnly != tt.want || p.Status != tt.wantPlan {
				t.Errorf("HeadOnly %v status %d, want %v %d", p.HeadOnly, p.Status, tt.want, tt.wantPlan)
			}
			now = now.Add(time.Minute) // past fail_timeout for the next case
		})
	}
}

func TestProxyRetry(t *testing.T) {
	var logs []string
	now := testNow
	e := proxyEngine(t, &logs, &now)
	var p Plan

	// error, then 502 (listed), then success: three peers tried in turn.
	e.Serve(request("GET", "/app/x", "Host", "example.com"), conn, &p)
	x := p.Proxy
	seen := map[string]bool{}
	a1, ok := x.Next()
	seen[a1] = true
	x.SetError(errString("connect() failed (111: Connection refused)"))
	if !ok || !x.Failed(upstream.FailError, false) {
		t.Fatal("no retry after error")
	}
	a2, _ := x.Next()
	seen[a2] = true
	if !x.Response(&http1.Response{Status: 502, ContentLength: 0}) {
		t.Fatal("no retry after 502")
	}
	a3, ok := x.Next()
	seen[a3] = true
	if !ok || len(seen) != 3 {
		t.Fatalf("peers %v", seen)
	}
	if x.Response(&http1.Response{Status: 200, ContentLength: 5}) {
		t.Fatal("retry on 200")
	}
	x.Done()
	if p.Status != 200 || p.ContentLength != 5 {
		t.Errorf("plan %s", result(&p))
	}
	if len(logs) == 0 || !strings.Contains(logs[0], `connect() failed (111: Connection refused) while connecting to upstream, client: 192.0.2.7, server: example.com, request: "GET /app/x HTTP/1.1", upstream: "http://`+a1+`/app/x"`) {
		t.Errorf("log %q", logs)
	}

	// A POST whose connect was refused never reached the peer: nginx
	// retries it (u->request_sent is still 0).
	now = now.Add(time.Minute)
	e.Serve(request("POST", "/app/x", "Host", "example.com"), conn, &p)
	x = p.Proxy
	if _, ok := x.Next(); !ok {
		t.Fatal("no peer")
	}
	if !x.Failed(upstream.FailError, false) {
		t.Fatal("POST not retried after a failed connect")
	}
	if _, ok := x.Next(); !ok {
		t.Fatal("no second peer")
	}
	x.SetStage(StageReadHeader)
	if x.Failed(upstream.FailError, false) {
		t.Fatal("POST retried after its request was sent")
	}
	if p.Status != 502 || p.Proxy != nil {
		t.Errorf("plan %s", result(&p))
	}

	// POST is not retried once sent: 502 right away.
	now = now.Add(time.Minute)
	e.Serve(request("POST", "/app/x", "Host", "example.com"), conn, &p)
	x = p.Proxy
	if _, ok := x.Next(); !ok {
		t.Fatal("no peer")
	}
	x.SetStage(StageSend)
	if x.Failed(upstream.FailError, false) {
		t.Fatal("POST retried")
	}
	if p.Status != 502 || p.Proxy != nil || !strings.Contains(string(p.Body), "502 Bad Gateway") {
		t.Errorf("plan %s", result(&p))
	}

	// Timeouts on every live peer: 504 through error_page @down (status kept).
	now = now.Add(time.Minute) // failures expire
	e.Serve(request("GET", "/app/y", "Host", "example.com"), conn, &p)
	x = p.Proxy
	for i := 0; ; i++ {
		if _, ok := x.Next(); !ok {
			break
		}
		if !x.Failed(upstream.FailTimeout, false) {
			break
		}
		if i > 5 {
			t.Fatal("endless retries")
		}
	}
	if p.Status != 504 || string(p.Body) != "down" {
		t.Errorf("after timeouts: %s %q", result(&p), p.Body)
	}

	// Failure after bytes reached the client: no retry, close.
	now = now.Add(time.Minute)
	e.Serve(request("GET", "/app/z", "Host", "example.com"), conn, &p)
	x = p.Proxy
	x.Next()
	x.Response(&http1.Response{Status: 200, ContentLength: 100})
	if x.Failed(upstream.FailError, true) || p.KeepAlive {
		t.Errorf("sent failure: retry or keep-alive")
	}
}

type errString string

func (e errString) Error() string { return string(e) }

// TestProxyResolvedAddrs checks that the peers a core dials are the
// addresses config resolved at load: a proxy_pass name with two addresses
// is balanced over both, and upstream servers give one peer per address.
func TestProxyResolvedAddrs(t *testing.T) {
	lookup := func(host string) ([]netip.Addr, error) {
		if host == "app.test" {
			return []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")}, nil
		}
		return nil, errString("no such host")
	}
	src := `http {
		upstream u { server app.test:8080; }
		server {
			location /a/ { proxy_pass http://app.test; }
			location /u/ { proxy_pass http://u; }
		}
	}`
	cfg, err := config.Options{LookupHost: lookup}.Parse(filepath.Join(t.TempDir(), "site.conf"), []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	e := newEngine(t, cfg.HTTP, Options{})
	for _, tt := range []struct{ path, want string }{
		{"/a/", "10.0.0.1:80 10.0.0.2:80"},
		{"/u/", "10.0.0.1:8080 10.0.0.2:8080"},
	} {
		var p Plan
		seen := map[string]bool{}
		for range 4 {
			e.Serve(request("GET", tt.path, "Host", "x"), conn, &p)
			addr, ok := p.Proxy.Next()
			if !ok {
				t.Fatalf("%s: no peer", tt.path)
			}
			seen[addr] = true
			p.Proxy.Done()
		}
		var got []string
		for a := range seen {
			got = append(got, a)
		}
		slices.Sort(got)
		if strings.Join(got, " ") != tt.want {
			t.Errorf("%s: peers %q, want %s", tt.path, got, tt.want)
		}
	}
}

// TestProxyUnparsedURI checks that proxy_pass without a URI part sends
// the client's request URI unchanged, as nginx sends r->unparsed_uri
// (ngx_http_proxy_create_request): no normalization, no re-escaping, and
// the path of an absolute-form target.
func TestProxyUnparsedURI(t *testing.T) {
	var logs []string
	now := testNow
	e := proxyEngine(t, &logs, &now)
	tests := []struct{ target, want string }{
		{"/plain/./b/%7Efoo?x=1", "/plain/./b/%7Efoo?x=1"},
		{"/plain//a//b/../c", "/plain//a//b/../c"},
		{"/plain/%41?", "/plain/%41?"},
		{"http://example.com/plain/./x%2f?y", "/plain/./x%2f?y"},
	}
	for _, tt := range tests {
		var pr http1.Parser
		var r http1.Request
		if _, err := pr.Parse([]byte("GET "+tt.target+" HTTP/1.1\r\nHost: example.com\r\n\r\n"), &r); err != nil {
			t.Fatalf("%s: %v", tt.target, err)
		}
		var p Plan
		e.Serve(&r, conn, &p)
		if p.Proxy == nil {
			t.Fatalf("%s: no proxy: %s", tt.target, result(&p))
		}
		p.Proxy.Next()
		want := "GET " + tt.want + " HTTP/1.0\r\n"
		if got := string(p.Proxy.Head()); !strings.HasPrefix(got, want) {
			t.Errorf("%s: head %q, want it to start with %q", tt.target, got, want)
		}
	}
}

// TestProxyLocalFailure checks a failure of this server (no socket for
// the attempt) as nginx 1.22 treats it: no other peer is tried, the
// request gets 500, the socket() error is logged at alert, and the peer
// is not counted as failed.
func TestProxyLocalFailure(t *testing.T) {
	var logs []string
	now := testNow
	e := proxyEngine(t, &logs, &now)
	peers := map[string]bool{}
	for range 6 {
		var p Plan
		e.Serve(request("GET", "/app/x", "Host", "example.com"), conn, &p)
		x := p.Proxy
		addr, ok := x.Next()
		if !ok {
			t.Fatal("Next: no peer: a local failure marked peers down")
		}
		peers[addr] = true
		x.SetError(errString("socket() failed (24: Too many open files)"))
		if x.Failed(upstream.FailLocal, false) {
			t.Fatal("a local failure was retried on another peer")
		}
		if p.Status != 500 {
			t.Errorf("status %d after a local failure, want 500", p.Status)
		}
	}
	if len(peers) != 3 {
		t.Errorf("peers chosen %v, want all three: none may be marked failed", peers)
	}
	want := "alert: socket() failed (24: Too many open files) while connecting to upstream, client: 192.0.2.7"
	if len(logs) != 6 || !strings.HasPrefix(logs[0], want) {
		t.Errorf("logs %q\nwant 6 starting %q", logs, want)
	}
}
