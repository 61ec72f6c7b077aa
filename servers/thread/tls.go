package thread

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"time"

	"golang.org/x/sys/unix"

	"github.com/c10k/c10k/servers/internal/coreio"
)

// startTLS serves the connection of an SSL listener (cfg) through a
// coreio.TLSConn over the worker's blocking socket: the first byte and
// the handshake must arrive within timeout (client_header_timeout). It
// returns false when the connection is to be closed: the client sent
// nothing, closed, failed the handshake, or the server is stopping. A
// plain HTTP client is served in clear (engine.Conn.PlainHTTP). From
// here on every read and write of h.sock goes through TLS: no
// sendfile, whose bytes would bypass the encryption.
func (w *worker) startTLS(cfg *tls.Config, timeout time.Duration) bool {
	h := &w.http
	w.set(stateWait) // like an idle keep-alive wait: a stop may cut it short
	if w.s.closing.Load() {
		return false
	}
	fc := &fdConn{s: &h.sock, local: net.TCPAddrFromAddrPort(h.conn.Local), remote: net.TCPAddrFromAddrPort(h.conn.Remote)}
	tc := coreio.NewTLSConn(fc, cfg)
	err := tc.Handshake(timeout)
	w.set(stateBusy)
	if err != nil {
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, coreio.ErrTimeout) && !w.s.killed.Load() {
			// nginx logs failed handshakes at info.
			w.s.log.Logf("info", h.c.id, "SSL_do_handshake() failed (%v) while SSL handshaking, client: %s, server: %s",
				err, h.c.remote.Addr(), h.c.l.Addr)
		}
		return false
	}
	tc.SetConn(&h.conn)
	h.sock.tls = tc
	return true
}

// fdConn is a net.Conn over a worker's blocking client socket, for
// crypto/tls. A deadline becomes the socket's SO_RCVTIMEO or SO_SNDTIMEO
// for each call (through sock's cache); without one, the socket's
// current timeouts apply, as the worker set them. It counts nothing:
// sock counts the plaintext it sends.
type fdConn struct {
	s              *sock
	local, remote  net.Addr
	rdline, wdline time.Time
}

// fdTimeout is a timeout of fdConn: a temporary net.Error, so that
// crypto/tls may read on after it (a request head read in several
// waits), and coreio.ErrTimeout for the worker.
type fdTimeout struct{}

func (fdTimeout) Error() string        { return "i/o timeout" }
func (fdTimeout) Timeout() bool        { return true }
func (fdTimeout) Temporary() bool      { return true }
func (fdTimeout) Is(target error) bool { return target == coreio.ErrTimeout }

func (c *fdConn) Read(p []byte) (int, error) {
	if !c.rdline.IsZero() {
		left := time.Until(c.rdline)
		if left <= 0 {
			return 0, errFDTimeout
		}
		c.s.setReadTimeout(left)
	}
	for {
		n, err := unix.Read(c.s.fd, p)
		switch {
		case err == nil && n == 0 && len(p) > 0:
			return 0, io.EOF
		case err == nil:
			return n, nil
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return 0, errFDTimeout
		}
		return 0, err
	}
}

func (c *fdConn) Write(p []byte) (int, error) {
	if !c.wdline.IsZero() {
		left := time.Until(c.wdline)
		if left <= 0 {
			return 0, errFDTimeout
		}
		c.s.setWriteTimeout(left)
	}
	done := 0
	for done < len(p) {
		n, err := unix.SendmsgN(c.s.fd, p[done:], nil, nil, 0)
		if err != nil {
			switch err {
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				return done, errFDTimeout
			}
			return done, err
		}
		done += n
	}
	return done, nil
}

// Close does nothing: the worker closes the descriptor (closeClient).
func (c *fdConn) Close() error { return nil }

// CloseWrite shuts the write side down.
func (c *fdConn) CloseWrite() error { return unix.Shutdown(c.s.fd, unix.SHUT_WR) }

func (c *fdConn) LocalAddr() net.Addr  { return c.local }
func (c *fdConn) RemoteAddr() net.Addr { return c.remote }

func (c *fdConn) SetDeadline(t time.Time) error {
	c.rdline, c.wdline = t, t
	return nil
}

func (c *fdConn) SetReadDeadline(t time.Time) error {
	c.rdline = t
	return nil
}

func (c *fdConn) SetWriteDeadline(t time.Time) error {
	c.wdline = t
	return nil
}

// tlsErr maps an error of a TLS read or write to the worker's: end of
// stream, timeout, or the error itself.
func tlsErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, io.EOF):
		return coreio.ErrClosed
	case errors.Is(err, coreio.ErrTimeout):
		return coreio.ErrTimeout
	}
	return err
}
