package event

import "golang.org/x/sys/unix"

// SetAccept4 replaces accept4(2) for a test that injects failures.
func SetAccept4(s *Server, f func(fd int, flags int) (int, unix.Sockaddr, error)) { s.accept4 = f }
