package engine

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/c10k/c10k/servers/http1"
)

// refNormalize is a simple model of normalize: decode every %XX once,
// then resolve the segments on a stack.
func refNormalize(path []byte) (string, bool) {
	if len(path) == 0 || path[0] != '/' {
		return "", false
	}
	var dec []byte
	for i := 0; i < len(path); i++ {
		c := path[i]
		if c == '%' {
			if i+2 >= len(path) || unhex(path[i+1]) < 0 || unhex(path[i+2]) < 0 {
				return "", false
			}
			c = byte(unhex(path[i+1])<<4 | unhex(path[i+2]))
			i += 2
		}
		if c == 0 {
			return "", false
		}
		dec = append(dec, c)
	}
	segs := strings.Split(string(dec[1:]), "/")
	var stack []string
	for _, s := range segs {
		switch s {
		case "", ".":
		case "..":
			if len(stack) == 0 {
				return "", false
			}
			stack = stack[:len(stack)-1]
		default:
			stack = append(stack, s)
		}
	}
	out := "/" + strings.Join(stack, "/")
	if last := segs[len(segs)-1]; len(stack) > 0 && (last == "" || last == "." || last == "..") {
		out += "/"
	}
	return out, true
}

// FuzzNormalizeURI checks the URI normalizer, which guards every file
// path: a result never holds a "." or ".." segment, "//" or NUL, always
// starts with "/", and agrees with a simple reference model.
func FuzzNormalizeURI(f *testing.F) {
	for _, s := range []string{"/", "/a/./b/%7Efoo", "/a/../..", "/%2e%2e/x", "/a//b/", "/a/.", "/a/..", "/%00", "/%2", "/%25%32%65", "a", "/..%2f..", "/a/b/../../c/."} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, path []byte) {
		got, err := normalize([]byte("pre"), path)
		want, ok := refNormalize(path)
		if (err == nil) != ok {
			t.Fatalf("normalize(%q): err %v, model ok %v (%q)", path, err, ok, want)
		}
		if err != nil {
			if string(got) != "pre" {
				t.Fatalf("normalize(%q) failed but changed dst: %q", path, got)
			}
			return
		}
		if !bytes.HasPrefix(got, []byte("pre")) {
			t.Fatalf("normalize(%q) lost dst: %q", path, got)
		}
		u := got[3:]
		if string(u) != want {
			t.Fatalf("normalize(%q) = %q, model %q", path, u, want)
		}
		if u[0] != '/' || bytes.IndexByte(u, 0) >= 0 || bytes.Contains(u, []byte("//")) {
			t.Fatalf("normalize(%q) = %q", path, u)
		}
		for _, s := range bytes.Split(u[1:], []byte("/")) {
			if string(s) == "." || string(s) == ".." {
				t.Fatalf("normalize(%q) = %q has a dot segment", path, u)
			}
		}
	})
}

// FuzzRange checks the Range, If-Range and conditional parsers: nothing
// panics, and a satisfiable range lies within the file.
func FuzzRange(f *testing.F) {
	f.Add([]byte("bytes=0-99"), int64(100), []byte(`"etag"`), []byte("Wed, 01 May 2024 12:00:00 GMT"), []byte(`W/"etag", "x"`))
	f.Add([]byte("bytes=-5"), int64(3), []byte("Wed, 01 May 2024 12:00:00 GMT"), []byte("Wednesday, 01-May-24 12:00:00 GMT"), []byte("*"))
	f.Add([]byte("bytes=5-"), int64(0), []byte(""), []byte("Wed May  1 12:00:00 2024"), []byte(""))
	f.Add([]byte("BYTES= 1 - 2 "), int64(2), []byte("W/x"), []byte("garbage"), []byte(",,,"))
	f.Add([]byte("bytes=999999999999999999-"), int64(1<<62), []byte(`"a`), []byte(" "), []byte(`W/`))
	f.Fuzz(func(t *testing.T, rng []byte, size int64, ifRangeV, ims, inm []byte) {
		if size < 0 {
			size = -(size + 1)
		}
		start, end, r := parseRange(rng, size)
		if r == rangeOK && (start < 0 || end < start || end >= size) {
			t.Fatalf("parseRange(%q, %d) = %d-%d outside the file", rng, size, start, end)
		}
		parseHTTPDate(ims)
		matchETag(inm, []byte(`"etag"`), true)
		matchETag(inm, []byte(`"etag"`), false)
		req := &http1.Request{Header: http1.Header{
			{Name: []byte("If-Range"), Value: ifRangeV},
			{Name: []byte("If-Modified-Since"), Value: ims},
			{Name: []byte("If-None-Match"), Value: inm},
			{Name: []byte("If-Unmodified-Since"), Value: ims},
			{Name: []byte("If-Match"), Value: inm},
		}}
		var p Plan
		p.st.req = req
		ifRange(&p, []byte("Wed, 01 May 2024 12:00:00 GMT"), []byte(`"etag"`))
		switch s := conditional(&p, []byte("Wed, 01 May 2024 12:00:00 GMT"), []byte(`"etag"`), time.Unix(1714564800, 0)); s {
		case 0, 304, 412:
		default:
			t.Fatalf("conditional = %d", s)
		}
	})
}

// FuzzCacheValidity checks that any X-Accel-Expires, Cache-Control and
// Expires values give either "not stored" or a lifetime in the future,
// and that no-store, private and Set-Cookie always keep a response out.
func FuzzCacheValidity(f *testing.F) {
	f.Add("", "max-age=60", "", false)
	f.Add("@1714567200", "", "", false)
	f.Add("0", "s-maxage=5, max-age=1", "Wed, 01 May 2024 13:00:00 GMT", false)
	f.Add("", "private, max-age=9", "", false)
	f.Add("12", "", "", true)
	f.Fuzz(func(t *testing.T, xae, cc, exp string, cookie bool) {
		now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
		var h http1.Header
		add := func(name, v string) {
			if v != "" {
				h = append(h, http1.Field{Name: []byte(name), Value: []byte(v)})
			}
		}
		add("X-Accel-Expires", xae)
		add("Cache-Control", cc)
		add("Expires", exp)
		if cookie {
			add("Set-Cookie", "a=b")
		}
		until, ok := cacheValidity(h, 200, nil, now)
		if ok && !until.After(now) {
			t.Errorf("stored until %v, not after now %v", until, now)
		}
		lc := strings.ToLower(cc)
		if ok && (cookie || xae == "" && (strings.Contains(lc, "no-store") || strings.Contains(lc, "private"))) {
			t.Errorf("stored: X-Accel-Expires %q, Cache-Control %q, Set-Cookie %v", xae, cc, cookie)
		}
	})
}
