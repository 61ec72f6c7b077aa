package config

import (
	"reflect"
	"testing"
)

func TestGzipDirectives(t *testing.T) {
	src := `http {
    gzip on;
    gzip_types text/css Application/JSON;
    gzip_min_length 1k;
    server {
        gzip_comp_level 6;
        gzip_vary on;
        location /inherit/ {
            location /inherit/nested/ { }
        }
        location /own/ {
            gzip off;
            gzip_types *;
            gzip_proxied expired no-cache auth;
            gzip_http_version 1.0;
            location /own/nested/ { gzip on; gzip_min_length 0; }
        }
    }
    server {
        server_name two;
        location / { }
    }
}`
	cfg := load(t, src)
	inherited := Gzip{On: true, Types: []string{"text/css", "application/json"}, MinLength: 1024, Level: 6, Vary: true,
		Proxied: GzipProxiedOff, HTTPMinor: 1}
	own := Gzip{On: false, AnyType: true, MinLength: 1024, Level: 6, Vary: true,
		Proxied: GzipProxiedExpired | GzipProxiedNoCache | GzipProxiedAuth, HTTPMinor: 0}
	nested := own
	nested.On, nested.MinLength = true, 0
	tests := []struct {
		path string
		want Gzip
	}{
		{"", inherited},
		{"/inherit/", inherited},
		{"/inherit/nested/", inherited},
		{"/own/", own},
		{"/own/nested/", nested},
	}
	for _, tt := range tests {
		if got := findLoc(t, cfg, tt.path).Gzip; !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: gzip %+v, want %+v", tt.path, got, tt.want)
		}
	}
	want := Gzip{On: true, Types: []string{"text/css", "application/json"}, MinLength: 1024, Level: 1,
		Proxied: GzipProxiedOff, HTTPMinor: 1}
	if got := cfg.HTTP.Servers[1].Locations[0].Gzip; !reflect.DeepEqual(got, want) {
		t.Errorf("second server: gzip %+v, want %+v", got, want)
	}
	def := load(t, "http {\n server {\n location / { }\n }\n}").HTTP.Servers[0].Locations[0].Gzip
	if !reflect.DeepEqual(def, defaultGzip) || def.On || def.MinLength != 20 || def.Level != 1 {
		t.Errorf("defaults %+v, want nginx's (off, 20, 1, proxied off, 1.1)", def)
	}
}

func TestGzipErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"gzip bad flag", srv("gzip yes;"), `site.conf:3: invalid value "yes" in "gzip" directive, it must be "on" or "off"`},
		{"gzip no args", srv("gzip;"), `site.conf:3: invalid number of arguments in "gzip" directive`},
		{"gzip in main", "gzip on;", `site.conf:1: "gzip" directive is not allowed here`},
		{"gzip duplicate", srv("gzip on;", "gzip off;"), `site.conf:4: "gzip" directive is duplicate`},
		{"gzip_types empty", srv("gzip_types;"), `site.conf:3: invalid number of arguments in "gzip_types" directive`},
		{"gzip_min_length bad", srv("location / {", "gzip_min_length -1;", "}"), `site.conf:4: invalid value "-1" in "gzip_min_length" directive`},
		{"gzip_comp_level zero", srv("gzip_comp_level 0;"), `site.conf:3: invalid value "0" in "gzip_comp_level" directive, it must be between 1 and 9`},
		{"gzip_comp_level ten", srv("gzip_comp_level 10;"), `site.conf:3: invalid value "10" in "gzip_comp_level" directive, it must be between 1 and 9`},
		{"gzip_comp_level word", srv("gzip_comp_level fast;"), `site.conf:3: invalid value "fast" in "gzip_comp_level" directive`},
		{"gzip_vary bad", srv("gzip_vary 1;"), `site.conf:3: invalid value "1" in "gzip_vary" directive, it must be "on" or "off"`},
		{"gzip_proxied unknown", srv("gzip_proxied sometimes;"), `site.conf:3: invalid value "sometimes" in "gzip_proxied" directive`},
		{"gzip_proxied off with others", srv("gzip_proxied off any;"), `site.conf:3: invalid value "off" in "gzip_proxied" directive`},
		{"gzip_http_version bad", srv("gzip_http_version 2.0;"), `site.conf:3: invalid value "2.0" in "gzip_http_version" directive`},
		{"gzip_disable", srv("gzip_disable msie6;"), `site.conf:3: directive "gzip_disable" is not supported yet`},
		{"gzip_buffers", srv("gzip_buffers 16 8k;"), `site.conf:3: directive "gzip_buffers" is not supported yet`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("site.conf", []byte(tt.src))
			if err == nil || err.Error() != tt.want {
				t.Errorf("error %v, want %s", err, tt.want)
			}
		})
	}
}

func TestGzipTypeMatches(t *testing.T) {
	g := Gzip{Types: []string{"text/css", "application/json"}}
	tests := []struct {
		ct   string
		want bool
	}{
		{"text/html", true},
		{"TEXT/HTML; charset=utf-8", true},
		{"text/css", true},
		{"application/json ; charset=utf-8", true},
		{"image/png", false},
		{"text/plain", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := g.TypeMatches([]byte(tt.ct)); got != tt.want {
			t.Errorf("TypeMatches(%q) = %v, want %v", tt.ct, got, tt.want)
		}
	}
	any := Gzip{AnyType: true}
	if !any.TypeMatches([]byte("image/png")) || any.TypeMatches(nil) {
		t.Error(`gzip_types *: want every type, and no match without one`)
	}
}
