package servertest

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sync/errgroup"
)

// gzipConf is the config of the gzip cases: gzip_min_length 100, so the
// 50-byte file is sent as it is; gzip_vary on; image/png not in
// gzip_types; gzip_proxied at its default (off).
const gzipConf = `events {}
http {
    access_log off;
    keepalive_timeout 30s;
    gzip on;
    gzip_vary on;
    gzip_types text/plain application/json;
    gzip_min_length 100;
    server {
        listen 127.0.0.1:0 default_server;
        server_name gzip.test;
        root $ROOT;
        location / { }
        location /sendfile/ { sendfile on; }
        location /copy/ { sendfile off; }
        location /level9/ { gzip_comp_level 9; }
        location /off/ { gzip off; }
        location /v10/ { gzip_http_version 1.0; }
        location = /ret { return 200 "$RETURN"; }
        location /proxy/ { proxy_pass http://$PLAIN; }
        location /big-proxy/ { proxy_pass http://$BIG; }
        location /stream/ { proxy_buffering off; proxy_pass http://$CHUNKED; }
        location /encoded/ { proxy_pass http://$ENCODED; }
        location /cgi/ { cgi_pass $SCRIPT; }
    }
}
`

// gzipScript is the CGI program of the gzip cases: 200 lines of text.
const gzipScript = `#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\n'
i=0
while [ $i -lt 200 ]; do echo "line $i of the cgi output"; i=$((i+1)); done
`

// gzipText returns n bytes of compressible text.
func gzipText(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "line %d: the quick brown fox jumps over the lazy dog\n", i)
	}
	return b.Bytes()[:n]
}

// gzipStep is one request of a gzip case and what its response must be.
type gzipStep struct {
	method, target string
	proto          string // "HTTP/1.1" when empty
	fields         []string
	status         int
	gzip           bool   // Content-Encoding: gzip, and the body decompresses to want
	want           []byte // the body (decompressed when gzip); nil: not checked
	vary           bool   // Vary: Accept-Encoding
	raw            []byte // the body exactly as received; nil: not checked
	framing        Framing
}

// RunGzip runs the gzip cases against the core start starts, on a
// config of their own: static files compressed (sendfile on and off,
// byte-exact after decompression, chunked, weak ETag, no Accept-Ranges)
// or not (under gzip_min_length, a type gzip_types does not list, a
// Range request, a client that refuses gzip or sends none, a request
// through a proxy with gzip_proxied off, gzip off, HTTP/1.0 with
// gzip_http_version 1.1), close-delimited to an HTTP/1.0 client with
// gzip_http_version 1.0; a return body; an
// error page; proxied answers buffered in memory, in a temp file, and
// streamed, and one the upstream already encoded (passed as it is); a
// CGI answer; HEAD; keep-alive after each. The CGI case needs /bin/sh.
func RunGzip(t *testing.T, start Start) {
	dir := t.TempDir()
	root := filepath.Join(dir, "html")
	for _, d := range []string{"", "sendfile", "copy", "level9", "off", "v10"} {
		must(t, os.MkdirAll(filepath.Join(root, d), 0o755))
	}
	big := gzipText(300 << 10)
	small := gzipText(50)
	page := []byte("<html><body>" + string(gzipText(2000)) + "</body></html>\n")
	png := append([]byte("\x89PNG\r\n\x1a\n"), gzipText(4000)...)
	for _, d := range []string{"", "sendfile", "copy", "level9", "off", "v10"} {
		must(t, os.WriteFile(filepath.Join(root, d, "big.txt"), big, 0o644))
	}
	must(t, os.WriteFile(filepath.Join(root, "small.txt"), small, 0o644))
	must(t, os.WriteFile(filepath.Join(root, "page.html"), page, 0o644))
	must(t, os.WriteFile(filepath.Join(root, "image.png"), png, 0o644))
	must(t, os.WriteFile(filepath.Join(root, "empty.txt"), nil, 0o644))
	script := filepath.Join(dir, "gzip.cgi")
	must(t, os.WriteFile(script, []byte(gzipScript), 0o755))
	var cgiOut bytes.Buffer
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&cgiOut, "line %d of the cgi output\n", i)
	}

	// Upstreams: a buffered answer, one past the cores' 1 MB memory
	// buffer (a temp file), a chunked one for proxy_buffering off, and
	// one already gzip-encoded.
	plainBody := gzipText(20 << 10)
	bigBody := gzipText(1536 << 10)
	chunkedBody := gzipText(100 << 10)
	var encoded bytes.Buffer
	zw := gzip.NewWriter(&encoded)
	zw.Write(gzipText(10 << 10))
	zw.Close()
	var chunked bytes.Buffer
	for rest := chunkedBody; len(rest) > 0; {
		n := min(len(rest), 7000)
		chunked.WriteString(chunk(rest[:n]))
		rest = rest[n:]
	}
	chunked.WriteString("0\r\n\r\n")
	reply := func(fields string, body []byte) []byte {
		return append([]byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"+fields+"\r\n"), body...)
	}
	var g errgroup.Group
	stubs := []*stub{
		startStub(t, &g, reply("Content-Length: "+strconv.Itoa(len(plainBody))+"\r\n", plainBody)),
		startStub(t, &g, reply("Content-Length: "+strconv.Itoa(len(bigBody))+"\r\n", bigBody)),
		startStub(t, &g, reply("Transfer-Encoding: chunked\r\n", chunked.Bytes())),
		startStub(t, &g, reply("Content-Encoding: gzip\r\nContent-Length: "+strconv.Itoa(encoded.Len())+"\r\n", encoded.Bytes())),
	}
	t.Cleanup(func() {
		for _, st := range stubs {
			st.l.Close()
		}
		g.Wait()
	})
	ret := string(gzipText(1000))
	conf := strings.NewReplacer("$ROOT", root, "$RETURN", ret, "$PLAIN", stubs[0].addr(), "$BIG", stubs[1].addr(),
		"$CHUNKED", stubs[2].addr(), "$ENCODED", stubs[3].addr(), "$SCRIPT", script).Replace(gzipConf)
	confPath := filepath.Join(dir, "nginx.conf")
	must(t, os.WriteFile(confPath, []byte(conf), 0o644))
	addr := start(t, confPath).Addr
	_, err := os.Stat("/bin/sh")
	haveSh := err == nil

	const ae = "Accept-Encoding: gzip, deflate"
	gz := func(target string, want []byte) gzipStep {
		return gzipStep{method: "GET", target: target, fields: []string{ae}, status: 200, gzip: true, want: want, vary: true}
	}
	plain := func(target string, want []byte, vary bool, fields ...string) gzipStep {
		return gzipStep{method: "GET", target: target, fields: fields, status: 200, want: want, vary: vary}
	}
	cases := []struct {
		name  string
		cgi   bool
		steps []gzipStep
	}{
		{"static-file", false, []gzipStep{
			{method: "GET", target: "/big.txt", fields: []string{ae}, status: 200, gzip: true, want: big, vary: true, framing: FramingChunked},
			plain("/small.txt", small, false, ae),
		}},
		{"static-sendfile-on", false, []gzipStep{gz("/sendfile/big.txt", big), gz("/sendfile/big.txt", big)}},
		{"static-sendfile-off", false, []gzipStep{gz("/copy/big.txt", big), plain("/small.txt", small, false, ae)}},
		{"comp-level-9", false, []gzipStep{gz("/level9/big.txt", big)}},
		{"html-always", false, []gzipStep{gz("/page.html", page)}},
		{"under-min-length", false, []gzipStep{plain("/small.txt", small, false, ae), plain("/empty.txt", []byte{}, false, ae)}},
		{"type-not-listed", false, []gzipStep{plain("/image.png", png, false, ae)}},
		{"range-not-compressed", false, []gzipStep{
			{method: "GET", target: "/big.txt", fields: []string{ae, "Range: bytes=0-99"}, status: 206, want: big[:100]},
			gz("/big.txt", big),
		}},
		{"no-accept-encoding", false, []gzipStep{plain("/big.txt", big, true)}},
		{"gzip-q0", false, []gzipStep{plain("/big.txt", big, true, "Accept-Encoding: gzip;q=0, deflate")}},
		{"gzip-q-half", false, []gzipStep{{method: "GET", target: "/big.txt", fields: []string{"Accept-Encoding: deflate, gzip;q=0.5"},
			status: 200, gzip: true, want: big, vary: true}}},
		{"other-coding-only", false, []gzipStep{plain("/big.txt", big, true, "Accept-Encoding: br")}},
		{"via-proxied-off", false, []gzipStep{plain("/big.txt", big, true, ae, "Via: 1.1 cache")}},
		{"gzip-off", false, []gzipStep{plain("/off/big.txt", big, false, ae)}},
		{"http10-default-version", false, []gzipStep{
			{method: "GET", target: "/big.txt", proto: "HTTP/1.0", fields: []string{ae}, status: 200, want: big, vary: true, framing: FramingLength},
		}},
		{"http10-close-delimited", false, []gzipStep{
			{method: "GET", target: "/v10/big.txt", proto: "HTTP/1.0", fields: []string{ae}, status: 200, gzip: true, want: big, vary: true, framing: FramingClose},
		}},
		{"head", false, []gzipStep{
			{method: "HEAD", target: "/big.txt", fields: []string{ae}, status: 200, gzip: true, vary: true, framing: FramingNone},
			gz("/big.txt", big),
		}},
		{"return", false, []gzipStep{gz("/ret", []byte(ret)), gz("/ret", []byte(ret))}},
		{"error-page", false, []gzipStep{
			{method: "GET", target: "/missing", fields: []string{ae}, status: 404, gzip: true, vary: true},
			gz("/big.txt", big),
		}},
		{"proxied-buffered", false, []gzipStep{gz("/proxy/x", plainBody), gz("/proxy/y", plainBody), plain("/small.txt", small, false, ae)}},
		{"proxied-temp-file", false, []gzipStep{gz("/big-proxy/x", bigBody), plain("/small.txt", small, false, ae)}},
		{"proxied-streamed", false, []gzipStep{gz("/stream/x", chunkedBody), plain("/small.txt", small, false, ae)}},
		{"proxied-identity-client", false, []gzipStep{plain("/proxy/x", plainBody, true)}},
		{"proxied-already-encoded", false, []gzipStep{
			{method: "GET", target: "/encoded/x", fields: []string{ae}, status: 200, raw: encoded.Bytes()},
			plain("/small.txt", small, false, ae),
		}},
		{"cgi", true, []gzipStep{gz("/cgi/x", cgiOut.Bytes()), plain("/small.txt", small, false, ae)}},
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
				proto := st.proto
				if proto == "" {
					proto = "HTTP/1.1"
				}
				r := roundTrip(t, c, st.method, requestProto(st.method, st.target, proto, "gzip.test", st.fields...))
				if !wantStatus(t, r, st.status) {
					return
				}
				checkGzipStep(t, &st, r)
			}
		})
	}
}

// checkGzipStep checks r against st.
func checkGzipStep(t *testing.T, st *gzipStep, r *Response) {
	t.Helper()
	what := st.method + " " + st.target
	ce := r.Values("Content-Encoding")
	if st.framing != "" && r.Framing != st.framing {
		t.Errorf("%s: framing %s, want %s", what, r.Framing, st.framing)
	}
	if got := r.HasToken("Vary", "Accept-Encoding"); got != st.vary {
		t.Errorf("%s: Vary: Accept-Encoding sent %v, want %v (Vary: %q)", what, got, st.vary, r.Values("Vary"))
	}
	if st.raw != nil {
		if len(ce) != 1 || ce[0] != "gzip" {
			t.Errorf("%s: Content-Encoding %q, want the upstream's one gzip", what, ce)
		}
		if !bytes.Equal(r.Body, st.raw) {
			t.Errorf("%s: body (%d bytes) is not the upstream's (%d bytes)", what, len(r.Body), len(st.raw))
		}
		return
	}
	if !st.gzip {
		if len(ce) != 0 {
			t.Errorf("%s: Content-Encoding %q, want none", what, ce)
		}
		if st.want != nil && !bytes.Equal(r.Body, st.want) {
			t.Errorf("%s: body (%d bytes) differs from the expected %d bytes", what, len(r.Body), len(st.want))
		}
		return
	}
	if len(ce) != 1 || ce[0] != "gzip" {
		t.Errorf("%s: Content-Encoding %q, want gzip", what, ce)
		return
	}
	if r.Has("Accept-Ranges") {
		t.Errorf("%s: Accept-Ranges %q sent with a compressed body", what, r.Get("Accept-Ranges"))
	}
	if et := r.Get("ETag"); et != "" && !strings.HasPrefix(et, `W/"`) {
		t.Errorf("%s: ETag %q, want a weak one", what, et)
	}
	if st.method == "HEAD" {
		if r.Has("Content-Length") || len(r.Body) != 0 {
			t.Errorf("%s: Content-Length %q and %d body bytes, want neither", what, r.Get("Content-Length"), len(r.Body))
		}
		return
	}
	zr, err := gzip.NewReader(bytes.NewReader(r.Body))
	if err != nil {
		t.Errorf("%s: body is not gzip: %v", what, err)
		return
	}
	got, err := io.ReadAll(zr)
	if err != nil {
		t.Errorf("%s: decompressing the body: %v", what, err)
		return
	}
	if st.want != nil && !bytes.Equal(got, st.want) {
		t.Errorf("%s: decompressed body (%d bytes) differs from the expected %d bytes", what, len(got), len(st.want))
	}
}
