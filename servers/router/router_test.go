package router

import (
	"fmt"
	"net/netip"
	"regexp"
	"testing"

	"github.com/c10k/c10k/servers/config"
)

func loc(kind config.MatchKind, path string, nested ...*config.Location) *config.Location {
	l := &config.Location{Match: kind, Path: path, Locations: nested}
	switch kind {
	case config.MatchRegex:
		l.Regex = regexp.MustCompile(path)
	case config.MatchRegexFold:
		l.Regex = regexp.MustCompile("(?i)" + path)
	}
	return l
}

func server(locs ...*config.Location) *config.Server {
	return &config.Server{Loc: &config.Location{Path: "server"}, Locations: locs}
}

func name(l *config.Location) string {
	if l == nil {
		return "<nil>"
	}
	prefix := map[config.MatchKind]string{
		config.MatchPrefix: "", config.MatchExact: "= ", config.MatchPrefixFinal: "^~ ",
		config.MatchRegex: "~ ", config.MatchRegexFold: "~* ", config.MatchNamed: "",
	}[l.Match]
	return prefix + l.Path
}

func TestMatchNginxDocs(t *testing.T) {
	// The example of https://nginx.org/en/docs/http/ngx_http_core_module.html#location
	srv := server(
		loc(config.MatchExact, "/"),                     // A
		loc(config.MatchPrefix, "/"),                    // B
		loc(config.MatchPrefix, "/documents/"),          // C
		loc(config.MatchPrefixFinal, "/images/"),        // D
		loc(config.MatchRegexFold, `\.(gif|jpg|jpeg)$`), // E
	)
	tests := []struct{ path, want string }{
		{"/", "= /"},
		{"/index.html", "/"},
		{"/documents/document.html", "/documents/"},
		{"/images/1.gif", "^~ /images/"},
		{"/documents/1.jpg", `~* \.(gif|jpg|jpeg)$`},
		{"/documents/1.JPG", `~* \.(gif|jpg|jpeg)$`},
		{"/x/1.jpeg", `~* \.(gif|jpg|jpeg)$`},
	}
	for _, tt := range tests {
		if got := name(Match(srv, []byte(tt.path))); got != tt.want {
			t.Errorf("Match(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
}

func TestMatchPrecedence(t *testing.T) {
	srv := server(
		loc(config.MatchPrefix, "/a/"),
		loc(config.MatchPrefix, "/a/b/",
			loc(config.MatchRegex, `\.php$`),
			loc(config.MatchPrefix, "/a/b/c/"),
		),
		loc(config.MatchRegex, `^/a/.*\.php$`),
		loc(config.MatchRegex, `\.php$`),
		loc(config.MatchRegex, `^/x/`),
		loc(config.MatchPrefixFinal, "/static/",
			loc(config.MatchRegex, `\.css$`),
		),
		loc(config.MatchExact, "/exact"),
		loc(config.MatchPrefix, "/exact"),
		loc(config.MatchNamed, "@fallback"),
		loc(config.MatchRegex, `^/R/`,
			loc(config.MatchPrefix, "/R/in/"),
		),
	)
	tests := []struct{ path, want string }{
		{"/nothing", "server"},
		{"/a/", "/a/"},
		{"/a/x.php", `~ ^/a/.*\.php$`},   // regex beats prefix, first in order
		{"/a/b/x.php", `~ \.php$`},       // nested regex of the longest prefix is tried first
		{"/a/b/c/x.html", "/a/b/c/"},     // nested prefix, no regex match
		{"/a/b/c/x.php", `~ \.php$`},     // nested regexes of /a/b/ after its nested prefix
		{"/b/x.php", `~ \.php$`},         // second regex in order
		{"/x/y", `~ ^/x/`},               // regex without any prefix
		{"/static/x.php", "^~ /static/"}, // ^~ stops outer regexes
		{"/static/x.css", `~ \.css$`},    // but its nested regexes apply
		{"/exact", "= /exact"},           // = before prefix of the same text
		{"/exactly", "/exact"},           // prefix of the same text
		{"/@fallback", "server"},         // named locations are not matched
		{"/R/in/x", "/R/in/"},            // nested prefix inside a regex location
		{"/R/other", `~ ^/R/`},
		{"/A/x.php", `~ \.php$`}, // case-sensitive prefixes
	}
	for _, tt := range tests {
		if got := name(Match(srv, []byte(tt.path))); got != tt.want {
			t.Errorf("Match(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
}

func TestNamed(t *testing.T) {
	fb := loc(config.MatchNamed, "@fallback")
	srv := server(loc(config.MatchPrefix, "/"), fb)
	for _, n := range []string{"@fallback", "fallback"} {
		if got := Named(srv, []byte(n)); got != fb {
			t.Errorf("Named(%q) = %v", n, got)
		}
	}
	if got := Named(srv, []byte("@none")); got != nil {
		t.Errorf("Named(@none) = %v", got)
	}
}

func vserver(pos int, listens []config.Listen, names ...config.ServerName) *config.Server {
	return &config.Server{Pos: config.Pos{File: "t.conf", Line: pos}, Listens: listens, Names: names}
}

func listen(addr string, def bool) []config.Listen {
	return []config.Listen{{Addr: addr, DefaultServer: def}}
}

func TestServerName(t *testing.T) {
	l := listen("*:80", false)
	srvs := []*config.Server{
		vserver(1, l, config.ServerName{Kind: config.NameExact, Name: "first"}),
		vserver(2, l, config.ServerName{Kind: config.NameExact, Name: "www.example.com"}),
		vserver(3, l, config.ServerName{Kind: config.NameSuffix, Name: ".example.com"}),
		vserver(4, l, config.ServerName{Kind: config.NameSuffix, Name: ".www.example.com"}),
		vserver(5, l, config.ServerName{Kind: config.NamePrefix, Name: "www.example."}),
		vserver(6, l, config.ServerName{Kind: config.NamePrefix, Name: "www."}),
		vserver(7, l, config.ServerName{Kind: config.NameRegex, Name: `~^mail\d+\.`, Regex: regexp.MustCompile(`^mail\d+\.`)}),
		vserver(8, l, config.ServerName{Kind: config.NameRegex, Name: `~^mail`, Regex: regexp.MustCompile(`^mail`)}),
		vserver(9, l, config.ServerName{Kind: config.NameSuffix, Name: ".dot.org", Dot: true}),
		vserver(10, l, config.ServerName{Kind: config.NameExact, Name: "www.example.com"}), // conflicting: ignored
	}
	r, err := New(&config.HTTP{Servers: srvs})
	if err != nil {
		t.Fatal(err)
	}
	local := netip.MustParseAddrPort("10.0.0.1:80")
	tests := []struct {
		host string
		want int
	}{
		{"www.example.com", 2},      // exact beats every wildcard
		{"WWW.Example.COM.", 2},     // case and trailing dot
		{"www.example.com:8080", 2}, // port stripped
		{"a.www.example.com", 4},    // longest leading wildcard
		{"a.example.com", 3},        // leading wildcard
		{"a.b.c.example.com", 3},    // any depth
		{"example.com", 1},          // "*.example.com" does not match the bare name
		{"www.example.org", 5},      // longest trailing wildcard
		{"www.foo.org", 6},          // shorter trailing wildcard
		{"mail1.foo.org", 7},        // first regex in order
		{"mailx.foo.org", 8},        // second regex
		{"dot.org", 9},              // ".dot.org" matches the bare name
		{"x.dot.org", 9},            // and subdomains
		{"unknown", 1},              // default: first server of the address
		{"", 1},                     // no host
		{"bad..host", 1},            // invalid host: default
		{"[::1]:80", 1},             // IPv6 literal
	}
	for _, tt := range tests {
		got := r.Server(local, []byte(tt.host))
		if got.Pos.Line != tt.want {
			t.Errorf("Server(%q) = server %d, want %d", tt.host, got.Pos.Line, tt.want)
		}
	}
}

func TestDefaultServerPerAddress(t *testing.T) {
	srvs := []*config.Server{
		vserver(1, listen("*:80", false), config.ServerName{Name: "a"}),
		vserver(2, listen("80", true), config.ServerName{Name: "b"}),
		vserver(3, listen("127.0.0.1:80", false), config.ServerName{Name: "c"}),
		vserver(4, listen("127.0.0.1:80", true), config.ServerName{Name: "d"}),
		vserver(5, listen("127.0.0.1:80", true), config.ServerName{Name: "e"}), // second default: first wins
		vserver(6, listen("[::]:80", false), config.ServerName{Name: "f"}),
		vserver(7, append(listen("*:8080", false), config.Listen{Addr: "localhost:8081"}), config.ServerName{Name: "g"}),
	}
	r, err := New(&config.HTTP{Servers: srvs})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		local, host string
		want        int
	}{
		{"10.0.0.1:80", "zzz", 2}, // explicit default_server of *:80
		{"10.0.0.1:80", "a", 1},
		{"10.0.0.1:80", "c", 2},    // c listens on 127.0.0.1 only
		{"127.0.0.1:80", "zzz", 4}, // the specific address has its own default
		{"127.0.0.1:80", "a", 4},   // *:80 servers are not candidates for 127.0.0.1:80
		{"127.0.0.1:80", "c", 3},
		{"[::ffff:127.0.0.1]:80", "c", 3}, // v4-mapped
		{"[::1]:80", "zzz", 6},
		{"[::1]:8080", "zzz", 7}, // v6 falls back to the v4 wildcard of the port
		{"127.0.0.1:8081", "zzz", 7},
		{"10.0.0.1:9999", "zzz", 1}, // unknown port: first server
	}
	for _, tt := range tests {
		got := r.Server(netip.MustParseAddrPort(tt.local), []byte(tt.host))
		if got.Pos.Line != tt.want {
			t.Errorf("Server(%s, %q) = server %d, want %d", tt.local, tt.host, got.Pos.Line, tt.want)
		}
	}
}

func TestParseListen(t *testing.T) {
	tests := []struct {
		in   string
		want string
		wild bool
		err  bool
	}{
		{"80", "0.0.0.0:80", true, false},
		{"*:80", "0.0.0.0:80", true, false},
		{":8080", "0.0.0.0:8080", true, false},
		{"127.0.0.1:8080", "127.0.0.1:8080", false, false},
		{"127.0.0.1", "127.0.0.1:80", false, false},
		{"0.0.0.0:80", "0.0.0.0:80", true, false},
		{"[::]:80", "[::]:80", true, false},
		{"[::1]:81", "[::1]:81", false, false},
		{"localhost:81", "127.0.0.1:81", false, false},
		{"*:0", "0.0.0.0:0", true, false},
		{"127.0.0.1:0", "127.0.0.1:0", false, false},
		{"0", "0.0.0.0:0", true, false},
		{"-1", "", false, true},
		{"*:x", "", false, true},
		{"*:99999", "", false, true},
		{"[::1", "", false, true},
	}
	for _, tt := range tests {
		ap, wild, err := ParseListen(tt.in)
		if (err != nil) != tt.err {
			t.Errorf("ParseListen(%q) error %v", tt.in, err)
			continue
		}
		if err == nil && (ap.String() != tt.want || wild != tt.wild) {
			t.Errorf("ParseListen(%q) = %s, %v; want %s, %v", tt.in, ap, wild, tt.want, tt.wild)
		}
	}
}

func TestCleanHost(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"Example.COM", "example.com", true},
		{"example.com.:80", "example.com", true},
		{"[::1]:8080", "[::1]", true},
		{"127.0.0.1:80", "127.0.0.1", true},
		{"", "", false},
		{".", "", false},
		{"a..b", "", false},
		{".a", "", false},
		{"a/b", "", false},
		{"a\\b", "", false},
		{"a b", "", false},
		{"a\x00b", "", false},
		{"[::1", "", false},
		{"[::1]x", "", false},
	}
	for _, tt := range tests {
		got, ok := CleanHost(nil, []byte(tt.in))
		if ok != tt.ok || string(got) != tt.want {
			t.Errorf("CleanHost(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func BenchmarkServer(b *testing.B) {
	var srvs []*config.Server
	l := listen("*:80", false)
	for i := range 20 {
		srvs = append(srvs,
			vserver(i, l, config.ServerName{Kind: config.NameExact, Name: fmt.Sprintf("host%d.example.com", i)}),
			vserver(100+i, l, config.ServerName{Kind: config.NameSuffix, Name: fmt.Sprintf(".zone%d.example.com", i)}),
		)
	}
	r, err := New(&config.HTTP{Servers: srvs})
	if err != nil {
		b.Fatal(err)
	}
	local := netip.MustParseAddrPort("10.0.0.1:80")
	hosts := [][]byte{[]byte("host7.example.com"), []byte("a.zone3.example.com:8080"), []byte("Host9.Example.com"), []byte("nomatch.org")}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if r.Server(local, hosts[i%len(hosts)]) == nil {
			b.Fatal("nil server")
		}
	}
}

func BenchmarkLocation(b *testing.B) {
	var locs []*config.Location
	for i := range 20 {
		locs = append(locs, loc(config.MatchPrefix, fmt.Sprintf("/app%d/", i)))
	}
	locs = append(locs,
		loc(config.MatchExact, "/"),
		loc(config.MatchPrefix, "/"),
		loc(config.MatchPrefixFinal, "/static/"),
		loc(config.MatchPrefix, "/api/", loc(config.MatchRegex, `^/api/v\d+/`)),
		loc(config.MatchRegexFold, `\.(gif|jpg|png|css|js)$`),
		loc(config.MatchRegex, `^/user/\d+$`),
		loc(config.MatchRegex, `\.php$`),
		loc(config.MatchRegex, `^/download/`),
		loc(config.MatchNamed, "@fallback"),
		loc(config.MatchExact, "/health"),
	)
	srv := server(locs...)
	paths := [][]byte{[]byte("/static/app.js"), []byte("/app13/x/y"), []byte("/index.php"), []byte("/api/v2/users"), []byte("/img/a.PNG"), []byte("/health")}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if Match(srv, paths[i%len(paths)]) == nil {
			b.Fatal("nil location")
		}
	}
}

// TestServerNameEmpty checks nginx's server_name "": it catches requests
// without Host on its address; elsewhere they go to the default server.
func TestServerNameEmpty(t *testing.T) {
	srvs := []*config.Server{
		vserver(1, listen("*:80", true), config.ServerName{Name: "a"}),
		vserver(2, listen("*:80", false), config.ServerName{Name: "b"}, config.ServerName{Name: ""}),
		vserver(3, listen("*:80", false), config.ServerName{Name: ""}), // second: the first keeps ""
		vserver(4, listen("*:8080", true), config.ServerName{Name: "c"}),
		vserver(5, listen("*:8080", false), config.ServerName{Name: "d"}),
		vserver(6, listen("127.0.0.1:80", false), config.ServerName{Name: "e"}),
		vserver(7, listen("127.0.0.1:80", false), config.ServerName{Name: ""}),
	}
	r, err := New(&config.HTTP{Servers: srvs})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		local, host string
		want        int
	}{
		{"10.0.0.1:80", "", 2},      // server_name "" beats default_server
		{"10.0.0.1:80", "zzz", 1},   // unknown names still get the default
		{"10.0.0.1:80", "b", 2},     // the server's other names work
		{"10.0.0.1:8080", "", 4},    // no "" on the address: default server
		{"127.0.0.1:80", "", 7},     // per address
		{"127.0.0.1:80", "nope", 6}, // first server of the address
	}
	for _, tt := range tests {
		got := r.Server(netip.MustParseAddrPort(tt.local), []byte(tt.host))
		if got.Pos.Line != tt.want {
			t.Errorf("Server(%s, %q) = server %d, want %d", tt.local, tt.host, got.Pos.Line, tt.want)
		}
	}
}
