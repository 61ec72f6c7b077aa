package engine

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/c10k/c10k/servers/config"
	"github.com/c10k/c10k/servers/http1"
)

var testNow = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// defLoc returns a location with nginx's defaults.
func defLoc(match config.MatchKind, path string) *config.Location {
	l := &config.Location{
		Match: match, Path: path,
		Root: "html", Index: []string{"index.html"}, DefaultType: "text/plain",
		KeepaliveTimeout: 75 * time.Second, KeepaliveRequests: 1000, ClientMaxBodySize: 1 << 20,
		ProxyHTTPVersion: "1.0", ProxyConnectTimeout: 60 * time.Second, ProxyReadTimeout: 60 * time.Second,
		ProxySendTimeout: 60 * time.Second, ProxyBuffering: true,
		ProxyNextUpstream: config.NextError | config.NextTimeout,
		ProxySetHeaders:   config.EffectiveProxyHeaders(nil),
	}
	switch match {
	case config.MatchRegex:
		l.Regex = regexp.MustCompile(path)
	case config.MatchRegexFold:
		l.Regex = regexp.MustCompile("(?i)" + path)
	}
	return l
}

// with copies the settings of base into l (inheritance done by hand).
func with(base *config.Location, match config.MatchKind, path string, edit func(*config.Location)) *config.Location {
	l := *base
	l.Match, l.Path, l.Locations = match, path, nil
	l.Regex = defLoc(match, path).Regex
	if edit != nil {
		edit(&l)
	}
	return &l
}

func defServer(root string, names ...string) *config.Server {
	s := &config.Server{
		Listens:                []config.Listen{{Addr: "*:80"}},
		ClientHeaderBufferSize: 1024, LargeClientHeaderBuffers: config.BufferSpec{Number: 4, Size: 8192},
		ClientHeaderTimeout: time.Minute, ClientBodyTimeout: time.Minute, SendTimeout: time.Minute,
		Loc: defLoc(config.MatchPrefix, ""),
	}
	s.Loc.Root = root
	for _, n := range names {
		s.Names = append(s.Names, config.ServerName{Kind: config.NameExact, Name: n})
	}
	return s
}

// tpl parses a template the config would accept; it panics otherwise.
func tpl(s string) config.Template {
	t, err := config.ParseTemplate(s)
	if err != nil {
		panic(err)
	}
	return t
}

func newEngine(t testing.TB, h *config.HTTP, opts Options) *Engine {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return testNow }
	}
	e, err := New(&config.Config{HTTP: h}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// loadEngine builds an engine from src, a whole nginx.conf, whose clock
// reads *now (nil: testNow); the engine closes in tb.Cleanup.
func loadEngine(tb testing.TB, src string, now *time.Time) *Engine {
	tb.Helper()
	cfg, err := config.LoadFS(fstest.MapFS{"site.conf": {Data: []byte(src)}}, "site.conf")
	if err != nil {
		tb.Fatal(err)
	}
	if now == nil {
		now = &testNow
	}
	e, err := New(cfg, Options{Now: func() time.Time { return *now }})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { e.Close() })
	return e
}

// request builds a parsed request head as http1 would.
func request(method, target string, fields ...string) *http1.Request {
	r := &http1.Request{Method: []byte(method), Target: []byte(target), Major: 1, Minor: 1, ContentLength: -1, KeepAlive: true}
	path, query, ok := strings.Cut(target, "?")
	r.Path = []byte(path)
	if ok {
		r.Query = []byte(query)
	}
	for i := 0; i+1 < len(fields); i += 2 {
		r.Header = append(r.Header, http1.Field{Name: []byte(fields[i]), Value: []byte(fields[i+1])})
		switch strings.ToLower(fields[i]) {
		case "host":
			r.Host = []byte(fields[i+1])
		case "connection":
			if strings.EqualFold(fields[i+1], "close") {
				r.KeepAlive = false
			}
		}
	}
	return r
}

var conn = Conn{
	Local:  netip.MustParseAddrPort("127.0.0.1:80"),
	Remote: netip.MustParseAddrPort("192.0.2.7:54321"),
}

// result is a Plan flattened for comparison.
func result(p *Plan) string {
	var b strings.Builder
	b.WriteString(itoa(p.Status))
	for _, f := range p.Header {
		b.WriteString(" | " + string(f.Name) + ": " + string(f.Value))
	}
	return b.String()
}

func itoa(n int) string { return strconv.Itoa(n) }

// body returns what the core would send as body.
func body(t testing.TB, p *Plan) string {
	t.Helper()
	if p.HeadOnly {
		if p.File != nil {
			t.Errorf("HeadOnly plan with a File")
		}
		return ""
	}
	if p.File != nil {
		defer p.CloseFile()
		buf := make([]byte, p.ContentLength)
		if _, err := p.File.ReadAt(buf, p.Offset); err != nil {
			t.Fatalf("read plan file: %v", err)
		}
		return string(buf)
	}
	if int64(len(p.Body)) != p.ContentLength {
		t.Errorf("Body length %d, ContentLength %d", len(p.Body), p.ContentLength)
	}
	return string(p.Body)
}

func header(p *Plan, name string) string {
	return string(p.Header.Get(name))
}

// docroot creates files under a temp dir: "name": "content"; a name
// ending in "/" is a directory.
func docroot(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, testNow.Add(-time.Hour), testNow.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !bytes.Contains([]byte(s), []byte(sub)) {
			return false
		}
	}
	return true
}
