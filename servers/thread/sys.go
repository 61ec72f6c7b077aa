package thread

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// resolve turns "host:port" into a socket address. An empty host, "*" or
// "0.0.0.0" means all IPv4 addresses, "[::]" all IPv6 addresses.
func resolve(addr string) (netip.AddrPort, error) {
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
	sa := &unix.SockaddrInet6{Port: int(ap.Port()), Addr: a.As16()}
	return sa, unix.AF_INET6
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

// listenFD creates a listening TCP socket the way Apache and nginx do:
// SO_REUSEADDR always, SO_REUSEPORT on request, listen(backlog). The
// socket is non-blocking so that the listener thread, woken by poll, never
// blocks in accept when a connection vanished in between; accepted sockets
// are blocking (accept4 is called without SOCK_NONBLOCK).
func listenFD(addr string, backlog int, reusePort bool) (int, netip.AddrPort, error) {
	ap, err := resolve(addr)
	if err != nil {
		return -1, ap, fmt.Errorf("listen %s: %w", addr, err)
	}
	sa, family := sockaddr(ap)
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, ap, fmt.Errorf("socket() for %s: %w", addr, err)
	}
	if err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		unix.Close(fd)
		return -1, ap, fmt.Errorf("setsockopt(SO_REUSEADDR) on %s: %w", addr, err)
	}
	if reusePort {
		if err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
			unix.Close(fd)
			return -1, ap, fmt.Errorf("setsockopt(SO_REUSEPORT) on %s: %w", addr, err)
		}
	}
	if family == unix.AF_INET6 {
		// Like nginx: [::]:80 is IPv6 only, so *:80 can be bound beside it.
		unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1)
	}
	if err = unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return -1, ap, fmt.Errorf("bind() to %s failed: %w", addr, err)
	}
	if err = unix.Listen(fd, backlog); err != nil {
		unix.Close(fd)
		return -1, ap, fmt.Errorf("listen() to %s failed: %w", addr, err)
	}
	bound, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return -1, ap, fmt.Errorf("getsockname() of %s: %w", addr, err)
	}
	return fd, addrPort(bound), nil
}

// fileFD duplicates the socket of f for the server's own use, made
// non-blocking like the sockets listenFD creates.
func fileFD(f *os.File) (int, netip.AddrPort, error) {
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
	return fd, addrPort(sa), nil
}

// timeval converts a timeout for SO_RCVTIMEO/SO_SNDTIMEO; 0 means none.
func timeval(d time.Duration) unix.Timeval {
	if d <= 0 {
		return unix.Timeval{}
	}
	if d < time.Microsecond {
		d = time.Microsecond
	}
	return unix.NsecToTimeval(d.Nanoseconds())
}

// sock is a blocking socket with its current timeouts cached, so a
// setsockopt happens only when a timeout changes.
type sock struct {
	fd    int
	rcvTO time.Duration
	sndTO time.Duration
}

func (s *sock) setReadTimeout(d time.Duration) error {
	if d == s.rcvTO {
		return nil
	}
	tv := timeval(d)
	if err := unix.SetsockoptTimeval(s.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return err
	}
	s.rcvTO = d
	return nil
}

func (s *sock) setWriteTimeout(d time.Duration) error {
	if d == s.sndTO {
		return nil
	}
	tv := timeval(d)
	if err := unix.SetsockoptTimeval(s.fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv); err != nil {
		return err
	}
	s.sndTO = d
	return nil
}

// read reads into p, blocking up to the receive timeout. It returns
// errTimeout when the timeout expired and errClosed at end of stream.
func (s *sock) read(p []byte) (int, error) {
	for {
		n, err := unix.Read(s.fd, p)
		switch {
		case err == nil && n == 0 && len(p) > 0:
			return 0, errClosed
		case err == nil:
			return n, nil
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return 0, errTimeout
		}
		return 0, err
	}
}

// write writes all of p, blocking up to the send timeout per write.
func (s *sock) write(p []byte) error {
	for len(p) > 0 {
		n, err := unix.Write(s.fd, p)
		if err != nil {
			switch err {
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				return errTimeout
			}
			return err
		}
		p = p[n:]
	}
	return nil
}

// writeMore writes all of p with MSG_MORE: more data (a sendfile) follows
// at once, so the kernel need not send p in a segment of its own.
func (s *sock) writeMore(p []byte) error {
	for len(p) > 0 {
		n, err := unix.SendmsgN(s.fd, p, nil, nil, unix.MSG_MORE)
		if err != nil {
			switch err {
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				return errTimeout
			}
			return err
		}
		p = p[n:]
	}
	return nil
}

// writev2 writes a then b with as few writev calls as the kernel allows.
// iov is caller-owned scratch so the call does not allocate.
func (s *sock) writev2(iov *[2]unix.Iovec, a, b []byte) error {
	for len(a) > 0 && len(b) > 0 {
		iov[0].Base, iov[0].Len = &a[0], uint64(len(a))
		iov[1].Base, iov[1].Len = &b[0], uint64(len(b))
		r, _, e := unix.Syscall(unix.SYS_WRITEV, uintptr(s.fd), uintptr(unsafe.Pointer(&iov[0])), 2)
		if e != 0 {
			switch e {
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				return errTimeout
			}
			return e
		}
		n := int(r)
		if n < len(a) {
			a = a[n:]
			continue
		}
		b = b[n-len(a):]
		a = nil
	}
	if len(a) > 0 {
		return s.write(a)
	}
	return s.write(b)
}

// sendfile sends n bytes of f from off with sendfile(2), falling back to
// read+write through scratch when the file cannot be sent that way
// (EINVAL, ENOSYS: e.g. some FUSE or proc files).
func (s *sock) sendfile(f *os.File, off, n int64, scratch []byte) error {
	in := int(f.Fd())
	for n > 0 {
		chunk := n
		if chunk > 1<<30 {
			chunk = 1 << 30
		}
		w, err := unix.Sendfile(s.fd, in, &off, int(chunk))
		if err != nil {
			switch err {
			case unix.EINTR:
				if w > 0 {
					n -= int64(w)
				}
				continue
			case unix.EAGAIN:
				return errTimeout
			case unix.EINVAL, unix.ENOSYS, unix.EOPNOTSUPP:
				return s.copyFile(f, off, n, scratch)
			}
			return err
		}
		if w == 0 {
			return fmt.Errorf("sendfile %s: %w", f.Name(), io.ErrUnexpectedEOF) // file shrank
		}
		n -= int64(w)
	}
	return nil
}

// copyFile sends n bytes of f from off by reading them into scratch with
// pread(2) and writing each piece: "sendfile off", and the fallback of
// sendfile.
func (s *sock) copyFile(f *os.File, off, n int64, scratch []byte) error {
	for n > 0 {
		b := scratch
		if int64(len(b)) > n {
			b = b[:n]
		}
		r, err := f.ReadAt(b, off)
		if r > 0 {
			if werr := s.write(b[:r]); werr != nil {
				return werr
			}
			off += int64(r)
			n -= int64(r)
		}
		if err != nil && n > 0 {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("read %s: %w", f.Name(), err)
		}
	}
	return nil
}

// dial connects to ap with a timeout: a non-blocking connect and poll,
// then the socket goes back to blocking mode for the worker thread.
func dial(ap netip.AddrPort, timeout time.Duration) (int, error) {
	sa, family := sockaddr(ap)
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	err = unix.Connect(fd, sa)
	if err == unix.EINPROGRESS || err == unix.EINTR {
		err = waitConnect(fd, timeout)
	}
	if err == nil {
		err = unix.SetNonblock(fd, false)
	}
	if err == nil {
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		return fd, nil
	}
	unix.Close(fd)
	return -1, err
}

func waitConnect(fd int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	for {
		ms := -1
		if timeout > 0 {
			left := time.Until(deadline)
			if left <= 0 {
				return errTimeout
			}
			ms = int((left + time.Millisecond - 1) / time.Millisecond)
		}
		n, err := unix.Poll(pfd, ms)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return errTimeout
		}
		soerr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
		if err != nil {
			return err
		}
		if soerr != 0 {
			return syscall.Errno(soerr)
		}
		return nil
	}
}

// lingeringClose closes a connection after an error response the way
// nginx's lingering_close does: shut the write side so the response is
// delivered with a FIN, drain what the client still sends for a short
// while, then close — so the client reads the response instead of an RST.
func lingeringClose(fd int, buf []byte, timeout time.Duration) {
	unix.Shutdown(fd, unix.SHUT_WR)
	s := sock{fd: fd}
	s.setReadTimeout(timeout)
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if _, err := s.read(buf); err != nil {
			break
		}
	}
	unix.Close(fd)
}

// threadReserve is the threads set aside, beyond the workers and the
// listener thread, for the Go runtime (its Ms for GC, sysmon, blocked
// syscalls) and the rest of the process.
const threadReserve = 256

// maxWorkers returns the most worker threads this system should let the
// process start, conservatively: the tightest of kernel.threads-max,
// kernel.pid_max and RLIMIT_NPROC, less the threads already running on
// the whole system (a bound on those of this user and process) and
// threadReserve. why names the binding limit for an error message.
func maxWorkers() (n int, why string) {
	inUse := threadsInUse()
	n = int(^uint(0) >> 1)
	try := func(limit int64, name string) {
		if limit <= 0 {
			return
		}
		if m := int(limit) - inUse - threadReserve - 1; m < n {
			n = m
			why = fmt.Sprintf("%s is %d, %d threads in use, %d kept for the runtime", name, limit, inUse, threadReserve)
		}
	}
	try(readProcInt("/proc/sys/kernel/threads-max"), "kernel.threads-max")
	try(readProcInt("/proc/sys/kernel/pid_max"), "kernel.pid_max")
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NPROC, &rl) == nil && rl.Cur != unix.RLIM_INFINITY && rl.Cur < 1<<31 {
		try(int64(rl.Cur), "RLIMIT_NPROC (ulimit -u)")
	}
	if n < 0 {
		n = 0
	}
	return n, why
}

// threadsInUse is the number of threads on the system (the fourth field
// of /proc/loadavg, "running/total"), 0 when unknown.
func threadsInUse() int {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var a, b5, c float64
	var run, total int
	if _, err := fmt.Sscanf(string(b), "%f %f %f %d/%d", &a, &b5, &c, &run, &total); err != nil {
		return 0
	}
	return total
}

// readProcInt reads a /proc file holding one integer; 0 when it cannot.
func readProcInt(name string) int64 {
	b, err := os.ReadFile(name)
	if err != nil {
		return 0
	}
	var v int64
	if _, err := fmt.Sscanf(string(b), "%d", &v); err != nil {
		return 0
	}
	return v
}

// Somaxconn returns net.core.somaxconn, the kernel's cap on any listen
// backlog, or 0 when it cannot be read.
func Somaxconn() int { return int(readProcInt("/proc/sys/net/core/somaxconn")) }
