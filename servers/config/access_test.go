package config

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// findLoc returns the location of cfg's first server with path; "" is
// the server's own level.
func findLoc(t *testing.T, cfg *Config, path string) *Location {
	t.Helper()
	srv := cfg.HTTP.Servers[0]
	if path == "" {
		return srv.Loc
	}
	var walk func([]*Location) *Location
	walk = func(ls []*Location) *Location {
		for _, l := range ls {
			if l.Path == path {
				return l
			}
			if f := walk(l.Locations); f != nil {
				return f
			}
		}
		return nil
	}
	if l := walk(srv.Locations); l != nil {
		return l
	}
	t.Fatalf("no location %q", path)
	return nil
}

// rules renders a rule list as "allow 10.0.0.0/8, deny all".
func rules(rs []AccessRule) string {
	var parts []string
	for _, r := range rs {
		s := "allow "
		if r.Deny {
			s = "deny "
		}
		switch {
		case r.All:
			s += "all"
		case r.Unix:
			s += "unix:"
		default:
			s += r.Prefix.String()
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

func TestAccessRules(t *testing.T) {
	src := `http {
    deny 192.0.2.1;
    server {
        location /inherit/ {
            location /inherit/nested/ { }
        }
        location /own/ {
            allow 10.0.0.0/8;
            allow 2001:db8::/32;
            allow ::ffff:198.51.100.0/120;
            allow unix:;
            deny all;
            location /own/nested/ { }
            location /own/replaced/ { allow 127.0.0.1; }
        }
        location /v6only/ { deny ::1; }
        location /masked/ { allow 10.1.2.3/8; deny 2001:db8::1/32; }
        location /first/ { allow 127.0.0.1; allow 127.0.0.0/8; deny 127.0.0.1; }
    }
    server {
        server_name two;
        deny all;
        location / { }
    }
}`
	cfg := load(t, src)
	tests := []struct {
		path string
		want string
	}{
		{"", "deny 192.0.2.1/32"},
		{"/inherit/", "deny 192.0.2.1/32"},
		{"/inherit/nested/", "deny 192.0.2.1/32"},
		{"/own/", "allow 10.0.0.0/8, allow 2001:db8::/32, allow ::ffff:198.51.100.0/120, allow unix:, deny all"},
		{"/own/nested/", "allow 10.0.0.0/8, allow 2001:db8::/32, allow ::ffff:198.51.100.0/120, allow unix:, deny all"},
		{"/own/replaced/", "allow 127.0.0.1/32"},
		// An IPv6 rule is a rule of the level: the http level's IPv4
		// rule is not inherited (nginx merges rules, rules6 and
		// rules_un together).
		{"/v6only/", "deny ::1/128"},
		{"/masked/", "allow 10.0.0.0/8, deny 2001:db8::/32"},
		{"/first/", "allow 127.0.0.1/32, allow 127.0.0.0/8, deny 127.0.0.1/32"},
	}
	for _, tt := range tests {
		if got := rules(findLoc(t, cfg, tt.path).Access); got != tt.want {
			t.Errorf("%q: rules %q, want %q", tt.path, got, tt.want)
		}
	}
	two := cfg.HTTP.Servers[1]
	if got := rules(two.Locations[0].Access); got != "deny all" {
		t.Errorf("second server: rules %q, want the server's %q", got, "deny all")
	}
	own := findLoc(t, cfg, "/own/").Access
	if own[0].Pos.Line != 8 || own[0].Deny || own[4].Pos.Line != 12 || !own[4].Deny {
		t.Errorf("positions and kinds: %+v", own)
	}
	if p := own[2].Prefix; !p.Addr().Is4In6() || p.Bits() != 120 {
		t.Errorf("an IPv4-mapped rule stays IPv6: %v", p)
	}

	// nginx: "low address bits of 10.1.2.3/8 are meaningless" ([warn]).
	var warns []string
	for _, w := range cfg.Warnings {
		warns = append(warns, w.Error())
	}
	want := []string{
		`site.conf:17: low address bits of 10.1.2.3/8 are meaningless`,
		`site.conf:17: low address bits of 2001:db8::1/32 are meaningless`,
	}
	if !reflect.DeepEqual(warns, want) {
		t.Errorf("warnings %q, want %q", warns, want)
	}
	if w := cfg.Warnings[0]; w.Directive != "allow" || w.Pos.Line != 17 {
		t.Errorf("warning fields %+v", w)
	}
}

func TestParseCIDR(t *testing.T) {
	tests := []struct {
		in     string
		want   string // "" for an error
		masked bool
	}{
		{"127.0.0.1", "127.0.0.1/32", false},
		{"10.0.0.0/8", "10.0.0.0/8", false},
		{"10.20.30.40/16", "10.20.0.0/16", true},
		{"0.0.0.0/0", "0.0.0.0/0", false},
		{"1.2.3.4/0", "0.0.0.0/0", true},
		{"::1", "::1/128", false},
		{"2001:db8::/32", "2001:db8::/32", false},
		{"2001:db8:ffff::/32", "2001:db8::/32", true},
		{"::/0", "::/0", false},
		{"::ffff:10.0.0.1", "::ffff:10.0.0.1/128", false},
		{"10.0.0.256", "", false},
		{"10.0.0", "", false},
		{"10.0.0.0/33", "", false},
		{"::/129", "", false},
		{"::1%lo", "", false},
		{"fe80::/10%lo", "", false},
		{"/8", "", false},
		{"10.0.0.0/-1", "", false},
		{"all", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		p, masked, err := parseCIDR(tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("parseCIDR(%q) = %v, want an error", tt.in, p)
			}
			continue
		}
		if err != nil || p != netip.MustParsePrefix(tt.want) || masked != tt.masked {
			t.Errorf("parseCIDR(%q) = %v, %v, %v; want %s, %v", tt.in, p, masked, err, tt.want, tt.masked)
		}
	}
}

// headers renders an add_header list as "X-A: a [always], ...".
func headers(hs []AddHeader) string {
	var parts []string
	for _, h := range hs {
		s := h.Name + ": " + h.Value.Raw
		if h.Always {
			s += " always"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

func TestAddHeaders(t *testing.T) {
	src := `http {
    add_header X-Http http;
    add_header X-Always "$status" always;
    server {
        location /inherit/ {
            location /inherit/nested/ { }
        }
        location /own/ {
            add_header X-Own $uri;
            add_header X-Empty "";
            add_header Cache-Control no-store always;
            location /own/nested/ { }
            location /own/replaced/ { add_header X-Nested n; }
        }
        location ~ ^/re/(?<id>[0-9]+) { add_header X-Id $id; add_header X-One $1; }
    }
    server {
        server_name two;
        add_header X-Server two;
        location / { }
    }
}`
	cfg := load(t, src)
	const http = `X-Http: http, X-Always: $status always`
	const own = `X-Own: $uri, X-Empty: , Cache-Control: no-store always`
	tests := []struct {
		path string
		want string
	}{
		{"", http},
		{"/inherit/", http},
		{"/inherit/nested/", http},
		{"/own/", own},
		{"/own/nested/", own},
		{"/own/replaced/", `X-Nested: n`},
		{"^/re/(?<id>[0-9]+)", `X-Id: $id, X-One: $1`},
	}
	for _, tt := range tests {
		if got := headers(findLoc(t, cfg, tt.path).AddHeaders); got != tt.want {
			t.Errorf("%q: add_header %q, want %q", tt.path, got, tt.want)
		}
	}
	if got := headers(cfg.HTTP.Servers[1].Locations[0].AddHeaders); got != "X-Server: two" {
		t.Errorf("second server: add_header %q, want the server's", got)
	}
	if v := findLoc(t, cfg, "/own/").AddHeaders[0].Value; len(v.Parts) != 1 || v.Parts[0].Var != "uri" {
		t.Errorf("value template %+v, want $uri parsed", v)
	}
}
