package thread

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/c10k/c10k/servers/internal/coreio"
)

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
	sent  int64 // bytes written since the request began, for the access log
	// tls, when set, carries every read and write of a client socket
	// accepted on an SSL listener (startTLS); sendfile then reads and
	// writes instead.
	tls *coreio.TLSConn
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
// coreio.ErrTimeout when the timeout expired and coreio.ErrClosed at end of stream.
func (s *sock) read(p []byte) (int, error) {
	if s.tls != nil {
		for {
			n, err := s.tls.Read(p)
			if n > 0 || err != nil || len(p) == 0 {
				return n, tlsErr(err)
			}
		}
	}
	for {
		n, err := unix.Read(s.fd, p)
		switch {
		case err == nil && n == 0 && len(p) > 0:
			return 0, coreio.ErrClosed
		case err == nil:
			return n, nil
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return 0, coreio.ErrTimeout
		}
		return 0, err
	}
}

// write writes all of p, blocking up to the send timeout per write.
func (s *sock) write(p []byte) error { return s.send(p, 0) }

// writeMore writes all of p with MSG_MORE: more data (a sendfile) follows
// at once, so the kernel need not send p in a segment of its own.
func (s *sock) writeMore(p []byte) error { return s.send(p, unix.MSG_MORE) }

// send writes all of p with send(2) flags, blocking up to the send
// timeout per call.
func (s *sock) send(p []byte, flags int) error {
	if s.tls != nil {
		n, err := s.tls.Write(p)
		s.sent += int64(n)
		return tlsErr(err)
	}
	for len(p) > 0 {
		n, err := unix.SendmsgN(s.fd, p, nil, nil, flags)
		if err != nil {
			switch err {
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				return coreio.ErrTimeout
			}
			return err
		}
		s.sent += int64(n)
		p = p[n:]
	}
	return nil
}

// writev2 writes a then b with as few writev calls as the kernel allows.
// iov is caller-owned scratch so the call does not allocate.
func (s *sock) writev2(iov *[2]unix.Iovec, a, b []byte) error {
	if s.tls != nil {
		if err := s.write(a); err != nil {
			return err
		}
		return s.write(b)
	}
	for len(a) > 0 && len(b) > 0 {
		iov[0].Base, iov[0].Len = &a[0], uint64(len(a))
		iov[1].Base, iov[1].Len = &b[0], uint64(len(b))
		r, _, e := unix.Syscall(unix.SYS_WRITEV, uintptr(s.fd), uintptr(unsafe.Pointer(&iov[0])), 2)
		if e != 0 {
			switch e {
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				return coreio.ErrTimeout
			}
			return e
		}
		n := int(r)
		s.sent += int64(n)
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
	if s.tls != nil {
		return s.copyFile(f, off, n, scratch) // the bytes must go through TLS
	}
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
					s.sent += int64(w)
				}
				continue
			case unix.EAGAIN:
				return coreio.ErrTimeout
			case unix.EINVAL, unix.ENOSYS, unix.EOPNOTSUPP:
				return s.copyFile(f, off, n, scratch)
			}
			return err
		}
		if w == 0 {
			return fmt.Errorf("sendfile %s: %w", f.Name(), io.ErrUnexpectedEOF) // file shrank
		}
		n -= int64(w)
		s.sent += int64(w)
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
	sa, family := coreio.Sockaddr(ap)
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
				return coreio.ErrTimeout
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
			return coreio.ErrTimeout
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

// threadsInUse is systemThreads; tests pin it, since the count moves
// with every other process on the machine.
var threadsInUse = systemThreads

// systemThreads is the number of threads on the system (the fourth field
// of /proc/loadavg, "running/total"), 0 when unknown.
func systemThreads() int {
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
