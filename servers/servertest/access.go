package servertest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/c10k/c10k/servers/backend"
)

// accessConf is the config of the access and add_header cases. The
// suite's client connects from 127.0.0.1.
const accessConf = `events {}
http {
    access_log off;
    keepalive_timeout 30s;
    add_header X-Http-Level h;
    server {
        listen 127.0.0.1:0 default_server;
        server_name access.test;
        root $ROOT;
        location / { }
        location = /forbidden.html { }
        location /denied/ { deny all; }
        location /loopback/ { allow 127.0.0.1; deny all; }
        location /cidr/ { allow 127.0.0.0/8; deny all; }
        location /othernet/ { allow 10.0.0.0/8; allow 192.168.0.0/16; deny all; }
        location /v6only/ { deny ::/0; }
        location /v6allow/ { allow ::/0; deny all; }
        location /first-deny/ { deny 127.0.0.1; allow all; }
        location /first-allow/ { allow 127.0.0.1; deny 127.0.0.0/8; }
        location /nested/ {
            deny all;
            location /nested/open/ { allow all; }
            location /nested/inherit/ { }
        }
        location /ep/ { deny all; error_page 403 /forbidden.html; }
        location = /ret { deny all; return 200 "return runs before access"; }
        location /denied-hdr/ { deny all; add_header X-Denied d always; add_header X-Not-Sent n; }

        location /hdr/ { add_header X-Static "s $status"; add_header X-Always a always; add_header X-Empty ""; }
        location = /hdr-ret { add_header X-Ret "$request_method $status"; add_header X-Always a always; return 200 "returned"; }
        location = /hdr-ret404 { add_header X-Ret r; add_header X-Always a always; return 404; }
        location = /hdr-redirect { add_header X-Ret r; return 302 /elsewhere; }
        location /hdr-proxy/ { add_header X-Proxied "$status"; add_header X-Always a always; proxy_pass http://$BACKEND; }
        location /hdr-dead/ { add_header X-Proxied "$status"; add_header X-Always a always; proxy_pass http://$DEAD; }
        location /hdr-cgi/ { add_header X-Cgi "$status"; add_header X-Always a always; cgi_pass $SCRIPT; }
        location /hdr-ep/ { error_page 404 /hdr/page.html; }
    }
    server {
        listen 127.0.0.1:0;
        server_name denied.test;
        root $ROOT;
        deny all;
        location / { }
        location /open/ { allow all; }
    }
}
`

// accessScript is the CGI program of the add_header cases.
const accessScript = `#!/bin/sh
case "$PATH_INFO" in
/fail) printf 'Status: 500 Broken\r\nContent-Type: text/plain\r\n\r\nbroken' ;;
*) printf 'Content-Type: text/plain\r\nX-Script: yes\r\n\r\ncgi output' ;;
esac
`

// accessStep is one request of an access case and what its response
// must be.
type accessStep struct {
	method, target, host string
	body                 string // sent with Content-Length when not empty
	status               int
	contains             string            // a part of the body
	headers              map[string]string // fields that must be there exactly once, with this value
	absent               []string          // fields that must not be there
}

// RunAccess runs the allow/deny and add_header cases against the core
// start starts, on a config of their own: a denied location answers 403
// (through error_page when it has one) and the connection serves its
// next request; allowed addresses, CIDRs, IPv6 rules an IPv4 client
// skips, first match wins, inheritance; return runs before access, as
// in nginx; add_header on static, return, redirect, proxied, CGI and
// error responses, with and without "always", with variables, and
// inherited only where a level has none. The CGI case needs /bin/sh.
func RunAccess(t *testing.T, start Start) {
	dir := t.TempDir()
	root := filepath.Join(dir, "html")
	for _, d := range []string{"", "denied", "loopback", "cidr", "othernet", "v6only", "v6allow", "first-deny",
		"first-allow", "nested/open", "nested/inherit", "ep", "denied-hdr", "hdr", "open"} {
		must(t, os.MkdirAll(filepath.Join(root, d), 0o755))
		must(t, os.WriteFile(filepath.Join(root, d, "file.txt"), []byte("file in /"+d+"\n"), 0o644))
	}
	must(t, os.WriteFile(filepath.Join(root, "forbidden.html"), []byte("custom forbidden page\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(root, "hdr", "page.html"), []byte("custom not found page\n"), 0o644))
	script := filepath.Join(dir, "access.cgi")
	must(t, os.WriteFile(script, []byte(accessScript), 0o755))
	addrs := startBackends(t, backend.Options{Name: "a"})
	conf := strings.NewReplacer("$ROOT", root, "$BACKEND", addrs[0], "$DEAD", refusedAddr(t), "$SCRIPT", script).Replace(accessConf)
	confPath := filepath.Join(dir, "nginx.conf")
	must(t, os.WriteFile(confPath, []byte(conf), 0o644))
	addr := start(t, confPath).Addr
	_, err := os.Stat("/bin/sh")
	haveSh := err == nil

	const host = "access.test"
	forbidden := func(target string) accessStep {
		return accessStep{method: "GET", target: target, host: host, status: 403, contains: "403 Forbidden",
			absent: []string{"X-Http-Level"}}
	}
	ok := func(target string) accessStep {
		return accessStep{method: "GET", target: target, host: host, status: 200, contains: "file in " + strings.TrimSuffix(target, "/file.txt")}
	}
	cases := []struct {
		name  string
		cgi   bool
		steps []accessStep
	}{
		{"denied-then-served", false, []accessStep{forbidden("/denied/file.txt"), ok("/file.txt")}},
		{"denied-with-body-then-served", false, []accessStep{
			{method: "POST", target: "/denied/file.txt", host: host, body: strings.Repeat("b", 3000), status: 403, contains: "403 Forbidden"},
			ok("/file.txt"),
		}},
		{"allowed-address", false, []accessStep{ok("/loopback/file.txt")}},
		{"allowed-cidr", false, []accessStep{ok("/cidr/file.txt")}},
		{"other-networks-denied", false, []accessStep{forbidden("/othernet/file.txt")}},
		{"ipv6-rules-only-ipv4-client-allowed", false, []accessStep{ok("/v6only/file.txt")}},
		{"ipv6-allow-ipv4-client-denied-by-all", false, []accessStep{forbidden("/v6allow/file.txt")}},
		{"first-match-deny", false, []accessStep{forbidden("/first-deny/file.txt")}},
		{"first-match-allow", false, []accessStep{ok("/first-allow/file.txt")}},
		{"nested-own-rules", false, []accessStep{ok("/nested/open/file.txt")}},
		{"nested-inherits", false, []accessStep{forbidden("/nested/inherit/file.txt")}},
		{"server-level-rules", false, []accessStep{
			{method: "GET", target: "/file.txt", host: "denied.test", status: 403, contains: "403 Forbidden"},
			{method: "GET", target: "/open/file.txt", host: "denied.test", status: 200, contains: "file in /open"},
		}},
		{"error-page-403", false, []accessStep{
			{method: "GET", target: "/ep/file.txt", host: host, status: 403, contains: "custom forbidden page"},
			ok("/file.txt"),
		}},
		{"return-before-access", false, []accessStep{
			{method: "GET", target: "/ret", host: host, status: 200, contains: "return runs before access"},
		}},
		{"denied-add-header-always", false, []accessStep{
			{method: "GET", target: "/denied-hdr/file.txt", host: host, status: 403, contains: "403 Forbidden",
				headers: map[string]string{"X-Denied": "d"}, absent: []string{"X-Not-Sent", "X-Http-Level"}},
		}},

		{"add-header-inherited-from-http", false, []accessStep{
			{method: "GET", target: "/file.txt", host: host, status: 200, headers: map[string]string{"X-Http-Level": "h"}},
		}},
		{"add-header-static", false, []accessStep{
			{method: "GET", target: "/hdr/file.txt", host: host, status: 200, contains: "file in /hdr",
				headers: map[string]string{"X-Static": "s 200", "X-Always": "a"}, absent: []string{"X-Empty", "X-Http-Level"}},
			{method: "HEAD", target: "/hdr/file.txt", host: host, status: 200,
				headers: map[string]string{"X-Static": "s 200", "X-Always": "a"}},
			{method: "GET", target: "/hdr/missing", host: host, status: 404,
				headers: map[string]string{"X-Always": "a"}, absent: []string{"X-Static", "X-Http-Level"}},
		}},
		{"add-header-return", false, []accessStep{
			{method: "GET", target: "/hdr-ret", host: host, status: 200, contains: "returned",
				headers: map[string]string{"X-Ret": "GET 200", "X-Always": "a"}, absent: []string{"X-Http-Level"}},
			{method: "GET", target: "/hdr-ret404", host: host, status: 404,
				headers: map[string]string{"X-Always": "a"}, absent: []string{"X-Ret"}},
			{method: "GET", target: "/hdr-redirect", host: host, status: 302,
				headers: map[string]string{"X-Ret": "r", "Location": "http://access.test:" + addr[strings.LastIndexByte(addr, ':')+1:] + "/elsewhere"}},
		}},
		{"add-header-error-page", false, []accessStep{
			{method: "GET", target: "/hdr-ep/missing", host: host, status: 404, contains: "custom not found page",
				headers: map[string]string{"X-Always": "a"}, absent: []string{"X-Static", "X-Http-Level"}},
		}},
		{"add-header-proxied", false, []accessStep{
			{method: "GET", target: "/hdr-proxy/x", host: host, status: 200,
				headers: map[string]string{"X-Proxied": "200", "X-Always": "a", "X-Backend": "a"}},
			{method: "GET", target: "/hdr-proxy/x?status=404", host: host, status: 404,
				headers: map[string]string{"X-Always": "a", "X-Backend": "a"}, absent: []string{"X-Proxied"}},
			{method: "GET", target: "/hdr-dead/x", host: host, status: 502, contains: "502 Bad Gateway",
				headers: map[string]string{"X-Always": "a"}, absent: []string{"X-Proxied"}},
			ok("/file.txt"),
		}},
		{"add-header-cgi", true, []accessStep{
			{method: "GET", target: "/hdr-cgi/ok", host: host, status: 200, contains: "cgi output",
				headers: map[string]string{"X-Cgi": "200", "X-Always": "a", "X-Script": "yes"}},
			{method: "GET", target: "/hdr-cgi/fail", host: host, status: 500, contains: "broken",
				headers: map[string]string{"X-Always": "a"}, absent: []string{"X-Cgi"}},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.cgi && !haveSh {
				t.Skip("no /bin/sh")
			}
			c, err := Dial(addr)
			if err != nil {
				t.Fatalf("dial %s: %v", addr, err)
			}
			defer c.Close()
			for _, st := range tc.steps {
				var fields []string
				if st.body != "" {
					fields = append(fields, "Content-Length: "+strconv.Itoa(len(st.body)))
				}
				req := request(st.method, st.target, st.host, fields...) + st.body
				r := roundTrip(t, c, st.method, req)
				if !wantStatus(t, r, st.status) {
					return
				}
				if !strings.Contains(string(r.Body), st.contains) {
					t.Errorf("%s %s: body %q does not contain %q", st.method, st.target, r.Body, st.contains)
				}
				for name, v := range st.headers {
					wantHeader(t, r, name, v)
				}
				for _, name := range st.absent {
					if r.Has(name) {
						t.Errorf("%s %s: %s: %q sent; want none", st.method, st.target, name, r.Values(name))
					}
				}
			}
		})
	}
}
