package engine

import (
	"bytes"
	"compress/gzip"
	"io"
	"strings"
	"testing"

	"github.com/c10k/c10k/servers/http1"
)

func TestAcceptsGzip(t *testing.T) {
	tests := []struct {
		ae   string
		want bool
	}{
		{"gzip", true},
		{"gzip, deflate, br", true},
		{"deflate, gzip", true},
		{"deflate,gzip", true},
		{"GZIP", true},
		{"gzip;q=1", true},
		{"gzip; q=0.5", true},
		{"gzip;q=0.001", true},
		{"gzip;Q=1.000", true},
		{"br, gzip;q=0.8, *;q=0", true},
		{"gzip;q=0", false},
		{"gzip;q=0.0", false},
		{"gzip;q=0.000, deflate", false},
		{"gzip;q=0.0001", false}, // more than three decimals: malformed
		{"gzip;q=2", false},
		{"gzip;q=", false},
		{"gzip;level=1", false},
		{"", false},
		{"gzi", false},
		{"deflate", false},
		{"br", false},
		{"x-gzip", false}, // not a whole token: nginx does not take it
		{"*", false},
		{"gzipx", false},
		{"xgzip, gzip", true}, // the second one is whole
		{"identity", false},
	}
	for _, tt := range tests {
		var ae []byte
		if tt.ae != "" {
			ae = []byte(tt.ae)
		}
		if got := AcceptsGzip(ae); got != tt.want {
			t.Errorf("AcceptsGzip(%q) = %v, want %v", tt.ae, got, tt.want)
		}
	}
}

const gzipEngineConf = `http {
    gzip on;
    gzip_vary on;
    gzip_types text/plain;
    gzip_min_length 100;
    server {
        server_name example.com;
        root ROOT;
        location / { }
        location = /ret { return 200 "LONG"; }
        location = /short { return 200 "short"; }
        location = /coded { add_header Content-Encoding br; return 200 "LONG"; }
        location /nv/ { gzip_vary off; }
        location /any/ { gzip_proxied any; }
        location /noetag/ { gzip_proxied no_etag; }
        location /v10/ { gzip_http_version 1.0; }
        location /off/ { gzip off; }
        location /proxy/ { proxy_pass http://127.0.0.1:9; }
    }
}`

func TestGzipPlan(t *testing.T) {
	long := strings.Repeat("compress me please; ", 20)
	big := strings.Repeat("a line of text to compress\n", 20)
	files := map[string]string{
		"big.txt": big, "small.txt": "tiny", "img.png": big, "page.html": "<p>" + big,
		"nv/big.txt": big, "any/big.txt": big, "noetag/big.txt": big, "v10/big.txt": big, "off/big.txt": big,
	}
	e := confEngine(t, files, strings.ReplaceAll(gzipEngineConf, "LONG", long), Options{})
	const ae = "gzip, deflate"
	type want struct {
		status int
		gzip   bool // Content-Encoding: gzip
		vary   bool
		stream bool // Plan.Gzip set: the core compresses
		body   string
	}
	tests := []struct {
		name, method, target string
		fields               []string
		minor                int
		want                 want
	}{
		{"file", "GET", "/big.txt", []string{"Accept-Encoding", ae}, 1, want{200, true, true, true, big}},
		{"html always", "GET", "/page.html", []string{"Accept-Encoding", ae}, 1, want{200, true, true, true, "<p>" + big}},
		{"under min length", "GET", "/small.txt", []string{"Accept-Encoding", ae}, 1, want{200, false, false, false, "tiny"}},
		{"type not listed", "GET", "/img.png", []string{"Accept-Encoding", ae}, 1, want{200, false, false, false, big}},
		{"no Accept-Encoding", "GET", "/big.txt", nil, 1, want{200, false, true, false, big}},
		{"gzip;q=0", "GET", "/big.txt", []string{"Accept-Encoding", "gzip;q=0"}, 1, want{200, false, true, false, big}},
		{"range", "GET", "/big.txt", []string{"Accept-Encoding", ae, "Range", "bytes=0-9"}, 1, want{206, false, false, false, big[:10]}},
		{"HEAD", "HEAD", "/big.txt", []string{"Accept-Encoding", ae}, 1, want{200, true, true, true, ""}},
		{"return", "GET", "/ret", []string{"Accept-Encoding", ae}, 1, want{200, true, true, false, long}},
		{"return HEAD", "HEAD", "/ret", []string{"Accept-Encoding", ae}, 1, want{200, true, true, true, ""}},
		{"short return", "GET", "/short", []string{"Accept-Encoding", ae}, 1, want{200, false, false, false, "short"}},
		{"Content-Encoding present", "GET", "/coded", []string{"Accept-Encoding", ae}, 1, want{200, false, false, false, long}},
		{"error page", "GET", "/missing", []string{"Accept-Encoding", ae}, 1, want{404, true, true, false, ""}},
		{"gzip_vary off", "GET", "/nv/big.txt", []string{"Accept-Encoding", ae}, 1, want{200, true, false, true, big}},
		{"via, proxied off", "GET", "/big.txt", []string{"Accept-Encoding", ae, "Via", "1.1 p"}, 1, want{200, false, true, false, big}},
		{"via, proxied any", "GET", "/any/big.txt", []string{"Accept-Encoding", ae, "Via", "1.1 p"}, 1, want{200, true, true, true, big}},
		{"via, no_etag with an ETag", "GET", "/noetag/big.txt", []string{"Accept-Encoding", ae, "Via", "1.1 p"}, 1, want{200, false, true, false, big}},
		{"HTTP/1.0, version 1.1", "GET", "/big.txt", []string{"Accept-Encoding", ae}, 0, want{200, false, true, false, big}},
		{"HTTP/1.0, version 1.0", "GET", "/v10/big.txt", []string{"Accept-Encoding", ae}, 0, want{200, true, true, true, big}},
		{"gzip off", "GET", "/off/big.txt", []string{"Accept-Encoding", ae}, 1, want{200, false, false, false, big}},
	}
	var p Plan
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := request(tt.method, tt.target, append([]string{"Host", "example.com"}, tt.fields...)...)
			req.Minor = tt.minor
			e.Serve(req, conn, &p)
			defer p.CloseFile()
			w := tt.want
			if p.Status != w.status {
				t.Fatalf("status %d, want %d (%s)", p.Status, w.status, result(&p))
			}
			if got := header(&p, "Content-Encoding") == "gzip"; got != w.gzip {
				t.Errorf("Content-Encoding gzip %v, want %v (%s)", got, w.gzip, result(&p))
			}
			if got := header(&p, "Vary") == "Accept-Encoding"; got != w.vary {
				t.Errorf("Vary %v, want %v (%s)", got, w.vary, result(&p))
			}
			if got := p.Gzip != 0; got != w.stream {
				t.Errorf("Plan.Gzip %d, want set %v", p.Gzip, w.stream)
			}
			if w.gzip {
				if p.Header.Has("Accept-Ranges") {
					t.Errorf("Accept-Ranges kept: %s", result(&p))
				}
				if et := header(&p, "ETag"); et != "" && !strings.HasPrefix(et, `W/"`) {
					t.Errorf("ETag %q, want weak", et)
				}
			} else if tt.target == "/big.txt" && w.status == 200 && !strings.HasPrefix(header(&p, "ETag"), `"`) {
				t.Errorf("ETag %q, want the strong one", header(&p, "ETag"))
			}
			got := bodyOf(t, &p)
			if w.gzip && !p.HeadOnly && p.Gzip == 0 {
				got = gunzip(t, got)
			}
			if w.body != "" && got != w.body {
				t.Errorf("body %q, want %q", got, w.body)
			}
			if p.HeadOnly && tt.method == "HEAD" && w.gzip && p.Gzip == 0 {
				t.Error("HEAD of a compressed response: Plan.Gzip not set, so the head announces a length")
			}
		})
	}
}

// bodyOf is body for a plan the core compresses itself: the
// uncompressed source.
func bodyOf(t *testing.T, p *Plan) string {
	t.Helper()
	if p.HeadOnly {
		return ""
	}
	if p.Gzip != 0 && p.File != nil {
		buf := make([]byte, p.ContentLength)
		if _, err := p.File.ReadAt(buf, p.Offset); err != nil {
			t.Fatalf("read plan file: %v", err)
		}
		return string(buf)
	}
	return body(t, p)
}

func gunzip(t *testing.T, s string) string {
	t.Helper()
	zr, err := gzip.NewReader(strings.NewReader(s))
	if err != nil {
		t.Fatalf("body is not gzip: %v", err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	return string(b)
}

func TestGzipProxyResponse(t *testing.T) {
	e := confEngine(t, nil, strings.ReplaceAll(gzipEngineConf, "LONG", "x"), Options{})
	tests := []struct {
		name   string
		resp   http1.Response
		method string
		gzip   bool
		etag   string
	}{
		{"chunked text", http1.Response{Status: 200, ContentLength: -1, Chunked: true, Header: http1.Header{
			{Name: []byte("Content-Type"), Value: []byte("text/plain; charset=utf-8")},
			{Name: []byte("ETag"), Value: []byte(`"abc"`)},
		}}, "GET", true, `W/"abc"`},
		{"weak ETag kept", http1.Response{Status: 200, ContentLength: 5000, Header: http1.Header{
			{Name: []byte("Content-Type"), Value: []byte("text/plain")},
			{Name: []byte("ETag"), Value: []byte(`W/"abc"`)},
		}}, "GET", true, `W/"abc"`},
		{"malformed ETag dropped", http1.Response{Status: 200, ContentLength: 5000, Header: http1.Header{
			{Name: []byte("Content-Type"), Value: []byte("text/plain")},
			{Name: []byte("ETag"), Value: []byte(`abc`)},
		}}, "GET", true, ""},
		{"already encoded", http1.Response{Status: 200, ContentLength: 5000, Header: http1.Header{
			{Name: []byte("Content-Type"), Value: []byte("text/plain")},
			{Name: []byte("Content-Encoding"), Value: []byte("gzip")},
		}}, "GET", false, ""},
		{"206", http1.Response{Status: 206, ContentLength: 5000, Header: http1.Header{
			{Name: []byte("Content-Type"), Value: []byte("text/plain")},
		}}, "GET", false, ""},
		{"small", http1.Response{Status: 200, ContentLength: 10, Header: http1.Header{
			{Name: []byte("Content-Type"), Value: []byte("text/plain")},
		}}, "GET", false, ""},
		{"no type", http1.Response{Status: 200, ContentLength: 5000}, "GET", false, ""},
		{"HEAD", http1.Response{Status: 200, ContentLength: 5000, NoBody: true, Header: http1.Header{
			{Name: []byte("Content-Type"), Value: []byte("text/plain")},
		}}, "HEAD", true, ""},
	}
	var p Plan
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.Serve(request(tt.method, "/proxy/x", "Host", "example.com", "Accept-Encoding", "gzip"), conn, &p)
			x := p.Proxy
			if x == nil {
				t.Fatalf("no proxy plan: %s", result(&p))
			}
			if _, ok := x.Next(); !ok {
				t.Fatal("no peer")
			}
			resp := tt.resp
			if x.Response(&resp) {
				t.Fatal("retry")
			}
			ce := p.Header.Get("Content-Encoding")
			if tt.gzip != (p.Gzip == 1) || tt.gzip && !bytes.Equal(ce, []byte("gzip")) {
				t.Errorf("Plan.Gzip %d, Content-Encoding %q, want compressed %v (%s)", p.Gzip, ce, tt.gzip, result(&p))
			}
			if tt.gzip && header(&p, "ETag") != tt.etag {
				t.Errorf("ETag %q, want %q", header(&p, "ETag"), tt.etag)
			}
			if tt.gzip && p.ContentLength != resp.ContentLength && !resp.Chunked {
				t.Errorf("ContentLength %d, want the upstream's %d (the body to read)", p.ContentLength, resp.ContentLength)
			}
			x.Done()
		})
	}
}
