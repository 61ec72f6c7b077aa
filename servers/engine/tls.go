package engine

import "crypto/tls"

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
// CONTRACT STUB: being implemented (issue #9, TLS).
func (e *Engine) TLSConfig(i int) *tls.Config { return nil }
