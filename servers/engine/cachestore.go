package engine

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/c10k/c10k/servers/config"
)

// The proxy_cache store: one cacheStore per proxy_cache_path zone,
// shared by every loop and thread of the engines that use it (a reload
// hands it on, InheritZones). Its index (key → entry, an LRU list, the
// bytes held) is under one mutex; for a disk zone the mutex is also
// held across an entry's rename into place and the unlink of an
// evicted one, so that a file and the index never disagree.
//
// A memory zone keeps each entry's head and body in one immutable
// slice: a hit's plan points into it, and eviction only drops the
// index's reference. A disk zone keeps each entry in one file named by
// the hex md5 of its key under levels= directories, as nginx does,
// holding a small binary header, the key, the stored head and the
// body; the file is written as a temp file in the zone's directory and
// renamed when complete, so a partial response is never visible. A
// hit opens the file and sends the body region from it; an entry
// evicted meanwhile stays readable through that descriptor.
//
// The zone's manager (nginx's cache manager process) is a goroutine
// owned by the store: it removes entries unused for inactive= and
// stops when the last engine using the store is closed. max_size and
// the keys_zone capacity are enforced as entries are added.

// cacheKey is the md5 of an entry's key, as nginx names its files.
type cacheKey [md5.Size]byte

// cacheEntry is one stored response.
type cacheEntry struct {
	key        cacheKey
	prev, next *cacheEntry
	status     int
	head       []byte // stored fields, each "Name: Value\r\n"
	body       []byte // memory zone: the body
	bodyOff    int64  // disk zone: where the body starts in the file
	bodyLen    int64
	expires    time.Time
	used       time.Time // last hit or store, for inactive=
	vary       string    // disk load: the response's Vary, to rebuild varies
	main       cacheKey  // disk load: the main key of a Vary variant
	size       int64     // bytes counted against max_size
	ino        uint64    // disk zone: the file's inode, to tell it from a file that replaced it
}

// cacheFill marks a key whose response a request is fetching to store:
// proxy_cache_lock waiters wait for done, and with use_stale updating
// other requests get the expired entry meanwhile.
type cacheFill struct {
	done chan struct{}
}

// cacheStore is a zone's state.
type cacheStore struct {
	mu       sync.Mutex
	name     string
	dir      string // "" for a memory zone
	levels   []int
	maxSize  atomic.Int64 // max_size, 0 for none; fills read it without mu
	inactive time.Duration
	maxKeys  int
	entries  map[cacheKey]*cacheEntry
	lru      cacheEntry // sentinel: lru.next is the most recently used
	used     int64
	fills    map[cacheKey]*cacheFill
	uses     map[cacheKey]int // proxy_cache_min_uses counts of keys not stored yet
	// varies holds, per main key, the Vary of the response last
	// stored for it: lookups of that key go to the variant entry.
	varies map[cacheKey]string

	now       func() time.Time // the first engine's clock (Options.Now)
	refs      int              // engines using the store
	stop      chan struct{}
	done      chan struct{}
	errorLog  func(level, msg string)
	loadedErr error // the first error loading the directory, for tests
}

// cacheZone is an engine's handle on a zone: its config line and the
// store, which a reload may swap for the previous engine's.
type cacheZone struct {
	cfg *config.CachePath
	*cacheStore
}

// The disk format: cacheHeaderLen bytes of header (see
// appendEntryHeader), the key text (for a Vary variant, the main key,
// a NUL and the request's values of the varying fields; the file is
// named by its md5), the response's Vary, the stored head, the body.
//
// Sizes of the disk format.
const (
	cacheMagic     = "C10KCCH1"
	cacheHeaderLen = 8 + 8 + 4 + 4 + 4 + 4 + 4 + 8 // magic, expires, status, key, main key, vary and head lengths, body length
	// cacheNodeSize is nginx's index node per key (ngx_http_file_cache_node_t,
	// slab-rounded): a 1m keys_zone holds about 8000 keys.
	cacheNodeSize = 128
	// memEntryOverhead is what a memory entry costs besides its bytes.
	memEntryOverhead = 256
)

// newCacheStore makes the store of z and, for a disk zone, loads the
// entries a previous run left in its directory.
func newCacheStore(z *config.CachePath, now func() time.Time, errorLog func(level, msg string)) (*cacheStore, error) {
	s := &cacheStore{
		name:     z.Name,
		dir:      z.Path,
		levels:   z.Levels,
		inactive: z.Inactive,
		maxKeys:  int(max((z.KeysSize-zoneOverhead)/cacheNodeSize, 1)),
		entries:  make(map[cacheKey]*cacheEntry),
		fills:    make(map[cacheKey]*cacheFill),
		uses:     make(map[cacheKey]int),
		varies:   make(map[cacheKey]string),
		refs:     1,
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		errorLog: errorLog,
		now:      now,
	}
	s.lru.prev, s.lru.next = &s.lru, &s.lru
	s.maxSize.Store(z.MaxSize)
	if s.dir != "" {
		if err := os.MkdirAll(s.dir, 0o755); err != nil {
			return nil, err
		}
		s.load(now())
	}
	go s.manage(min(max(s.inactive/4, 100*time.Millisecond), 10*time.Second))
	return s, nil
}

// manage is the zone's cache manager: every tick it removes entries
// not used for inactive=. It stops when release closes s.stop.
func (s *cacheStore) manage(tick time.Duration) {
	defer close(s.done)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.expire(s.now())
		}
	}
}

// expire removes the entries not used for inactive= at now, fresh or
// not, as nginx's cache manager does.
func (s *cacheStore) expire(now time.Time) {
	s.mu.Lock()
	for e := s.lru.prev; e != &s.lru && now.Sub(e.used) > s.inactive; e = s.lru.prev {
		s.remove(e, true)
	}
	s.mu.Unlock()
}

// retain adds an engine to the store's users.
func (s *cacheStore) retain() {
	s.mu.Lock()
	s.refs++
	s.mu.Unlock()
}

// release ends an engine's use of the store; the last one stops the
// manager and waits for it.
func (s *cacheStore) release() {
	s.mu.Lock()
	s.refs--
	last := s.refs == 0
	s.mu.Unlock()
	if last {
		close(s.stop)
		<-s.done
	}
}

func (s *cacheStore) unlink(e *cacheEntry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

func (s *cacheStore) pushFront(e *cacheEntry) {
	e.prev, e.next = &s.lru, s.lru.next
	s.lru.next.prev = e
	s.lru.next = e
}

// touch makes e the most recently used entry, under s.mu.
func (s *cacheStore) touch(e *cacheEntry, now time.Time) {
	e.used = now
	s.unlink(e)
	s.pushFront(e)
}

// remove drops e from the index, under s.mu, and for a disk zone
// unlinks its file when file is true (an entry replaced by a rename
// keeps the new file).
func (s *cacheStore) remove(e *cacheEntry, file bool) {
	s.unlink(e)
	delete(s.entries, e.key)
	s.used -= e.size
	if file && s.dir != "" {
		os.Remove(s.path(e.key))
	}
}

// path is the file of key: levels= directories from the end of the hex
// name, as nginx ("levels=1:2" puts .../c/29/b7f5...029c).
func (s *cacheStore) path(key cacheKey) string {
	name := hex.EncodeToString(key[:])
	var b strings.Builder
	b.WriteString(s.dir)
	end := len(name)
	for _, l := range s.levels {
		b.WriteByte('/')
		b.WriteString(name[end-l : end])
		end -= l
	}
	b.WriteByte('/')
	b.WriteString(name)
	return b.String()
}

// get returns the entry of key, under s.mu.
func (s *cacheStore) get(key cacheKey) *cacheEntry { return s.entries[key] }

// insert adds e (replacing any entry of its key) and evicts least
// recently used entries past max_size and the keys_zone capacity, under
// s.mu. rename, for a disk zone, is called first to move the complete
// file into place; insert fails when it does.
func (s *cacheStore) insert(e *cacheEntry, rename func() error) error {
	if old := s.entries[e.key]; old != nil {
		s.remove(old, false)
	}
	if rename != nil {
		if err := rename(); err != nil {
			return err
		}
	}
	s.entries[e.key] = e
	s.pushFront(e)
	s.used += e.size
	delete(s.uses, e.key)
	for (s.maxSize.Load() > 0 && s.used > s.maxSize.Load() || len(s.entries) > s.maxKeys) && s.lru.prev != e {
		s.remove(s.lru.prev, true)
	}
	return nil
}

// setVary records the Vary of the response stored for main ("" drops
// it), under s.mu.
func (s *cacheStore) setVary(main cacheKey, vary string) {
	if vary == "" {
		delete(s.varies, main)
		return
	}
	if len(s.varies) >= s.maxKeys {
		clear(s.varies)
	}
	s.varies[main] = vary
}

// countUse counts a request for key not stored yet and reports whether
// it reached min, as proxy_cache_min_uses; under s.mu.
func (s *cacheStore) countUse(key cacheKey, min int) bool {
	if min <= 1 {
		return true
	}
	if len(s.uses) >= s.maxKeys {
		clear(s.uses)
	}
	s.uses[key]++
	return s.uses[key] >= min
}

// load indexes the entry files of the zone's directory, oldest first
// by modification time so the LRU order survives the restart. Files it
// cannot read as entries are left alone; temp files older than an hour
// (a crash's leftovers) are removed.
func (s *cacheStore) load(now time.Time) {
	type found struct {
		e     *cacheEntry
		mtime time.Time
	}
	var list []found
	filepath.WalkDir(s.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if s.loadedErr == nil {
				s.loadedErr = err
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		name := d.Name()
		if strings.HasPrefix(name, ".tmp-") {
			if fi, err := d.Info(); err == nil && now.Sub(fi.ModTime()) > time.Hour {
				os.Remove(path)
			}
			return nil
		}
		var key cacheKey
		if len(name) != 2*len(key) {
			return nil
		}
		if _, err := hex.Decode(key[:], []byte(name)); err != nil || s.path(key) != path {
			return nil
		}
		e, mtime, err := readEntryHead(path, key)
		if err != nil {
			if s.loadedErr == nil {
				s.loadedErr = err
			}
			return nil
		}
		list = append(list, found{e, mtime})
		return nil
	})
	// Oldest first, so that the LRU order follows the files' ages; but
	// every loaded entry counts as used now, as nginx's cache loader
	// gives each one inactive= from the load: hits do not touch the
	// files, so their mtime says nothing of use, and a restart must not
	// empty a warm cache at the manager's first pass.
	sort.Slice(list, func(i, j int) bool { return list[i].mtime.Before(list[j].mtime) })
	s.mu.Lock()
	for _, f := range list {
		f.e.used = now
		s.insert(f.e, nil)
		if f.e.vary != "" {
			s.setVary(f.e.main, f.e.vary)
		}
	}
	s.mu.Unlock()
}

// errCacheFile is a file in a cache directory that is not an entry.
var errCacheFile = errors.New("not a c10k cache file")

// readEntryHead reads the header, key and stored head of an entry file.
func readEntryHead(path string, key cacheKey) (*cacheEntry, time.Time, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, time.Time{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, time.Time{}, err
	}
	var ino uint64
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		ino = st.Ino
	}
	var h [cacheHeaderLen]byte
	if _, err := io.ReadFull(f, h[:]); err != nil || string(h[:8]) != cacheMagic {
		return nil, time.Time{}, errCacheFile
	}
	le := binary.LittleEndian
	expires := int64(le.Uint64(h[8:]))
	status := int(le.Uint32(h[16:]))
	keyLen := int64(le.Uint32(h[20:]))
	mainLen := int64(le.Uint32(h[24:]))
	varyLen := int64(le.Uint32(h[28:]))
	headLen := int64(le.Uint32(h[32:]))
	bodyLen := int64(le.Uint64(h[36:]))
	off := cacheHeaderLen + keyLen + varyLen + headLen
	if keyLen > 1<<16 || mainLen > keyLen || varyLen > 1<<12 || headLen > 1<<20 || bodyLen < 0 || off+bodyLen != fi.Size() {
		return nil, time.Time{}, errCacheFile
	}
	buf := make([]byte, keyLen+varyLen+headLen)
	if _, err := io.ReadFull(f, buf); err != nil {
		return nil, time.Time{}, errCacheFile
	}
	if md5.Sum(buf[:keyLen]) != key {
		return nil, time.Time{}, errCacheFile
	}
	e := &cacheEntry{
		key: key, status: status, head: buf[keyLen+varyLen:],
		bodyOff: off, bodyLen: bodyLen, expires: time.Unix(0, expires), size: fi.Size(),
		vary: string(buf[keyLen : keyLen+varyLen]), ino: ino,
	}
	if e.vary != "" {
		e.main = md5.Sum(buf[:mainLen])
	}
	return e, fi.ModTime(), nil
}

// appendEntryHeader appends an entry file's fixed header.
func appendEntryHeader(dst []byte, expires time.Time, status, keyLen, mainLen, varyLen, headLen int, bodyLen int64) []byte {
	le := binary.LittleEndian
	dst = append(dst, cacheMagic...)
	dst = le.AppendUint64(dst, uint64(expires.UnixNano()))
	dst = le.AppendUint32(dst, uint32(status))
	dst = le.AppendUint32(dst, uint32(keyLen))
	dst = le.AppendUint32(dst, uint32(mainLen))
	dst = le.AppendUint32(dst, uint32(varyLen))
	dst = le.AppendUint32(dst, uint32(headLen))
	return le.AppendUint64(dst, uint64(bodyLen))
}

// buildCaches makes the engine's cache zones, loading disk zones.
func (e *Engine) buildCaches(h *config.HTTP) error {
	e.cacheZones = make(map[*config.CachePath]*cacheZone, len(h.CachePaths))
	for _, z := range h.CachePaths {
		s, err := newCacheStore(z, e.now, e.errorLog)
		if err != nil {
			e.releaseCaches()
			return &cacheError{z, err}
		}
		e.cacheZones[z] = &cacheZone{cfg: z, cacheStore: s}
	}
	return nil
}

// cacheError is a zone that could not be set up: its directory.
type cacheError struct {
	z   *config.CachePath
	err error
}

func (c *cacheError) Error() string {
	return "engine: proxy_cache_path at " + c.z.Pos.String() + ": " + c.err.Error()
}

func (c *cacheError) Unwrap() error { return c.err }

// releaseCaches ends the engine's use of its zones' stores, once (Close,
// or New failing). The zones stay usable for requests still running.
func (e *Engine) releaseCaches() {
	for _, z := range e.cacheZones {
		if z.cacheStore != nil {
			z.release()
		}
	}
}

// inheritCaches makes e's zones use old's stores where the zone has the
// same name and place (the same directory, or both in memory), as
// nginx keeps a cache zone across a reload; the new max_size and
// inactive= apply. The stores e made for them are released.
func (e *Engine) inheritCaches(old *Engine) {
	for c, z := range e.cacheZones {
		for oc, oz := range old.cacheZones {
			if oc.Name != c.Name || oc.Path != c.Path || oc.Memory != c.Memory || oz.cacheStore == z.cacheStore {
				continue
			}
			mine := z.cacheStore
			oz.retain()
			z.cacheStore = oz.cacheStore
			z.mu.Lock()
			z.maxSize.Store(c.MaxSize)
			z.inactive = c.Inactive // levels= stay: the files are where they are
			z.maxKeys = int(max((c.KeysSize-zoneOverhead)/cacheNodeSize, 1))
			z.mu.Unlock()
			mine.release()
		}
	}
}
