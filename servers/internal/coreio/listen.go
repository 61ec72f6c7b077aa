package coreio

import (
	"fmt"
	"net/netip"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/c10k/c10k/servers/engine"
	"github.com/c10k/c10k/servers/http1"
)

// DefaultHeaderTimeout is client_header_timeout's default.
const DefaultHeaderTimeout = 60 * time.Second

// Listener is one bound listening socket of a core.
type Listener struct {
	FD    int
	Addr  netip.AddrPort  // bound address (the real port of "listen ...:0")
	Conf  engine.Listener // the engine's listener it serves
	Index int             // engine.Conn.Listener: the index of Conf in the engine's listeners, -1 for none
	Wild  bool            // bound to all addresses: a connection's local address needs getsockname
}

// NewListener describes the listening socket fd bound to addr.
func NewListener(fd int, addr netip.AddrPort, conf engine.Listener, index int) *Listener {
	return &Listener{FD: fd, Addr: addr, Conf: conf, Index: index, Wild: addr.Addr().IsUnspecified()}
}

// Conn describes a connection accepted on l, socket fd, for the engine.
// Its Local is, as nginx's $server_addr, the address the client
// connected to: getsockname of fd when l is bound to all addresses.
func (l *Listener) Conn(fd int, remote netip.AddrPort) engine.Conn {
	local := l.Addr
	if l.Wild {
		if sa, err := unix.Getsockname(fd); err == nil {
			local = AddrPort(sa)
		}
	}
	return engine.Conn{Listener: l.Index, Local: local, Remote: remote}
}

// Close closes the socket once.
func (l *Listener) Close() {
	if l.FD >= 0 {
		unix.Close(l.FD)
		l.FD = -1
	}
}

// HeadLimits returns the parser limits of request heads read on c
// (client_header_buffer_size and large_client_header_buffers of its
// default server, nginx's 1k and 4 8k when unset) and the most bytes a
// head may take.
func HeadLimits(c engine.Listener) (lim http1.Limits, max int) {
	size, num, large := c.HeaderBufferSize, c.LargeHeaders.Number, c.LargeHeaders.Size
	if size <= 0 {
		size = 1 << 10
	}
	if num <= 0 || large <= 0 {
		num, large = 4, 8<<10
	}
	return http1.LimitsFor(size, num, large), int(size + int64(num)*large)
}

// HeaderTimeout returns client_header_timeout of c's default server.
func HeaderTimeout(c engine.Listener) time.Duration {
	if c.HeaderTimeout > 0 {
		return c.HeaderTimeout
	}
	return DefaultHeaderTimeout
}

// Listen creates a listening TCP socket bound to ap the way Apache and
// nginx do: SO_REUSEADDR always, SO_REUSEPORT when reusePort, IPV6_V6ONLY
// for IPv6, listen(backlog). The socket is non-blocking; accept4 chooses
// the mode of accepted sockets. It returns the bound address.
func Listen(ap netip.AddrPort, backlog int, reusePort bool) (int, netip.AddrPort, error) {
	sa, family := Sockaddr(ap)
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, ap, fmt.Errorf("socket() for %s: %w", ap, err)
	}
	fail := func(what string, err error) (int, netip.AddrPort, error) {
		unix.Close(fd)
		return -1, ap, fmt.Errorf("%s %s failed: %w", what, ap, err)
	}
	if err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return fail("setsockopt(SO_REUSEADDR) on", err)
	}
	if reusePort {
		if err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
			return fail("setsockopt(SO_REUSEPORT) on", err)
		}
	}
	if family == unix.AF_INET6 {
		// Like nginx: [::]:80 is IPv6 only, so *:80 can be bound beside it.
		unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1)
	}
	if err = unix.Bind(fd, sa); err != nil {
		return fail("bind() to", err)
	}
	if err = unix.Listen(fd, backlog); err != nil {
		return fail("listen() to", err)
	}
	bound, err := unix.Getsockname(fd)
	if err != nil {
		return fail("getsockname() of", err)
	}
	return fd, AddrPort(bound), nil
}

// ListenAddr is Listen for "host:port" (see Resolve).
func ListenAddr(addr string, backlog int, reusePort bool) (int, netip.AddrPort, error) {
	ap, err := Resolve(addr)
	if err != nil {
		return -1, ap, fmt.Errorf("listen %s: %w", addr, err)
	}
	return Listen(ap, backlog, reusePort)
}

// FileListener duplicates the listening socket of f for a core's own
// use, made non-blocking like the sockets Listen creates, and returns
// its bound address. f stays the caller's.
func FileListener(f *os.File) (int, netip.AddrPort, error) {
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return -1, netip.AddrPort{}, fmt.Errorf("dup of listener %s: %w", f.Name(), err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, netip.AddrPort{}, fmt.Errorf("listener %s: %w", f.Name(), err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return -1, netip.AddrPort{}, fmt.Errorf("getsockname() of listener %s: %w", f.Name(), err)
	}
	return fd, AddrPort(sa), nil
}
