package router

import (
	"testing"

	"github.com/c10k/c10k/servers/config"
)

func redirecting(kind config.MatchKind, path string, nested ...*config.Location) *config.Location {
	l := loc(kind, path, nested...)
	l.AutoRedirect = true
	return l
}

func TestFindAutoRedirect(t *testing.T) {
	tests := []struct {
		name     string
		srv      *config.Server
		path     string
		want     string
		redirect bool
	}{
		{"slash short", server(loc(config.MatchPrefix, "/"), redirecting(config.MatchPrefix, "/app/")), "/app", "/app/", true},
		{"prefix itself", server(redirecting(config.MatchPrefix, "/app/")), "/app/", "/app/", false},
		{"below it", server(redirecting(config.MatchPrefix, "/app/")), "/app/x", "/app/", false},
		{"no flag", server(loc(config.MatchPrefix, "/"), loc(config.MatchPrefix, "/app/")), "/app", "/", false},
		{"exact wins", server(loc(config.MatchExact, "/app"), redirecting(config.MatchPrefix, "/app/")), "/app", "= /app", false},
		{"exact after it wins", server(redirecting(config.MatchPrefix, "/app/"), loc(config.MatchExact, "/app")), "/app", "= /app", false},
		{"equal prefix wins", server(redirecting(config.MatchPrefix, "/app/"), loc(config.MatchPrefix, "/app")), "/app", "/app", false},
		{"exact location redirects", server(redirecting(config.MatchExact, "/app/")), "/app", "= /app/", true},
		{"final prefix redirects", server(redirecting(config.MatchPrefixFinal, "/app/")), "/app", "^~ /app/", true},
		{"regexes not tried", server(redirecting(config.MatchPrefix, "/app/"), loc(config.MatchRegex, `^/app$`)), "/app", "/app/", true},
		{"nested", server(loc(config.MatchPrefix, "/a/", redirecting(config.MatchPrefix, "/a/b/"))), "/a/b", "/a/b/", true},
		{"other path", server(loc(config.MatchPrefix, "/"), redirecting(config.MatchPrefix, "/app/")), "/ap", "/", false},
		{"longer path", server(loc(config.MatchPrefix, "/"), redirecting(config.MatchPrefix, "/app/")), "/apps", "/", false},
	}
	for _, tt := range tests {
		r := Find(tt.srv, []byte(tt.path))
		if got := name(r.Loc); got != tt.want || r.Redirect != tt.redirect {
			t.Errorf("%s: Find(%q) = %q redirect %v, want %q redirect %v", tt.name, tt.path, got, r.Redirect, tt.want, tt.redirect)
		}
	}
}

func TestFindRegex(t *testing.T) {
	re := loc(config.MatchRegex, `^/R/(\w+)`, loc(config.MatchPrefix, "/R/in/"), loc(config.MatchRegex, `\.css$`))
	srv := server(loc(config.MatchPrefix, "/"), re, loc(config.MatchRegex, `(gif)$`), loc(config.MatchRegex, `png$`))
	tests := []struct {
		path      string
		loc, regx string
	}{
		{"/x", "/", "<nil>"},
		{"/R/x", `~ ^/R/(\w+)`, `~ ^/R/(\w+)`},
		{"/R/in/x", "/R/in/", `~ ^/R/(\w+)`},
		{"/R/x.css", `~ \.css$`, `~ ^/R/(\w+)`}, // a regex without groups keeps the outer captures
		{"/y.gif", `~ (gif)$`, `~ (gif)$`},
		{"/y.png", `~ png$`, "<nil>"},
	}
	for _, tt := range tests {
		r := Find(srv, []byte(tt.path))
		if got, gotRe := name(r.Loc), name(r.Regex); got != tt.loc || gotRe != tt.regx {
			t.Errorf("Find(%q) = %q, regex %q; want %q, %q", tt.path, got, gotRe, tt.loc, tt.regx)
		}
	}
}

// BenchmarkFind measures location lookup; with -benchmem it should show
// 0 allocs/op. Allocation goals are not asserted in a test: regexp's
// internal machine pool can be emptied by a GC under load, which would
// make such a test flaky.
func BenchmarkFind(b *testing.B) {
	srv := server(loc(config.MatchPrefix, "/"), redirecting(config.MatchPrefix, "/app/"), loc(config.MatchRegex, `\.php$`))
	for _, path := range []string{"/app", "/x.php", "/x"} {
		p := []byte(path)
		b.Run(path[1:], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Find(srv, p)
			}
		})
	}
}
