package config

import "strings"

// Gzip is a location's gzip settings: ngx_http_gzip_filter_module's
// gzip, gzip_types, gzip_min_length and gzip_comp_level, and the core
// module's gzip_vary, gzip_proxied and gzip_http_version. Each is
// inherited separately, as nginx merges them.
type Gzip struct {
	On bool // gzip; default off
	// Types are gzip_types' MIME types, lowercased; "text/html" is
	// always compressed besides them (nginx's default list is only
	// text/html). AnyType is "gzip_types *".
	Types   []string
	AnyType bool
	// MinLength is gzip_min_length: a response whose Content-Length is
	// known and smaller is sent as it is. Default 20.
	MinLength int64
	Level     int  // gzip_comp_level, 1-9; default 1
	Vary      bool // gzip_vary: "Vary: Accept-Encoding"; default off
	// Proxied is gzip_proxied, the GzipProxied* bits: what to do when
	// the request came through a proxy (has a Via field). Default
	// GzipProxiedOff: such requests get no compression.
	Proxied int
	// HTTPMinor is gzip_http_version's minor version: 1 (the default,
	// "1.1") compresses for HTTP/1.1 requests only, 0 ("1.0") for both.
	HTTPMinor int
}

// gzip_proxied parameters, nginx's NGX_HTTP_GZIP_PROXIED_* bits.
const (
	GzipProxiedOff = 1 << iota
	GzipProxiedExpired
	GzipProxiedNoCache
	GzipProxiedNoStore
	GzipProxiedPrivate
	GzipProxiedNoLastModified
	GzipProxiedNoETag
	GzipProxiedAuth
	GzipProxiedAny
)

var gzipProxiedNames = map[string]int{
	"off":              GzipProxiedOff,
	"expired":          GzipProxiedExpired,
	"no-cache":         GzipProxiedNoCache,
	"no-store":         GzipProxiedNoStore,
	"private":          GzipProxiedPrivate,
	"no_last_modified": GzipProxiedNoLastModified,
	"no_etag":          GzipProxiedNoETag,
	"auth":             GzipProxiedAuth,
	"any":              GzipProxiedAny,
}

// defaultGzip is nginx 1.22's defaults.
var defaultGzip = Gzip{MinLength: 20, Level: 1, Proxied: GzipProxiedOff, HTTPMinor: 1}

// TypeMatches reports whether the response type ct (a Content-Type
// value, parameters allowed) is one g compresses, as
// ngx_http_test_content_type: the type before any ";" compared
// case-insensitively with text/html and Types, or any type with "*".
// A response without a type never matches.
func (g *Gzip) TypeMatches(ct []byte) bool {
	if i := indexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	for len(ct) > 0 && (ct[len(ct)-1] == ' ' || ct[len(ct)-1] == '\t') {
		ct = ct[:len(ct)-1]
	}
	if len(ct) == 0 {
		return false
	}
	if g.AnyType || equalFold(ct, "text/html") {
		return true
	}
	for _, t := range g.Types {
		if equalFold(ct, t) {
			return true
		}
	}
	return false
}

func indexByte(b []byte, c byte) int {
	for i := range b {
		if b[i] == c {
			return i
		}
	}
	return -1
}

func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func gzipTypes(p *parser, lv *level, d *directive) error {
	g := &lv.loc.Gzip
	g.Types, g.AnyType = nil, false
	for _, a := range d.args {
		if a == "*" {
			g.AnyType = true
			continue
		}
		g.Types = append(g.Types, strings.ToLower(a))
	}
	return nil
}

func gzipMinLength(p *parser, lv *level, d *directive) error {
	n, err := parseSize(d.args[0])
	if err != nil {
		return invalid(d, d.args[0])
	}
	lv.loc.Gzip.MinLength = n
	return nil
}

func gzipCompLevel(p *parser, lv *level, d *directive) error {
	n, err := parseNumber(d.args[0])
	if err != nil {
		return invalid(d, d.args[0])
	}
	if n < 1 || n > 9 {
		return d.errorf("invalid value %q in %q directive, it must be between 1 and 9", d.args[0], d.name)
	}
	lv.loc.Gzip.Level = n
	return nil
}

func gzipProxied(p *parser, lv *level, d *directive) error {
	bits := 0
	for _, a := range d.args {
		b, ok := gzipProxiedNames[a]
		if !ok {
			return invalid(d, a)
		}
		bits |= b
	}
	if bits&GzipProxiedOff != 0 && bits != GzipProxiedOff {
		return invalid(d, "off")
	}
	lv.loc.Gzip.Proxied = bits
	return nil
}

func gzipHTTPVersion(p *parser, lv *level, d *directive) error {
	switch d.args[0] {
	case "1.0":
		lv.loc.Gzip.HTTPMinor = 0
	case "1.1":
		lv.loc.Gzip.HTTPMinor = 1
	default:
		return invalid(d, d.args[0])
	}
	return nil
}

// inheritGzip copies into c the gzip settings it does not set itself.
func inheritGzip(c, parent *level) {
	l, p := &c.loc.Gzip, &parent.loc.Gzip
	if !c.has("gzip") {
		l.On = p.On
	}
	if !c.has("gzip_types") {
		l.Types, l.AnyType = p.Types, p.AnyType
	}
	if !c.has("gzip_min_length") {
		l.MinLength = p.MinLength
	}
	if !c.has("gzip_comp_level") {
		l.Level = p.Level
	}
	if !c.has("gzip_vary") {
		l.Vary = p.Vary
	}
	if !c.has("gzip_proxied") {
		l.Proxied = p.Proxied
	}
	if !c.has("gzip_http_version") {
		l.HTTPMinor = p.HTTPMinor
	}
}
