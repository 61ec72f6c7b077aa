package engine

import (
	"container/list"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/c10k/c10k/servers/config"
)

// TLSConfig returns the crypto/tls server configuration of listener i
// (an index into Listeners() whose SSL is set), or nil for a plain
// listener. It is built once per Engine: the certificate is chosen by
// SNI among the listener's virtual servers (ssl_certificate and
// ssl_certificate_key, the default server's without SNI or on no
// match), versions follow ssl_protocols, ALPN offers "http/1.1", and
// session resumption follows ssl_session_tickets and
// ssl_session_timeout. Engines built by a reload keep the session
// ticket keys of the engine they replace (InheritZones), so resumption
// survives a reload. Cores call it per accepted connection: it is cheap.
//
// Versions, ciphers and session settings are those of the default
// server of the listener's address; SNI chooses only the certificate,
// as nginx with OpenSSL switches only the certificate when the
// servername callback picks another virtual server. A server on an
// ssl address without a certificate of its own is served the default
// server's.
//
// A core serves a connection of an SSL listener as nginx's
// ngx_http_ssl_handshake does: it waits for the first byte, and when
// IsTLSHandshake refuses it, reads the request in clear with
// Conn.PlainHTTP set (Serve answers 400); otherwise it runs the
// handshake with this config and records its outcome with Conn.SetTLS.
// The listener's HeaderTimeout (client_header_timeout) bounds the first
// byte, the handshake and the wait for the first request together, as
// nginx's timer set at the accept. coreio.TLSConn does all of it for a
// net.Conn.
func (e *Engine) TLSConfig(i int) *tls.Config {
	if i < 0 || i >= len(e.tlsConfigs) {
		return nil
	}
	return e.tlsConfigs[i]
}

// IsTLSHandshake reports whether b, the first byte a client sent on an
// SSL listener, starts a TLS handshake: a handshake record (0x16) or an
// SSLv2-compatible ClientHello (high bit set), as ngx_http_ssl_handshake
// tells them from a plain HTTP request.
func IsTLSHandshake(b byte) bool { return b == 0x16 || b&0x80 != 0 }

// SetTLS records in c the outcome of a completed handshake: TLS,
// TLSVersion, TLSResumed and TLSServerName.
func (c *Conn) SetTLS(cs tls.ConnectionState) {
	c.TLS = true
	c.TLSVersion = cs.Version
	c.TLSResumed = cs.DidResume
	c.TLSServerName = cs.ServerName
}

// tlsVersionName is $ssl_protocol: OpenSSL's names.
func tlsVersionName(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLSv1"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS13:
		return "TLSv1.3"
	}
	return ""
}

// tlsShared is an Engine's TLS state, shared with the engines of later
// reloads where nginx would keep it: the session ticket keys and the
// shared session caches.
type tlsShared struct {
	keys   [][32]byte
	caches map[string]*sessionCache // ssl_session_cache shared:NAME, by name
}

// buildTLS loads the certificates of every server that listens with ssl
// and builds one tls.Config per SSL listener.
func (e *Engine) buildTLS(h *config.HTTP) error {
	e.tlsConfigs = make([]*tls.Config, len(e.listeners))
	ssl := false
	for _, ln := range e.listeners {
		ssl = ssl || ln.SSL
	}
	if !ssl {
		return nil
	}
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return fmt.Errorf("engine: session ticket key: %w", err)
	}
	e.tlsShared = &tlsShared{keys: [][32]byte{key}, caches: make(map[string]*sessionCache)}
	e.certs = make(map[*config.Server][]tls.Certificate)
	loaded := make(map[config.CertKey]tls.Certificate)
	for _, srv := range h.Servers {
		ssl := false
		for _, l := range srv.Listens {
			ssl = ssl || l.SSL
		}
		if !ssl {
			continue
		}
		for _, ck := range srv.SSL.Certificates {
			k := config.CertKey{Cert: ck.Cert, Key: ck.Key}
			c, ok := loaded[k]
			if !ok {
				var err error
				if c, err = loadCertificate(ck); err != nil {
					return err
				}
				loaded[k] = c
			}
			e.certs[srv] = append(e.certs[srv], c)
		}
	}
	builtin := make(map[*config.Server]*sessionCache)
	for i, ln := range e.listeners {
		if !ln.SSL {
			continue
		}
		r := e.routes[i]
		def := e.router.Default(r.addr)
		if def == nil || len(e.certs[def]) == 0 {
			return fmt.Errorf("engine: listen %s ssl: %w", ln.Addr, ErrNoCertificate)
		}
		e.tlsConfigs[i] = e.newTLSConfig(r, def, builtin)
	}
	return nil
}

// newTLSConfig builds the tls.Config of a listener whose default server
// is def.
func (e *Engine) newTLSConfig(r listenRoute, def *config.Server, builtin map[*config.Server]*sessionCache) *tls.Config {
	s := def.SSL
	cfg := &tls.Config{
		MinVersion:   s.MinVersion,
		MaxVersion:   s.MaxVersion,
		CipherSuites: s.CipherSuites,
		NextProtos:   []string{"http/1.1"},
		Time:         e.now,
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			return e.certificate(r, hello)
		},
	}
	cfg.SetSessionTicketKeys(e.tlsShared.keys)
	timeout := s.SessionTimeout
	now := e.now
	switch {
	case s.SessionTickets:
		// Stateless tickets, checked against ssl_session_timeout.
		cfg.UnwrapSession = func(identity []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
			ss, err := cfg.DecryptTicket(identity, cs)
			if err != nil || ss == nil || expired(ss, now(), timeout) {
				return nil, err
			}
			return ss, nil
		}
	case s.SessionCache.Enabled():
		// Tickets off, a session cache: the tickets name sessions the
		// server keeps (stateful resumption).
		var c *sessionCache
		if s.SessionCache.Shared {
			c = e.tlsShared.caches[s.SessionCache.Name]
			if c == nil {
				c = newSessionCache(s.SessionCache)
				e.tlsShared.caches[s.SessionCache.Name] = c
			}
		} else {
			if c = builtin[def]; c == nil {
				c = newSessionCache(s.SessionCache)
				builtin[def] = c
			}
		}
		cfg.WrapSession = func(_ tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
			b, err := ss.Bytes()
			if err != nil {
				return nil, err
			}
			return c.put(b, now())
		}
		cfg.UnwrapSession = func(identity []byte, _ tls.ConnectionState) (*tls.SessionState, error) {
			b := c.get(identity, now(), timeout)
			if b == nil {
				return nil, nil
			}
			ss, err := tls.ParseSessionState(b)
			if err != nil || expired(ss, now(), timeout) {
				return nil, nil
			}
			return ss, nil
		}
	default:
		cfg.SessionTicketsDisabled = true
	}
	return cfg
}

// expired reports whether the session ss was created more than timeout
// before now. Its creation time is the created_at field of its encoding
// (SessionState.Bytes: version, type, cipher suite, then created_at):
// crypto/tls keeps it unexported.
func expired(ss *tls.SessionState, now time.Time, timeout time.Duration) bool {
	b, err := ss.Bytes()
	if err != nil || len(b) < 13 {
		return true
	}
	created := time.Unix(int64(binary.BigEndian.Uint64(b[5:13])), 0)
	return now.Sub(created) > timeout
}

// certificate chooses the certificate for a ClientHello on the listener
// of route r: the virtual server its SNI names, by the router's
// server_name rules, or the default server without SNI, on no match or
// when the server has no certificate. Among a server's certificates
// the first the client supports wins.
func (e *Engine) certificate(r listenRoute, hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	addr := r.addr
	if r.wild && hello.Conn != nil {
		if ta, ok := hello.Conn.LocalAddr().(*net.TCPAddr); ok {
			if a, ok := netip.AddrFromSlice(ta.IP); ok {
				addr = netip.AddrPortFrom(a.Unmap(), r.addr.Port())
			}
		}
	}
	def := e.router.Default(addr)
	srv := def
	if hello.ServerName != "" {
		srv = e.router.Server(addr, []byte(hello.ServerName))
	}
	certs := e.certs[srv]
	if len(certs) == 0 {
		certs = e.certs[def]
	}
	if len(certs) == 0 {
		return nil, ErrNoCertificate
	}
	for i := range certs {
		if hello.SupportsCertificate(&certs[i]) == nil {
			return &certs[i], nil
		}
	}
	return &certs[0], nil
}

// loadCertificate reads and checks one ssl_certificate and its key; an
// error names the file at fault and the line of its directive, as
// nginx's "cannot load certificate" and "cannot load certificate key".
func loadCertificate(ck config.CertKey) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(ck.Cert)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("engine: %s: cannot load certificate %q: %w", ck.CertPos, ck.Cert, err)
	}
	if err := checkCertPEM(certPEM); err != nil {
		return tls.Certificate{}, fmt.Errorf("engine: %s: cannot load certificate %q: %w", ck.CertPos, ck.Cert, err)
	}
	keyPEM, err := os.ReadFile(ck.Key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("engine: %s: cannot load certificate key %q: %w", ck.KeyPos, ck.Key, err)
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("engine: %s: cannot load certificate key %q for certificate %q: %w", ck.KeyPos, ck.Key, ck.Cert, err)
	}
	return c, nil
}

// checkCertPEM reports a certificate file without a parsable
// certificate.
func checkCertPEM(b []byte) error {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return errNoPEMCertificate
		}
		if blk.Type == "CERTIFICATE" {
			_, err := x509.ParseCertificate(blk.Bytes)
			return err
		}
	}
}

// inheritTLS gives e old's session ticket keys and the shared session
// caches of the same name and size (InheritZones).
func (e *Engine) inheritTLS(old *Engine) {
	if e.tlsShared == nil || old.tlsShared == nil {
		return
	}
	e.tlsShared.keys = old.tlsShared.keys
	for name, c := range e.tlsShared.caches {
		if oc := old.tlsShared.caches[name]; oc != nil && oc.cfg.Size == c.cfg.Size {
			c.replace(oc)
		}
	}
	for _, cfg := range e.tlsConfigs {
		if cfg != nil {
			cfg.SetSessionTicketKeys(e.tlsShared.keys)
		}
	}
}

// sessionCache is an ssl_session_cache: sessions by random ID, least
// recently used first out beyond its size.
type sessionCache struct {
	cfg config.SessionCache
	mu  *sync.Mutex
	st  *cacheState
}

// cacheState is what a shared cache hands to the engine of a reload.
type cacheState struct {
	max  int
	lru  *list.List // of *sessionEntry, most recent first
	byID map[string]*list.Element
}

type sessionEntry struct {
	id      string
	state   []byte
	created time.Time
}

func newSessionCache(c config.SessionCache) *sessionCache {
	return &sessionCache{cfg: c, mu: new(sync.Mutex),
		st: &cacheState{max: c.Sessions(), lru: list.New(), byID: make(map[string]*list.Element)}}
}

// replace makes c share old's sessions.
func (c *sessionCache) replace(old *sessionCache) { c.mu, c.st = old.mu, old.st }

// put stores a session and returns its ID.
func (c *sessionCache) put(state []byte, now time.Time) ([]byte, error) {
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.st
	s.byID[string(id[:])] = s.lru.PushFront(&sessionEntry{id: string(id[:]), state: state, created: now})
	for s.lru.Len() > s.max {
		old := s.lru.Back()
		s.lru.Remove(old)
		delete(s.byID, old.Value.(*sessionEntry).id)
	}
	return id[:], nil
}

// get returns the session of id, nil when unknown or older than
// timeout.
func (c *sessionCache) get(id []byte, now time.Time, timeout time.Duration) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.st
	el := s.byID[string(id)]
	if el == nil {
		return nil
	}
	se := el.Value.(*sessionEntry)
	if now.Sub(se.created) > timeout {
		s.lru.Remove(el)
		delete(s.byID, se.id)
		return nil
	}
	s.lru.MoveToFront(el)
	return se.state
}
