package servertest

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// testStatic checks the static file handler (ngx_http_static_module,
// ngx_http_index_module): exact bodies with Content-Length, types from the
// types block, Last-Modified, ETag, Date, Server; index files; the 301 for
// a directory without its slash; 404, 403; and that no traversal escapes
// the root.
func testStatic(t *testing.T, s *suite) {
	for _, path := range []string{"/page.html", "/style.css", "/app.js", "/img.png", "/data.json", "/file.xyz", "/small.txt"} {
		t.Run("file"+path, func(t *testing.T) {
			t.Parallel()
			r := s.fetch(t, "GET", path, defaultHost)
			if !wantStatus(t, r, 200) {
				return
			}
			want := s.site.files[path]
			wantBody(t, r, want)
			if r.Framing != FramingLength {
				t.Errorf("framing %s, want Content-Length (nginx sends the file size)", r.Framing)
			}
			wantHeader(t, r, "Content-Length", strconv.Itoa(len(want)))
			wantHeader(t, r, "Content-Type", contentType(path))
			wantHeader(t, r, "Last-Modified", lastModified())
			if et := r.Get("ETag"); len(et) < 3 || !strings.HasPrefix(et, `"`) || !strings.HasSuffix(et, `"`) {
				t.Errorf("ETag %q, want a strong quoted entity tag", et)
			}
			wantCommon(t, r)
		})
	}

	cases := []struct {
		name   string
		path   string
		status int
		body   string // checked when not ""
		ctype  string // checked when not ""
	}{
		// "/" is answered with the index file (index index.html).
		{"index-for-root", "/", 200, indexHTML, "text/html"},
		{"index-for-subdir", "/dir/", 200, dirIndexHTML, "text/html"},
		{"index-file-direct", "/index.html", 200, indexHTML, "text/html"},
		// nginx answers 404 for a missing file and 403 for a directory
		// without an index file (autoindex off).
		{"missing", "/missing.html", 404, "", ""},
		{"missing-dir", "/nodir/", 404, "", ""},
		{"dir-without-index", "/noindex/", 403, "", ""},
		// The query does not take part in the file lookup.
		{"query-ignored", "/small.txt?x=1", 200, string(s.site.small), "text/plain"},
		// Percent-encoded characters are decoded before the lookup.
		{"percent-decoded", "/p%61ge.html", 200, "<p>page</p>\n", "text/html"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := s.fetch(t, "GET", c.path, defaultHost)
			if !wantStatus(t, r, c.status) {
				return
			}
			if c.body != "" {
				wantBody(t, r, []byte(c.body))
			}
			if c.ctype != "" {
				wantHeader(t, r, "Content-Type", c.ctype)
			}
			wantCommon(t, r)
		})
	}

	// A 1 MiB file arrives intact (sendfile on).
	t.Run("large-file", func(t *testing.T) {
		t.Parallel()
		r := s.fetch(t, "GET", "/big.bin", defaultHost)
		if !wantStatus(t, r, 200) {
			return
		}
		wantHeader(t, r, "Content-Length", strconv.Itoa(len(s.site.big)))
		wantHeader(t, r, "Content-Type", defaultType)
		if got := sum(r.Body); got != s.site.bigSum {
			t.Errorf("body sha256 %s (%d bytes), want %s (%d bytes)", got, len(r.Body), s.site.bigSum, len(s.site.big))
		}
	})

	// A directory without its trailing slash is redirected to it
	// (nginx: 301 with an absolute Location ending in the slash).
	t.Run("dir-without-slash", func(t *testing.T) {
		t.Parallel()
		for _, path := range []string{"/dir", "/noindex"} {
			r := s.fetch(t, "GET", path, defaultHost)
			if !wantStatus(t, r, 301) {
				continue
			}
			if loc := r.Get("Location"); !strings.HasSuffix(loc, path+"/") {
				t.Errorf("GET %s: Location %q, want it to end in %q", path, loc, path+"/")
			}
		}
	})

	// A file the server may not read: nginx answers 403 (EACCES). Mode
	// 000 denies nothing to root (CAP_DAC_OVERRIDE), so the case cannot
	// be set up then.
	t.Run("unreadable", func(t *testing.T) {
		t.Parallel()
		if s.site.readable {
			t.Skip("running with CAP_DAC_OVERRIDE (root): a mode 000 file is readable, the 403 case cannot be set up")
		}
		r := s.fetch(t, "GET", "/secret.txt", defaultHost)
		wantStatus(t, r, 403)
	})

	// No request-target reaches a file outside the root. nginx answers
	// 400 for a path that climbs above "/" after decoding (and for a
	// decoded NUL); 404 is accepted too. Never 200.
	traversals := []string{
		"/../outside.txt",
		"/../etc/passwd",
		"/%2e%2e/outside.txt",
		"/%2E%2E/outside.txt",
		"/..%2foutside.txt",
		"/%2e%2e%2foutside.txt",
		"/a/../../outside.txt",
		"/a/%2e%2e/%2e%2e/outside.txt",
		"/a/..%2f..%2foutside.txt",
		"/index.html%00.txt",
		"/%00/../outside.txt",
		"/..\\outside.txt",
		"/a/../../../../../../../../etc/passwd",
	}
	for _, path := range traversals {
		t.Run("traversal"+strings.ReplaceAll(path, "/", "_"), func(t *testing.T) {
			t.Parallel()
			r := s.fetch(t, "GET", path, defaultHost)
			if strings.Contains(string(r.Body), strings.TrimSpace(sentinel)) || strings.Contains(string(r.Body), "root:x:0:0") {
				t.Fatalf("GET %s served a file outside the root:\n%s", path, r)
			}
			wantStatus(t, r, 400, 404)
		})
	}
}

// testConditional checks ngx_http_not_modified_filter_module: a matching
// If-None-Match or an If-Modified-Since equal to Last-Modified (nginx's
// if_modified_since exact) gives 304 without a body; any mismatch, 200.
func testConditional(t *testing.T, s *suite) {
	first := s.fetch(t, "GET", "/small.txt", defaultHost)
	if !wantStatus(t, first, 200) {
		return
	}
	etag, lm := first.Get("ETag"), first.Get("Last-Modified")
	if etag == "" || lm == "" {
		t.Fatalf("no ETag or Last-Modified to test with:\n%s", first)
	}
	older := mtime.Add(-24 * time.Hour).Format("Mon, 02 Jan 2006 15:04:05 GMT")
	cases := []struct {
		name   string
		fields []string
		status int
	}{
		{"if-none-match-equal", []string{"If-None-Match: " + etag}, 304},
		{"if-none-match-list", []string{`If-None-Match: "nope", ` + etag}, 304},
		{"if-none-match-star", []string{"If-None-Match: *"}, 304},
		{"if-none-match-differs", []string{`If-None-Match: "nope"`}, 200},
		{"if-modified-since-equal", []string{"If-Modified-Since: " + lm}, 304},
		{"if-modified-since-differs", []string{"If-Modified-Since: " + older}, 200},
		{"both-match", []string{"If-None-Match: " + etag, "If-Modified-Since: " + lm}, 304},
		// Both conditions must hold for a 304.
		{"etag-differs-date-equal", []string{`If-None-Match: "nope"`, "If-Modified-Since: " + lm}, 200},
	}
	for _, cs := range cases {
		t.Run(cs.name, func(t *testing.T) {
			t.Parallel()
			c := s.dial(t)
			r := roundTrip(t, c, "GET", request("GET", "/small.txt", defaultHost, cs.fields...))
			if !wantStatus(t, r, cs.status) {
				return
			}
			if cs.status == 304 {
				if cl := r.Get("Content-Length"); r.Has("Content-Length") && cl != "0" && cl != strconv.Itoa(len(s.site.small)) {
					t.Errorf("304 with Content-Length %q", cl)
				}
				wantHeader(t, r, "ETag", etag)
			} else {
				wantBody(t, r, s.site.small)
			}
			// A 304 that carried a body would break the framing of
			// the next response on the connection.
			next := roundTrip(t, c, "GET", request("GET", "/page.html", defaultHost))
			if wantStatus(t, next, 200) {
				wantBody(t, next, s.site.files["/page.html"])
			}
		})
	}
}

// testRange checks ngx_http_range_filter_module on a 1 KiB file: single
// ranges give 206 with Content-Range and the exact bytes; an
// unsatisfiable one gives 416 with "Content-Range: bytes */size".
func testRange(t *testing.T, s *suite) {
	size := len(s.site.small)
	cases := []struct {
		spec       string
		status     int
		first, end int // the expected bytes [first, end) for 206
		crange     string
	}{
		{"bytes=0-99", 206, 0, 100, "bytes 0-99/1024"},
		{"bytes=-100", 206, size - 100, size, "bytes 924-1023/1024"},
		{"bytes=100-", 206, 100, size, "bytes 100-1023/1024"},
		{"bytes=1000-5000", 206, 1000, size, "bytes 1000-1023/1024"},
		{"bytes=2000-3000", 416, 0, 0, "bytes */1024"},
	}
	for _, cs := range cases {
		t.Run(cs.spec, func(t *testing.T) {
			t.Parallel()
			r := roundTrip(t, s.dial(t), "GET", request("GET", "/small.txt", defaultHost, "Range: "+cs.spec))
			if !wantStatus(t, r, cs.status) {
				return
			}
			wantHeader(t, r, "Content-Range", cs.crange)
			if cs.status == 206 {
				wantHeader(t, r, "Content-Length", strconv.Itoa(cs.end-cs.first))
				wantBody(t, r, s.site.small[cs.first:cs.end])
			}
		})
	}
}

// testHead checks that HEAD answers the same head as GET, Content-Length
// included, with no body, and that the connection goes on.
func testHead(t *testing.T, s *suite) {
	for _, path := range []string{"/small.txt", "/big.bin", "/", "/missing.html"} {
		t.Run(strings.TrimPrefix(path, "/"), func(t *testing.T) {
			t.Parallel()
			c := s.dial(t)
			get := roundTrip(t, c, "GET", request("GET", path, defaultHost))
			head := roundTrip(t, c, "HEAD", request("HEAD", path, defaultHost))
			if head.Status != get.Status {
				t.Errorf("HEAD status %d, GET status %d", head.Status, get.Status)
			}
			for _, name := range []string{"Content-Length", "Content-Type", "Last-Modified", "ETag", "Accept-Ranges"} {
				if g, h := get.Values(name), head.Values(name); strings.Join(g, "\n") != strings.Join(h, "\n") {
					t.Errorf("%s: HEAD %q, GET %q", name, h, g)
				}
			}
			if get.Status == 200 && !head.Has("Content-Length") {
				t.Error("HEAD without Content-Length")
			}
			wantCommon(t, head)
			// A body after the HEAD response would be read as the
			// next status line here.
			next := roundTrip(t, c, "GET", request("GET", "/page.html", defaultHost))
			if wantStatus(t, next, 200) {
				wantBody(t, next, s.site.files["/page.html"])
			}
		})
	}
}

// testReturn checks the rewrite module's return and error_page: a text
// body, a redirect whose Location ends in the target, and a custom error
// page served with the original 404 status.
func testReturn(t *testing.T, s *suite) {
	t.Run("return-text", func(t *testing.T) {
		t.Parallel()
		r := s.fetch(t, "GET", "/ret/text", defaultHost)
		if wantStatus(t, r, 200) {
			wantBody(t, r, []byte("hello from return"))
			wantHeader(t, r, "Content-Length", "17")
		}
	})
	t.Run("return-redirect", func(t *testing.T) {
		t.Parallel()
		r := s.fetch(t, "GET", "/ret/redirect", defaultHost)
		if wantStatus(t, r, 301) {
			if loc := r.Get("Location"); !strings.HasSuffix(loc, "/x") {
				t.Errorf("Location %q, want it to end in /x", loc)
			}
		}
	})
	t.Run("error-page-404", func(t *testing.T) {
		t.Parallel()
		r := s.fetch(t, "GET", "/errs/missing.html", defaultHost)
		if wantStatus(t, r, 404) {
			wantBody(t, r, []byte(custom404))
			wantHeader(t, r, "Content-Type", "text/html")
		}
	})
}

// testVhosts checks server_name selection on one listen address: exact
// names first, then *.suffix wildcards, else the default_server; the
// Host comparison ignores case and the port.
func testVhosts(t *testing.T, s *suite) {
	cases := []struct {
		host, want string
	}{
		{defaultHost, "default"},
		{exactHost, "exact"},
		{"EXACT.Test", "exact"},
		{exactHost + ":8080", "exact"},
		{"foo" + wildSuffix, "wild"},
		{"a.b" + wildSuffix, "wild"},
		{exactInWild, "exact"},      // an exact name beats a wildcard
		{"wild.test", "default"},    // *.wild.test does not match wild.test
		{"unknown.test", "default"}, // no match: the default_server
		{"127.0.0.1", "default"},    // an address as Host
		{exactHost + ".", "exact"},  // a trailing dot is removed
	}
	for _, c := range cases {
		t.Run(c.host, func(t *testing.T) {
			t.Parallel()
			r := s.fetch(t, "GET", "/whoami", c.host)
			if wantStatus(t, r, 200) {
				wantBody(t, r, []byte(c.want))
			}
		})
	}
}
