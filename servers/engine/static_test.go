package engine

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/c10k/c10k/servers/config"
	"github.com/c10k/c10k/servers/http1"
)

// staticEngine serves a test docroot; edits change the server level
// before its locations inherit it (open_file_cache variants).
func staticEngine(t *testing.T, edits ...func(*config.Location)) (*Engine, string) {
	root := docroot(t, map[string]string{
		"index.html":         "<h1>home</h1>",
		"a.txt":              "0123456789",
		"img.GIF":            "GIF89a",
		"noext":              "x",
		"dir/index.html":     "dir index",
		"dir/sub/x.txt":      "x",
		"empty/":             "",
		"alias-data/f.txt":   "aliased",
		"b a%d.txt":          "odd name",
		"..\\secret":         "not traversal",
		"docs/index.htm":     "htm index",
		"errors/404.html":    "custom 404",
		"errors/50x.html":    "custom 50x",
		"fallback/index.txt": "fallback",
	})
	outside := filepath.Join(filepath.Dir(root), filepath.Base(root)+"-secret")
	if err := os.WriteFile(outside, []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(outside) })
	if err := os.Symlink(filepath.Join(root, "a.txt"), filepath.Join(root, "link.txt")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "locked.txt"), []byte("no"), 0o000); err != nil {
		t.Fatal(err)
	}

	srv := defServer(root, "localhost")
	srv.Loc.ErrorPages = map[int]*config.ErrorPage{404: {URI: tpl("/errors/404.html"), Response: -1}}
	for _, edit := range edits {
		edit(srv.Loc)
	}
	base := srv.Loc
	srv.Locations = []*config.Location{
		with(base, config.MatchPrefix, "/", nil),
		with(base, config.MatchPrefix, "/i/", func(l *config.Location) { l.Alias = filepath.Join(root, "alias-data") + "/" }),
		with(base, config.MatchPrefix, "/j", func(l *config.Location) { l.Alias = filepath.Join(root, "alias-data") + "/" }),
		with(base, config.MatchPrefix, "/docs/", func(l *config.Location) { l.Index = []string{"index.html", "index.htm"} }),
		with(base, config.MatchPrefix, "/typed/", func(l *config.Location) {
			l.Alias = root + "/"
			l.Types = map[string]string{"txt": "text/x-custom"}
			l.DefaultType = "application/octet-stream"
		}),
	}
	return newEngine(t, &config.HTTP{Servers: []*config.Server{srv}}, Options{}), root
}

// ofcVariants are the open_file_cache settings every static test runs
// under: the answers must not change.
var ofcVariants = []struct {
	name string
	edit func(*config.Location)
}{
	{"no cache", func(*config.Location) {}},
	{"open_file_cache", func(l *config.Location) {
		l.OpenFileCache = &config.OpenFileCache{Max: 100, Inactive: time.Minute}
		l.OpenFileCacheValid, l.OpenFileCacheMinUses, l.OpenFileCacheErrors = time.Minute, 1, true
	}},
	{"open_file_cache max=3 min_uses=2", func(l *config.Location) {
		l.OpenFileCache = &config.OpenFileCache{Max: 3, Inactive: time.Minute}
		l.OpenFileCacheValid, l.OpenFileCacheMinUses = time.Minute, 2
	}},
}

func TestStatic(t *testing.T) {
	for _, v := range ofcVariants {
		t.Run(v.name, func(t *testing.T) {
			e, root := staticEngine(t, v.edit)
			for range 2 { // with a cache: first misses, then hits
				testStatic(t, e, root)
			}
		})
	}
}

func testStatic(t *testing.T, e *Engine, root string) {
	fi, err := os.Stat(filepath.Join(root, "a.txt"))
	if err != nil {
		t.Fatal(err)
	}
	etag := `"` + strconv.FormatInt(fi.ModTime().Unix(), 16) + "-a\""
	lm := fi.ModTime().UTC().Format(httpDate)
	tests := []struct {
		name, method, target string
		fields               []string
		status               int
		body                 string
		want                 map[string]string
	}{
		{"file", "GET", "/a.txt", nil, 200, "0123456789", map[string]string{"Content-Type": "text/plain", "ETag": etag, "Last-Modified": lm, "Accept-Ranges": "bytes"}},
		{"head", "HEAD", "/a.txt", nil, 200, "", map[string]string{"ETag": etag}},
		{"index", "GET", "/", nil, 200, "<h1>home</h1>", map[string]string{"Content-Type": "text/html"}},
		{"dir index", "GET", "/dir/", nil, 200, "dir index", nil},
		{"second index", "GET", "/docs/", nil, 200, "htm index", nil},
		{"dir redirect", "GET", "/dir?x=1", []string{"Host", "Example.com:8080"}, 301, "", map[string]string{"Location": "http://example.com/dir/?x=1"}},
		{"dir redirect escaped", "GET", "/dir%20", []string{"Host", "h"}, 404, "custom 404", nil},
		{"no index", "GET", "/empty/", nil, 403, "", nil},
		{"missing dir", "GET", "/nodir/", nil, 404, "custom 404", nil},
		{"missing", "GET", "/nope.txt", nil, 404, "custom 404", map[string]string{"Content-Type": "text/html"}},
		{"file as dir", "GET", "/a.txt/", nil, 404, "custom 404", nil},
		{"file as dir 2", "GET", "/a.txt/x", nil, 404, "custom 404", nil},
		{"symlink", "GET", "/link.txt", nil, 200, "0123456789", nil},
		{"fifo", "GET", "/fifo", nil, 404, "custom 404", nil},
		{"mime upper", "GET", "/img.GIF", nil, 200, "GIF89a", map[string]string{"Content-Type": "image/gif"}},
		{"default type", "GET", "/noext", nil, 200, "x", map[string]string{"Content-Type": "text/plain"}},
		{"types map", "GET", "/typed/a.txt", nil, 200, "0123456789", map[string]string{"Content-Type": "text/x-custom"}},
		{"types default", "GET", "/typed/img.GIF", nil, 200, "GIF89a", map[string]string{"Content-Type": "application/octet-stream"}},
		{"encoded name", "GET", "/b%20a%25d.txt", nil, 200, "odd name", nil},
		{"alias", "GET", "/i/f.txt", nil, 200, "aliased", nil},
		{"alias no slash", "GET", "/jf.txt", nil, 200, "aliased", nil},
		{"alias traversal", "GET", "/j../a.txt", nil, 404, "custom 404", nil},
		{"alias traversal enc", "GET", "/j%2e%2e/a.txt", nil, 404, "custom 404", nil},
		{"post file", "POST", "/a.txt", nil, 405, "", nil},
		{"post missing", "POST", "/nope", nil, 404, "custom 404", nil},
		{"put", "PUT", "/a.txt", nil, 405, "", nil},
		{"dotdot", "GET", "/../a.txt", nil, 400, "", nil},
		{"dotdot enc", "GET", "/%2e%2e/a.txt", nil, 400, "", nil},
		{"dotdot mixed 1", "GET", "/%2e./a.txt", nil, 400, "", nil},
		{"dotdot mixed 2", "GET", "/.%2e/a.txt", nil, 400, "", nil},
		{"dotdot slash enc", "GET", "/dir%2f..%2f..%2f" + filepath.Base(root) + "-secret", nil, 400, "", nil},
		{"dotdot inside", "GET", "/dir/../a.txt", nil, 200, "0123456789", nil},
		{"double enc", "GET", "/%252e%252e/a.txt", nil, 404, "custom 404", nil},
		{"backslash", "GET", "/..\\secret", nil, 200, "not traversal", nil},
		{"backslash enc", "GET", "/..%5csecret", nil, 200, "not traversal", nil},
		{"nul", "GET", "/a.txt%00.html", nil, 400, "", nil},
		{"bad host", "GET", "/a.txt", []string{"Host", "a/b"}, 400, "", nil},
	}
	if os.Geteuid() != 0 {
		tests = append(tests, struct {
			name, method, target string
			fields               []string
			status               int
			body                 string
			want                 map[string]string
		}{"forbidden", "GET", "/locked.txt", nil, 403, "", nil})
	}
	var p Plan
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fields := tt.fields
			if len(fields) == 0 {
				fields = []string{"Host", "localhost"}
			}
			e.Serve(request(tt.method, tt.target, fields...), conn, &p)
			if p.Status != tt.status {
				t.Fatalf("status %d, want %d (%s)", p.Status, tt.status, result(&p))
			}
			got := body(t, &p)
			if tt.body != "" && got != tt.body {
				t.Errorf("body %q, want %q", got, tt.body)
			}
			if tt.body == "" && tt.status >= 400 && tt.method != "HEAD" {
				want := "<html>\r\n<head><title>" + strconv.Itoa(tt.status) + " " + http1.StatusText(tt.status) + "</title></head>\r\n<body>\r\n<center><h1>" +
					strconv.Itoa(tt.status) + " " + http1.StatusText(tt.status) + "</h1></center>\r\n<hr><center>c10k</center>\r\n</body>\r\n</html>\r\n"
				if got != want {
					t.Errorf("body %q, want %q", got, want)
				}
			}
			for k, v := range tt.want {
				if got := header(&p, k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestConditionalAndRange(t *testing.T) {
	for _, v := range ofcVariants {
		t.Run(v.name, func(t *testing.T) {
			e, root := staticEngine(t, v.edit)
			for range 2 {
				testConditionalAndRange(t, e, root)
			}
		})
	}
}

func testConditionalAndRange(t *testing.T, e *Engine, root string) {
	fi, _ := os.Stat(filepath.Join(root, "a.txt"))
	etag := `"` + strconv.FormatInt(fi.ModTime().Unix(), 16) + "-a\""
	lm := fi.ModTime().UTC().Format(httpDate)
	older := fi.ModTime().Add(-1e9 * 3600).UTC().Format(httpDate)
	rfc850 := fi.ModTime().UTC().Format("Monday, 02-Jan-06 15:04:05 GMT")
	tests := []struct {
		name   string
		fields []string
		status int
		body   string
		want   map[string]string
	}{
		{"inm match", []string{"If-None-Match", etag}, 304, "", map[string]string{"ETag": etag, "Content-Type": ""}},
		{"inm list weak", []string{"If-None-Match", `"x", W/` + etag}, 304, "", nil},
		{"inm star", []string{"If-None-Match", "*"}, 304, "", nil},
		{"inm miss", []string{"If-None-Match", `"nope"`}, 200, "0123456789", nil},
		{"ims exact", []string{"If-Modified-Since", lm}, 304, "", nil},
		{"ims rfc850", []string{"If-Modified-Since", rfc850}, 304, "", nil},
		{"ims older", []string{"If-Modified-Since", older}, 200, "0123456789", nil},
		{"ims garbage", []string{"If-Modified-Since", "yesterday"}, 200, "0123456789", nil},
		{"both must match", []string{"If-None-Match", etag, "If-Modified-Since", older}, 200, "0123456789", nil},
		{"both match", []string{"If-None-Match", etag, "If-Modified-Since", lm}, 304, "", nil},
		{"if-match fail", []string{"If-Match", `"nope"`}, 412, "", nil},
		{"if-match weak fails", []string{"If-Match", "W/" + etag}, 412, "", nil},
		{"if-match ok", []string{"If-Match", etag}, 200, "0123456789", nil},
		{"ius fail", []string{"If-Unmodified-Since", older}, 412, "", nil},
		{"range a-b", []string{"Range", "bytes=2-4"}, 206, "234", map[string]string{"Content-Range": "bytes 2-4/10"}},
		{"range a-", []string{"Range", "bytes=7-"}, 206, "789", map[string]string{"Content-Range": "bytes 7-9/10"}},
		{"range -n", []string{"Range", "bytes=-3"}, 206, "789", map[string]string{"Content-Range": "bytes 7-9/10"}},
		{"range -big", []string{"Range", "bytes=-30"}, 206, "0123456789", map[string]string{"Content-Range": "bytes 0-9/10"}},
		{"range end clamp", []string{"Range", "bytes=8-100"}, 206, "89", map[string]string{"Content-Range": "bytes 8-9/10"}},
		{"range unsat", []string{"Range", "bytes=10-"}, 416, "", map[string]string{"Content-Range": "bytes */10"}},
		{"range -0", []string{"Range", "bytes=-0"}, 416, "", map[string]string{"Content-Range": "bytes */10"}},
		{"range reversed", []string{"Range", "bytes=5-2"}, 416, "", nil},
		{"range junk", []string{"Range", "bytes=x-2"}, 416, "", nil},
		{"range multi", []string{"Range", "bytes=0-1,4-5"}, 200, "0123456789", nil},
		{"range other unit", []string{"Range", "items=0-1"}, 200, "0123456789", nil},
		{"if-range etag ok", []string{"Range", "bytes=0-0", "If-Range", etag}, 206, "0", nil},
		{"if-range etag stale", []string{"Range", "bytes=0-0", "If-Range", `"old"`}, 200, "0123456789", nil},
		{"if-range date ok", []string{"Range", "bytes=0-0", "If-Range", lm}, 206, "0", nil},
		{"if-range date stale", []string{"Range", "bytes=0-0", "If-Range", older}, 200, "0123456789", nil},
	}
	var p Plan
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.Serve(request("GET", "/a.txt", append([]string{"Host", "localhost"}, tt.fields...)...), conn, &p)
			if p.Status != tt.status {
				t.Fatalf("status %d, want %d (%s)", p.Status, tt.status, result(&p))
			}
			if got := body(t, &p); tt.body != "" && got != tt.body {
				t.Errorf("body %q, want %q", got, tt.body)
			}
			if tt.status == 304 && !p.HeadOnly {
				t.Errorf("304 not HeadOnly")
			}
			for k, v := range tt.want {
				if got := header(&p, k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
		})
	}
}
