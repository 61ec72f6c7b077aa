package engine

import (
	"bytes"
	"crypto/md5"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/c10k/c10k/servers/config"
	"github.com/c10k/c10k/servers/http1"
	"github.com/c10k/c10k/servers/upstream"
)

// proxy_cache, as the cores see it (issue #9).
//
// A fresh hit is an ordinary plan (Body, or File for a disk entry):
// the core sends it like any other. A miss, an expired or a bypassed
// entry is a Proxy exchange as before; when the response may be stored
// (Caching after Response), the core passes every piece of the
// upstream body to CacheBody as it reads it (de-chunked, before any
// gzip), and calls Done only when the body was read whole (its
// Content-Length, the last chunk, or EOF for a close-delimited body).
// Failed, End and Reset abandon the entry: a partial response is never
// stored. A core whose client went away while the upstream body was
// still coming calls DonePartial instead of Done. A request waiting for
// another one's fill of the same key (proxy_cache_lock) gets a plan
// with Wait (see Plan.Wait). With proxy_cache_use_stale, a Failed that
// leaves no attempt turns the plan into the stale entry (an ordinary
// plan) instead of the 502/504; an upstream status use_stale names
// (http_500, ...) makes Response return true and the following Next
// false, with the stale entry as the plan.
//
// The engine side follows nginx 1.22 (ngx_http_file_cache.c and the
// cache parts of ngx_http_upstream.c):
//   - the key is proxy_cache_key evaluated for the request, entries are
//     named by its md5;
//   - a response is stored when X-Accel-Expires, else Cache-Control
//     (no-cache, no-store, private: never; s-maxage, max-age), else
//     Expires, else the first proxy_cache_valid line matching its
//     status gives it a lifetime; Set-Cookie and "Vary: *" keep it
//     out;
//   - the client's If-Modified-Since, If-Unmodified-Since,
//     If-None-Match, If-Match, Range and If-Range are not passed
//     upstream from a caching location (ngx_http_proxy_cache_headers),
//     so every stored answer is a whole 200 (or whatever status) for
//     everyone;
//   - a response with Vary is stored as a variant of its key (the key
//     and the request's values of the fields Vary names, as nginx's
//     secondary key), so a client gets the variant that matches its
//     request; the zone remembers each key's Vary (a disk zone in the
//     entry file, so a restart does too);
//   - proxy_cache_lock holds new entries only (an expired one is
//     fetched by every request, or served as UPDATING to the others
//     with use_stale updating).
//
// A hit of a stored 200 goes through nginx's not-modified rules: 304
// for a matching If-None-Match or If-Modified-Since, 412 for a failed
// If-Match or If-Unmodified-Since (a response being fetched or stored
// is sent whole).
//
// Differences: a HEAD request is served from the GET entry on a hit,
// but a HEAD miss is passed upstream as HEAD and not stored (nginx's
// proxy_cache_convert_head would send a GET and store it). The
// client's going away ends the fill (nginx reads the rest of the
// upstream body into the cache).

// cacheCtx is a Proxy's proxy_cache state.
type cacheCtx struct {
	z      *cacheZone
	pc     *config.ProxyCache
	key    cacheKey // the entry looked up: main, or the variant a known Vary gives
	main   cacheKey // md5 of keyRaw
	keyRaw []byte   // the evaluated key, in the plan's arena
	// status is $upstream_cache_status: MISS, BYPASS, EXPIRED, STALE,
	// UPDATING or HIT; "" without a cache.
	status string
	stale  *cacheEntry // the expired entry, for use_stale
	fill   *cacheFill  // this request's mark in z.fills; nil when none
	store  bool        // the response may be stored (Response decides)
	w      *cacheWriter
}

// cacheWait is what a Plan keeps across a proxy_cache_lock Wait.
type cacheWait struct {
	active   bool
	deadline time.Time // proxy_cache_lock_timeout from the first wait
}

// cacheWriter is a response being stored.
type cacheWriter struct {
	key     cacheKey // the entry it becomes: main, or its Vary variant
	vary    string   // the response's Vary; "" without one
	status  int
	head    []byte
	expires time.Time
	want    int64 // Content-Length; -1 unknown
	n       int64 // body bytes so far
	body    []byte
	f       *os.File // disk zone: the temp file
	hdrLen  int64    // disk zone: where the body starts
	failed  bool
}

// Caching reports whether the exchange stores the upstream response
// it is reading in the cache: after Response, and only then, the core
// passes the body to CacheBody.
func (x *Proxy) Caching() bool { return x.c.w != nil && !x.c.w.failed }

// CacheBody stores the next piece of the upstream response body, b, in
// the cache entry being filled. It copies b (or writes it to the
// entry's temp file) before it returns. It does nothing when Caching
// is false, or once the entry went past the zone's limits (the
// response is then passed on but not stored). The piece that completes
// a Content-Length body stores the entry at once (Caching is false
// afterwards); a chunked or close-delimited one is stored by Done.
func (x *Proxy) CacheBody(b []byte) {
	w := x.c.w
	if w == nil || w.failed || len(b) == 0 {
		return
	}
	w.n += int64(len(b))
	if m := x.c.z.maxSize.Load(); m > 0 && w.hdrLen+int64(len(w.head))+w.n > m {
		x.cacheAbandon() // not stored: the lock's waiters go on now
		return
	}
	if w.f == nil {
		w.body = append(w.body, b...)
	} else if _, err := w.f.Write(b); err != nil {
		x.e.logf("crit", "write to cache temp file %q failed (%v)", x.p, w.f.Name(), err)
		x.cacheAbandon()
		return
	}
	if w.n == w.want {
		// The whole Content-Length is here: stored now, before the
		// core sends the last of it, so that the client's next request
		// finds the entry. Done then only ends the attempt.
		x.cacheDone()
	}
}

// DonePartial ends an attempt whose upstream answered but whose body
// the core did not read whole (the client went away): the balancer
// counts a success, as with Done, and nothing is stored.
func (x *Proxy) DonePartial() {
	x.cacheAbandon()
	x.Done()
}

// cacheLookup looks the request up in pc's zone after startProxy: a
// fresh entry makes p an ordinary plan, a fill in progress under
// proxy_cache_lock makes it a Wait, anything else leaves the exchange,
// which may store its response.
func (e *Engine) cacheLookup(p *Plan, pc *config.ProxyCache) {
	z := e.cacheZones[pc.Zone]
	st := &p.st
	if z == nil || st.req == nil || !methodListed(pc.Methods, st.method) {
		return
	}
	x := &p.px
	c := &x.c
	c.z, c.pc = z, pc
	n := len(p.arena)
	p.arena = p.eval(p.arena, pc.Key)
	c.keyRaw = p.arena[n:]
	c.main = md5.Sum(c.keyRaw)
	c.key = c.main
	store := string(st.method) != "HEAD" && !p.anyTrue(pc.NoCache)
	if p.anyTrue(pc.Bypass) {
		c.status, c.store = "BYPASS", store
		p.cw = cacheWait{}
		return
	}
	now := st.now
	cw := &p.cw
	if cw.active && !now.Before(cw.deadline) {
		// proxy_cache_lock_timeout: to the upstream, not stored.
		*cw = cacheWait{}
		c.status = "MISS"
		return
	}

	const (
		actMiss = iota
		actHit
		actUpdating
		actWait
	)
	act := actMiss
	z.mu.Lock()
	if vary := z.varies[c.main]; vary != "" {
		c.key, _ = p.variantKey(c.keyRaw, vary)
	}
	ent := z.get(c.key)
	fill := z.fills[c.key]
	switch {
	case ent != nil && now.Before(ent.expires):
		z.touch(ent, now)
		act = actHit
	case ent != nil && fill != nil && pc.UseStale&config.StaleUpdating != 0:
		act = actUpdating
	case ent == nil && fill != nil && pc.Lock && st.serving:
		act = actWait
	case ent == nil && fill != nil && pc.Lock:
		// A lookup outside Serve (an error_page after a failed
		// attempt, a CGI local redirect): the core is mid-exchange and
		// cannot park the request, so it goes upstream at once and its
		// response is not stored, as after proxy_cache_lock_timeout.
		store = false
	default:
		if store {
			store = z.countUse(c.key, pc.MinUses)
		}
		if store && fill == nil {
			c.fill = &cacheFill{done: make(chan struct{})}
			z.fills[c.key] = c.fill
		}
	}
	z.mu.Unlock()

	switch act {
	case actHit:
		if e.cacheServe(p, ent, "HIT") {
			*cw = cacheWait{}
			return
		}
		z.mu.Lock()
		if z.get(c.key) == ent {
			z.remove(ent, false) // its file is gone
		}
		z.mu.Unlock()
		ent = nil
	case actUpdating:
		if e.cacheServe(p, ent, "UPDATING") {
			*cw = cacheWait{}
			return
		}
	case actWait:
		if !cw.active {
			*cw = cacheWait{active: true, deadline: now.Add(pc.LockTimeout)}
		}
		p.Proxy = nil
		p.Wait = fill.done
		p.WaitTimeout = max(cw.deadline.Sub(now), time.Millisecond)
		p.Status = 499 // should the client leave while waiting
		p.lim.resume = true
		return
	}
	*cw = cacheWait{}
	c.store = store
	c.stale = ent
	c.status = "MISS"
	if ent != nil {
		c.status = "EXPIRED"
	}
}

// anyTrue reports whether any template evaluates to a value that is not
// empty and not "0" (proxy_cache_bypass, proxy_no_cache).
func (p *Plan) anyTrue(ts []config.Template) bool {
	for _, t := range ts {
		n := len(p.arena)
		p.arena = p.eval(p.arena, t)
		v := p.arena[n:]
		p.arena = p.arena[:n]
		if len(v) > 0 && !(len(v) == 1 && v[0] == '0') {
			return true
		}
	}
	return false
}

func methodListed(ms []string, m []byte) bool {
	for _, s := range ms {
		if s == string(m) {
			return true
		}
	}
	return false
}

// cacheServe makes p the stored response ent, with status as
// $upstream_cache_status. It returns false when a disk entry's file
// cannot be opened (evicted meanwhile); under ServeCached a lookup that
// would wait for the disk returns true with st.blocked set.
func (e *Engine) cacheServe(p *Plan, ent *cacheEntry, status string) bool {
	st := &p.st
	x := &p.px
	z := x.c.z
	if z.dir != "" {
		n := len(p.arena)
		p.arena = append(p.arena, z.path(ent.key)...)
		path := p.arena[n:]
		fd, err := p.open(path)
		if err != nil {
			return st.blocked
		}
		// The index was read under the zone's lock, the file is opened
		// after it: a fill that renamed a new file for the key in
		// between must not have its bytes sent with this entry's head
		// and offsets. The inode tells them apart (fstat of an open
		// descriptor does not wait for the disk).
		if unix.Fstat(fd, &p.stat) != nil || p.stat.Ino != ent.ino || p.stat.Size != ent.bodyOff+ent.bodyLen {
			unix.Close(fd)
			return false
		}
		p.CloseFile()
		p.File = os.NewFile(uintptr(fd), p.name(path))
		p.Offset = ent.bodyOff
		p.ContentLength = ent.bodyLen
		p.Body = nil
	} else {
		p.CloseFile()
		p.Body = ent.body
		p.Offset = 0
		p.ContentLength = int64(len(ent.body))
	}
	p.Proxy = nil
	p.Status = ent.status
	p.Header = p.Header[:0]
	n := len(p.arena)
	p.arena = append(p.arena, ent.head...)
	h := p.arena[n:]
	for len(h) > 0 {
		line := h
		if i := bytes.Index(h, crlf); i >= 0 {
			line, h = h[:i], h[i+2:]
		} else {
			h = nil
		}
		if i := bytes.IndexByte(line, ':'); i > 0 {
			p.addHeader(line[:i], bytes.TrimLeft(line[i+1:], " "))
		}
	}
	x.c.status = status
	if ent.status == 200 && st.req != nil && !st.errPage {
		// nginx's not-modified filter answers a cached 200.
		lm := p.Header.Get("Last-Modified")
		var mtime time.Time
		if h := st.req.Header; lm != nil && (h.Has("If-Modified-Since") || h.Has("If-Unmodified-Since")) {
			mtime, _ = parseHTTPDate(lm)
		}
		switch conditional(p, lm, p.Header.Get("ETag"), mtime) {
		case 304:
			p.CloseFile()
			p.Body = nil
			p.Status = 304
			p.ContentLength = 0
		case 412:
			e.page(p, 412)
		}
	}
	return true
}

var crlf = []byte("\r\n")

// cacheResponse decides, once the upstream head is in p, whether the
// response is stored, and starts its entry.
func (x *Proxy) cacheResponse(resp *http1.Response) {
	c := &x.c
	p := x.p
	if c.z == nil || !c.store || p.HeadOnly {
		x.releaseFill() // nothing to wait for: the waiters go on now
		return
	}
	now := x.e.now()
	expires, ok := cacheValidity(resp.Header, resp.Status, c.pc.Valid, now)
	if !ok {
		x.releaseFill()
		return
	}
	z := c.z
	if m := z.maxSize.Load(); resp.ContentLength > 0 && m > 0 && resp.ContentLength > m {
		x.releaseFill()
		return
	}
	// The upstream's status, as nginx stores it: p.Status may already
	// be an error_page's, which a hit applies again (finish).
	w := &cacheWriter{key: c.main, status: resp.Status, expires: expires, want: p.ContentLength}
	if resp.Chunked {
		w.want = -1
	}
	keyText := c.keyRaw
	if vary := varyOf(resp.Header); vary != "" {
		// nginx's secondary key: the key and the request's values of
		// the fields Vary names.
		w.vary = vary
		n := len(p.arena)
		w.key, keyText = p.variantKey(c.keyRaw, vary)
		keyText = append([]byte(nil), keyText...)
		p.arena = p.arena[:n]
	}
	for _, f := range p.Header {
		w.head = append(w.head, f.Name...)
		w.head = append(w.head, ": "...)
		w.head = append(w.head, f.Value...)
		w.head = append(w.head, "\r\n"...)
	}
	if z.dir != "" {
		f, err := os.CreateTemp(z.dir, ".tmp-")
		if err != nil {
			x.e.logf("crit", "cache temp file in %q failed (%v)", p, z.dir, err)
			x.releaseFill()
			return
		}
		hdr := appendEntryHeader(make([]byte, 0, cacheHeaderLen+len(keyText)+len(w.vary)+len(w.head)),
			expires, w.status, len(keyText), len(c.keyRaw), len(w.vary), len(w.head), 0)
		hdr = append(hdr, keyText...)
		hdr = append(hdr, w.vary...)
		hdr = append(hdr, w.head...)
		if _, err := f.Write(hdr); err != nil {
			x.e.logf("crit", "write to cache temp file %q failed (%v)", p, f.Name(), err)
			f.Close()
			os.Remove(f.Name())
			x.releaseFill()
			return
		}
		w.f = f
		w.hdrLen = int64(len(hdr))
	}
	c.w = w
}

// cacheDone stores the response read whole, then ends this request's
// fill: proxy_cache_lock waiters wake up to a hit.
func (x *Proxy) cacheDone() {
	c := &x.c
	w := c.w
	if w == nil || w.failed || w.want >= 0 && w.n != w.want {
		x.cacheAbandon()
		return
	}
	c.w = nil
	z := c.z
	ent := &cacheEntry{key: w.key, status: w.status, head: w.head, expires: w.expires, used: x.e.now(), bodyLen: w.n}
	var rename func() error
	if w.f == nil {
		if cap(w.body) > len(w.body)+len(w.body)/4 {
			w.body = append(make([]byte, 0, len(w.body)), w.body...) // what max_size counts is what is held
		}
		ent.body = w.body
		ent.size = int64(len(w.head)+len(w.body)) + memEntryOverhead
	} else {
		ent.bodyOff = w.hdrLen
		ent.size = w.hdrLen + w.n
		var b [8]byte
		for i := range b {
			b[i] = byte(uint64(w.n) >> (8 * i))
		}
		_, err := w.f.WriteAt(b[:], cacheHeaderLen-8)
		if fi, serr := w.f.Stat(); serr == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				ent.ino = st.Ino // a rename keeps it
			}
		}
		if cerr := w.f.Close(); err == nil {
			err = cerr
		}
		tmp := w.f.Name()
		w.f = nil
		if err != nil {
			os.Remove(tmp)
			x.e.logf("crit", "write to cache temp file %q failed (%v)", x.p, tmp, err)
			x.releaseFill()
			return
		}
		path := z.path(w.key)
		rename = func() error {
			if err := os.Rename(tmp, path); err != nil {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					return err
				}
				return os.Rename(tmp, path)
			}
			return nil
		}
		defer func() {
			os.Remove(tmp) // gone when the rename worked
		}()
	}
	if m := z.maxSize.Load(); m > 0 && ent.size > m {
		x.releaseFill()
		return
	}
	z.mu.Lock()
	err := z.insert(ent, rename)
	if err == nil {
		z.setVary(c.main, w.vary)
	}
	z.mu.Unlock()
	if err != nil {
		x.e.logf("crit", "cache file %q could not be stored (%v)", x.p, z.path(w.key), err)
	}
	x.releaseFill()
}

// abandonWriter drops the response being stored.
func (x *Proxy) abandonWriter() {
	w := x.c.w
	if w == nil {
		return
	}
	w.failed = true
	w.body = nil
	if w.f != nil {
		w.f.Close()
		os.Remove(w.f.Name())
		w.f = nil
	}
	x.c.w = nil
}

// releaseFill ends this request's fill mark, waking the waiters.
func (x *Proxy) releaseFill() {
	c := &x.c
	f := c.fill
	if f == nil {
		return
	}
	c.fill = nil
	c.z.mu.Lock()
	if c.z.fills[c.key] == f {
		delete(c.z.fills, c.key)
	}
	c.z.mu.Unlock()
	close(f.done)
}

// cacheAbandon drops whatever the request was storing.
func (x *Proxy) cacheAbandon() {
	x.abandonWriter()
	x.releaseFill()
}

// staleFor is the proxy_cache_use_stale condition of a failure.
func staleFor(f Failure) config.UseStale {
	switch f {
	case upstream.FailTimeout:
		return config.StaleTimeout
	case upstream.FailInvalidHeader:
		return config.StaleInvalidHeader
	}
	return config.StaleError
}

// serveStale makes the plan the expired entry when use allows it: the
// exchange is over.
func (x *Proxy) serveStale(use bool) bool {
	c := &x.c
	if !use || c.stale == nil || c.z == nil {
		return false
	}
	p := x.p
	x.cacheAbandon()
	cached := p.st.cached
	p.st.cached = false // the core is past Serve: the file may be opened the ordinary way
	ok := x.e.cacheServe(p, c.stale, "STALE")
	p.st.cached = cached
	if !ok {
		return false
	}
	x.done = true
	x.e.finish(p)
	return true
}

// cacheValidity is when a response expires, or false when it is not
// stored, with nginx 1.22's rules: X-Accel-Expires ("@" absolute, else
// seconds; 0 never), Cache-Control (no-cache, no-store, private never;
// s-maxage= then max-age=, 0 or malformed never), Expires (malformed
// or past never), then proxy_cache_valid; Set-Cookie and "Vary: *"
// never.
func cacheValidity(h http1.Header, status int, valid []config.CacheValid, now time.Time) (time.Time, bool) {
	var xae, exp []byte
	var cc [][]byte
	for _, f := range h {
		switch {
		case http1.EqualFold(f.Name, "Set-Cookie"):
			return time.Time{}, false
		case http1.EqualFold(f.Name, "Vary"):
			if v := bytes.TrimSpace(f.Value); len(v) == 1 && v[0] == '*' {
				return time.Time{}, false
			}
		case http1.EqualFold(f.Name, "X-Accel-Expires"):
			if xae == nil {
				xae = f.Value
			}
		case http1.EqualFold(f.Name, "Cache-Control"):
			cc = append(cc, f.Value)
		case http1.EqualFold(f.Name, "Expires"):
			if exp == nil {
				exp = f.Value
			}
		}
	}
	if len(xae) > 0 {
		if xae[0] == '@' {
			if n, ok := parseDigits(bytes.TrimSpace(xae[1:])); ok {
				return time.Unix(n, 0), time.Unix(n, 0).After(now)
			}
		} else if n, ok := parseDigits(bytes.TrimSpace(xae)); ok {
			if n == 0 {
				return time.Time{}, false
			}
			return now.Add(time.Duration(n) * time.Second), true
		}
	}
	for _, v := range cc {
		lv := bytes.ToLower(v)
		if bytes.Contains(lv, []byte("no-cache")) || bytes.Contains(lv, []byte("no-store")) || bytes.Contains(lv, []byte("private")) {
			return time.Time{}, false
		}
	}
	for _, v := range cc {
		lv := bytes.ToLower(v)
		i, off := bytes.Index(lv, []byte("s-maxage=")), len("s-maxage=")
		if i < 0 {
			i, off = bytes.Index(lv, []byte("max-age=")), len("max-age=")
		}
		if i < 0 {
			continue
		}
		var n int64
		for _, ch := range lv[i+off:] {
			if ch == ',' || ch == ';' || ch == ' ' {
				break
			}
			if ch < '0' || ch > '9' || n > 1<<40 {
				return time.Time{}, false
			}
			n = n*10 + int64(ch-'0')
		}
		if n == 0 {
			return time.Time{}, false
		}
		return now.Add(time.Duration(n) * time.Second), true
	}
	if exp != nil {
		t, ok := parseHTTPDate(exp)
		if !ok || t.Before(now) {
			return time.Time{}, false
		}
		return t, true
	}
	for _, v := range valid {
		if v.Status == 0 || v.Status == status {
			if v.Valid <= 0 {
				return time.Time{}, false
			}
			return now.Add(v.Valid), true
		}
	}
	return time.Time{}, false
}

// varyOf is the response's Vary value, its fields joined; "" without.
func varyOf(h http1.Header) string {
	var v []byte
	for _, f := range h {
		if http1.EqualFold(f.Name, "Vary") {
			if len(v) > 0 {
				v = append(v, ',')
			}
			v = append(v, f.Value...)
		}
	}
	return string(v)
}

// variantKey is the md5 of key and the request's values of the fields
// vary names (nginx's ngx_http_file_cache_vary), and the text hashed,
// built past the end of p's arena (valid until the arena next grows).
func (p *Plan) variantKey(key []byte, vary string) (cacheKey, []byte) {
	n := len(p.arena)
	p.arena = append(p.arena, key...)
	p.arena = append(p.arena, 0)
	h := p.st.req.Header
	for name := range strings.SplitSeq(vary, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		p.arena = append(p.arena, name...)
		p.arena = append(p.arena, ':')
		for _, f := range h {
			if http1.EqualFold(f.Name, name) {
				p.arena = append(p.arena, f.Value...)
				p.arena = append(p.arena, ',')
			}
		}
		p.arena = append(p.arena, '\n')
	}
	text := p.arena[n:]
	p.arena = p.arena[:n]
	return md5.Sum(text), text
}
