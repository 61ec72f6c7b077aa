package engine

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/c10k/c10k/servers/config"
	"github.com/c10k/c10k/servers/http1"
	"github.com/c10k/c10k/servers/upstream"
)

func TestCacheValidity(t *testing.T) {
	now := testNow
	valid := []config.CacheValid{{Status: 200, Valid: time.Minute}, {Status: 404, Valid: 10 * time.Second}}
	exp := func(d time.Duration) string { return now.Add(d).UTC().Format(http.TimeFormat) }
	tests := []struct {
		name   string
		status int
		fields []string
		want   time.Duration // 0: not stored
	}{
		{"valid 200", 200, nil, time.Minute},
		{"valid 404", 404, nil, 10 * time.Second},
		{"no valid line", 500, nil, 0},
		{"max-age", 200, []string{"Cache-Control", "public, max-age=5"}, 5 * time.Second},
		{"s-maxage first", 200, []string{"Cache-Control", "max-age=5, s-maxage=7"}, 7 * time.Second},
		{"max-age 0", 200, []string{"Cache-Control", "max-age=0"}, 0},
		{"max-age bad", 200, []string{"Cache-Control", "max-age=5x"}, 0},
		{"no-store", 200, []string{"Cache-Control", "no-store"}, 0},
		{"no-cache", 200, []string{"Cache-Control", "No-Cache"}, 0},
		{"private", 200, []string{"Cache-Control", "private, max-age=60"}, 0},
		{"cache-control without age", 500, []string{"Cache-Control", "public"}, 0},
		{"max-age for a 500", 500, []string{"Cache-Control", "max-age=3"}, 3 * time.Second},
		{"expires", 200, []string{"Expires", exp(30 * time.Second)}, 30 * time.Second},
		{"expires past", 200, []string{"Expires", exp(-time.Hour)}, 0},
		{"expires bad", 200, []string{"Expires", "0"}, 0},
		{"max-age over expires", 200, []string{"Expires", exp(time.Hour), "Cache-Control", "max-age=2"}, 2 * time.Second},
		{"x-accel-expires over all", 200, []string{"Cache-Control", "no-store", "X-Accel-Expires", "9"}, 9 * time.Second},
		{"x-accel-expires 0", 200, []string{"X-Accel-Expires", "0"}, 0},
		{"x-accel-expires absolute", 200, []string{"X-Accel-Expires", "@" + strconv.FormatInt(now.Add(time.Hour).Unix(), 10)}, time.Hour},
		{"set-cookie", 200, []string{"Set-Cookie", "a=b", "Cache-Control", "max-age=60"}, 0},
		{"vary star", 200, []string{"Vary", "*"}, 0},
		{"vary field", 200, []string{"Vary", "Accept-Encoding"}, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h http1.Header
			for i := 0; i+1 < len(tt.fields); i += 2 {
				h = append(h, http1.Field{Name: []byte(tt.fields[i]), Value: []byte(tt.fields[i+1])})
			}
			got, ok := cacheValidity(h, tt.status, valid, now)
			switch {
			case tt.want == 0 && ok:
				t.Errorf("stored until %v, want not stored", got)
			case tt.want != 0 && !ok:
				t.Errorf("not stored, want %v", tt.want)
			case tt.want != 0 && got.Sub(now).Truncate(time.Second) != tt.want:
				t.Errorf("lifetime %v, want %v", got.Sub(now), tt.want)
			}
		})
	}
}

// cacheEngine builds an engine from an http block with one caching
// server proxying to 10.0.0.1:80; now is its clock.
func cacheEngine(t *testing.T, conf string, now *time.Time) *Engine {
	t.Helper()
	return loadEngine(t, "http {\n"+conf+"\nserver {\nlisten 127.0.0.1:80;\nlocation / {\nproxy_pass http://10.0.0.1:80;\nproxy_cache z;\nadd_header X-Cache $upstream_cache_status always;\n}\n}\n}", now)
}

// upResp is what the fake upstream answers.
type upResp struct {
	status int
	fields []string
	body   string
	cut    bool // the body ends early: the core reports a failure
}

// exchange serves one request on e: a plan the engine answers itself
// (a hit) is returned as it is; a proxy plan gets r from the upstream
// (nil: the connection is refused). It returns the plan, its body, and
// whether the upstream was asked.
func exchange(t *testing.T, e *Engine, p *Plan, method, target string, r *upResp) (string, bool) {
	t.Helper()
	e.Serve(request(method, target, "Host", "example.com"), conn, p)
	asked := false
	if px := p.Proxy; px != nil {
		for {
			if _, ok := px.Next(); !ok {
				break
			}
			asked = true
			if r == nil {
				if px.Failed(upstream.FailError, false) {
					continue
				}
				break
			}
			resp := &http1.Response{Status: r.status, Major: 1, Minor: 1, ContentLength: int64(len(r.body))}
			for i := 0; i+1 < len(r.fields); i += 2 {
				resp.Header = append(resp.Header, http1.Field{Name: []byte(r.fields[i]), Value: []byte(r.fields[i+1])})
			}
			if px.Response(resp) {
				continue
			}
			b := r.body
			if r.cut {
				b = b[:len(b)/2]
			}
			if !p.HeadOnly {
				px.CacheBody([]byte(b[:len(b)/2]))
				px.CacheBody([]byte(b[len(b)/2:]))
			}
			if r.cut {
				px.Failed(upstream.FailError, true)
				p.End(1)
				return b, true
			}
			px.Done()
			p.End(int64(len(b)))
			return b, true
		}
		p.Proxy = nil
	}
	b := ""
	if !p.HeadOnly {
		b = body(t, p)
	}
	p.CloseFile()
	p.End(1)
	return b, asked
}

func TestCacheMissHit(t *testing.T) {
	for _, store := range []string{"memory:", "disk"} {
		t.Run(store, func(t *testing.T) {
			now := testNow
			path := "memory:"
			if store == "disk" {
				path = t.TempDir() + " levels=1:2"
			}
			e := cacheEngine(t, "proxy_cache_path "+path+" keys_zone=z:1m;\nproxy_cache_valid 200 1m;", &now)
			var p Plan
			ok := &upResp{status: 200, fields: []string{"Content-Type", "text/plain", "X-App", "1"}, body: "hello, cache"}
			steps := []struct {
				name, method, target string
				r                    *upResp
				wantBody, wantStatus string
				asked                bool
			}{
				{"miss", "GET", "/a", ok, "hello, cache", "MISS", true},
				{"hit", "GET", "/a", nil, "hello, cache", "HIT", false},
				{"head hit", "HEAD", "/a", nil, "", "HIT", false},
				{"other args miss", "GET", "/a?x=1", ok, "hello, cache", "MISS", true},
				{"uncacheable", "GET", "/b", &upResp{status: 200, fields: []string{"Cache-Control", "no-store"}, body: "x"}, "x", "MISS", true},
				{"uncacheable again", "GET", "/b", &upResp{status: 200, body: "y"}, "y", "MISS", true},
				{"then stored", "GET", "/b", nil, "y", "HIT", false},
				{"404 not valid", "GET", "/c", &upResp{status: 404, body: "no"}, "no", "MISS", true},
				{"404 again", "GET", "/c", &upResp{status: 404, body: "no"}, "no", "MISS", true},
				{"cut short", "GET", "/d", &upResp{status: 200, body: "0123456789", cut: true}, "01234", "MISS", true},
				{"not stored", "GET", "/d", &upResp{status: 200, body: "0123456789"}, "0123456789", "MISS", true},
			}
			for _, s := range steps {
				got, asked := exchange(t, e, &p, s.method, s.target, s.r)
				if got != s.wantBody || asked != s.asked || header(&p, "X-Cache") != s.wantStatus {
					t.Errorf("%s: body %q asked %v X-Cache %q; want %q %v %q", s.name, got, asked, header(&p, "X-Cache"), s.wantBody, s.asked, s.wantStatus)
				}
				if s.name == "hit" && header(&p, "X-App") != "1" {
					t.Errorf("hit lost the stored field: %s", result(&p))
				}
			}
			now = now.Add(2 * time.Minute)
			if got, asked := exchange(t, e, &p, "GET", "/a", ok); !asked || got != "hello, cache" || header(&p, "X-Cache") != "EXPIRED" {
				t.Errorf("after expiry: %q asked %v %q, want EXPIRED from the upstream", got, asked, header(&p, "X-Cache"))
			}
		})
	}
}

func TestCacheLock(t *testing.T) {
	now := testNow
	e := cacheEngine(t, "proxy_cache_path memory: keys_zone=z:1m;\nproxy_cache_valid 1m;\nproxy_cache_lock on;\nproxy_cache_lock_timeout 3s;", &now)
	var leader, waiter, late Plan
	e.Serve(request("GET", "/l", "Host", "example.com"), conn, &leader)
	px := leader.Proxy
	if px == nil {
		t.Fatalf("leader: not a proxy plan: %s", result(&leader))
	}
	px.Next()
	px.Response(&http1.Response{Status: 200, Major: 1, Minor: 1, ContentLength: 2})
	if !px.Caching() {
		t.Fatal("leader not caching")
	}
	e.Serve(request("GET", "/l", "Host", "example.com"), conn, &waiter)
	if waiter.Wait == nil || waiter.Proxy != nil || waiter.WaitTimeout != 3*time.Second {
		t.Fatalf("waiter: Wait %v timeout %v proxy %v", waiter.Wait, waiter.WaitTimeout, waiter.Proxy)
	}
	e.Serve(request("GET", "/l", "Host", "example.com"), conn, &late)
	now = now.Add(3 * time.Second) // the late one times out
	e.Serve(request("GET", "/l", "Host", "example.com"), conn, &late)
	if late.Proxy == nil || late.Wait != nil {
		t.Fatalf("after the lock timeout: %s, want a proxy plan", result(&late))
	}
	late.Proxy.Next()
	late.Proxy.Response(&http1.Response{Status: 200, Major: 1, Minor: 1, ContentLength: 2})
	if late.Proxy.Caching() {
		t.Error("a request past proxy_cache_lock_timeout stores its response")
	}
	late.End(0)
	now = testNow.Add(time.Second) // within the waiter's lock timeout
	px.CacheBody([]byte("ok"))
	px.Done()
	select {
	case <-waiter.Wait:
	default:
		t.Fatal("Done did not wake the waiter")
	}
	e.Serve(request("GET", "/l", "Host", "example.com"), conn, &waiter)
	if waiter.Proxy != nil || string(waiter.Body) != "ok" || header(&waiter, "X-Cache") != "HIT" {
		t.Errorf("waiter after the fill: %s body %q", result(&waiter), waiter.Body)
	}
}

func TestCacheLockAbandoned(t *testing.T) {
	now := testNow
	e := cacheEngine(t, "proxy_cache_path memory: keys_zone=z:1m;\nproxy_cache_valid 1m;\nproxy_cache_lock on;", &now)
	var leader, waiter Plan
	e.Serve(request("GET", "/l", "Host", "example.com"), conn, &leader)
	e.Serve(request("GET", "/l", "Host", "example.com"), conn, &waiter)
	if waiter.Wait == nil {
		t.Fatal("no wait")
	}
	leader.End(0) // the leader's client left before anything happened
	select {
	case <-waiter.Wait:
	default:
		t.Fatal("End did not wake the waiter")
	}
	e.Serve(request("GET", "/l", "Host", "example.com"), conn, &waiter)
	if waiter.Proxy == nil {
		t.Fatalf("waiter after an abandoned fill: %s, want it to fetch", result(&waiter))
	}
}

func TestCacheStale(t *testing.T) {
	now := testNow
	e := cacheEngine(t, "proxy_cache_path memory: keys_zone=z:1m;\nproxy_cache_valid 1s;\nproxy_cache_use_stale error http_503;", &now)
	var p Plan
	exchange(t, e, &p, "GET", "/s", &upResp{status: 200, body: "old"})
	now = now.Add(2 * time.Second)
	if got, _ := exchange(t, e, &p, "GET", "/s", nil); got != "old" || header(&p, "X-Cache") != "STALE" || p.Status != 200 {
		t.Errorf("refused upstream: %s %q, want the stale entry", result(&p), got)
	}
	if got, _ := exchange(t, e, &p, "GET", "/s", &upResp{status: 503, body: "busy"}); got != "old" || header(&p, "X-Cache") != "STALE" {
		t.Errorf("503 upstream: %s %q, want the stale entry", result(&p), got)
	}
	if got, _ := exchange(t, e, &p, "GET", "/s", &upResp{status: 500, body: "err"}); got != "err" || header(&p, "X-Cache") != "EXPIRED" {
		t.Errorf("500 upstream: %s %q, want the 500 (not in use_stale)", result(&p), got)
	}
	if got, _ := exchange(t, e, &p, "GET", "/new", nil); p.Status != 502 || header(&p, "X-Cache") != "MISS" {
		t.Errorf("refused upstream without an entry: %s %q, want 502", result(&p), got)
	}
}

func TestCacheDisk(t *testing.T) {
	now := time.Now()
	dir := t.TempDir()
	conf := "proxy_cache_path " + dir + " levels=1:2 keys_zone=z:1m max_size=100k;\nproxy_cache_valid 1h;"
	e := cacheEngine(t, conf, &now)
	var p Plan
	big := strings.Repeat("x", 40<<10)
	for _, u := range []string{"/1", "/2"} {
		exchange(t, e, &p, "GET", u, &upResp{status: 200, body: big})
	}
	e.Serve(request("GET", "/1", "Host", "example.com"), conn, &p)
	if p.File == nil || p.ContentLength != int64(len(big)) {
		t.Fatalf("disk hit: %s file %v length %d", result(&p), p.File, p.ContentLength)
	}
	if b := body(t, &p); b != big {
		t.Errorf("disk hit body: %d bytes", len(b))
	}
	p.CloseFile()
	p.End(1)
	exchange(t, e, &p, "GET", "/3", &upResp{status: 200, body: big}) // evicts /2, the least recently used
	var files []string
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, path)
		}
		return nil
	})
	if len(files) != 2 {
		t.Errorf("files after eviction: %v, want 2", files)
	}
	e.Close()

	// Files that are not entries stay where they are and are not served.
	junk := filepath.Join(dir, strings.Repeat("ab", 16))
	must(t, os.WriteFile(junk, []byte("not a cache file"), 0o644))
	e2 := cacheEngine(t, conf, &now) // a restart on the same directory
	if _, err := os.Stat(junk); err != nil {
		t.Errorf("a file that is not an entry was touched: %v", err)
	}
	for _, tt := range []struct {
		target string
		asked  bool
	}{{"/1", false}, {"/3", false}, {"/2", true}} {
		got, asked := exchange(t, e2, &p, "GET", tt.target, &upResp{status: 200, body: big})
		if asked != tt.asked || got != big {
			t.Errorf("after restart %s: asked %v (%d bytes), want asked %v", tt.target, asked, len(got), tt.asked)
		}
	}
}

func TestCacheReloadKeepsEntries(t *testing.T) {
	now := testNow
	conf := "proxy_cache_path memory: keys_zone=z:1m;\nproxy_cache_valid 1h;"
	old := cacheEngine(t, conf, &now)
	var p Plan
	exchange(t, old, &p, "GET", "/r", &upResp{status: 200, body: "kept"})
	e := cacheEngine(t, conf, &now)
	e.InheritZones(old)
	old.Close()
	if got, asked := exchange(t, e, &p, "GET", "/r", nil); asked || got != "kept" {
		t.Errorf("after reload: %q asked %v, want the entry", got, asked)
	}
}

func TestCacheConditions(t *testing.T) {
	now := testNow
	e := cacheEngine(t, `proxy_cache_path memory: keys_zone=z:1m inactive=1h;
proxy_cache_valid 1m;
proxy_cache_bypass $arg_fresh;
proxy_no_cache $arg_nostore;
proxy_cache_min_uses 2;`, &now)
	var p Plan
	r := func(body string) *upResp {
		return &upResp{status: 200, fields: []string{"ETag", `"v1"`, "Last-Modified", "Wed, 01 May 2024 10:00:00 GMT"}, body: body}
	}
	steps := []struct {
		name, target string
		fields       []string
		r            *upResp
		wantStatus   int
		wantBody     string
		wantCache    string
	}{
		{"first use not stored", "/m", nil, r("1"), 200, "1", "MISS"},
		{"second use stored", "/m", nil, r("2"), 200, "2", "MISS"},
		{"hit", "/m", nil, nil, 200, "2", "HIT"},
		{"bypass", "/m?fresh=1", nil, r("3"), 200, "3", "BYPASS"},
		{"no_cache", "/n?nostore=1", nil, r("4"), 200, "4", "MISS"},
		{"no_cache again", "/n?nostore=1", nil, r("5"), 200, "5", "MISS"},
		{"no_cache never stored", "/n?nostore=1", nil, r("6"), 200, "6", "MISS"},
		{"if-none-match", "/m", []string{"If-None-Match", `"v1"`}, nil, 304, "", "HIT"},
		{"if-none-match other", "/m", []string{"If-None-Match", `"v0"`}, nil, 200, "2", "HIT"},
		{"if-modified-since", "/m", []string{"If-Modified-Since", "Wed, 01 May 2024 10:00:00 GMT"}, nil, 304, "", "HIT"},
		{"if-match fails", "/m", []string{"If-Match", `"v0"`}, nil, 412, "", ""},
	}
	for _, s := range steps {
		fields := append([]string{"Host", "example.com"}, s.fields...)
		e.Serve(request("GET", s.target, fields...), conn, &p)
		got := ""
		if px := p.Proxy; px != nil {
			if s.r == nil {
				t.Fatalf("%s: went to the upstream", s.name)
			}
			px.Next()
			resp := &http1.Response{Status: s.r.status, Major: 1, Minor: 1, ContentLength: int64(len(s.r.body))}
			for i := 0; i+1 < len(s.r.fields); i += 2 {
				resp.Header = append(resp.Header, http1.Field{Name: []byte(s.r.fields[i]), Value: []byte(s.r.fields[i+1])})
			}
			px.Response(resp)
			px.CacheBody([]byte(s.r.body))
			px.Done()
			got = s.r.body
		} else if s.r != nil {
			t.Fatalf("%s: answered from the cache: %s", s.name, result(&p))
		} else if !p.HeadOnly && s.wantStatus != 412 {
			got = body(t, &p)
		}
		if p.Status != s.wantStatus || got != s.wantBody || s.wantCache != "" && header(&p, "X-Cache") != s.wantCache {
			t.Errorf("%s: %s body %q; want %d %q X-Cache %q", s.name, result(&p), got, s.wantStatus, s.wantBody, s.wantCache)
		}
		p.End(1)
	}
	z := e.cacheZones[e.cfg.HTTP.CachePaths["z"]]
	z.expire(now.Add(59 * time.Minute))
	if len(z.entries) != 2 { // /m and the bypass's /m?fresh=1
		t.Errorf("inactive=1h removed entries used 59 minutes ago: %d left", len(z.entries))
	}
	z.expire(now.Add(61 * time.Minute))
	if len(z.entries) != 0 || z.used != 0 {
		t.Errorf("inactive=1h kept %d entries (%d bytes) unused for 61 minutes", len(z.entries), z.used)
	}
}

func TestCacheUpdating(t *testing.T) {
	now := testNow
	e := cacheEngine(t, "proxy_cache_path memory: keys_zone=z:1m;\nproxy_cache_valid 1s;\nproxy_cache_use_stale updating;", &now)
	var a, b Plan
	exchange(t, e, &a, "GET", "/u", &upResp{status: 200, body: "old"})
	now = now.Add(2 * time.Second)
	e.Serve(request("GET", "/u", "Host", "example.com"), conn, &a)
	if a.Proxy == nil || header(&a, "X-Cache") != "" {
		t.Fatalf("first request after expiry: %s, want a proxy plan", result(&a))
	}
	if got, asked := exchange(t, e, &b, "GET", "/u", nil); asked || got != "old" || header(&b, "X-Cache") != "UPDATING" {
		t.Errorf("while the entry is being updated: %q asked %v X-Cache %q, want the stale entry as UPDATING", got, asked, header(&b, "X-Cache"))
	}
	a.End(0)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// BenchmarkCacheHit measures a memory-zone hit: lookup, head copy,
// add_header; -benchmem shows it allocates nothing.
func BenchmarkCacheHit(b *testing.B) {
	now := testNow
	src := "http {\nproxy_cache_path memory: keys_zone=z:1m;\nproxy_cache_valid 1h;\nserver {\nlisten 127.0.0.1:80;\nlocation / {\nproxy_pass http://10.0.0.1:80;\nproxy_cache z;\nadd_header X-Cache $upstream_cache_status;\n}\n}\n}"
	e := loadEngine(b, src, &now)
	req := request("GET", "/api/items?id=7", "Host", "example.com", "User-Agent", "bench", "Accept", "*/*")
	var p Plan
	e.Serve(req, conn, &p)
	px := p.Proxy
	px.Next()
	px.Response(&http1.Response{Status: 200, Major: 1, Minor: 1, ContentLength: 5,
		Header: http1.Header{{Name: []byte("Content-Type"), Value: []byte("text/plain")}}})
	px.CacheBody([]byte("hello"))
	px.Done()
	p.End(1)
	b.ReportAllocs()
	for b.Loop() {
		e.Serve(req, conn, &p)
		if p.Proxy != nil || len(p.Body) != 5 {
			b.Fatalf("not a hit: %s", result(&p))
		}
		p.End(1)
	}
}

func TestCacheVary(t *testing.T) {
	for _, store := range []string{"memory:", "disk"} {
		t.Run(store, func(t *testing.T) {
			now := time.Now()
			path := "memory:"
			if store == "disk" {
				path = t.TempDir()
			}
			conf := "proxy_cache_path " + path + " keys_zone=z:1m;\nproxy_cache_valid 1h;"
			e := cacheEngine(t, conf, &now)
			var p Plan
			get := func(ae, upBody string) (string, bool) {
				e.Serve(request("GET", "/v", "Host", "example.com", "Accept-Encoding", ae), conn, &p)
				if px := p.Proxy; px != nil {
					px.Next()
					px.Response(&http1.Response{Status: 200, Major: 1, Minor: 1, ContentLength: int64(len(upBody)),
						Header: http1.Header{{Name: []byte("Vary"), Value: []byte("Accept-Encoding")}}})
					px.CacheBody([]byte(upBody))
					px.Done()
					p.End(1)
					return upBody, true
				}
				b := body(t, &p)
				p.End(1)
				return b, false
			}
			steps := []struct {
				ae, up, want string
				asked        bool
			}{
				{"gzip", "for gzip", "for gzip", true},
				{"identity", "for identity", "for identity", true},
				{"gzip", "", "for gzip", false},
				{"identity", "", "for identity", false},
			}
			for i, s := range steps {
				if got, asked := get(s.ae, s.up); got != s.want || asked != s.asked {
					t.Errorf("step %d (%s): %q asked %v, want %q %v", i, s.ae, got, asked, s.want, s.asked)
				}
			}
			if store == "disk" {
				e.Close()
				e = cacheEngine(t, conf, &now)
				if got, asked := get("identity", "again"); got != "for identity" || asked {
					t.Errorf("after a restart: %q asked %v, want the identity variant", got, asked)
				}
			}
		})
	}
}

func TestCacheStaleAfterRetries(t *testing.T) {
	now := testNow
	src := `http {
proxy_cache_path memory: keys_zone=z:1m;
proxy_cache_valid 1s;
upstream app { server 10.0.0.1:80; server 10.0.0.2:80; }
server {
listen 127.0.0.1:80;
location / {
proxy_pass http://app;
proxy_cache z;
proxy_next_upstream error http_503;
proxy_cache_use_stale http_503;
}
}
}`
	e := loadEngine(t, src, &now)
	var p Plan
	exchange(t, e, &p, "GET", "/r", &upResp{status: 200, body: "old"})
	now = now.Add(2 * time.Second)
	e.Serve(request("GET", "/r", "Host", "example.com"), conn, &p)
	var addrs []string
	for px := p.Proxy; px != nil; {
		addr, ok := px.Next()
		if !ok {
			break
		}
		addrs = append(addrs, addr)
		if !px.Response(&http1.Response{Status: 503, Major: 1, Minor: 1, ContentLength: 0}) {
			t.Fatalf("503 from %s passed through", addr)
		}
	}
	if len(addrs) != 2 || p.Status != 200 || string(p.Body) != "old" {
		t.Errorf("peers %v, plan %s body %q; want both peers tried, then the stale entry", addrs, result(&p), p.Body)
	}
	p.End(1)
}

// TestCacheLockAfterRedirect: an error_page after a failed attempt that
// lands in a location whose entry another request is filling under
// proxy_cache_lock does not become a Wait (the core is mid-exchange and
// cannot park it): it goes upstream at once, without storing.
func TestCacheLockAfterRedirect(t *testing.T) {
	src := `http {
proxy_cache_path memory: keys_zone=z:1m;
server {
listen 127.0.0.1:80;
location /app/ {
proxy_pass http://10.0.0.1:80;
proxy_cache z;
proxy_cache_key $uri;
proxy_cache_valid 1m;
proxy_cache_lock on;
}
location /dead/ {
proxy_pass http://10.0.0.2:80;
error_page 502 = /app/x;
}
}
}`
	e := loadEngine(t, src, nil)

	var leader, p Plan
	e.Serve(request("GET", "/app/x", "Host", "example.com"), conn, &leader)
	if leader.Proxy == nil {
		t.Fatalf("leader: %s, want a proxy plan", result(&leader))
	}
	leader.Proxy.Next()
	leader.Proxy.Response(&http1.Response{Status: 200, Major: 1, Minor: 1, ContentLength: 2})

	e.Serve(request("GET", "/dead/", "Host", "example.com"), conn, &p)
	px := p.Proxy
	if px == nil {
		t.Fatalf("/dead/: %s, want a proxy plan", result(&p))
	}
	if _, ok := px.Next(); !ok {
		t.Fatal("/dead/: no peer")
	}
	if !px.Failed(upstream.FailError, false) {
		t.Fatalf("the error_page did not continue the exchange: %s", result(&p))
	}
	if p.Wait != nil || p.Proxy == nil {
		t.Fatalf("after the error_page: Wait %v, plan %s; want a proxy exchange, no wait", p.Wait, result(&p))
	}
	addr, ok := p.Proxy.Next()
	if !ok || addr != "10.0.0.1:80" {
		t.Fatalf("after the error_page: next peer %q %v, want 10.0.0.1:80", addr, ok)
	}
	p.Proxy.Response(&http1.Response{Status: 200, Major: 1, Minor: 1, ContentLength: 2})
	if p.Proxy.Caching() {
		t.Error("the redirected request stores its response while another fill holds the lock")
	}
	p.End(0)
	leader.End(0)
}

// An error_page target that is a caching proxy stores the upstream's
// status, not the error_page's: a direct request then gets 200.
func TestCacheStoresUpstreamStatus(t *testing.T) {
	now := testNow
	e := loadEngine(t, `http {
proxy_cache_path memory: keys_zone=z:1m;
proxy_cache_valid 200 1h;
server {
listen 127.0.0.1:80;
error_page 404 /fb;
location = /missing { return 404; }
location / { proxy_pass http://10.0.0.1:80; proxy_cache z; proxy_cache_key $uri; add_header X-Cache $upstream_cache_status always; }
}
}`, &now)
	var p Plan
	got, asked := exchange(t, e, &p, "GET", "/missing", &upResp{status: 200, body: "fallback"})
	t.Logf("error page: status %d body %q asked %v X-Cache %q", p.Status, got, asked, header(&p, "X-Cache"))
	got, asked = exchange(t, e, &p, "GET", "/fb", &upResp{status: 200, body: "fallback"})
	if p.Status != 200 {
		t.Errorf("direct GET /fb: status %d body %q asked %v X-Cache %q, want 200", p.Status, got, asked, header(&p, "X-Cache"))
	}
}

// A disk hit whose lookup found an entry whose file another fill (a
// BYPASS, an UPDATING one) replaced before the open: the new file's
// bytes are never sent with the old entry's head and offsets.
func TestCacheDiskFileReplaced(t *testing.T) {
	now := testNow
	dir := t.TempDir()
	e := loadEngine(t, `http {
proxy_cache_path `+dir+` keys_zone=z:1m;
proxy_cache_valid 200 1h;
server {
listen 127.0.0.1:80;
location / { proxy_pass http://10.0.0.1:80; proxy_cache z; proxy_cache_key $uri; proxy_cache_bypass $arg_b; }
}
}`, &now)
	var p Plan
	exchange(t, e, &p, "GET", "/a", &upResp{status: 200, body: "OLD-BODY"})
	var z *cacheZone
	for _, zz := range e.cacheZones {
		z = zz
	}
	var old *cacheEntry
	for _, ent := range z.entries {
		old = ent
	}
	// The replacement: a longer head.
	exchange(t, e, &p, "GET", "/a?b=1", &upResp{status: 200, fields: []string{"X-Long", strings.Repeat("h", 40)}, body: "NEW-BODY"})
	var q Plan
	e.Serve(request("GET", "/a", "Host", "example.com"), conn, &q) // a hit: q is set up
	q.CloseFile()
	if e.cacheServe(&q, old, "HIT") {
		b := body(t, &q)
		q.CloseFile()
		t.Errorf("served %q from the replaced file with the old entry's head and offsets", b)
	}
}

// A reload sets the shared store's max_size while the old engine's
// fills read it (CacheBody, cacheResponse, cacheDone): run with -race.
func TestCacheReloadRace(t *testing.T) {
	now := testNow
	conf := "proxy_cache_path memory: keys_zone=z:1m max_size=1m;\nproxy_cache_valid 1h;"
	old := cacheEngine(t, conf, &now)
	news := make([]*Engine, 20)
	for i := range news {
		news[i] = cacheEngine(t, conf, &now)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var p Plan
		for i := 0; i < 200; i++ {
			exchange(t, old, &p, "GET", "/r"+itoa(i), &upResp{status: 200, body: "kept"})
		}
	}()
	for _, n := range news {
		n.InheritZones(old)
	}
	<-done
}

// TestCacheLockReleasedWhenNotStored: once the leader's response turns
// out not to be stored (Set-Cookie here), proxy_cache_lock's waiters go
// on at once instead of waiting for its whole body.
func TestCacheLockReleasedWhenNotStored(t *testing.T) {
	now := testNow
	e := cacheEngine(t, "proxy_cache_path memory: keys_zone=z:1m;\nproxy_cache_valid 1m;\nproxy_cache_lock on;", &now)
	var leader, waiter Plan
	e.Serve(request("GET", "/l", "Host", "example.com"), conn, &leader)
	e.Serve(request("GET", "/l", "Host", "example.com"), conn, &waiter)
	if leader.Proxy == nil || waiter.Wait == nil {
		t.Fatalf("leader %s, waiter Wait %v: want a fill and a waiter", result(&leader), waiter.Wait)
	}
	leader.Proxy.Next()
	resp := &http1.Response{Status: 200, Major: 1, Minor: 1, ContentLength: 2,
		Header: http1.Header{{Name: []byte("Set-Cookie"), Value: []byte("a=b")}}}
	leader.Proxy.Response(resp)
	if leader.Proxy.Caching() {
		t.Fatal("a Set-Cookie response is being stored")
	}
	select {
	case <-waiter.Wait:
	default:
		t.Fatal("the waiter still waits for a response that will not be stored")
	}
	leader.End(0)
}
