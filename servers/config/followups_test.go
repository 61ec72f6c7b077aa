package config

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestParseTemplate(t *testing.T) {
	tests := []struct {
		in      string
		want    []TemplatePart
		unknown bool // ErrUnknownVariable
		err     bool // any error
	}{
		{in: "/static", want: []TemplatePart{{Lit: "/static"}}},
		{in: "$uri/", want: []TemplatePart{{Var: "uri"}, {Lit: "/"}}},
		{in: "/x/$1.$2", want: []TemplatePart{{Lit: "/x/"}, {Var: "1"}, {Lit: "."}, {Var: "2"}}},
		{in: "${Document_Root}x", want: []TemplatePart{{Var: "document_root"}, {Lit: "x"}}},
		{in: "$http_x_real_ip", want: []TemplatePart{{Var: "http_x_real_ip"}}},
		{in: "$nosuch", unknown: true, err: true},
		{in: "/a/$name", unknown: true, err: true}, // named captures need a config
		{in: "a$", err: true},
	}
	for _, tt := range tests {
		got, err := ParseTemplate(tt.in)
		if tt.err {
			if err == nil || errors.Is(err, ErrUnknownVariable) != tt.unknown {
				t.Errorf("ParseTemplate(%q) error = %v, want unknown=%v", tt.in, err, tt.unknown)
			}
			continue
		}
		if err != nil || got.Raw != tt.in || !reflect.DeepEqual(got.Parts, tt.want) {
			t.Errorf("ParseTemplate(%q) = %+v, %v; want parts %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestKeepaliveSet(t *testing.T) {
	cfg := load(t, `
http {
    server {
        location /a/ { location /a/b/ {} }
        location /c/ { keepalive_timeout 75s; location /c/d/ {} }
    }
    server {
        keepalive_timeout 10s;
        location /e/ {}
    }
}
`)
	s0, s1 := cfg.HTTP.Servers[0], cfg.HTTP.Servers[1]
	for _, tt := range []struct {
		name string
		loc  *Location
		set  bool
		want time.Duration
	}{
		{"server default", s0.Loc, false, 75 * time.Second},
		{"location default", s0.Locations[0], false, 75 * time.Second},
		{"nested default", s0.Locations[0].Locations[0], false, 75 * time.Second},
		{"explicit 75s", s0.Locations[1], true, 75 * time.Second},
		{"nested in explicit", s0.Locations[1].Locations[0], true, 75 * time.Second},
		{"server explicit", s1.Loc, true, 10 * time.Second},
		{"inherited from server", s1.Locations[0], true, 10 * time.Second},
	} {
		if tt.loc.KeepaliveSet != tt.set || tt.loc.KeepaliveTimeout != tt.want {
			t.Errorf("%s: KeepaliveSet %v, timeout %v; want %v, %v", tt.name, tt.loc.KeepaliveSet, tt.loc.KeepaliveTimeout, tt.set, tt.want)
		}
	}
}

func TestLocationRegexAndAutoRedirect(t *testing.T) {
	cfg := load(t, `
http {
    server {
        location ~ ^/a/(\d+)$ {}
        location ~* \.PNG$ {}
        location /app/ { proxy_pass http://127.0.0.1:8080; }
        location = /exact/ { proxy_pass http://127.0.0.1:8080; }
        location /noslash { proxy_pass http://127.0.0.1:8080; }
        location /static/ { location /static/api/ { proxy_pass http://127.0.0.1:8080; } }
        location @named { proxy_pass http://127.0.0.1:8080; }
    }
}
`)
	locs := cfg.HTTP.Servers[0].Locations
	for _, tt := range []struct {
		loc      *Location
		regex    string // "" for nil
		redirect bool
	}{
		{locs[0], `^/a/(\d+)$`, false},
		{locs[1], `(?i)\.PNG$`, false},
		{locs[2], "", true},
		{locs[3], "", true},
		{locs[4], "", false},
		{locs[5], "", false},
		{locs[5].Locations[0], "", true},
		{locs[6], "", false},
	} {
		re := ""
		if tt.loc.Regex != nil {
			re = tt.loc.Regex.String()
		}
		if re != tt.regex || tt.loc.AutoRedirect != tt.redirect {
			t.Errorf("location %s %s: Regex %q, AutoRedirect %v; want %q, %v",
				tt.loc.Match, tt.loc.Path, re, tt.loc.AutoRedirect, tt.regex, tt.redirect)
		}
	}
	if !locs[1].Regex.MatchString("/x.png") {
		t.Error(`~* location does not match case-insensitively`)
	}
}

func TestEffectiveProxyHeaders(t *testing.T) {
	names := func(hs []HeaderSet) []string {
		var s []string
		for _, h := range hs {
			s = append(s, h.Name+"="+h.Value.Raw)
		}
		return s
	}
	for _, tt := range []struct {
		in   []HeaderSet
		want []string
	}{
		{nil, []string{"Host=$proxy_host", "Connection=close"}},
		{[]HeaderSet{{Name: "X-A", Value: Template{Raw: "a"}}}, []string{"X-A=a", "Host=$proxy_host", "Connection=close"}},
		{[]HeaderSet{{Name: "HOST", Value: Template{Raw: "$host"}}}, []string{"HOST=$host", "Connection=close"}},
		{[]HeaderSet{{Name: "connection", Value: Template{}}}, []string{"connection=", "Host=$proxy_host"}},
	} {
		if got := names(EffectiveProxyHeaders(tt.in)); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("EffectiveProxyHeaders(%v) = %v, want %v", names(tt.in), got, tt.want)
		}
	}
}
