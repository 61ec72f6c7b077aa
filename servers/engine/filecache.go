package engine

import (
	"hash/maphash"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/c10k/c10k/servers/config"
	"golang.org/x/sys/unix"
)

// fileCache is one open_file_cache (ngx_open_file_cache_t): open
// descriptors, their fstat, directory flags and (with
// open_file_cache_errors) lookup errors, keyed by the resolved path.
//
// It is split into shards, each a mutex, a map and an LRU list, so that
// hundreds of threads and several event loops rarely meet on one lock.
// The LRU order and max are per shard (max/shards each): an
// approximation of nginx's single list that only matters when the cache
// is full. A cache of at most minShardMax entries has one shard, exact.
//
// An entry's descriptor is shared by every request that uses it: the
// cores send it with sendfile(2) at an explicit offset or read it with
// pread(2), neither of which moves the file offset. Entries are
// reference-counted: an entry dropped (inactive, LRU, changed on disk)
// while requests still send from it closes its descriptor when the last
// of them calls Plan.CloseFile, as nginx's ngx_close_cached_file.
type fileCache struct {
	shards   []cacheShard
	mask     uint64
	seed     maphash.Seed
	max      int   // entries per shard
	inactive int64 // ns
}

// minShardMax is the fewest entries a shard holds before the cache is
// split further; maxShards bounds the split.
const (
	minShardMax = 64
	maxShards   = 16
)

type cacheShard struct {
	mu     sync.Mutex
	m      map[string]*cachedFile
	lru    cachedFile // sentinel: lru.next is the most recently used, lru.prev the least
	closed bool       // Engine.Close: keep nothing new
	_      [64]byte   // keep shards' locks on separate cache lines
}

// cachedFile is one entry. Every field but key and shard is guarded by
// shard.mu.
type cachedFile struct {
	shard *cacheShard
	key   string

	f       *os.File // open descriptor; nil when not held (directory, error, min_uses not reached)
	err     error    // cached lookup error (open_file_cache_errors); nil otherwise
	isDir   bool
	dev     uint64
	ino     uint64
	size    int64
	mtime   time.Time
	mode    uint32
	created int64 // last validation (open_file_cache_valid), ns
	access  int64 // last use (inactive, LRU), ns
	uses    int
	minUses int  // open_file_cache_min_uses of the last user
	refs    int  // plans holding f
	removed bool // no longer in the map: close f at the last release

	prev, next *cachedFile
}

// newFileCache builds the cache of one open_file_cache line.
func newFileCache(c *config.OpenFileCache) *fileCache {
	n := 1
	for n < maxShards && c.Max/(n*2) >= minShardMax {
		n *= 2
	}
	fc := &fileCache{
		shards:   make([]cacheShard, n),
		mask:     uint64(n - 1),
		seed:     maphash.MakeSeed(),
		max:      (c.Max + n - 1) / n,
		inactive: int64(c.Inactive),
	}
	for i := range fc.shards {
		s := &fc.shards[i]
		s.m = make(map[string]*cachedFile)
		s.lru.next, s.lru.prev = &s.lru, &s.lru
	}
	return fc
}

func (c *fileCache) shard(key []byte) *cacheShard {
	return &c.shards[maphash.Bytes(c.seed, key)&c.mask]
}

// lookup is what a request learns from the cache.
type lookup struct {
	ent   *cachedFile // found and valid; nil for a miss
	held  bool        // the plan holds a reference to ent.f (Plan.CloseFile releases it)
	f     *os.File
	err   error
	isDir bool
	size  int64
	mtime time.Time
	mode  uint32
}

// get looks key up at now. A valid entry counts a use and, when it holds
// a descriptor and ref is set, a reference. A stale one (older than
// valid) is reported as a miss: the caller looks the path up again and
// calls put, which keeps the old descriptor when the file is the same.
func (c *fileCache) get(key []byte, now int64, loc *config.Location, ref bool) (r lookup) {
	s := c.shard(key)
	s.mu.Lock()
	c.expire(s, now, 2)
	e := s.m[string(key)]
	if e == nil || now-e.created >= int64(loc.OpenFileCacheValid) {
		s.mu.Unlock()
		return r
	}
	e.uses++
	e.minUses = loc.OpenFileCacheMinUses
	e.touch(now)
	r = lookup{ent: e, f: e.f, err: e.err, isDir: e.isDir, size: e.size, mtime: e.mtime, mode: e.mode}
	if ref && e.f != nil {
		e.refs++
		r.held = true
	}
	s.mu.Unlock()
	return r
}

// fileInfo is what the cache keeps of a stat.
type fileInfo struct {
	dev, ino uint64
	size     int64
	mode     uint32
	mtime    time.Time
}

func infoOf(st *unix.Stat_t) fileInfo {
	return fileInfo{dev: st.Dev, ino: st.Ino, size: st.Size, mode: st.Mode, mtime: time.Unix(st.Mtim.Unix())}
}

func (fi *fileInfo) isDir() bool { return fi.mode&unix.S_IFMT == unix.S_IFDIR }
func (fi *fileInfo) isReg() bool { return fi.mode&unix.S_IFMT == unix.S_IFREG }

// put records what a lookup of key found after get missed or found an
// entry without a descriptor (counted: get already counted the use): an
// open regular file f (nil for a stat only, a directory or an error)
// with its stat fi, or the error err. It returns what
// the request is to use, like get: the entry's own descriptor when the
// file did not change since the entry opened it (f is then closed), else
// f, now the entry's; both held by a reference. A descriptor the cache
// does not take stays the caller's (held false). Errors are kept only
// when loc has open_file_cache_errors on.
func (c *fileCache) put(key []byte, now int64, loc *config.Location, f *os.File, fi fileInfo, err error, counted bool) (r lookup) {
	if err != nil && !loc.OpenFileCacheErrors {
		return lookup{f: f, err: err}
	}
	s := c.shard(key)
	s.mu.Lock()
	if s.closed {
		// The engine was closed (replaced by a reload) while this
		// request still ran on it: the descriptor stays the caller's.
		s.mu.Unlock()
		return lookup{f: f, err: err, isDir: fi.isDir(), size: fi.size, mtime: fi.mtime, mode: fi.mode}
	}
	c.expire(s, now, 2)
	e := s.m[string(key)]
	if e != nil && err == nil && e.err == nil && e.dev == fi.dev && e.ino == fi.ino && e.isDir == fi.isDir() {
		// The same file (nginx compares the inode): renew the entry.
		e.size, e.mode, e.mtime = fi.size, fi.mode, fi.mtime
		e.created = now
		switch {
		case f == nil:
		case e.f != nil:
			f.Close()
			f = e.f
		default:
			e.f = f
		}
	} else {
		uses := 0
		if e != nil {
			uses = e.uses
			c.remove(s, e) // changed on disk, or an error now: a new entry
		} else if len(s.m) >= c.max {
			c.remove(s, s.lru.prev) // nginx's forced expiry of the least recently used
		}
		e = &cachedFile{shard: s, key: string(key), err: err, created: now, uses: uses}
		if err == nil {
			e.dev, e.ino, e.size, e.mode, e.mtime = fi.dev, fi.ino, fi.size, fi.mode, fi.mtime
			e.isDir = fi.isDir()
			if f != nil && fi.isReg() {
				e.f = f
			}
		}
		s.m[e.key] = e
	}
	if !counted {
		e.uses++
	}
	e.minUses = loc.OpenFileCacheMinUses
	e.touch(now)
	r = lookup{ent: e, f: f, err: e.err, isDir: e.isDir, size: e.size, mtime: e.mtime, mode: e.mode}
	if f != nil && f == e.f {
		e.refs++
		r.held = true
	}
	s.mu.Unlock()
	return r
}

// touch makes e the most recently used entry.
func (e *cachedFile) touch(now int64) {
	e.access = now
	s := e.shard
	if e.prev != nil {
		e.prev.next, e.next.prev = e.next, e.prev
	}
	e.next, e.prev = s.lru.next, &s.lru
	s.lru.next.prev = e
	s.lru.next = e
}

// expire drops up to n entries unused for inactive from the LRU end
// (ngx_expire_old_cached_files).
func (c *fileCache) expire(s *cacheShard, now int64, n int) {
	for ; n > 0; n-- {
		e := s.lru.prev
		if e == &s.lru || now-e.access < c.inactive {
			return
		}
		c.remove(s, e)
	}
}

// remove takes e out of the map and the LRU list; its descriptor is
// closed now or by the last release.
func (c *fileCache) remove(s *cacheShard, e *cachedFile) {
	if e.prev != nil {
		e.prev.next, e.next.prev = e.next, e.prev
		e.prev, e.next = nil, nil
	}
	if s.m[e.key] == e {
		delete(s.m, e.key)
	}
	e.removed = true
	if e.refs == 0 && e.f != nil {
		e.f.Close()
		e.f = nil
	}
}

// release drops a plan's reference to e.f. The last one closes the
// descriptor when the entry was removed, or when the file has not yet
// been used open_file_cache_min_uses times (ngx_close_cached_file).
func (e *cachedFile) release() {
	s := e.shard
	s.mu.Lock()
	e.refs--
	if e.refs == 0 && e.f != nil && (e.removed || e.uses < e.minUses) {
		e.f.Close()
		e.f = nil
	}
	s.mu.Unlock()
}

// close drops every entry: descriptors no plan holds are closed now,
// the others at their last release. The cache keeps nothing afterwards.
func (c *fileCache) close() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		s.closed = true
		for _, e := range s.m {
			c.remove(s, e)
		}
		s.mu.Unlock()
	}
}

// len returns the number of entries, for tests.
func (c *fileCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

// errnoOf keeps only what a cached error needs: the errno of a path
// error.
func errnoOf(err error) error {
	if errno, ok := unwrap(err).(syscall.Errno); ok {
		return errno
	}
	return err
}
