package config

import (
	"crypto/tls"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func TestSSLInheritance(t *testing.T) {
	cfg := load(t, `http {
ssl_certificate     certs/http.pem;
ssl_certificate_key certs/http.key;
ssl_session_timeout 10m;
server {
  listen 443 ssl;
  server_name a;
}
server {
  listen 443 ssl;
  server_name b;
  ssl_certificate     /etc/b.pem;
  ssl_certificate_key /etc/b.key;
  ssl_certificate     b-rsa.pem;
  ssl_certificate_key b-rsa.key;
  ssl_protocols TLSv1.3;
  ssl_session_tickets off;
  ssl_session_cache builtin:1000 shared:SSL:1m;
  ssl_prefer_server_ciphers on;
}
server {
  listen 80;
  server_name c;
  ssl_session_cache off;
}
}`)
	a, b, c := cfg.HTTP.Servers[0].SSL, cfg.HTTP.Servers[1].SSL, cfg.HTTP.Servers[2].SSL
	if !cfg.HTTP.Servers[0].Listens[0].SSL {
		t.Error("listen 443 ssl: SSL false")
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"a cert", a.Certificates, []CertKey{{Cert: "certs/http.pem", Key: "certs/http.key",
			CertPos: Pos{"site.conf", 2}, KeyPos: Pos{"site.conf", 3}}}},
		{"a timeout", a.SessionTimeout, 10 * time.Minute},
		{"a tickets", a.SessionTickets, true},
		{"a protocols", [2]uint16{a.MinVersion, a.MaxVersion}, [2]uint16{tls.VersionTLS12, tls.VersionTLS13}},
		{"a cache", a.SessionCache, SessionCache{}},
		{"a ciphers", a.Ciphers, "HIGH:!aNULL:!MD5"},
		{"b certs", len(b.Certificates), 2},
		{"b cert 0", b.Certificates[0].Cert + " " + b.Certificates[0].Key, "/etc/b.pem /etc/b.key"},
		{"b cert 1", b.Certificates[1].Cert + " " + b.Certificates[1].Key, "b-rsa.pem b-rsa.key"},
		{"b protocols", [2]uint16{b.MinVersion, b.MaxVersion}, [2]uint16{tls.VersionTLS13, tls.VersionTLS13}},
		{"b timeout inherited", b.SessionTimeout, 10 * time.Minute},
		{"b tickets", b.SessionTickets, false},
		{"b cache", b.SessionCache, SessionCache{Builtin: 1000, Shared: true, Name: "SSL", Size: 1 << 20}},
		{"b cache sessions", b.SessionCache.Sessions(), 5000},
		{"b cache enabled", b.SessionCache.Enabled(), true},
		{"b prefer", b.PreferServerCiphers, true},
		{"c cache off", c.SessionCache.Enabled(), false},
		{"c cert inherited", len(c.Certificates), 1},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("warnings %v, want none", cfg.Warnings)
	}
}

func TestSSLValues(t *testing.T) {
	tests := []struct {
		name     string
		line     string
		min, max uint16
		suites   []uint16
		warn     string // a substring of the one warning; "" for none
	}{
		{"default", "", tls.VersionTLS12, tls.VersionTLS13, nil, ""},
		{"old protocols", "ssl_protocols TLSv1 TLSv1.1 TLSv1.2;", tls.VersionTLS10, tls.VersionTLS12, nil, ""},
		{"sslv3 ignored", "ssl_protocols SSLv3 TLSv1.2;", tls.VersionTLS12, tls.VersionTLS12, nil, "SSLv3"},
		{"gap", "ssl_protocols TLSv1 TLSv1.2;", tls.VersionTLS10, tls.VersionTLS12, nil, "range"},
		{"default ciphers", "ssl_ciphers HIGH:!aNULL:!MD5;", tls.VersionTLS12, tls.VersionTLS13, nil, ""},
		{"named ciphers", "ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256:TLS_AES_128_GCM_SHA256;",
			tls.VersionTLS12, tls.VersionTLS13,
			[]uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}, ""},
		{"keywords", "ssl_ciphers ECDHE-RSA-AES256-GCM-SHA384:!aNULL:DHE-RSA-AES128-GCM-SHA256;", tls.VersionTLS12, tls.VersionTLS13,
			[]uint16{tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384}, "!aNULL:DHE-RSA-AES128-GCM-SHA256 not mapped"},
		{"only keywords", "ssl_ciphers EECDH+AESGCM;", tls.VersionTLS12, tls.VersionTLS13, nil, "default suites"},
		{"listen http2", "server { listen 127.0.0.1:443 ssl http2; ssl_certificate c; ssl_certificate_key k; }", tls.VersionTLS12, tls.VersionTLS13, nil, `"http2" parameter`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := load(t, "http {\n"+tt.line+"\nserver { listen 80; }\n}")
			s := cfg.HTTP.Servers[0].SSL
			if s.MinVersion != tt.min || s.MaxVersion != tt.max {
				t.Errorf("versions %x-%x, want %x-%x", s.MinVersion, s.MaxVersion, tt.min, tt.max)
			}
			if !reflect.DeepEqual(s.CipherSuites, tt.suites) {
				t.Errorf("suites %v, want %v", s.CipherSuites, tt.suites)
			}
			switch {
			case tt.warn == "" && len(cfg.Warnings) != 0:
				t.Errorf("warnings %v, want none", cfg.Warnings)
			case tt.warn != "" && (len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0].Error(), tt.warn)):
				t.Errorf("warnings %v, want one with %q", cfg.Warnings, tt.warn)
			case tt.warn != "" && !strings.HasPrefix(cfg.Warnings[0].Error(), "site.conf:2: "):
				t.Errorf("warning %v does not name site.conf:2", cfg.Warnings[0])
			}
		})
	}
}

func TestSSLErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"bad protocol", srv("ssl_protocols TLSv2;"), `site.conf:3: invalid value "TLSv2" in "ssl_protocols" directive`},
		{"no protocol", srv("ssl_protocols SSLv3;"), `site.conf:3: no protocol in "ssl_protocols" directive is implemented by crypto/tls`},
		{"tickets value", srv("ssl_session_tickets yes;"), `site.conf:3: invalid value "yes" in "ssl_session_tickets" directive, it must be "on" or "off"`},
		{"timeout", srv("ssl_session_timeout 5x;"), `site.conf:3: invalid value "5x" in "ssl_session_timeout" directive`},
		{"cache word", srv("ssl_session_cache shared;"), `site.conf:3: invalid session cache "shared"`},
		{"cache off with more", srv("ssl_session_cache off builtin;"), `site.conf:3: invalid session cache "off"`},
		{"cache small", srv("ssl_session_cache shared:S:1k;"), `site.conf:3: session cache "shared:S:1k" is too small`},
		{"cache size", srv("ssl_session_cache shared:S:x;"), `site.conf:3: invalid zone size "x"`},
		{"builtin size", srv("ssl_session_cache builtin:0;"), `site.conf:3: invalid session cache "builtin:0"`},
		{"in location", srv("location / {", "ssl_protocols TLSv1.2;", "}"), `site.conf:4: "ssl_protocols" directive is not allowed here`},
		{"duplicate", srv("ssl_protocols TLSv1.2;", "ssl_protocols TLSv1.3;"), `site.conf:4: "ssl_protocols" directive is duplicate`},
		{"not yet", srv("ssl_dhparam dh.pem;"), `site.conf:3: directive "ssl_dhparam" is not supported yet`},
		{"not yet ssl on", "http {\nssl on;\n}", `site.conf:2: directive "ssl" is not supported yet`},
		{"default server without cert", "http {\nserver {\nlisten 443 ssl;\n}\nserver {\nlisten 443;\nssl_certificate c;\nssl_certificate_key k;\n}\n}",
			`site.conf:3: no "ssl_certificate" is defined for the "listen ... ssl" directive in site.conf:2`},
		{"ssl on another server of the address", "http {\nserver {\nlisten 443;\n}\nserver {\nlisten 443 ssl;\nssl_certificate c;\nssl_certificate_key k;\n}\n}",
			`site.conf:6: no "ssl_certificate" is defined for the "listen ... ssl" directive in site.conf:2`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadFS(fstest.MapFS{"site.conf": {Data: []byte(tt.src)}}, "site.conf")
			if err == nil || err.Error() != tt.want {
				t.Errorf("error\n got %v\nwant %s", err, tt.want)
			}
		})
	}
}

func TestSSLDefaultServerHasCertificate(t *testing.T) {
	// A non-default server of an ssl address may have no certificate:
	// the default server's is used.
	cfg := load(t, "http {\nserver {\nlisten 443 ssl default_server;\nssl_certificate c;\nssl_certificate_key k;\n}\nserver {\nlisten 443;\nserver_name b;\n}\n}")
	if !cfg.HTTP.Servers[1].Listens[0].SSL {
		t.Error("ssl is an option of the address: the second server's listen has it too")
	}
}
