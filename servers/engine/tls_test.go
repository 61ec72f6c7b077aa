package engine_test

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/c10k/c10k/servers/config"
	"github.com/c10k/c10k/servers/engine"
	"github.com/c10k/c10k/servers/http1"
	"github.com/c10k/c10k/servers/servertest"
)

// tlsSite writes certificates for a.test, b.test and a mismatched pair
// into a temporary directory and returns it with the CA.
func tlsSite(t *testing.T) (dir string, certs *servertest.Certs) {
	t.Helper()
	certs = servertest.TestCerts(t)
	for _, n := range []string{"a.test", "b.test", "r1.test"} {
		if _, _, err := certs.Issue(n, n); err != nil {
			t.Fatal(err)
		}
	}
	return certs.Dir, certs
}

// tlsEngine writes conf (an http block's servers) into dir and builds
// its engine with opts.
func tlsEngine(t *testing.T, dir, conf string, opts engine.Options) (*engine.Engine, error) {
	t.Helper()
	name := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(name, []byte("http {\naccess_log off;\n"+conf+"\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(name)
	if err != nil {
		return nil, err
	}
	e, err := engine.New(cfg, opts)
	if err == nil {
		t.Cleanup(func() { e.Close() })
	}
	return e, err
}

// handshake runs a TLS handshake between cfg (server) and client over
// loopback TCP and returns the client's view of it. The server sends
// one byte after the handshake so that the client reads TLS 1.3's
// session tickets.
func handshake(t *testing.T, cfg, client *tls.Config) (tls.ConnectionState, error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		s := tls.Server(c, cfg)
		if s.Handshake() == nil {
			s.Write([]byte("x"))
		}
		s.Close()
	}()
	defer func() { <-done }()
	d := &net.Dialer{Timeout: 10 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", ln.Addr().String(), client)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.Copy(io.Discard, c)
	return c.ConnectionState(), nil
}

const twoServers = `
server {
  listen 127.0.0.1:0 ssl;
  server_name a.test;
  ssl_certificate a.test.pem;
  ssl_certificate_key a.test.key;
  return 200 "a $scheme $https $ssl_protocol $ssl_session_reused $ssl_server_name";
}
server {
  listen 127.0.0.1:0 ssl;
  server_name b.test *.b.test;
  ssl_certificate b.test.pem;
  ssl_certificate_key b.test.key;
}
server {
  listen 127.0.0.1:0 ssl;
  server_name c.test;
}
server {
  listen 127.0.0.1:0 ssl;
  server_name ~^r\d+\.test$;
  ssl_certificate r1.test.pem;
  ssl_certificate_key r1.test.key;
}`

func TestTLSConfigCertificateBySNI(t *testing.T) {
	dir, certs := tlsSite(t)
	e, err := tlsEngine(t, dir, twoServers, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Listeners()) != 1 || !e.Listeners()[0].SSL {
		t.Fatalf("listeners %+v, want one SSL", e.Listeners())
	}
	cfg := e.TLSConfig(0)
	if cfg == nil || e.TLSConfig(0) != cfg {
		t.Fatal("TLSConfig(0) is nil or not built once")
	}
	if e.TLSConfig(1) != nil || e.TLSConfig(-1) != nil {
		t.Error("TLSConfig of a listener that does not exist is not nil")
	}
	tests := []struct {
		sni, want string
	}{
		{"a.test", "a.test"},
		{"b.test", "b.test"},
		{"www.b.test", "b.test"}, // server_name *.b.test
		{"r1.test", "r1.test"},   // a regex server_name
		{"R1.TEST", "r1.test"},   // names are case-insensitive
		{"c.test", "a.test"},     // no certificate of its own: the default server's
		{"other.test", "a.test"}, // no match: the default server
		{"", "a.test"},           // no SNI
	}
	for _, tt := range tests {
		ccfg := certs.ClientConfig(tt.sni)
		if tt.want != tt.sni && tt.sni != "" {
			ccfg = certs.ClientConfig("")
			ccfg.ServerName = tt.sni
		}
		cs, err := handshake(t, cfg, ccfg)
		if err != nil {
			t.Errorf("SNI %q: %v", tt.sni, err)
			continue
		}
		if got := servertest.Leaf(cs); got != tt.want {
			t.Errorf("SNI %q: certificate %q, want %q", tt.sni, got, tt.want)
		}
		if cs.NegotiatedProtocol != "http/1.1" {
			t.Errorf("SNI %q: ALPN %q, want http/1.1", tt.sni, cs.NegotiatedProtocol)
		}
	}
}

func TestTLSConfigProtocols(t *testing.T) {
	dir, certs := tlsSite(t)
	tests := []struct {
		protocols string
		client    uint16 // the client's MaxVersion
		want      uint16 // 0: the handshake fails
	}{
		{"", tls.VersionTLS12, tls.VersionTLS12},
		{"", tls.VersionTLS13, tls.VersionTLS13},
		{"ssl_protocols TLSv1.3;", tls.VersionTLS12, 0},
		{"ssl_protocols TLSv1.3;", tls.VersionTLS13, tls.VersionTLS13},
		{"ssl_protocols TLSv1.2;", tls.VersionTLS13, tls.VersionTLS12},
		{"ssl_protocols TLSv1 TLSv1.1;", tls.VersionTLS13, tls.VersionTLS11},
	}
	for _, tt := range tests {
		e, err := tlsEngine(t, dir, tt.protocols+"\nserver { listen 127.0.0.1:0 ssl; ssl_certificate a.test.pem; ssl_certificate_key a.test.key; }", engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		ccfg := certs.ClientConfig("a.test")
		ccfg.MinVersion, ccfg.MaxVersion = tls.VersionTLS10, tt.client
		cs, err := handshake(t, e.TLSConfig(0), ccfg)
		switch {
		case tt.want == 0 && err == nil:
			t.Errorf("%q, client up to %x: handshake succeeded with %x, want a failure", tt.protocols, tt.client, cs.Version)
		case tt.want != 0 && err != nil:
			t.Errorf("%q, client up to %x: %v", tt.protocols, tt.client, err)
		case tt.want != 0 && cs.Version != tt.want:
			t.Errorf("%q, client up to %x: version %x, want %x", tt.protocols, tt.client, cs.Version, tt.want)
		}
	}
}

func TestTLSCertificateErrors(t *testing.T) {
	dir, _ := tlsSite(t)
	os.WriteFile(filepath.Join(dir, "junk.pem"), []byte("not a certificate"), 0o644)
	tests := []struct {
		name, cert, key, want string
	}{
		{"missing certificate", "nope.pem", "a.test.key", `nginx.conf:5: cannot load certificate "` + dir + `/nope.pem"`},
		{"missing key", "a.test.pem", "nope.key", `nginx.conf:6: cannot load certificate key "` + dir + `/nope.key"`},
		{"junk certificate", "junk.pem", "a.test.key", `nginx.conf:5: cannot load certificate "` + dir + `/junk.pem"`},
		{"key of another certificate", "a.test.pem", "b.test.key", `nginx.conf:6: cannot load certificate key "` + dir + `/b.test.key" for certificate "` + dir + `/a.test.pem"`},
	}
	for _, tt := range tests {
		_, err := tlsEngine(t, dir, "server {\nlisten 127.0.0.1:0 ssl;\nssl_certificate "+tt.cert+";\nssl_certificate_key "+tt.key+";\n}", engine.Options{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one with %q", tt.name, err, tt.want)
		}
	}
}

func TestTLSResumption(t *testing.T) {
	dir, certs := tlsSite(t)
	now := time.Now()
	clock := func() time.Time { return now }
	const site = "server { listen 127.0.0.1:0 ssl; ssl_certificate a.test.pem; ssl_certificate_key a.test.key; %s }"
	tests := []struct {
		name     string
		settings string
		version  uint16
		reload   bool          // the second connection goes to a reloaded engine (InheritZones)
		fresh    bool          // the second engine does not inherit
		later    time.Duration // the second connection comes this much later
		want     bool
	}{
		{"tickets 1.3", "", tls.VersionTLS13, false, false, 0, true},
		{"tickets 1.2", "", tls.VersionTLS12, false, false, 0, true},
		{"tickets across reload", "", tls.VersionTLS13, true, false, 0, true},
		{"tickets across restart", "", tls.VersionTLS13, true, true, 0, false},
		{"tickets expired", "ssl_session_timeout 1m;", tls.VersionTLS13, false, false, 2 * time.Minute, false},
		{"tickets 1.2 expired", "ssl_session_timeout 1m;", tls.VersionTLS12, false, false, 2 * time.Minute, false},
		{"tickets off", "ssl_session_tickets off;", tls.VersionTLS13, false, false, 0, false},
		{"cache", "ssl_session_tickets off; ssl_session_cache builtin:10;", tls.VersionTLS13, false, false, 0, true},
		{"cache 1.2", "ssl_session_tickets off; ssl_session_cache shared:S:1m;", tls.VersionTLS12, false, false, 0, true},
		{"shared cache across reload", "ssl_session_tickets off; ssl_session_cache shared:S:1m;", tls.VersionTLS13, true, false, 0, true},
		{"builtin cache across reload", "ssl_session_tickets off; ssl_session_cache builtin;", tls.VersionTLS13, true, false, 0, false},
		{"cache expired", "ssl_session_tickets off; ssl_session_cache builtin; ssl_session_timeout 1m;", tls.VersionTLS13, false, false, 2 * time.Minute, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now = time.Now()
			conf := strings.Replace(site, "%s", tt.settings, 1)
			e1, err := tlsEngine(t, dir, conf, engine.Options{Now: clock})
			if err != nil {
				t.Fatal(err)
			}
			ccfg := certs.ClientConfig("a.test")
			ccfg.MaxVersion = tt.version
			ccfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
			cs, err := handshake(t, e1.TLSConfig(0), ccfg)
			if err != nil || cs.DidResume {
				t.Fatalf("first connection: resumed %v, error %v", cs.DidResume, err)
			}
			e2 := e1
			if tt.reload {
				if e2, err = tlsEngine(t, dir, conf, engine.Options{Now: clock}); err != nil {
					t.Fatal(err)
				}
				if !tt.fresh {
					e2.InheritZones(e1)
				}
			}
			now = now.Add(tt.later)
			cs, err = handshake(t, e2.TLSConfig(0), ccfg)
			if err != nil {
				t.Fatal(err)
			}
			if cs.DidResume != tt.want {
				t.Errorf("second connection resumed %v, want %v", cs.DidResume, tt.want)
			}
		})
	}
}

func TestTLSVariablesAndPlainHTTP(t *testing.T) {
	dir, _ := tlsSite(t)
	e, err := tlsEngine(t, dir, twoServers+"\nserver { listen 127.0.0.1:0 ssl; server_name d.test; error_page 497 =301 https://$host$request_uri; }", engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	local := netip.MustParseAddrPort("127.0.0.1:8443")
	tls13 := engine.Conn{Local: local, TLS: true, TLSVersion: tls.VersionTLS13, TLSResumed: true, TLSServerName: "a.test"}
	tls12 := engine.Conn{Local: local, TLS: true, TLSVersion: tls.VersionTLS12}
	plain := engine.Conn{Local: local, PlainHTTP: true}
	tests := []struct {
		name   string
		conn   engine.Conn
		host   string
		status int
		body   string // a substring
		header string // "Name: value" expected, if any
	}{
		{"tls 1.3 resumed", tls13, "a.test", 200, "a https on TLSv1.3 r a.test", ""},
		{"tls 1.2", tls12, "a.test", 200, "a https on TLSv1.2 . ", ""},
		{"plain http", plain, "a.test", 400, "The plain HTTP request was sent to HTTPS port", ""},
		{"plain http error_page 497", plain, "d.test", 301, "", "Location: https://d.test/x?y"},
	}
	for _, tt := range tests {
		req := parse(t, "GET /x?y HTTP/1.1\r\nHost: "+tt.host+"\r\n\r\n")
		var p engine.Plan
		e.Serve(req, tt.conn, &p)
		if p.Status != tt.status || !strings.Contains(string(p.Body), tt.body) {
			t.Errorf("%s: %d %q, want %d with %q", tt.name, p.Status, p.Body, tt.status, tt.body)
		}
		if tt.header != "" {
			name, value, _ := strings.Cut(tt.header, ": ")
			if got := string(p.Header.Get(name)); got != value {
				t.Errorf("%s: %s %q, want %q", tt.name, name, got, value)
			}
		}
		if tt.conn.PlainHTTP && p.KeepAlive {
			t.Errorf("%s: keep-alive after a plain HTTP request to an HTTPS port", tt.name)
		}
	}
	// A redirect on a TLS connection names https, without the port 443.
	e2, err := tlsEngine(t, dir, "server { listen 127.0.0.1:0 ssl; ssl_certificate a.test.pem; ssl_certificate_key a.test.key; return 302 /to; }", engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		port uint16
		want string
	}{{443, "https://a.test/to"}, {8443, "https://a.test:8443/to"}} {
		var p engine.Plan
		c := engine.Conn{Local: netip.AddrPortFrom(local.Addr(), tt.port), TLS: true}
		e2.Serve(parse(t, "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n"), c, &p)
		if got := string(p.Header.Get("Location")); got != tt.want {
			t.Errorf("port %d: Location %q, want %q", tt.port, got, tt.want)
		}
	}
	for _, b := range []struct {
		b    byte
		want bool
	}{{0x16, true}, {0x80, true}, {'G', false}, {'\r', false}} {
		if engine.IsTLSHandshake(b.b) != b.want {
			t.Errorf("IsTLSHandshake(%#x) = %v", b.b, !b.want)
		}
	}
}

func TestTLSConfigPlainListener(t *testing.T) {
	dir, _ := tlsSite(t)
	e, err := tlsEngine(t, dir, "server { listen 127.0.0.1:0; }", engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if e.TLSConfig(0) != nil {
		t.Error("a plain listener has a TLS config")
	}
	cfg, err := config.Parse(filepath.Join(dir, "x.conf"), []byte("http { server { listen 127.0.0.1:0; } }"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.HTTP.Servers[0].Listens[0].SSL = true // a hand-made config: no certificate
	if _, err := engine.New(cfg, engine.Options{}); !errors.Is(err, engine.ErrNoCertificate) {
		t.Errorf("ssl listener without a certificate: error %v, want ErrNoCertificate", err)
	}
}

func parse(t *testing.T, s string) *http1.Request {
	t.Helper()
	var req http1.Request
	var ps http1.Parser
	if _, err := ps.Parse([]byte(s), &req); err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return &req
}
