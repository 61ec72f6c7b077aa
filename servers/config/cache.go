package config

import (
	"strconv"
	"strings"
	"time"
)

// CachePath is a proxy_cache_path line: one cache zone, on disk or (a
// c10k extension) in memory only.
type CachePath struct {
	Pos  Pos
	Name string // keys_zone=NAME
	// Path is the cache directory, resolved against the prefix; empty
	// for a memory zone.
	Path string
	// Memory says the zone keeps its entries in memory only: the path
	// "memory:" (a c10k extension, not nginx syntax).
	Memory bool
	// Levels are the lengths of the directory levels (levels=1:2 is
	// [1 2]); nil puts every file in Path itself.
	Levels []int
	// KeysSize is the keys_zone SIZE: how many keys the zone indexes,
	// about 8000 per megabyte as in nginx.
	KeysSize int64
	// Inactive removes entries not used for that long (default 10m),
	// fresh or not.
	Inactive time.Duration
	// MaxSize bounds the bytes the zone stores (max_size=); 0 is no
	// bound. Past it, the least recently used entries are removed.
	MaxSize int64
	// UseTempPath is use_temp_path (default on). c10k writes its temp
	// files next to the cache files in either case, so that an entry
	// becomes visible with one rename.
	UseTempPath bool
}

// MemoryCachePath is the proxy_cache_path path that makes a memory
// zone (a c10k extension; nginx caches on disk only).
const MemoryCachePath = "memory:"

// CacheValid is one proxy_cache_valid status: Status 0 is "any".
type CacheValid struct {
	Status int
	Valid  time.Duration
}

// UseStale is a proxy_cache_use_stale set: the conditions under which
// an expired entry is served instead of the upstream's answer.
type UseStale uint16

// The proxy_cache_use_stale conditions.
const (
	StaleError UseStale = 1 << iota
	StaleTimeout
	StaleInvalidHeader
	StaleUpdating
	StaleHTTP500
	StaleHTTP502
	StaleHTTP503
	StaleHTTP504
	StaleHTTP403
	StaleHTTP404
	StaleHTTP429
)

var useStaleNames = map[string]UseStale{
	"error": StaleError, "timeout": StaleTimeout, "invalid_header": StaleInvalidHeader,
	"updating": StaleUpdating, "http_500": StaleHTTP500, "http_502": StaleHTTP502,
	"http_503": StaleHTTP503, "http_504": StaleHTTP504, "http_403": StaleHTTP403,
	"http_404": StaleHTTP404, "http_429": StaleHTTP429,
}

// Status reports whether s names the upstream status code.
func (s UseStale) Status(code int) bool {
	switch code {
	case 500:
		return s&StaleHTTP500 != 0
	case 502:
		return s&StaleHTTP502 != 0
	case 503:
		return s&StaleHTTP503 != 0
	case 504:
		return s&StaleHTTP504 != 0
	case 403:
		return s&StaleHTTP403 != 0
	case 404:
		return s&StaleHTTP404 != 0
	case 429:
		return s&StaleHTTP429 != 0
	}
	return false
}

// ProxyCache is the proxy_cache settings of a location; Location.Cache
// is nil for "proxy_cache off" (the default).
type ProxyCache struct {
	Zone *CachePath
	// Key is proxy_cache_key; default "$scheme$proxy_host$request_uri".
	Key Template
	// Valid is proxy_cache_valid, in order (the first line matching the
	// status gives the time); empty caches only what the upstream's
	// X-Accel-Expires, Cache-Control or Expires allow.
	Valid []CacheValid
	// Methods are proxy_cache_methods; GET and HEAD always (default).
	Methods []string
	// Lock is proxy_cache_lock: one request fills a new entry, the
	// others wait for it up to LockTimeout (default 5s), then go to the
	// upstream without caching.
	Lock        bool
	LockTimeout time.Duration
	// UseStale is proxy_cache_use_stale (default off).
	UseStale UseStale
	// Bypass and NoCache are proxy_cache_bypass and proxy_no_cache:
	// any of them non-empty and not "0" applies.
	Bypass  []Template
	NoCache []Template
	// MinUses is proxy_cache_min_uses (default 1): the requests of a key
	// before its response is stored.
	MinUses int
}

// DefaultCacheKey is proxy_cache_key's default.
const DefaultCacheKey = "$scheme$proxy_host$request_uri"

// cacheUse is a proxy_cache line whose zone is looked up when the whole
// config is read.
type cacheUse struct {
	d    *directive
	name string
	lv   *level
}

// proxyCachePath reads "proxy_cache_path PATH [levels=L] keys_zone=NAME:SIZE
// [inactive=T] [max_size=N] [use_temp_path=on|off]".
func proxyCachePath(p *parser, lv *level, d *directive) error {
	c := &CachePath{Pos: d.pos, Inactive: 10 * time.Minute, UseTempPath: true}
	if d.args[0] == MemoryCachePath {
		c.Memory = true
	} else {
		c.Path = strings.TrimSuffix(p.path(d.args[0]), "/")
		if c.Path == "" || strings.IndexByte(d.args[0], '$') >= 0 {
			return invalid(d, d.args[0])
		}
	}
	for _, a := range d.args[1:] {
		k, v, _ := strings.Cut(a, "=")
		switch k {
		case "levels":
			if c.Memory {
				return d.errorf(`"levels" is not allowed with the %q path (a c10k memory zone)`, MemoryCachePath)
			}
			for _, l := range strings.Split(v, ":") {
				n, err := strconv.Atoi(l)
				if err != nil || n < 1 || n > 2 {
					return d.errorf("invalid %q in %q directive", a, d.name)
				}
				c.Levels = append(c.Levels, n)
			}
			if len(c.Levels) > 3 {
				return d.errorf("invalid %q in %q directive", a, d.name)
			}
		case "keys_zone":
			i := strings.LastIndexByte(v, ':')
			if i <= 0 {
				return d.errorf("invalid keys zone size %q", a)
			}
			c.Name = v[:i]
			n, err := parseSize(v[i+1:])
			if err != nil || n == 0 {
				return d.errorf("invalid keys zone size %q", a)
			}
			if n < MinZoneSize {
				return d.errorf("zone %q is too small", c.Name)
			}
			c.KeysSize = n
		case "inactive":
			t, err := parseTime(v)
			if err != nil || t <= 0 {
				return d.errorf("invalid inactive value %q", a)
			}
			c.Inactive = t
		case "max_size":
			n, err := parseSize(v)
			if err != nil {
				return d.errorf("invalid max_size value %q", a)
			}
			c.MaxSize = n
		case "use_temp_path":
			on, ok := parseFlag(v)
			if !ok {
				return d.errorf("invalid use_temp_path value %q, it must be \"on\" or \"off\"", a)
			}
			if c.Memory {
				return d.errorf(`"use_temp_path" is not allowed with the %q path (a c10k memory zone)`, MemoryCachePath)
			}
			c.UseTempPath = on
		case "min_free", "manager_files", "manager_sleep", "manager_threshold",
			"loader_files", "loader_sleep", "loader_threshold", "purger":
			return notSupported(d, strconv.Quote(k))
		default:
			return invalidParam(d, a)
		}
	}
	if c.Name == "" {
		return d.errorf("%q must have \"keys_zone\" parameter", d.name)
	}
	h := p.cfg.HTTP
	if old := h.CachePaths[c.Name]; old != nil {
		return d.errorf("duplicate zone %q (first at %s)", c.Name, old.Pos)
	}
	for _, old := range h.CachePaths {
		if !c.Memory && old.Path == c.Path {
			return d.errorf("cache %q uses the %q cache path, as cache %q (at %s) does", c.Name, c.Path, old.Name, old.Pos)
		}
	}
	if h.CachePaths == nil {
		h.CachePaths = make(map[string]*CachePath)
	}
	h.CachePaths[c.Name] = c
	if c.Memory {
		p.cfg.Warnings = append(p.cfg.Warnings, &Error{Pos: d.pos, Directive: d.name,
			Msg: `cache "` + c.Name + `" is a memory zone ("proxy_cache_path memory:"): a c10k extension, not nginx syntax`})
	}
	return nil
}

// cacheLoc returns the proxy_cache* lines of lv, made on first use.
func cacheLoc(lv *level) *cacheSettings {
	if lv.cache == nil {
		lv.cache = &cacheSettings{}
	}
	return lv.cache
}

// cacheSettings are the proxy_cache* lines of one level, before
// inheritance; the zero value writes none.
type cacheSettings struct {
	zone        string // "off" or a zone name; "" when unset
	key         *Template
	valid       []CacheValid
	methods     []string
	lock        *bool
	lockTimeout *time.Duration
	useStale    *UseStale
	bypass      []Template
	noCache     []Template
	minUses     *int
}

func proxyCache(p *parser, lv *level, d *directive) error {
	c := cacheLoc(lv)
	c.zone = d.args[0]
	if c.zone != "off" {
		p.cacheUses = append(p.cacheUses, cacheUse{d, c.zone, lv})
	}
	return nil
}

func proxyCacheKey(p *parser, lv *level, d *directive) error {
	t, err := p.template(d, d.args[0])
	if err != nil {
		return err
	}
	cacheLoc(lv).key = &t
	return nil
}

// proxyCacheValid reads "proxy_cache_valid [code ...|any] time".
func proxyCacheValid(p *parser, lv *level, d *directive) error {
	last := d.args[len(d.args)-1]
	t, err := parseTime(last)
	if err != nil {
		return invalid(d, last)
	}
	codes := d.args[:len(d.args)-1]
	c := cacheLoc(lv)
	if len(codes) == 0 {
		c.valid = append(c.valid, CacheValid{200, t}, CacheValid{301, t}, CacheValid{302, t})
		return nil
	}
	for _, a := range codes {
		if a == "any" {
			c.valid = append(c.valid, CacheValid{0, t})
			continue
		}
		n, err := parseNumber(a)
		if err != nil || n < 100 || n > 599 {
			return d.errorf("invalid status %q", a)
		}
		c.valid = append(c.valid, CacheValid{n, t})
	}
	return nil
}

func proxyCacheMethods(p *parser, lv *level, d *directive) error {
	ms := []string{"GET", "HEAD"}
	for _, a := range d.args {
		switch a {
		case "GET", "HEAD":
		case "POST":
			ms = append(ms, a)
		default:
			return invalid(d, a)
		}
	}
	cacheLoc(lv).methods = ms
	return nil
}

func proxyCacheLock(p *parser, lv *level, d *directive) error {
	on, err := flagArg(d)
	if err != nil {
		return err
	}
	cacheLoc(lv).lock = &on
	return nil
}

func proxyCacheLockTimeout(p *parser, lv *level, d *directive) error {
	t, err := parseTime(d.args[0])
	if err != nil {
		return invalid(d, d.args[0])
	}
	cacheLoc(lv).lockTimeout = &t
	return nil
}

func proxyCacheUseStale(p *parser, lv *level, d *directive) error {
	var s UseStale
	for _, a := range d.args {
		if a == "off" {
			if len(d.args) > 1 {
				return invalid(d, a)
			}
			continue
		}
		f, ok := useStaleNames[a]
		if !ok {
			return invalid(d, a)
		}
		s |= f
	}
	cacheLoc(lv).useStale = &s
	return nil
}

func proxyCacheConds(no bool) handler {
	return func(p *parser, lv *level, d *directive) error {
		c := cacheLoc(lv)
		for _, a := range d.args {
			t, err := p.template(d, a)
			if err != nil {
				return err
			}
			if no {
				c.noCache = append(c.noCache, t)
			} else {
				c.bypass = append(c.bypass, t)
			}
		}
		return nil
	}
}

func proxyCacheMinUses(p *parser, lv *level, d *directive) error {
	n, err := parseNumber(d.args[0])
	if err != nil || n == 0 {
		return invalid(d, d.args[0])
	}
	cacheLoc(lv).minUses = &n
	return nil
}

// finishCaches binds the proxy_cache lines to their zones.
func (p *parser) finishCaches() error {
	for _, u := range p.cacheUses {
		z := p.cfg.HTTP.CachePaths[u.name]
		if z == nil {
			return u.d.errorf("%q zone %q is unknown", u.d.name, u.name)
		}
		u.lv.cacheZone = z
	}
	return nil
}

var defaultCacheKey = mustTemplate(DefaultCacheKey)

// inheritCache makes the effective ProxyCache of c from its own lines
// and parent's settings, as nginx merges each proxy_cache* setting on
// its own: a level's proxy_cache_valid (say) reaches the levels below
// it that turn proxy_cache on.
func inheritCache(c, parent *level) {
	base := parent.cacheAll
	if own := c.cache; own != nil {
		v := ProxyCache{Key: defaultCacheKey, Methods: []string{"GET", "HEAD"}, LockTimeout: 5 * time.Second, MinUses: 1}
		if base != nil {
			v = *base
		}
		switch own.zone {
		case "":
		case "off":
			v.Zone = nil
		default:
			v.Zone = c.cacheZone
		}
		if own.key != nil {
			v.Key = *own.key
		}
		if own.valid != nil {
			v.Valid = own.valid
		}
		if own.methods != nil {
			v.Methods = own.methods
		}
		if own.lock != nil {
			v.Lock = *own.lock
		}
		if own.lockTimeout != nil {
			v.LockTimeout = *own.lockTimeout
		}
		if own.useStale != nil {
			v.UseStale = *own.useStale
		}
		if own.bypass != nil {
			v.Bypass = own.bypass
		}
		if own.noCache != nil {
			v.NoCache = own.noCache
		}
		if own.minUses != nil {
			v.MinUses = *own.minUses
		}
		base = &v
	}
	c.cacheAll = base
	c.loc.Cache = nil
	if base != nil && base.Zone != nil {
		c.loc.Cache = base
	}
}
