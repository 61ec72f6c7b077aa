package servertest

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/c10k/c10k/servers/backend"
)

// Virtual hosts of the TLS cases.
const (
	tlsHostA = "a.tls.test" // the default server, and the http level's certificate
	tlsHostB = "b.tls.test" // a certificate of its own
)

// tlsConf is the config of the TLS cases' main core.
const tlsConf = `events {}
http {
    access_log off;
    ssl_certificate     $CERTA;
    ssl_certificate_key $KEYA;
    server {
        listen 127.0.0.1:0 ssl default_server;
        server_name a.tls.test;
        root $ROOT;
        sendfile on;
        location = /vars { return 200 "$scheme $https $ssl_protocol $ssl_session_reused $ssl_server_name"; }
        location = /redirect { return 302 /vars; }
        location /proxy/ {
            proxy_pass http://$BACKEND/;
            proxy_set_header X-Forwarded-Proto $scheme;
        }
        location = /cgi { cgi_pass $SCRIPT; }
    }
    server {
        listen 127.0.0.1:0 ssl;
        server_name b.tls.test;
        ssl_certificate     $CERTB;
        ssl_certificate_key $KEYB;
        location = /who { return 200 "b"; }
    }
}
`

// tlsStrictConf is the config of the second core: TLS 1.3 only, a short
// client_header_timeout, and VERSION for the reload case.
const tlsStrictConf = `events {}
http {
    access_log off;
    server {
        listen 127.0.0.1:0 ssl;
        server_name a.tls.test;
        ssl_certificate     $CERTA;
        ssl_certificate_key $KEYA;
        ssl_protocols TLSv1.3;
        client_header_timeout 1s;
        location = /version { return 200 "$VERSION $ssl_session_reused"; }
    }
}
`

// tlsScript is the cgi_pass program of the TLS cases: it prints what
// RFC 3875 (and Apache) give it about TLS.
const tlsScript = `#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\n'
printf '%s %s' "$HTTPS" "$REQUEST_SCHEME"
`

// tlsBig is the size of the static file sent over TLS: larger than the
// cores' read buffers and any one TLS record, odd so that no chunk
// boundary lines up.
const tlsBig = 1<<20 + 123457

// RunTLS runs the TLS termination cases against the core start starts,
// on two configs of their own (certificates from a run-time CA, see
// Certs):
//
//   - GET over TLS 1.2 and 1.3, ALPN http/1.1, $scheme, $https,
//     $ssl_protocol, $ssl_server_name; a redirect names https;
//   - SNI chooses the certificate of the server named, the default
//     server's without SNI or for an unknown name;
//   - a second connection resumes the session ($ssl_session_reused r);
//   - plain HTTP to the ssl port: 400 "The plain HTTP request was sent
//     to HTTPS port", connection closed;
//   - keep-alive and pipelining, a > 1 MiB static file (sendfile on:
//     the core must encrypt it), a proxied request whose
//     X-Forwarded-Proto $scheme reaches the backend as https, a proxied
//     body large enough to spill to a temp file, and a CGI program that
//     sees HTTPS=on;
//   - with ssl_protocols TLSv1.3 a TLS 1.2-only client is refused;
//   - a client that connects and never sends a ClientHello is closed
//     after client_header_timeout while others are served, and so is
//     one silent after its handshake;
//   - resumption keeps working across a reload.
func RunTLS(t *testing.T, start Start) {
	dir := t.TempDir()
	certs, err := NewCerts(dir)
	must(t, err)
	certA, keyA, err := certs.Issue("a", tlsHostA)
	must(t, err)
	certB, keyB, err := certs.Issue("b", tlsHostB)
	must(t, err)
	root := filepath.Join(dir, "html")
	must(t, os.MkdirAll(root, 0o755))
	big := payload(tlsBig)
	must(t, os.WriteFile(filepath.Join(root, "big.bin"), big, 0o644))
	script := filepath.Join(dir, "tls.cgi")
	must(t, os.WriteFile(script, []byte(tlsScript), 0o755))
	_, err = os.Stat("/bin/sh")
	haveSh := err == nil
	up := startBackends(t, backend.Options{Name: "tls-up"})[0]

	conf := strings.NewReplacer("$CERTA", certA, "$KEYA", keyA, "$CERTB", certB, "$KEYB", keyB,
		"$ROOT", root, "$BACKEND", up, "$SCRIPT", script).Replace(tlsConf)
	confPath := filepath.Join(dir, "nginx.conf")
	must(t, os.WriteFile(confPath, []byte(conf), 0o644))
	addr := start(t, confPath).Addr
	port := addr[strings.LastIndexByte(addr, ':')+1:]

	t.Run("versions", func(t *testing.T) {
		t.Parallel()
		for _, v := range []struct {
			version uint16
			name    string
		}{{tls.VersionTLS12, "TLSv1.2"}, {tls.VersionTLS13, "TLSv1.3"}} {
			cfg := certs.ClientConfig(tlsHostA)
			cfg.MinVersion, cfg.MaxVersion = v.version, v.version
			c, cs := dialTLS(t, addr, cfg)
			if cs.Version != v.version || cs.NegotiatedProtocol != "http/1.1" {
				t.Errorf("%s: version %x, ALPN %q; want %x, http/1.1", v.name, cs.Version, cs.NegotiatedProtocol, v.version)
			}
			r := roundTrip(t, c, "GET", request("GET", "/vars", tlsHostA))
			if want := "https on " + v.name + " . " + tlsHostA; r.Status != 200 || string(r.Body) != want {
				t.Errorf("%s: GET /vars:\n%s\nwant 200 %q", v.name, r, want)
			}
		}
	})

	t.Run("redirect", func(t *testing.T) {
		t.Parallel()
		c, _ := dialTLS(t, addr, certs.ClientConfig(tlsHostA))
		r := roundTrip(t, c, "GET", request("GET", "/redirect", tlsHostA))
		if want := "https://" + tlsHostA + ":" + port + "/vars"; r.Status != 302 || r.Get("Location") != want {
			t.Errorf("GET /redirect:\n%s\nwant 302 to %s", r, want)
		}
	})

	t.Run("sni", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct{ sni, cert string }{
			{tlsHostB, tlsHostB},
			{tlsHostA, tlsHostA},
			{"", tlsHostA},
			{"other.tls.test", tlsHostA},
		} {
			cfg := certs.ClientConfig("")
			cfg.ServerName = tc.sni
			if tc.sni == tc.cert {
				cfg = certs.ClientConfig(tc.sni)
			}
			c, cs := dialTLS(t, addr, cfg)
			if got := Leaf(cs); got != tc.cert {
				t.Errorf("SNI %q: certificate of %q, want %q", tc.sni, got, tc.cert)
			}
			if tc.sni == tlsHostB {
				if r := roundTrip(t, c, "GET", request("GET", "/who", tlsHostB)); r.Status != 200 || string(r.Body) != "b" {
					t.Errorf("GET /who on %s:\n%s\nwant 200 \"b\"", tlsHostB, r)
				}
			}
		}
	})

	t.Run("resumption", func(t *testing.T) {
		t.Parallel()
		for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			cfg := certs.ClientConfig(tlsHostA)
			cfg.MaxVersion = v
			cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
			resumed := ""
			for i := range 2 {
				c, cs := dialTLS(t, addr, cfg)
				r := roundTrip(t, c, "GET", request("GET", "/vars", tlsHostA, "Connection: close"))
				c.Close()
				if want := i == 1; cs.DidResume != want {
					t.Errorf("version %x, connection %d: resumed %v, want %v", v, i+1, cs.DidResume, want)
				}
				resumed = string(r.Body)
			}
			if f := strings.Fields(resumed); len(f) < 4 || f[3] != "r" {
				t.Errorf("version %x: $ssl_session_reused of the second connection: body %q, want r", v, resumed)
			}
		}
	})

	t.Run("plain-http", func(t *testing.T) {
		t.Parallel()
		c, err := Dial(addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		r := roundTrip(t, c, "GET", request("GET", "/vars", tlsHostA))
		if r.Status != 400 || !bytes.Contains(r.Body, []byte("The plain HTTP request was sent to HTTPS port")) {
			t.Errorf("plain HTTP to the ssl port:\n%s\nwant nginx's 400", r)
		}
		if err := c.ExpectClosed(); err != nil {
			t.Error(err)
		}
	})

	t.Run("keepalive-pipelining", func(t *testing.T) {
		t.Parallel()
		c, _ := dialTLS(t, addr, certs.ClientConfig(tlsHostA))
		for range 2 {
			r := roundTrip(t, c, "GET", request("GET", "/vars", tlsHostA))
			if r.Status != 200 || r.Get("Connection") == "close" {
				t.Fatalf("keep-alive request:\n%s", r)
			}
		}
		var b strings.Builder
		for range 3 {
			b.WriteString(request("GET", "/vars", tlsHostA))
		}
		b.WriteString(request("GET", "/who", tlsHostB)) // another virtual server of the connection
		must(t, c.Write([]byte(b.String())))
		for i := range 4 {
			r, err := c.ReadResponse("GET")
			if err != nil {
				t.Fatalf("pipelined response %d: %v", i+1, err)
			}
			want := "https on "
			if i == 3 {
				want = "b"
			}
			if r.Status != 200 || !strings.HasPrefix(string(r.Body), want) {
				t.Errorf("pipelined response %d:\n%s\nwant 200 %q...", i+1, r, want)
			}
		}
	})

	t.Run("large-file", func(t *testing.T) {
		t.Parallel()
		c, _ := dialTLS(t, addr, certs.ClientConfig(tlsHostA))
		for i := range 2 { // the second on the same connection: the first ended cleanly
			r := roundTrip(t, c, "GET", request("GET", "/big.bin", tlsHostA))
			if r.Status != 200 || !bytes.Equal(r.Body, big) {
				t.Fatalf("GET /big.bin #%d: status %d, %d bytes, want 200 and the file's %d bytes intact", i+1, r.Status, len(r.Body), len(big))
			}
		}
	})

	t.Run("proxy", func(t *testing.T) {
		t.Parallel()
		c, _ := dialTLS(t, addr, certs.ClientConfig(tlsHostA))
		r := roundTrip(t, c, "GET", request("GET", "/proxy/x", tlsHostA))
		if !wantStatus(t, r, 200) {
			return
		}
		if got := echo(t, r).Headers.Get("X-Forwarded-Proto"); got != "https" {
			t.Errorf("X-Forwarded-Proto at the backend %q, want https", got)
		}
		// A request body read through TLS.
		body := payload(300 << 10)
		r = roundTrip(t, c, "POST", request("POST", "/proxy/post", tlsHostA, "Content-Length: "+strconv.Itoa(len(body)))+string(body))
		if !wantStatus(t, r, 200) {
			return
		}
		if e := echo(t, r); e.BodyLength != int64(len(body)) || e.BodySHA256 != sum(body) {
			t.Errorf("a %d-byte request body over TLS reached the backend as %d bytes (sha256 %s)", len(body), e.BodyLength, e.BodySHA256)
		}
		// Past the cores' 1 MB memory buffer: spilled to a temp file,
		// which must go out through TLS too (no sendfile).
		const size = 2<<20 + 4321
		r = roundTrip(t, c, "GET", request("GET", "/proxy/big?size="+strconv.Itoa(size), tlsHostA))
		if r.Status != 200 || len(r.Body) != size {
			t.Errorf("a %d-byte proxied body over TLS: status %d, %d bytes", size, r.Status, len(r.Body))
		}
	})

	t.Run("cgi", func(t *testing.T) {
		t.Parallel()
		if !haveSh {
			t.Skip("no /bin/sh")
		}
		c, _ := dialTLS(t, addr, certs.ClientConfig(tlsHostA))
		r := roundTrip(t, c, "GET", request("GET", "/cgi", tlsHostA))
		if r.Status != 200 || string(r.Body) != "on https" {
			t.Errorf("GET /cgi:\n%s\nwant 200 \"on https\"", r)
		}
	})

	t.Run("strict", func(t *testing.T) { runTLSStrict(t, start, certs, certA, keyA) })
}

// runTLSStrict runs the cases of the TLS 1.3-only core: the refused
// 1.2 client, the client without a ClientHello, the reload.
func runTLSStrict(t *testing.T, start Start, certs *Certs, certA, keyA string) {
	dir := t.TempDir()
	confPath := filepath.Join(dir, "nginx.conf")
	write := func(version string) {
		conf := strings.NewReplacer("$CERTA", certA, "$KEYA", keyA, "$VERSION", version).Replace(tlsStrictConf)
		must(t, os.WriteFile(confPath, []byte(conf), 0o644))
	}
	write("v1")
	core := start(t, confPath)
	addr := core.Addr

	t.Run("tls12-refused", func(t *testing.T) {
		cfg := certs.ClientConfig(tlsHostA)
		cfg.MaxVersion = tls.VersionTLS12
		if c, err := tlsDial(addr, cfg); err == nil {
			c.Close()
			t.Errorf("a TLS 1.2-only client completed a handshake with ssl_protocols TLSv1.3 (version %x)", c.ConnectionState().Version)
		}
		c, _ := dialTLS(t, addr, certs.ClientConfig(tlsHostA))
		if r := roundTrip(t, c, "GET", request("GET", "/version", tlsHostA)); r.Status != 200 {
			t.Errorf("TLS 1.3 client:\n%s", r)
		}
	})

	t.Run("no-client-hello", func(t *testing.T) {
		idle, err := Dial(addr)
		if err != nil {
			t.Fatal(err)
		}
		defer idle.Close()
		// Others are served while it waits.
		c, _ := dialTLS(t, addr, certs.ClientConfig(tlsHostA))
		if r := roundTrip(t, c, "GET", request("GET", "/version", tlsHostA)); r.Status != 200 {
			t.Errorf("a client served while another sends nothing:\n%s", r)
		}
		if err := idle.ExpectClosed(); err != nil {
			t.Errorf("a client that never sends a ClientHello (client_header_timeout 1s): %v", err)
		}
	})

	t.Run("handshake-then-silence", func(t *testing.T) {
		// client_header_timeout goes on after the handshake: a client
		// that sends no request is closed too.
		c, _ := dialTLS(t, addr, certs.ClientConfig(tlsHostA))
		if err := c.ExpectClosed(); err != nil {
			t.Errorf("a client silent after the handshake (client_header_timeout 1s): %v", err)
		}
	})

	t.Run("reload-resumption", func(t *testing.T) {
		if core.Reload == nil {
			t.Skip("the core does not reload")
		}
		cfg := certs.ClientConfig(tlsHostA)
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
		c, _ := dialTLS(t, addr, cfg)
		if r := roundTrip(t, c, "GET", request("GET", "/version", tlsHostA, "Connection: close")); string(r.Body) != "v1 ." {
			t.Fatalf("before the reload:\n%s\nwant \"v1 .\"", r)
		}
		c.Close()
		write("v2")
		if err := core.Reload(confPath); err != nil {
			t.Fatalf("reload: %v", err)
		}
		c, cs := dialTLS(t, addr, cfg)
		r := roundTrip(t, c, "GET", request("GET", "/version", tlsHostA, "Connection: close"))
		if !cs.DidResume || string(r.Body) != "v2 r" {
			t.Errorf("after the reload: resumed %v, body %q; want a resumed session and \"v2 r\"", cs.DidResume, r.Body)
		}
	})
}

// dialTLS connects to addr and completes a TLS handshake with cfg
// within IOTimeout; the connection closes when t ends.
func dialTLS(t *testing.T, addr string, cfg *tls.Config) (*Conn, tls.ConnectionState) {
	t.Helper()
	tc, err := tlsDial(addr, cfg)
	if err != nil {
		t.Fatalf("TLS handshake with %s: %v", addr, err)
	}
	t.Cleanup(func() { tc.Close() })
	return NewConn(tc), tc.ConnectionState()
}

// tlsDial connects to addr and runs the TLS handshake, within IOTimeout.
func tlsDial(addr string, cfg *tls.Config) (*tls.Conn, error) {
	d := &net.Dialer{Timeout: IOTimeout}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	nc.SetDeadline(time.Now().Add(IOTimeout))
	tc := tls.Client(nc, cfg)
	if err := tc.Handshake(); err != nil {
		nc.Close()
		return nil, fmt.Errorf("handshake: %w", err)
	}
	nc.SetDeadline(time.Time{})
	return tc, nil
}
