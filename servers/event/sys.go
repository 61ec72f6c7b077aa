package event

import (
	"fmt"
	"net"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// resolve turns "host:port" into a socket address. An empty host, "*" or
// "0.0.0.0" means all IPv4 addresses, "[::]" all IPv6 addresses.
func resolve(addr string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		return ap, nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return netip.AddrPort{}, err
	}
	if host == "" || host == "*" {
		host = "0.0.0.0"
	}
	if ap, err := netip.ParseAddrPort(net.JoinHostPort(host, port)); err == nil {
		return ap, nil
	}
	ta, err := net.ResolveTCPAddr("tcp", net.JoinHostPort(host, port))
	if err != nil {
		return netip.AddrPort{}, err
	}
	return ta.AddrPort(), nil
}

func sockaddr(ap netip.AddrPort) (unix.Sockaddr, int) {
	a := ap.Addr()
	if a.Is4() || a.Is4In6() {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: a.Unmap().As4()}, unix.AF_INET
	}
	return &unix.SockaddrInet6{Port: int(ap.Port()), Addr: a.As16()}, unix.AF_INET6
}

func addrPort(sa unix.Sockaddr) netip.AddrPort {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port))
	}
	return netip.AddrPort{}
}

// listenFD binds a non-blocking listening socket to ap with SO_REUSEADDR
// and SO_REUSEPORT, so that every loop binds its own socket to the same
// address (nginx's "reuseport").
func listenFD(ap netip.AddrPort, backlog int) (int, netip.AddrPort, error) {
	sa, family := sockaddr(ap)
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
	if err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
		return fail("setsockopt(SO_REUSEPORT) on", err)
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
	return fd, addrPort(bound), nil
}

// read reads into p from a non-blocking socket: errAgain when nothing is
// there, errClosed at end of stream.
//
// Like every socket call on the loop's hot path it is a raw system call:
// the socket is non-blocking, so the call never waits, and skipping the
// runtime's syscall bookkeeping keeps the loop's locked thread from
// losing its P to sysmon's retake (a hand-off and two context switches).
func read(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		r, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		switch e {
		case 0:
			if r == 0 {
				return 0, errClosed
			}
			return int(r), nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return 0, errAgain
		}
		return 0, e
	}
}

// write writes p once (raw, as read).
func write(fd int, p []byte) (int, error) {
	for {
		r, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		switch e {
		case 0:
			return int(r), nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return 0, errAgain
		}
		return 0, e
	}
}

// sendfile sends up to n bytes of in from *off to the socket out,
// advancing *off (raw, as read: a page-cache miss waits for the disk,
// as it does in nginx without aio).
func sendfile(out, in int, off *int64, n int) (int, error) {
	r, _, e := unix.RawSyscall6(unix.SYS_SENDFILE, uintptr(out), uintptr(in), uintptr(unsafe.Pointer(off)), uintptr(n), 0, 0)
	if e != 0 {
		return int(r), e
	}
	return int(r), nil
}

// writev writes a then b in one writev(2) call (retried on EINTR) and
// returns how many bytes went out; errAgain when none could.
func writev(fd int, iov *[2]unix.Iovec, a, b []byte) (int, error) {
	n := 0
	if len(a) > 0 {
		iov[n].Base, iov[n].Len = &a[0], uint64(len(a))
		n++
	}
	if len(b) > 0 {
		iov[n].Base, iov[n].Len = &b[0], uint64(len(b))
		n++
	}
	if n == 0 {
		return 0, nil
	}
	for {
		r, _, e := unix.RawSyscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(n))
		switch e {
		case 0:
			return int(r), nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return 0, errAgain
		}
		return 0, e
	}
}

// dial starts a non-blocking connect to ap. done reports a connection
// already established (loopback may finish at once); otherwise the
// socket becomes writable when the connect ends.
func dial(ap netip.AddrPort) (fd int, done bool, err error) {
	sa, family := sockaddr(ap)
	fd, err = unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, false, err
	}
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	for {
		err = unix.Connect(fd, sa)
		switch err {
		case nil:
			return fd, true, nil
		case unix.EINTR:
			continue
		case unix.EINPROGRESS:
			return fd, false, nil
		}
		unix.Close(fd)
		return -1, false, err
	}
}

// connectResult returns the outcome of a non-blocking connect (SO_ERROR).
func connectResult(fd int) error {
	soerr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return err
	}
	if soerr != 0 {
		return unix.Errno(soerr)
	}
	return nil
}

// alive reports whether an idle upstream connection is still usable: a
// readable idle socket means the peer closed it or sent garbage.
func alive(fd int) bool {
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(pfd, 0)
	return err == nil && n == 0
}
