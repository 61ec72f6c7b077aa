package engine

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeClock is the engine's clock in the limit tests.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time      { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t = c.t.Add(d) }
func (c *fakeClock) opts(logs *[]string) Options {
	return Options{Now: c.now, ErrorLog: func(level, msg string) { *logs = append(*logs, level+": "+msg) }}
}

const limitConf = `http {
    limit_req_zone $binary_remote_addr zone=nob:64k rate=2r/s;
    limit_req_zone $binary_remote_addr zone=burst:64k rate=1r/s;
    limit_req_zone $binary_remote_addr zone=delay:64k rate=2r/s;
    limit_req_zone $binary_remote_addr zone=delayn:64k rate=1r/s;
    limit_req_zone $binary_remote_addr zone=perm:64k rate=30r/m;
    limit_req_zone $binary_remote_addr zone=a:64k rate=1r/s;
    limit_req_zone $binary_remote_addr zone=b:64k rate=1r/s;
    limit_req_zone $binary_remote_addr zone=small:32k rate=1r/m;
    limit_req_zone $http_x_key zone=keyed:64k rate=1r/m;
    limit_conn_zone $binary_remote_addr zone=c:64k;
    limit_conn_zone $binary_remote_addr zone=c2:64k;
    server {
        server_name example.com;
        root ROOT;
        limit_req_status 429;
        location /nob/ { limit_req zone=nob; limit_req_status 503; }
        location /burst/ { limit_req zone=burst burst=2 nodelay; }
        location /delay/ { limit_req zone=delay burst=3; }
        location /delayn/ { limit_req zone=delayn burst=3 delay=1; }
        location /perm/ { limit_req zone=perm; }
        location /two/ { limit_req zone=a burst=5 nodelay; limit_req zone=b; }
        location /small/ { limit_req zone=small; }
        location /keyed/ { limit_req zone=keyed; }
        location /ret/ { limit_req zone=perm; return 200 "returned"; }
        location /ep/ { limit_req zone=burst burst=2 nodelay; error_page 429 /limited.txt; }
        location = /limited.txt { }
        location /conn/ { limit_conn c 1; limit_conn c2 2; }
        location /both/ { limit_req zone=delay burst=3; limit_conn c 1; }
    }
}`

var limitFiles = map[string]string{
	"limited.txt": "limited", "nob/a": "nob", "burst/a": "burst", "delay/a": "delay", "delayn/a": "delayn",
	"perm/a": "perm", "two/a": "two", "small/a": "small", "keyed/a": "keyed", "ep/a": "ep",
	"conn/a": "conn", "both/a": "both",
}

// limitStep is one request at a moment of the fake clock.
type limitStep struct {
	after  time.Duration // clock advance before the request
	status int
	delay  time.Duration
	log    string // the error-log line, "" for none
}

func runLimitSteps(t *testing.T, target string, steps []limitStep) {
	t.Helper()
	clock := &fakeClock{t: testNow}
	var logs []string
	e := confEngine(t, limitFiles, limitConf, clock.opts(&logs))
	var p Plan
	for i, s := range steps {
		clock.add(s.after)
		logs = nil
		req := request("GET", target, "Host", "example.com")
		e.Serve(req, conn, &p)
		if p.Delay > 0 {
			if p.Status != 499 || p.Body != nil || p.File != nil || p.Proxy != nil {
				t.Errorf("step %d: a Delay plan holds more: %d %q", i, p.Status, p.Body)
			}
			if p.Delay != s.delay {
				t.Errorf("step %d: delay %v, want %v", i, p.Delay, s.delay)
			}
			e.Serve(req, conn, &p) // the core resumes the request
			if p.Delay != 0 {
				t.Errorf("step %d: the resumed request is delayed again", i)
			}
		} else if s.delay != 0 {
			t.Errorf("step %d: no delay, want %v", i, s.delay)
		}
		if p.Status != s.status {
			t.Errorf("step %d: %s = %d, want %d", i, target, p.Status, s.status)
		}
		var want []string
		if s.log != "" {
			want = []string{s.log}
		}
		if !slices.Equal(logs, want) {
			t.Errorf("step %d: log %q, want %q", i, logs, want)
		}
		p.CloseFile()
		p.End(0)
	}
}

const limitCtx = `, client: 192.0.2.7, server: example.com, request: "GET %s HTTP/1.1", host: "example.com"`

func limited(excess, zone, target string) string {
	return "error: limiting requests, excess: " + excess + ` by zone "` + zone + `"` + sprintfPath(limitCtx, target)
}

func sprintfPath(format, target string) string {
	for i := 0; i+1 < len(format); i++ {
		if format[i] == '%' && format[i+1] == 's' {
			return format[:i] + target + format[i+2:]
		}
	}
	return format
}

// TestLimitReqRate checks the leaky bucket without burst against the
// values ngx_http_limit_req_lookup computes: excess in milli-requests,
// rate 2r/s = 2000.
func TestLimitReqRate(t *testing.T) {
	runLimitSteps(t, "/nob/a", []limitStep{
		{0, 200, 0, ""},
		// 0 - 2000*100/1000 + 1000 = 800 > burst 0.
		{100 * time.Millisecond, 503, 0, limited("0.800", "nob", "/nob/a")},
		// The rejection charged nothing: 0 - 2000*499/1000 + 1000 = 2.
		{399 * time.Millisecond, 503, 0, limited("0.002", "nob", "/nob/a")},
		// 500 ms after the first: 0.
		{1 * time.Millisecond, 200, 0, ""},
		{0, 503, 0, limited("1.000", "nob", "/nob/a")},
	})
}

// TestLimitReqPerMinute checks a r/m rate: 30r/m is 500 milli-requests
// per second.
func TestLimitReqPerMinute(t *testing.T) {
	runLimitSteps(t, "/perm/a", []limitStep{
		{0, 200, 0, ""},
		// 1000 - 500*100/1000 = 950; the server-level limit_req_status 429.
		{100 * time.Millisecond, 429, 0, "error: limiting requests, excess: 0.950 by zone \"perm\"" + sprintfPath(limitCtx, "/perm/a")},
		{1900 * time.Millisecond, 200, 0, ""},
	})
}

// TestLimitReqBurstNodelay checks burst=2 nodelay at 1r/s.
func TestLimitReqBurstNodelay(t *testing.T) {
	runLimitSteps(t, "/burst/a", []limitStep{
		{0, 200, 0, ""},
		{0, 200, 0, ""},
		{0, 200, 0, ""},
		{0, 429, 0, limited("3.000", "burst", "/burst/a")},
		// 2000 - 1500 + 1000 = 1500.
		{1500 * time.Millisecond, 200, 0, ""},
		{0, 429, 0, limited("2.500", "burst", "/burst/a")},
		// 1500 - 500 + 1000 = 2000.
		{500 * time.Millisecond, 200, 0, ""},
		{0, 429, 0, limited("3.000", "burst", "/burst/a")},
	})
}

// TestLimitReqDelay checks burst=3 without nodelay at 2r/s: a request
// within the burst waits excess/rate.
func TestLimitReqDelay(t *testing.T) {
	w := func(excess, target string) string {
		return "warn: delaying request, excess: " + excess + `, by zone "delay"` + sprintfPath(limitCtx, target)
	}
	runLimitSteps(t, "/delay/a", []limitStep{
		{0, 200, 0, ""},
		{0, 200, 500 * time.Millisecond, w("1.000", "/delay/a")},
		{0, 200, time.Second, w("2.000", "/delay/a")},
		{0, 200, 1500 * time.Millisecond, w("3.000", "/delay/a")},
		// 3000 - 2000*100/1000 + 1000 = 3800 > 3000.
		{100 * time.Millisecond, 429, 0, limited("3.800", "delay", "/delay/a")},
		// 500 ms after the last charge: 3000 - 1000 + 1000 = 3000.
		{400 * time.Millisecond, 200, 1500 * time.Millisecond, w("3.000", "/delay/a")},
	})
}

// TestLimitReqDelayParam checks delay=1: the first excess request
// passes at once, the next waits (excess - 1000) / rate.
func TestLimitReqDelayParam(t *testing.T) {
	runLimitSteps(t, "/delayn/a", []limitStep{
		{0, 200, 0, ""},
		{0, 200, 0, ""},
		{0, 200, time.Second, `warn: delaying request, excess: 2.000, by zone "delayn"` + sprintfPath(limitCtx, "/delayn/a")},
		// 2000 - 250 + 1000 = 2750: (2750 - 1000) * 1000 / 1000 ms.
		{250 * time.Millisecond, 200, 1750 * time.Millisecond, `warn: delaying request, excess: 2.750, by zone "delayn"` + sprintfPath(limitCtx, "/delayn/a")},
	})
}

// TestLimitReqReturnFirst checks that return (the rewrite phase) runs
// before limit_req (preaccess): a return location is never limited.
func TestLimitReqReturnFirst(t *testing.T) {
	runLimitSteps(t, "/ret/", []limitStep{{0, 200, 0, ""}, {0, 200, 0, ""}, {0, 200, 0, ""}})
}

// TestLimitReqErrorPage checks that the rejection goes through
// error_page and that the error page's location does not apply the
// limits again (once per request, as r->main->limit_req_status).
func TestLimitReqErrorPage(t *testing.T) {
	clock := &fakeClock{t: testNow}
	var logs []string
	e := confEngine(t, limitFiles, limitConf, clock.opts(&logs))
	var p Plan
	for i := range 4 {
		e.Serve(request("GET", "/ep/a", "Host", "example.com"), conn, &p)
		want, wantBody := 200, "ep"
		if i == 3 {
			want, wantBody = 429, "limited"
		}
		if p.Status != want || body(t, &p) != wantBody || !p.KeepAlive {
			t.Errorf("request %d: %d %q keepalive %v, want %d %q, kept alive", i, p.Status, body(t, &p), p.KeepAlive, want, wantBody)
		}
		p.CloseFile()
		p.End(0)
	}
}

// TestLimitReqEmptyKey checks that an empty key is not limited.
func TestLimitReqEmptyKey(t *testing.T) {
	clock := &fakeClock{t: testNow}
	var logs []string
	e := confEngine(t, limitFiles, limitConf, clock.opts(&logs))
	var p Plan
	for i, tc := range []struct {
		key    string
		status int
	}{{"", 200}, {"", 200}, {"k", 200}, {"k", 429}, {"j", 200}, {"", 200}} {
		fields := []string{"Host", "example.com"}
		if tc.key != "" {
			fields = append(fields, "X-Key", tc.key)
		}
		e.Serve(request("GET", "/keyed/a", fields...), conn, &p)
		if p.Status != tc.status {
			t.Errorf("request %d (key %q): %d, want %d", i, tc.key, p.Status, tc.status)
		}
		p.CloseFile()
		p.End(0)
	}
}

// TestLimitReqSeveral checks two limit_req lines: the first looks the
// request up without charging it, the last charges it, and a rejection
// by the last gives the first's entry back uncharged
// (ngx_http_limit_req_account and the handler's unwinding).
func TestLimitReqSeveral(t *testing.T) {
	clock := &fakeClock{t: testNow}
	var logs []string
	e := confEngine(t, limitFiles, limitConf, clock.opts(&logs))
	za, zb := e.zoneByName(t, "a"), e.zoneByName(t, "b")
	key := string(netip.MustParseAddr("192.0.2.7").AsSlice())
	var p Plan
	serve := func(want int) {
		t.Helper()
		e.Serve(request("GET", "/two/a", "Host", "example.com"), conn, &p)
		if p.Status != want {
			t.Fatalf("status %d, want %d", p.Status, want)
		}
		p.CloseFile()
		p.End(0)
	}
	serve(200)
	if a, b := za.nodes[key], zb.nodes[key]; a == nil || b == nil || a.excess != 0 || b.excess != 0 || a.count != 0 {
		t.Fatalf("after the first request: a %+v, b %+v", a, b)
	}
	serve(429) // b: 1000 > burst 0; a is not charged
	if a := za.nodes[key]; a.excess != 0 || a.count != 0 {
		t.Errorf("after b's rejection: a excess %d count %d, want 0 0", a.excess, a.count)
	}
	if want := limited("1.000", "b", "/two/a"); len(logs) == 0 || logs[len(logs)-1] != want {
		t.Errorf("log %q, want %q", logs, want)
	}
	clock.add(time.Second)
	serve(200)
	clock.add(400 * time.Millisecond)
	serve(429)
	clock.add(600 * time.Millisecond)
	serve(200)
	if a := za.nodes[key]; a.excess != 0 || a.count != 0 {
		t.Errorf("a: excess %d count %d, want 0 0", a.excess, a.count)
	}
}

func (e *Engine) zoneByName(t *testing.T, name string) *reqZone {
	t.Helper()
	for c, z := range e.reqZones {
		if c.Name == name {
			return z
		}
	}
	t.Fatalf("no zone %q", name)
	return nil
}

// TestLimitReqEviction checks the zone's size: a 32k zone holds
// (32768 - 8192) / 128 = 192 entries of a 4-byte key; the next key
// evicts the least recently used one (ngx_http_limit_req_expire(ctx, 0)),
// which then counts as new; idle, drained entries go first.
func TestLimitReqEviction(t *testing.T) {
	clock := &fakeClock{t: testNow}
	var logs []string
	e := confEngine(t, limitFiles, limitConf, clock.opts(&logs))
	z := e.zoneByName(t, "small")
	var p Plan
	serve := func(i int) int {
		c := conn
		c.Remote = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 1)
		e.Serve(request("GET", "/small/a", "Host", "example.com"), c, &p)
		p.CloseFile()
		p.End(0)
		return p.Status
	}
	if z.capacity/128 != 192 {
		t.Fatalf("capacity %d entries, want 192", z.capacity/128)
	}
	for i := range 192 {
		if s := serve(i); s != 200 {
			t.Fatalf("key %d: %d", i, s)
		}
	}
	if len(z.nodes) != 192 {
		t.Fatalf("%d entries, want 192", len(z.nodes))
	}
	if serve(1) != 429 { // touches key 1: key 0 is now the oldest
		t.Fatal("key 1 not limited")
	}
	if serve(192) != 200 || len(z.nodes) != 192 {
		t.Fatalf("new key: %d entries", len(z.nodes))
	}
	if serve(1) != 429 {
		t.Error("key 1 was evicted; the least recently used is key 0")
	}
	if serve(0) != 200 {
		t.Error("key 0 was not evicted")
	}
	if len(z.nodes) != 192 || z.used != 192*128 {
		t.Errorf("%d entries, %d bytes", len(z.nodes), z.used)
	}
	// A minute later every entry is drained (1r/m): a new key frees two
	// idle ones from the tail before it is added (expire(ctx, 1)).
	clock.add(time.Minute)
	serve(1000)
	if len(z.nodes) != 191 {
		t.Errorf("after expiry: %d entries, want 191", len(z.nodes))
	}
}

// TestLimitConn checks limit_conn counting: a slot per request in
// progress, released by End, by Reset (a plan rejected after Serve or
// reused) and when a later zone rejects; no count leaks.
func TestLimitConn(t *testing.T) {
	clock := &fakeClock{t: testNow}
	var logs []string
	e := confEngine(t, limitFiles, limitConf, clock.opts(&logs))
	serve := func(p *Plan) int {
		e.Serve(request("GET", "/conn/a", "Host", "example.com"), conn, p)
		p.CloseFile()
		return p.Status
	}
	count := func() (int, int) {
		var n1, n2 int
		for c, z := range e.connZones {
			z.mu.Lock()
			for _, n := range z.nodes {
				if c.Name == "c" {
					n1 += n.conn
				} else {
					n2 += n.conn
				}
			}
			z.mu.Unlock()
		}
		return n1, n2
	}
	var p1, p2, p3 Plan
	if serve(&p1) != 200 {
		t.Fatal("first request limited")
	}
	logs = nil
	if s := serve(&p2); s != 503 {
		t.Fatalf("second concurrent request: %d, want 503", s)
	}
	want := `error: limiting connections by zone "c"` + sprintfPath(limitCtx, "/conn/a")
	if !slices.Equal(logs, []string{want}) {
		t.Errorf("log %q, want %q", logs, want)
	}
	if a, b := count(); a != 1 || b != 1 {
		t.Errorf("counts %d %d after a rejection, want 1 1", a, b)
	}
	p2.End(0)
	p1.End(0)
	p1.End(0) // idempotent
	if a, b := count(); a != 0 || b != 0 {
		t.Errorf("counts %d %d after End, want 0 0", a, b)
	}
	if serve(&p2) != 200 {
		t.Fatal("a request after the first ended is limited")
	}
	// A plan rejected after Serve (a body too large) releases its slot.
	p2.Reset()
	e.Reject(413, conn, &p2)
	if serve(&p3) != 200 {
		t.Fatal("the slot of a rejected plan leaked")
	}
	// A plan reused for the next request releases the previous one's.
	if serve(&p3) != 200 {
		t.Fatal("the slot of a reused plan leaked")
	}
	p3.End(0)
	p2.End(0)
	if a, b := count(); a != 0 || b != 0 {
		t.Errorf("counts %d %d at the end, want 0 0", a, b)
	}
	for _, z := range e.connZones {
		if len(z.nodes) != 0 || z.used != 0 {
			t.Errorf("zone %s keeps %d entries, %d bytes", z.cfg.Name, len(z.nodes), z.used)
		}
	}
}

// TestLimitDelayThenConn checks the order after a delay: limit_req
// delays, and limit_conn takes its slot only when the request resumes.
func TestLimitDelayThenConn(t *testing.T) {
	clock := &fakeClock{t: testNow}
	var logs []string
	e := confEngine(t, limitFiles, limitConf, clock.opts(&logs))
	var p1, p2 Plan
	req := request("GET", "/both/a", "Host", "example.com")
	e.Serve(req, conn, &p1)
	if p1.Status != 200 {
		t.Fatalf("first: %d", p1.Status)
	}
	e.Serve(req, conn, &p2)
	if p2.Delay != 500*time.Millisecond {
		t.Fatalf("second: delay %v", p2.Delay)
	}
	clock.add(p2.Delay)
	e.Serve(req, conn, &p2) // resumed while the first is in progress
	if p2.Status != 503 {
		t.Fatalf("resumed second: %d, want limit_conn's 503", p2.Status)
	}
	p1.CloseFile()
	p1.End(0)
	p2.End(0)
	clock.add(time.Second)
	e.Serve(req, conn, &p1)
	if p1.Delay != 0 || p1.Status != 200 {
		t.Errorf("third: %d delay %v", p1.Status, p1.Delay)
	}
	p1.CloseFile()
	p1.End(0)
}

func TestMilli(t *testing.T) {
	for v, want := range map[int64]string{0: "0.000", 5: "0.005", 950: "0.950", 1000: "1.000", 12345: "12.345"} {
		if got := milli(v); got != want {
			t.Errorf("milli(%d) = %q, want %q", v, got, want)
		}
	}
}

// TestLimitServeCachedOnce checks that a request ServeCached abandoned
// for a slow disk, and served again by Serve, is charged and counted
// once, and logs its rejection once.
func TestLimitServeCachedOnce(t *testing.T) {
	var logs []string
	fresh := "/fresh-" + strconv.FormatInt(time.Now().UnixNano(), 10)
	e := confEngine(t, nil, `http {
		limit_req_zone $binary_remote_addr zone=z:64k rate=1r/m;
		limit_conn_zone $binary_remote_addr zone=c:64k;
		server { server_name example.com; root ROOT;
		location / { limit_req zone=z burst=1 nodelay; limit_conn c 1; error_page 503 /pages`+fresh+`.html; }
		location /pages/ { } } }`,
		Options{ErrorLog: func(level, msg string) { logs = append(logs, level+": "+msg) }})
	serve := func(p *Plan) {
		req := request("GET", fresh, "Host", "example.com")
		if !e.ServeCached(req, conn, p) {
			e.Serve(req, conn, p)
		}
		p.CloseFile()
	}
	var p1, p2 Plan
	serve(&p1)
	if p1.Status != 404 {
		t.Fatalf("first: %d, want 404", p1.Status)
	}
	for _, z := range e.connZones {
		for _, n := range z.nodes {
			if n.conn != 1 {
				t.Errorf("limit_conn count %d, want 1", n.conn)
			}
		}
	}
	serve(&p2) // limit_conn: the first is in progress
	if p2.Status != 404 {
		t.Errorf("second: %d, want the missing 503 page's 404", p2.Status)
	}
	p1.End(0)
	p2.End(0)
	for _, z := range e.reqZones {
		for _, n := range z.nodes {
			if n.excess != 1000 || n.count != 0 {
				t.Errorf("limit_req entry excess %d count %d, want 1000 0 (each request charged once)", n.excess, n.count)
			}
		}
	}
	for _, z := range e.connZones {
		if len(z.nodes) != 0 {
			t.Errorf("limit_conn entries left: %d", len(z.nodes))
		}
	}
	n := 0
	for _, l := range logs {
		if strings.HasPrefix(l, `error: limiting connections by zone "c"`) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("logs %q, want one limiting connections line", logs)
	}
}

// TestLimitInheritZones checks that a reloaded engine keeps the state
// of zones with the same name, size and key, and starts the others
// empty.
func TestLimitInheritZones(t *testing.T) {
	clock := &fakeClock{t: testNow}
	var logs []string
	old := confEngine(t, limitFiles, limitConf, clock.opts(&logs))
	var p, held Plan
	old.Serve(request("GET", "/perm/a", "Host", "example.com"), conn, &p)
	p.CloseFile()
	p.End(0)
	old.Serve(request("GET", "/conn/a", "Host", "example.com"), conn, &held) // still running across the reload
	held.CloseFile()

	changed := strings.Replace(limitConf, "zone=perm:64k", "zone=perm:128k", 1)
	for _, tc := range []struct {
		name, conf string
		perm       int
	}{{"same zone", limitConf, 429}, {"resized zone", changed, 200}} {
		e := confEngine(t, limitFiles, tc.conf, clock.opts(&logs))
		e.InheritZones(old)
		e.Serve(request("GET", "/perm/a", "Host", "example.com"), conn, &p)
		p.CloseFile()
		p.End(0)
		if p.Status != tc.perm {
			t.Errorf("%s: limit_req after the reload: %d, want %d", tc.name, p.Status, tc.perm)
		}
		e.Serve(request("GET", "/conn/a", "Host", "example.com"), conn, &p)
		p.CloseFile()
		p.End(0)
		if p.Status != 503 {
			t.Errorf("%s: limit_conn with the old engine's request running: %d, want 503", tc.name, p.Status)
		}
	}
	held.End(0)
	e := confEngine(t, limitFiles, limitConf, clock.opts(&logs))
	e.InheritZones(old)
	e.Serve(request("GET", "/conn/a", "Host", "example.com"), conn, &p)
	p.CloseFile()
	p.End(0)
	if p.Status != 200 {
		t.Errorf("limit_conn after the old engine's request ended: %d", p.Status)
	}
}
