package engine

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/c10k/c10k/servers/config"
	"github.com/c10k/c10k/servers/http1"
	"golang.org/x/sys/unix"
)

const httpDate = "Mon, 02 Jan 2006 15:04:05 GMT"

// static serves the file the URI maps to (ngx_http_static_module and
// ngx_http_index_module). A directory without a trailing slash is
// redirected (301), one with it is served by its index files or refused
// (403, autoindex off). A file that is not regular (device, FIFO,
// socket) is 404, as nginx answers "is not a regular file". Symlinks are
// followed (disable_symlinks off).
func (e *Engine) static(p *Plan) *config.Location {
	st := &p.st
	post := false
	switch string(st.method) {
	case "GET", "HEAD":
	case "POST":
		post = true
	default:
		return e.error(p, 405)
	}
	if st.uri[len(st.uri)-1] == '/' {
		return e.index(p)
	}
	path, ok := e.mapPath(p, st.uri)
	if !ok {
		return e.error(p, 404)
	}
	if c := st.info.ofc; c != nil {
		return e.staticCached(p, c, path, post)
	}
	fd, err := p.open(path)
	if err != nil {
		if st.blocked {
			return nil
		}
		return e.error(p, e.fileError(p, path, err, "open()"))
	}
	if err := fstat(fd, &p.stat); err != nil {
		unix.Close(fd)
		return e.error(p, e.fileError(p, path, err, "fstat()"))
	}
	switch p.stat.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		unix.Close(fd)
		return e.dirRedirect(p)
	case unix.S_IFREG:
	default:
		unix.Close(fd)
		e.logf("error", "%q is not a regular file", p, path)
		return e.error(p, 404)
	}
	if post {
		unix.Close(fd)
		return e.error(p, 405)
	}
	sec, nsec := p.stat.Mtim.Unix()
	f := os.NewFile(uintptr(fd), p.name(path))
	return e.serveFile(p, f, p.stat.Size, time.Unix(sec, nsec))
}

// dirRedirect answers a directory requested without its trailing slash:
// 301 to the URI with it.
func (e *Engine) dirRedirect(p *Plan) *config.Location {
	st := &p.st
	n := len(p.arena)
	p.arena = escapeURI(p.arena, st.uri)
	p.arena = append(p.arena, '/')
	if len(st.args) > 0 {
		p.arena = append(p.arena, '?')
		p.arena = append(p.arena, st.args...)
	}
	e.redirect(p, 301, p.arena[n:])
	return nil
}

// staticCached is static with open_file_cache: a valid entry answers
// without a system call (the descriptor shared, its stat, a directory
// flag, or with open_file_cache_errors a lookup error); otherwise the
// file is opened and stated as without the cache and the result kept.
func (e *Engine) staticCached(p *Plan, c *fileCache, path []byte, post bool) *config.Location {
	st := &p.st
	loc := st.loc
	now := st.now.UnixNano()
	r := c.get(path, now, loc, true)
	if r.ent == nil || r.err == nil && !r.isDir && r.mode&unix.S_IFMT == unix.S_IFREG && r.f == nil {
		counted := r.ent != nil
		fd, err := p.open(path)
		if err != nil {
			if st.blocked {
				return nil
			}
			c.put(path, now, loc, nil, fileInfo{}, errnoOf(err), counted)
			return e.error(p, e.fileError(p, path, err, "open()"))
		}
		if err := fstat(fd, &p.stat); err != nil {
			unix.Close(fd)
			return e.error(p, e.fileError(p, path, err, "fstat()"))
		}
		fi := infoOf(&p.stat)
		var f *os.File
		if fi.isReg() {
			f = os.NewFile(uintptr(fd), p.name(path))
		} else {
			unix.Close(fd)
		}
		r = c.put(path, now, loc, f, fi, nil, counted)
	}
	if r.held {
		p.ofc = r.ent
	}
	switch {
	case r.err != nil:
		return e.error(p, e.fileError(p, path, r.err, "open()"))
	case r.isDir:
		return e.dirRedirect(p)
	case r.mode&unix.S_IFMT != unix.S_IFREG:
		e.logf("error", "%q is not a regular file", p, path)
		return e.error(p, 404)
	}
	if post {
		p.File = r.f
		p.CloseFile()
		return e.error(p, 405)
	}
	return e.serveFile(p, r.f, r.size, r.mtime)
}

// open opens path read-only as os.OpenFile would, without allocating:
// the NUL-terminated name is built in the arena. O_NONBLOCK keeps
// opening a FIFO from blocking (regular files ignore it); O_CLOEXEC
// keeps the descriptor from CGI children.
func (p *Plan) open(path []byte) (int, error) {
	if bytes.IndexByte(path, 0) >= 0 {
		return -1, syscall.EINVAL // as os.Open for a name with a NUL
	}
	p.arena = append(p.arena, path...)
	p.arena = append(p.arena, 0)
	name := p.arena[len(p.arena)-len(path)-1:]
	if p.st.cached {
		return p.openCached(name, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC)
	}
	cwd := unix.AT_FDCWD
	for {
		fd, _, errno := unix.Syscall6(unix.SYS_OPENAT, uintptr(cwd), uintptr(unsafe.Pointer(&name[0])),
			uintptr(unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC), 0, 0, 0)
		switch errno {
		case 0:
			return int(fd), nil
		case unix.EINTR:
			continue
		}
		return -1, errno
	}
}

// resolveCached is openat2's RESOLVE_CACHED (Linux 5.12): fail with
// EAGAIN rather than look a path component up on the disk.
const resolveCached = 0x20

// noOpenat2 is set once openat2 with RESOLVE_CACHED proved unsupported.
var noOpenat2 atomic.Bool

// openCached opens the NUL-terminated name with flags using only the
// kernel's dentry and inode caches. A lookup that would wait for the
// disk, or a kernel without openat2, sets st.blocked: the request is
// served again with Serve, off the event loop.
func (p *Plan) openCached(name []byte, flags int) (int, error) {
	if noOpenat2.Load() {
		p.st.blocked = true
		return -1, unix.EAGAIN
	}
	how := unix.OpenHow{Flags: uint64(flags), Resolve: resolveCached}
	cwd := unix.AT_FDCWD
	for {
		fd, _, errno := unix.Syscall6(unix.SYS_OPENAT2, uintptr(cwd), uintptr(unsafe.Pointer(&name[0])),
			uintptr(unsafe.Pointer(&how)), unsafe.Sizeof(how), 0, 0)
		switch errno {
		case 0:
			return int(fd), nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			p.st.blocked = true
		case unix.ENOSYS, unix.EINVAL, unix.E2BIG, unix.EPERM:
			noOpenat2.Store(true) // EPERM: a seccomp filter refusing openat2
			p.st.blocked = true
		}
		return -1, errno
	}
}

// statPath stats path as os.Stat does, for index and try_files. Under
// ServeCached it opens the path with O_PATH from the caches only (see
// openCached) and fstats it. With open_file_cache the answer (and with
// open_file_cache_errors a failure) comes from the cache when valid, as
// nginx's index and try_files lookups do.
func (p *Plan) statPath(path []byte) (isDir bool, err error) {
	c := p.st.info.ofc
	if c == nil {
		fi, err := p.stat1(path)
		return fi.isDir(), err
	}
	now := p.st.now.UnixNano()
	if r := c.get(path, now, p.st.loc, false); r.ent != nil {
		return r.isDir, r.err
	}
	fi, err := p.stat1(path)
	if p.st.blocked {
		return false, err
	}
	r := c.put(path, now, p.st.loc, nil, fi, errnoOf(err), false)
	return r.isDir, err
}

// stat1 stats path (following symlinks) without the open_file_cache.
func (p *Plan) stat1(path []byte) (fileInfo, error) {
	if bytes.IndexByte(path, 0) >= 0 {
		return fileInfo{}, syscall.EINVAL
	}
	var st unix.Stat_t
	if !p.st.cached {
		fi, err := os.Stat(string(path))
		if err != nil {
			return fileInfo{}, err
		}
		s, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return fileInfo{mode: unix.S_IFREG, size: fi.Size(), mtime: fi.ModTime()}, nil
		}
		return fileInfo{dev: s.Dev, ino: s.Ino, size: s.Size, mode: s.Mode, mtime: time.Unix(s.Mtim.Unix())}, nil
	}
	p.arena = append(p.arena, path...)
	p.arena = append(p.arena, 0)
	fd, err := p.openCached(p.arena[len(p.arena)-len(path)-1:], unix.O_PATH|unix.O_CLOEXEC)
	if err != nil {
		return fileInfo{}, err
	}
	err = fstat(fd, &st)
	unix.Close(fd)
	return infoOf(&st), err
}

func fstat(fd int, st *unix.Stat_t) error {
	for {
		err := unix.Fstat(fd, st)
		if err != unix.EINTR {
			return err
		}
	}
}

// name returns path as a string for os.NewFile, reusing the previous
// one of this Plan when it is the same file (a keep-alive client asking
// for it again).
func (p *Plan) name(path []byte) string {
	if string(path) != p.fileName {
		p.fileName = string(path)
	}
	return p.fileName
}

// fileError maps an open/stat error to nginx's status and logs it.
func (e *Engine) fileError(p *Plan, path []byte, err error, op string) int {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.ENAMETOOLONG):
		e.logf("error", "%s %q failed (%v)", p, op, path, unwrap(err))
		return 404
	case errors.Is(err, fs.ErrPermission):
		e.logf("error", "%s %q failed (%v)", p, op, path, unwrap(err))
		return 403
	}
	e.logf("crit", "%s %q failed (%v)", p, op, path, unwrap(err))
	return 500
}

func unwrap(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// mapPath appends the file system path of uri to the arena: root + uri,
// or alias + the part of uri after the location prefix. A root or alias
// with variables is evaluated first (regex captures included). ok is
// false when an alias join would create a "." or ".." segment (location
// /i with alias /data/i/ and a request for /i../x), or when a variable
// put one anywhere in the path.
func (e *Engine) mapPath(p *Plan, uri []byte) (path []byte, ok bool) {
	loc, info := p.st.loc, p.st.info
	n := len(p.arena)
	if loc.Alias == "" {
		if len(info.root.Parts) > 0 {
			p.arena = p.eval(p.arena, info.root)
			p.arena = append(p.arena, uri...)
			return p.arena[n:], !dotSegment(p.arena[n:])
		}
		root := loc.Root
		if root == "" {
			root = "html"
		}
		p.arena = append(p.arena, root...)
		p.arena = append(p.arena, uri...)
		return p.arena[n:], true
	}
	rest := uri
	switch loc.Match {
	case config.MatchPrefix, config.MatchPrefixFinal, config.MatchExact:
		if bytes.HasPrefix(uri, []byte(loc.Path)) {
			rest = uri[len(loc.Path):]
		}
	default:
		rest = nil // a regex alias names the whole path
	}
	if len(info.alias.Parts) > 0 {
		p.arena = p.eval(p.arena, info.alias)
		p.arena = append(p.arena, rest...)
		return p.arena[n:], !dotSegment(p.arena[n:])
	}
	p.arena = append(p.arena, loc.Alias...)
	p.arena = append(p.arena, rest...)
	path = p.arena[n:]
	start := strings.LastIndexByte(loc.Alias, '/')
	if start < 0 {
		start = 0
	}
	return path, !dotSegment(path[start:])
}

// dotSegment reports whether path has a "." or ".." segment.
func dotSegment(path []byte) bool {
	for s := path; len(s) > 0; {
		if s[0] == '/' {
			s = s[1:]
		}
		i := bytes.IndexByte(s, '/')
		if i < 0 {
			i = len(s)
		}
		if seg := s[:i]; string(seg) == "." || string(seg) == ".." {
			return true
		}
		s = s[i:]
	}
	return false
}

// index serves a URI ending in "/": the first existing index file is an
// internal redirect to uri+index; none → 403, no directory → 404.
func (e *Engine) index(p *Plan) *config.Location {
	st := &p.st
	dir, ok := e.mapPath(p, st.uri)
	if !ok {
		return e.error(p, 404)
	}
	names := st.loc.Index
	if names == nil {
		names = defaultIndex
	}
	for _, name := range names {
		if name == "" {
			continue
		}
		if name[0] == '/' {
			e.setURI(p, []byte(name))
			return e.match(p, st.uri)
		}
		n := len(p.arena)
		p.arena = append(p.arena, dir...)
		p.arena = append(p.arena, name...)
		_, err := p.statPath(p.arena[n:])
		if st.blocked {
			return nil
		}
		if err == nil {
			m := len(p.arena)
			p.arena = append(p.arena, st.uri...)
			p.arena = append(p.arena, name...)
			st.uri = p.arena[m:]
			st.redirected = true
			return e.match(p, st.uri)
		}
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			return e.error(p, e.fileError(p, p.arena[n:], err, "open()"))
		}
	}
	isDir, err := p.statPath(dir)
	if st.blocked {
		return nil
	}
	if err != nil {
		return e.error(p, e.fileError(p, dir, err, "stat()"))
	}
	if !isDir {
		return e.error(p, 404)
	}
	e.logf("error", "directory index of %q is forbidden", p, dir)
	return e.error(p, 403)
}

// tryFiles runs try_files: the first existing file (or directory, for an
// argument ending in "/") becomes the URI, served by this location
// (done=false); otherwise the last argument decides: =code, @named, or an
// internal redirect to a URI.
func (e *Engine) tryFiles(p *Plan, args []config.Template) (next *config.Location, done bool) {
	st := &p.st
	for _, t := range args[:len(args)-1] {
		n := len(p.arena)
		p.arena = p.eval(p.arena, t)
		v := p.arena[n:]
		if len(v) == 0 || v[0] != '/' {
			continue
		}
		dir := v[len(v)-1] == '/'
		path, ok := e.mapPath(p, v)
		if !ok {
			continue
		}
		isDir, err := p.statPath(path)
		if st.blocked {
			return nil, true
		}
		if err != nil || isDir != dir {
			continue
		}
		st.uri = v
		st.redirected = true
		return nil, false
	}
	last := args[len(args)-1]
	n := len(p.arena)
	p.arena = p.eval(p.arena, last)
	v := p.arena[n:]
	switch {
	case len(v) > 1 && v[0] == '=':
		code, err := strconv.Atoi(string(v[1:]))
		if err != nil {
			code = 500
		}
		return e.error(p, code), true
	case len(v) > 0 && v[0] == '@':
		return e.named(p, v), true
	}
	e.setURI(p, v)
	return e.match(p, st.uri), true
}

// serveFile answers with an open regular file: conditional requests
// (304/412), a single byte range (206/416), or the whole file. Multiple
// ranges get the whole file (200): nginx would send multipart/byteranges.
func (e *Engine) serveFile(p *Plan, f *os.File, size int64, mtime time.Time) *config.Location {
	st := &p.st
	n := len(p.arena)
	p.arena = mtime.UTC().AppendFormat(p.arena, httpDate)
	lm := p.arena[n:]
	n = len(p.arena)
	p.arena = append(p.arena, '"')
	p.arena = strconv.AppendInt(p.arena, mtime.Unix(), 16)
	p.arena = append(p.arena, '-')
	p.arena = strconv.AppendInt(p.arena, size, 16)
	p.arena = append(p.arena, '"')
	etag := p.arena[n:]

	p.Status = 200
	p.Header = p.Header[:0]
	p.Body = nil
	p.File = f // CloseFile below releases it, cached or not
	p.addHeader(hContentType, e.contentType(p))
	p.addHeader(hLastModified, lm)
	p.addHeader(hETag, etag)
	if !st.errPage {
		switch conditional(p, lm, etag, mtime) {
		case 304:
			p.CloseFile()
			p.Status = 304
			p.Header = append(p.Header[:0], p.Header[1:3]...)
			p.ContentLength = 0
			return nil
		case 412:
			p.CloseFile()
			return e.error(p, 412)
		}
		p.addHeader(hAcceptRanges, vBytes)
		if rng := st.req.Header.Get("Range"); rng != nil && ifRange(p, lm, etag) {
			start, end, r := parseRange(rng, size)
			switch r {
			case rangeOK:
				p.Status = 206
				n := len(p.arena)
				p.arena = append(p.arena, "bytes "...)
				p.arena = strconv.AppendInt(p.arena, start, 10)
				p.arena = append(p.arena, '-')
				p.arena = strconv.AppendInt(p.arena, end, 10)
				p.arena = append(p.arena, '/')
				p.arena = strconv.AppendInt(p.arena, size, 10)
				p.addHeader(hContentRange, p.arena[n:])
				p.Offset, p.ContentLength = start, end-start+1
				return nil
			case rangeBad:
				p.CloseFile()
				e.page(p, 416)
				n := len(p.arena)
				p.arena = append(p.arena, "bytes */"...)
				p.arena = strconv.AppendInt(p.arena, size, 10)
				p.addHeader(hContentRange, p.arena[n:])
				return nil
			}
		}
	}
	p.Offset, p.ContentLength = 0, size
	return nil
}

// contentType returns the MIME type of the URI's extension, copied into
// the arena (Location.Types, else a built-in table, else default_type).
func (e *Engine) contentType(p *Plan) []byte {
	uri := p.st.uri
	var ext []byte
	for i := len(uri) - 1; i >= 0 && uri[i] != '/'; i-- {
		if uri[i] == '.' {
			ext = uri[i+1:]
			break
		}
	}
	typ := ""
	if len(ext) > 0 && len(ext) <= 16 {
		var buf [16]byte
		low := buf[:len(ext)]
		for i, c := range ext {
			low[i] = lower(c)
		}
		types := p.st.loc.Types
		if types == nil {
			types = builtinTypes
		}
		typ = types[string(low)]
	}
	if typ == "" {
		typ = defaultType(p.st.loc)
	}
	n := len(p.arena)
	p.arena = append(p.arena, typ...)
	return p.arena[n:]
}

// builtinTypes is used when a location has no types map.
var builtinTypes = map[string]string{
	"html": "text/html", "htm": "text/html", "css": "text/css", "js": "application/javascript",
	"txt": "text/plain", "json": "application/json", "xml": "text/xml", "gif": "image/gif",
	"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "svg": "image/svg+xml",
	"ico": "image/x-icon", "webp": "image/webp", "pdf": "application/pdf", "zip": "application/zip",
	"wasm": "application/wasm", "mp4": "video/mp4", "woff": "font/woff", "woff2": "font/woff2",
}

// conditional evaluates If-Unmodified-Since and If-Match (412), then
// If-Modified-Since and If-None-Match (304) as
// ngx_http_not_modified_filter_module does: when both of the latter are
// present both must say "not modified". if_modified_since is exact.
func conditional(p *Plan, lm, etag []byte, mtime time.Time) int {
	h := p.st.req.Header
	if v := h.Get("If-Unmodified-Since"); v != nil {
		if t, ok := parseHTTPDate(v); ok && mtime.Unix() > t.Unix() {
			return 412
		}
	}
	if v := h.Get("If-Match"); v != nil && !matchETag(v, etag, false) {
		return 412
	}
	ims, inm := h.Get("If-Modified-Since"), h.Get("If-None-Match")
	if ims == nil && inm == nil {
		return 0
	}
	if ims != nil && !bytes.Equal(ims, lm) {
		t, ok := parseHTTPDate(ims)
		if !ok || t.Unix() != mtime.Unix() {
			return 0
		}
	}
	if inm != nil && !matchETag(inm, etag, true) {
		return 0
	}
	return 304
}

// matchETag reports whether the entity-tag list v matches etag ("*"
// matches any); weak comparison ignores "W/".
func matchETag(v, etag []byte, weak bool) bool {
	v = bytes.TrimSpace(v)
	if len(v) == 1 && v[0] == '*' {
		return true
	}
	for len(v) > 0 {
		var tag []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			tag, v = v[:i], v[i+1:]
		} else {
			tag, v = v, nil
		}
		tag = bytes.TrimSpace(tag)
		if len(tag) > 2 && tag[0] == 'W' && tag[1] == '/' {
			if !weak {
				continue
			}
			tag = tag[2:]
		}
		if bytes.Equal(tag, etag) {
			return true
		}
	}
	return false
}

// ifRange reports whether Range applies: no If-Range, or one that names
// the current strong ETag or the exact Last-Modified date.
func ifRange(p *Plan, lm, etag []byte) bool {
	v := p.st.req.Header.Get("If-Range")
	if v == nil {
		return true
	}
	if len(v) > 0 && v[0] == '"' || len(v) > 1 && v[0] == 'W' && v[1] == '/' {
		return bytes.Equal(v, etag)
	}
	return bytes.Equal(v, lm)
}

func parseHTTPDate(v []byte) (time.Time, bool) {
	s := string(bytes.TrimSpace(v))
	for _, layout := range []string{httpDate, "Monday, 02-Jan-06 15:04:05 GMT", "Mon Jan _2 15:04:05 2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

type rangeResult int

const (
	rangeNone rangeResult = iota // no usable Range: send the whole file
	rangeOK                      // one satisfiable range
	rangeBad                     // unsatisfiable or malformed: 416
)

// parseRange parses a Range value for a file of size bytes as
// ngx_http_range_filter_module does for a single range; several ranges
// give rangeNone (the whole file).
func parseRange(v []byte, size int64) (start, end int64, r rangeResult) {
	if len(v) < 6 || !http1.EqualFold(v[:6], "bytes=") {
		return 0, 0, rangeNone
	}
	spec := bytes.TrimSpace(v[6:])
	if bytes.IndexByte(spec, ',') >= 0 {
		return 0, 0, rangeNone
	}
	dash := bytes.IndexByte(spec, '-')
	if dash < 0 {
		return 0, 0, rangeBad
	}
	first, last := bytes.TrimSpace(spec[:dash]), bytes.TrimSpace(spec[dash+1:])
	a, aok := parseDigits(first)
	b, bok := parseDigits(last)
	switch {
	case len(first) == 0: // -n: the last n bytes
		if !bok || b == 0 || size == 0 {
			return 0, 0, rangeBad
		}
		if b > size {
			b = size
		}
		return size - b, size - 1, rangeOK
	case !aok || (len(last) > 0 && !bok):
		return 0, 0, rangeBad
	case a >= size:
		return 0, 0, rangeBad
	case len(last) == 0:
		return a, size - 1, rangeOK
	case b < a:
		return 0, 0, rangeBad
	}
	if b >= size {
		b = size - 1
	}
	return a, b, rangeOK
}

// parseDigits parses a non-negative decimal number of at most 18 digits
// as ngx_atoi does: no sign, no white space (callers trim it). It serves
// Range bounds and X-Accel-Expires.
func parseDigits(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
