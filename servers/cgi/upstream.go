package cgi

import (
	"net"
	"time"

	"github.com/c10k/c10k/servers/internal/coreio"
)

// upConn is an upstream connection the parent owns. A proxy child gets
// a copy of its descriptor for one exchange; the parent keeps this one
// and, when the child reports the connection reusable, pools it in a
// coreio.Pool: the upstream keepalive pool of the cgi core, which no
// child could keep.
type upConn struct {
	nc       *net.TCPConn
	requests int // requests sent on it
}

// Alive reports whether an idle connection is still usable.
func (u upConn) Alive() bool {
	rc, err := u.nc.SyscallConn()
	if err != nil {
		return false
	}
	ok := false
	rc.Control(func(fd uintptr) { ok = coreio.Alive(int(fd)) })
	return ok
}

// Requests returns the requests sent on u.
func (u upConn) Requests() int { return u.requests }

// Close closes u.
func (u upConn) Close() error { return u.nc.Close() }

// dialUpstream connects to addr within timeout (0: the system's).
func dialUpstream(addr string, timeout time.Duration) (upConn, error) {
	d := net.Dialer{Timeout: timeout}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		return upConn{}, err
	}
	return upConn{nc: nc.(*net.TCPConn)}, nil
}
