package config

import (
	"crypto/tls"
	"fmt"
	"strings"
	"time"
)

// SSL is a server's TLS settings (ngx_http_ssl_module): the ssl_*
// directives of the server block, or of the http block for those the
// server does not write. They apply to the server's "listen ... ssl"
// addresses; for a handshake, the protocols, ciphers and session
// settings are those of the address's default server (a client's SNI
// chooses only the certificate, as nginx switches only the certificate
// when OpenSSL's servername callback picks another virtual server).
type SSL struct {
	// Certificates are the ssl_certificate lines paired in order with the
	// ssl_certificate_key lines (nginx allows several, e.g. an ECDSA and
	// an RSA one: the handshake uses the first the client supports);
	// nil when the server has none. Paths are resolved against the
	// prefix, as nginx resolves them against its configuration prefix.
	Certificates []CertKey

	// Protocols are the ssl_protocols names as written, and MinVersion
	// and MaxVersion the crypto/tls versions they span (tls.VersionTLS12,
	// ...). Default "TLSv1.2 TLSv1.3", as nginx 1.23.4 and later and Go's
	// own server default: nginx 1.22 also enables TLSv1 and TLSv1.1 by
	// default; c10k enables them only when listed. SSLv2 and SSLv3 are
	// accepted with a warning and ignored (crypto/tls has neither); a
	// list with a gap (TLSv1 TLSv1.2) enables the whole range, with a
	// warning, since crypto/tls takes a minimum and a maximum.
	Protocols  []string
	MinVersion uint16
	MaxVersion uint16

	// SessionTimeout is ssl_session_timeout (default 5m): a session
	// older than it is not resumed. crypto/tls never resumes a session
	// older than 7 days, whatever the setting.
	SessionTimeout time.Duration
	// SessionTickets is ssl_session_tickets (default on): stateless
	// resumption, the ticket encrypted with keys kept across a reload.
	SessionTickets bool
	// SessionCache is ssl_session_cache (default none).
	SessionCache SessionCache

	// Ciphers is ssl_ciphers as written (default "HIGH:!aNULL:!MD5"),
	// and CipherSuites the crypto/tls suites its explicit names map to
	// (OpenSSL names such as ECDHE-RSA-AES128-GCM-SHA256, or IANA names);
	// nil keeps Go's defaults. OpenSSL's cipher-list language (HIGH,
	// !aNULL, @STRENGTH, ...) is not evaluated: such words are ignored,
	// with a warning unless the value is nginx's default. The list
	// applies to TLS 1.0-1.2 only: crypto/tls does not configure TLS 1.3
	// suites (nor does ssl_ciphers with OpenSSL).
	Ciphers      string
	CipherSuites []uint16
	// PreferServerCiphers is ssl_prefer_server_ciphers (default off).
	// crypto/tls ignores it: it always chooses the suite itself, from
	// the client's list and whether both sides have AES hardware.
	PreferServerCiphers bool
}

// CertKey is one ssl_certificate and its ssl_certificate_key.
type CertKey struct {
	Cert, Key       string // resolved paths
	CertPos, KeyPos Pos
}

// SessionCache is an ssl_session_cache line: "off", "none" (the zero
// value, nginx's default), or "builtin[:size]" and/or
// "shared:name:size".
//
// crypto/tls keeps no server-side session-ID cache; c10k implements a
// cache the nginx way where crypto/tls allows it: with
// ssl_session_tickets off and a builtin or shared cache, the server
// keeps the sessions in memory and the tickets it issues carry only a
// random ID (stateful resumption, what OpenSSL does for TLS 1.3 with
// tickets off). A shared cache of the same name and size survives a
// reload, as nginx's shared zone; a builtin one does not. With
// ssl_session_tickets on, the cache is not used: tickets resume.
type SessionCache struct {
	Off     bool // "off": no resumption without tickets
	Builtin int  // builtin's size in sessions (default 20480); 0 when absent
	Shared  bool // shared:name:size is given
	Name    string
	Size    int64 // shared zone bytes; nginx stores about 4000 sessions per megabyte
}

// Enabled reports whether sessions are cached (builtin or shared).
func (c SessionCache) Enabled() bool { return !c.Off && (c.Builtin > 0 || c.Shared) }

// Sessions is the number of sessions the cache holds at most: the
// builtin size, plus about 4000 per megabyte of a shared zone.
func (c SessionCache) Sessions() int {
	n := c.Builtin
	if c.Shared {
		n += int(c.Size * 4000 >> 20)
	}
	return max(n, 1)
}

// defaultSSL is nginx's ngx_http_ssl_module defaults, with the
// protocols of nginx 1.23.4+ (see SSL.Protocols).
func defaultSSL() SSL {
	return SSL{
		Protocols:      []string{"TLSv1.2", "TLSv1.3"},
		MinVersion:     tls.VersionTLS12,
		MaxVersion:     tls.VersionTLS13,
		SessionTimeout: 5 * time.Minute,
		SessionTickets: true,
		Ciphers:        defaultCiphers,
	}
}

const defaultCiphers = "HIGH:!aNULL:!MD5"

// sslDirectives are the ngx_http_ssl_module directives (http and server
// contexts).
func sslDirectives() map[string][]spec {
	hs := cHTTP | cServer
	m := map[string][]spec{
		"ssl_certificate":           {{ctx: hs, min: 1, max: 1, multi: true, fn: sslCertificate}},
		"ssl_certificate_key":       {{ctx: hs, min: 1, max: 1, multi: true, fn: sslCertificate}},
		"ssl_protocols":             {{ctx: hs, min: 1, max: -1, fn: sslProtocols}},
		"ssl_session_timeout":       {{ctx: hs, min: 1, max: 1, fn: sslSessionTimeout}},
		"ssl_session_tickets":       {{ctx: hs, min: 1, max: 1, fn: sslFlag(func(s *SSL) *bool { return &s.SessionTickets })}},
		"ssl_prefer_server_ciphers": {{ctx: hs, min: 1, max: 1, fn: sslFlag(func(s *SSL) *bool { return &s.PreferServerCiphers })}},
		"ssl_session_cache":         {{ctx: hs, min: 1, max: 2, fn: sslSessionCache}},
		"ssl_ciphers":               {{ctx: hs, min: 1, max: 1, fn: sslCiphers}},
	}
	for _, name := range sslNotYet {
		m[name] = []spec{{ctx: hs, min: 0, max: -1, multi: true, fn: sslNotSupported}}
	}
	return m
}

// sslNotYet are the ngx_http_ssl_module directives of nginx 1.22 c10k
// does not implement: an error says so rather than "unknown".
var sslNotYet = []string{
	"ssl", "ssl_buffer_size", "ssl_client_certificate", "ssl_conf_command",
	"ssl_crl", "ssl_dhparam", "ssl_early_data", "ssl_ecdh_curve",
	"ssl_ocsp", "ssl_ocsp_cache", "ssl_ocsp_responder", "ssl_password_file",
	"ssl_reject_handshake", "ssl_session_ticket_key", "ssl_stapling",
	"ssl_stapling_file", "ssl_stapling_responder", "ssl_stapling_verify",
	"ssl_trusted_certificate", "ssl_verify_client", "ssl_verify_depth",
}

func sslNotSupported(p *parser, lv *level, d *directive) error {
	return &Error{Pos: d.pos, Directive: d.name, Err: ErrNotSupported,
		Msg: fmt.Sprintf("directive %q is not supported yet", d.name)}
}

// sslLevel holds the certificate and key lines of one level until the
// level is complete: they pair in order.
type sslLevel struct {
	certs, keys []CertKey
}

func sslCertificate(p *parser, lv *level, d *directive) error {
	path := d.args[0]
	if strings.Contains(path, "$") {
		return notSupported(d, "variables")
	}
	if strings.HasPrefix(path, "data:") {
		return notSupported(d, `"data:"`)
	}
	if lv.ssl == nil {
		lv.ssl = &sslLevel{}
	}
	if d.name == "ssl_certificate" {
		lv.ssl.certs = append(lv.ssl.certs, CertKey{Cert: p.path(path), CertPos: d.pos})
	} else {
		lv.ssl.keys = append(lv.ssl.keys, CertKey{Key: p.path(path), KeyPos: d.pos})
	}
	return nil
}

// protocolVersions maps ssl_protocols names to crypto/tls versions; 0
// for the ones crypto/tls does not implement.
var protocolVersions = map[string]uint16{
	"SSLv2":   0,
	"SSLv3":   0,
	"TLSv1":   tls.VersionTLS10,
	"TLSv1.1": tls.VersionTLS11,
	"TLSv1.2": tls.VersionTLS12,
	"TLSv1.3": tls.VersionTLS13,
}

func sslProtocols(p *parser, lv *level, d *directive) error {
	s := &lv.srv.SSL
	var lo, hi uint16
	set := make(map[uint16]bool)
	for _, a := range d.args {
		v, ok := protocolVersions[a]
		if !ok {
			return d.errorf("invalid value %q in %q directive", a, d.name)
		}
		if v == 0 {
			p.warn(d, fmt.Sprintf("%s in %q directive has no support in crypto/tls, ignored", a, d.name))
			continue
		}
		set[v] = true
		if lo == 0 || v < lo {
			lo = v
		}
		hi = max(hi, v)
	}
	if lo == 0 {
		return d.errorf("no protocol in %q directive is implemented by crypto/tls", d.name)
	}
	for v := lo; v <= hi; v++ {
		if !set[v] {
			p.warn(d, fmt.Sprintf("%q directive enables every version from its lowest to its highest: crypto/tls takes a range", d.name))
			break
		}
	}
	s.Protocols = append([]string(nil), d.args...)
	s.MinVersion, s.MaxVersion = lo, hi
	return nil
}

func sslSessionTimeout(p *parser, lv *level, d *directive) error {
	t, err := parseTime(d.args[0])
	if err != nil {
		return invalid(d, d.args[0])
	}
	lv.srv.SSL.SessionTimeout = t
	return nil
}

func sslFlag(field func(*SSL) *bool) handler {
	return func(p *parser, lv *level, d *directive) error {
		v, err := flagArg(d)
		if err != nil {
			return err
		}
		*field(&lv.srv.SSL) = v
		return nil
	}
}

// sslSessionCache reads "off", "none", or builtin[:size] and/or
// shared:name:size, as ngx_http_ssl_session_cache.
func sslSessionCache(p *parser, lv *level, d *directive) error {
	var c SessionCache
	for _, a := range d.args {
		switch {
		case a == "off" || a == "none":
			if len(d.args) > 1 {
				return d.errorf("invalid session cache %q", a)
			}
			c.Off = a == "off"
		case a == "builtin":
			c.Builtin = 20480
		case strings.HasPrefix(a, "builtin:"):
			n, err := parseNumber(a[len("builtin:"):])
			if err != nil || n == 0 {
				return d.errorf("invalid session cache %q", a)
			}
			c.Builtin = n
		case strings.HasPrefix(a, "shared:"):
			name, sz, ok := strings.Cut(a[len("shared:"):], ":")
			if !ok || name == "" {
				return d.errorf("invalid session cache %q", a)
			}
			n, err := parseSize(sz)
			if err != nil {
				return d.errorf("invalid zone size %q", sz)
			}
			if n < 8*4096 {
				return d.errorf("session cache %q is too small", a)
			}
			c.Shared, c.Name, c.Size = true, name, n
		default:
			return d.errorf("invalid session cache %q", a)
		}
	}
	lv.srv.SSL.SessionCache = c
	return nil
}

// opensslCiphers maps OpenSSL cipher names to the crypto/tls suites of
// TLS 1.0-1.2; IANA names (tls.CipherSuiteName) are taken too.
var opensslCiphers = map[string]uint16{
	"ECDHE-ECDSA-AES128-GCM-SHA256": tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-RSA-AES128-GCM-SHA256":   tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-ECDSA-AES256-GCM-SHA384": tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-RSA-AES256-GCM-SHA384":   tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-ECDSA-CHACHA20-POLY1305": tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-RSA-CHACHA20-POLY1305":   tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-ECDSA-AES128-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
	"ECDHE-RSA-AES128-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
	"ECDHE-ECDSA-AES256-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
	"ECDHE-RSA-AES256-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
	"ECDHE-ECDSA-AES128-SHA256":     tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
	"ECDHE-RSA-AES128-SHA256":       tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
	"ECDHE-RSA-DES-CBC3-SHA":        tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA,
	"AES128-GCM-SHA256":             tls.TLS_RSA_WITH_AES_128_GCM_SHA256,
	"AES256-GCM-SHA384":             tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
	"AES128-SHA":                    tls.TLS_RSA_WITH_AES_128_CBC_SHA,
	"AES256-SHA":                    tls.TLS_RSA_WITH_AES_256_CBC_SHA,
	"AES128-SHA256":                 tls.TLS_RSA_WITH_AES_128_CBC_SHA256,
	"DES-CBC3-SHA":                  tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA,
}

// tls13Ciphers are the TLS 1.3 suite names OpenSSL 1.1.1 also accepts
// in ssl_ciphers; crypto/tls always enables them.
var tls13Ciphers = map[string]bool{
	"TLS_AES_128_GCM_SHA256": true, "TLS_AES_256_GCM_SHA384": true,
	"TLS_CHACHA20_POLY1305_SHA256": true,
}

// sslCiphers maps the explicit cipher names of an OpenSSL cipher list
// to crypto/tls suites; the rest of the list is ignored with a warning.
func sslCiphers(p *parser, lv *level, d *directive) error {
	s := &lv.srv.SSL
	v := d.args[0]
	s.Ciphers, s.CipherSuites = v, nil
	if v == defaultCiphers {
		return nil
	}
	iana := make(map[string]uint16)
	for _, c := range tls.CipherSuites() {
		iana[c.Name] = c.ID
	}
	for _, c := range tls.InsecureCipherSuites() {
		iana[c.Name] = c.ID
	}
	var ignored []string
	for _, w := range strings.FieldsFunc(v, func(r rune) bool { return r == ':' || r == ' ' || r == ',' }) {
		switch id, ok := opensslCiphers[w]; {
		case tls13Ciphers[w]:
		case ok:
			s.CipherSuites = append(s.CipherSuites, id)
		case iana[w] != 0:
			s.CipherSuites = append(s.CipherSuites, iana[w])
		default:
			ignored = append(ignored, w)
		}
	}
	if len(ignored) > 0 {
		what := "crypto/tls's default suites are used"
		if len(s.CipherSuites) > 0 {
			what = "only the suites named explicitly are used"
		}
		p.warn(d, fmt.Sprintf("%q directive: %s not mapped to crypto/tls (OpenSSL cipher-list keywords are not evaluated); %s",
			d.name, strings.Join(ignored, ":"), what))
	}
	return nil
}

// warn records a load warning at d.
func (p *parser) warn(d *directive, msg string) {
	p.cfg.Warnings = append(p.cfg.Warnings, &Error{Pos: d.pos, Directive: d.name, Msg: msg})
}

// finishSSL pairs each level's certificates with its keys, applies the
// http level's settings to the servers that do not write their own, and
// checks that the default server of every ssl address has a certificate.
func (p *parser) finishSSL() error {
	h := p.http
	if err := pairCerts(h); err != nil {
		return err
	}
	for _, s := range p.servers {
		if err := pairCerts(s); err != nil {
			return err
		}
		inheritSSL(s, h)
	}
	// ngx_http_ssl_init: the default server of an ssl address must have
	// a certificate, the others use its certificate when they have none.
	type addr struct {
		def *Server
		ssl bool
	}
	addrs := make(map[string]*addr)
	var order []string
	for _, s := range p.servers {
		for _, l := range s.srv.Listens {
			a := addrs[l.Addr]
			if a == nil {
				a = &addr{def: s.srv}
				addrs[l.Addr] = a
				order = append(order, l.Addr)
			}
			if l.DefaultServer {
				a.def = s.srv
			}
			a.ssl = a.ssl || l.SSL
		}
	}
	for _, k := range order {
		a := addrs[k]
		if a.ssl && len(a.def.SSL.Certificates) == 0 {
			return &Error{Pos: p.sslListens[k], Directive: "listen",
				Msg: fmt.Sprintf(`no "ssl_certificate" is defined for the "listen ... ssl" directive in %s`, a.def.Pos)}
		}
	}
	return nil
}

// pairCerts sets the level's SSL.Certificates from its lines: every
// certificate needs a key (nginx: "no ssl_certificate_key is defined
// for certificate"); extra keys are ignored, as nginx does.
func pairCerts(lv *level) error {
	if lv.ssl == nil {
		return nil
	}
	certs, keys := lv.ssl.certs, lv.ssl.keys
	if len(certs) == 0 {
		return nil
	}
	if len(keys) < len(certs) {
		c := certs[len(certs)-1]
		return &Error{Pos: c.CertPos, Directive: "ssl_certificate",
			Msg: fmt.Sprintf(`no "ssl_certificate_key" is defined for certificate %q`, c.Cert)}
	}
	out := make([]CertKey, len(certs))
	for i, c := range certs {
		out[i] = CertKey{Cert: c.Cert, CertPos: c.CertPos, Key: keys[i].Key, KeyPos: keys[i].KeyPos}
	}
	lv.srv.SSL.Certificates = out
	return nil
}

// inheritSSL copies into server level s the http level's ssl settings
// s does not write itself.
func inheritSSL(s, h *level) {
	l, p := &s.srv.SSL, &h.srv.SSL
	if !s.has("ssl_certificate") {
		l.Certificates = p.Certificates
	}
	if !s.has("ssl_protocols") {
		l.Protocols, l.MinVersion, l.MaxVersion = p.Protocols, p.MinVersion, p.MaxVersion
	}
	if !s.has("ssl_session_timeout") {
		l.SessionTimeout = p.SessionTimeout
	}
	if !s.has("ssl_session_tickets") {
		l.SessionTickets = p.SessionTickets
	}
	if !s.has("ssl_session_cache") {
		l.SessionCache = p.SessionCache
	}
	if !s.has("ssl_ciphers") {
		l.Ciphers, l.CipherSuites = p.Ciphers, p.CipherSuites
	}
	if !s.has("ssl_prefer_server_ciphers") {
		l.PreferServerCiphers = p.PreferServerCiphers
	}
}
