package event

import (
	"crypto/tls"

	"golang.org/x/sys/unix"

	"github.com/c10k/c10k/servers/internal/coreio"
)

// SetAccept4 replaces accept4(2) for a test that injects failures.
func SetAccept4(s *Server, f func(fd int, flags int) (int, unix.Sockaddr, error)) { s.accept4 = f }

// SetTLSConfig makes every listener of s (bound: after Listen) an SSL
// one whose TLS configuration is cfg, in place of the engine's.
func SetTLSConfig(s *Server, cfg *tls.Config) {
	s.tlsConfig = func(*coreio.Engine, *listener) *tls.Config { return cfg }
	for _, l := range s.loops {
		for _, ln := range l.ls {
			ln.Conf.SSL = true
		}
	}
}
