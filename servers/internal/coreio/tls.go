package coreio

import (
	"crypto/tls"
	"io"
	"net"
	"time"

	"github.com/c10k/c10k/servers/engine"
)

// TLSConn is a client connection accepted on an SSL listener, served as
// nginx's ngx_http_ssl_handshake does: the client's first byte decides
// (engine.IsTLSHandshake) whether it runs a TLS handshake with the
// listener's engine.TLSConfig, after which reads and writes go through
// TLS, or speaks plain HTTP, whose bytes are read and written in clear
// so that the engine can answer it (engine.Conn.PlainHTTP). Cores with
// a net.Conn per connection (cgi, nethttp) and the thread core (over
// its raw descriptor) share it; it is not safe for concurrent reads,
// like the connections it wraps.
type TLSConn struct {
	raw     net.Conn
	cfg     *tls.Config
	tc      *tls.Conn // nil until a handshake started, and for plain HTTP
	first   [1]byte
	pending bool // plain HTTP: first is still to be read
	plain   bool
	started bool
	err     error
}

// NewTLSConn returns raw, accepted on a listener whose configuration is
// cfg, as a TLSConn. Nothing is read until Handshake or the first Read.
func NewTLSConn(raw net.Conn, cfg *tls.Config) *TLSConn {
	return &TLSConn{raw: raw, cfg: cfg}
}

// Handshake reads the client's first byte and, when it starts a TLS
// handshake, runs the handshake; both within timeout (client_header_
// timeout; 0 leaves the connection's own deadlines). It returns nil for
// a plain HTTP client too: Plain then reports it. A client that closes
// or sends nothing in time gets an error, and the connection is to be
// closed without a response. Only the first call does anything; later
// ones return its error.
func (c *TLSConn) Handshake(timeout time.Duration) error {
	if c.started {
		return c.err
	}
	c.started = true
	if timeout > 0 {
		c.raw.SetDeadline(time.Now().Add(timeout))
		defer c.raw.SetDeadline(time.Time{})
	}
	if _, err := io.ReadFull(c.raw, c.first[:]); err != nil {
		c.err = err
		return err
	}
	if !engine.IsTLSHandshake(c.first[0]) {
		c.plain, c.pending = true, true
		return nil
	}
	c.tc = tls.Server(&prefixConn{Conn: c.raw, b: c.first[:]}, c.cfg)
	c.err = c.tc.Handshake()
	return c.err
}

// Plain reports whether the client spoke plain HTTP to the SSL port.
func (c *TLSConn) Plain() bool { return c.plain }

// ConnectionState returns the TLS state of the connection; the zero
// value before a handshake and for plain HTTP.
func (c *TLSConn) ConnectionState() tls.ConnectionState {
	if c.tc == nil {
		return tls.ConnectionState{}
	}
	return c.tc.ConnectionState()
}

// SetConn records the outcome of Handshake in ec: engine.Conn.SetTLS
// after a handshake, PlainHTTP for a plain HTTP client.
func (c *TLSConn) SetConn(ec *engine.Conn) {
	switch {
	case c.plain:
		ec.PlainHTTP = true
	case c.tc != nil && c.err == nil:
		ec.SetTLS(c.tc.ConnectionState())
	}
}

// Read reads plaintext: decrypted application data, or the bytes of a
// plain HTTP client (starting with the one Handshake read). The first
// Read runs Handshake, within the connection's deadlines.
func (c *TLSConn) Read(b []byte) (int, error) {
	if err := c.Handshake(0); err != nil {
		return 0, err
	}
	switch {
	case c.pending:
		if len(b) == 0 {
			return 0, nil
		}
		c.pending = false
		b[0] = c.first[0]
		return 1, nil
	case c.plain:
		return c.raw.Read(b)
	}
	return c.tc.Read(b)
}

// Write writes b as TLS application data (in clear to a plain HTTP
// client).
func (c *TLSConn) Write(b []byte) (int, error) {
	if c.tc != nil {
		return c.tc.Write(b)
	}
	return c.raw.Write(b)
}

// CloseWrite sends TLS's close_notify (after a completed handshake) and
// shuts down the write side of the connection, as nginx's SSL_shutdown
// before a lingering close.
func (c *TLSConn) CloseWrite() error {
	if c.tc != nil && c.err == nil {
		c.tc.CloseWrite()
	}
	if cw, ok := c.raw.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// Close sends close_notify after a completed handshake (tls.Conn bounds
// it by 5 s) and closes the connection.
func (c *TLSConn) Close() error {
	if c.tc != nil && c.err == nil {
		return c.tc.Close()
	}
	return c.raw.Close()
}

// LocalAddr returns the connection's local address.
func (c *TLSConn) LocalAddr() net.Addr { return c.raw.LocalAddr() }

// RemoteAddr returns the client's address.
func (c *TLSConn) RemoteAddr() net.Addr { return c.raw.RemoteAddr() }

// SetDeadline sets the read and write deadlines of the connection.
func (c *TLSConn) SetDeadline(t time.Time) error { return c.raw.SetDeadline(t) }

// SetReadDeadline sets the read deadline of the connection.
func (c *TLSConn) SetReadDeadline(t time.Time) error { return c.raw.SetReadDeadline(t) }

// SetWriteDeadline sets the write deadline of the connection.
func (c *TLSConn) SetWriteDeadline(t time.Time) error { return c.raw.SetWriteDeadline(t) }

// Raw returns the connection TLSConn wraps.
func (c *TLSConn) Raw() net.Conn { return c.raw }

// prefixConn is a net.Conn whose reads return b before the connection's
// own bytes: the byte Handshake looked at, for tls.Server.
type prefixConn struct {
	net.Conn
	b []byte
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.b) > 0 {
		n := copy(b, p.b)
		p.b = p.b[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}
