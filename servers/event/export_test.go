package event

import (
	"crypto/tls"

	"golang.org/x/sys/unix"
)

// SetAccept4 replaces accept4(2) for a test that injects failures.
func SetAccept4(s *Server, f func(fd int, flags int) (int, unix.Sockaddr, error)) { s.accept4 = f }

// TLSConfigOf returns the TLS configuration s's engine has for its first
// listener (a baseline benchmark serves it with crypto/tls alone).
func TLSConfigOf(s *Server) *tls.Config {
	e := s.engine()
	return e.TLSConfig(e.Index(0))
}
