package event

import (
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/c10k/c10k/servers/internal/coreio"
)

// rawCall makes a socket system call on the loop's hot path: a raw
// call, retried on EINTR, with EAGAIN as errAgain.
//
// The socket is non-blocking, so the call never waits, and skipping the
// runtime's syscall bookkeeping keeps the loop's locked thread from
// losing its P to sysmon's retake (a hand-off and two context switches).
func rawCall(trap, a1, a2, a3, a4 uintptr) (int, error) {
	for {
		r, _, e := unix.RawSyscall6(trap, a1, a2, a3, a4, 0, 0)
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

// read reads into p from a non-blocking socket (rawCall):
// coreio.ErrClosed at end of stream.
func read(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, err := rawCall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), 0)
	if err == nil && n == 0 {
		return 0, coreio.ErrClosed
	}
	return n, err
}

// write writes p once (rawCall).
func write(fd int, p []byte) (int, error) {
	return rawCall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), 0)
}

// sendMore writes p once with MSG_MORE: a file body follows (rawCall).
func sendMore(fd int, p []byte) (int, error) {
	return rawCall(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), unix.MSG_MORE)
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
	return rawCall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(n), 0)
}

// dial starts a non-blocking connect to ap. done reports a connection
// already established (loopback may finish at once); otherwise the
// socket becomes writable when the connect ends.
func dial(ap netip.AddrPort) (fd int, done bool, err error) {
	sa, family := coreio.Sockaddr(ap)
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
