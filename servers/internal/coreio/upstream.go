package coreio

import (
	"errors"
	"fmt"
	"net"

	"golang.org/x/sys/unix"

	"github.com/c10k/c10k/servers/engine"
	"github.com/c10k/c10k/servers/errlog"
	"github.com/c10k/c10k/servers/upstream"
)

// Classify maps an upstream I/O error to the balancer's failure kinds:
// no socket for the attempt (OutOfFiles: this server's failure, not the
// peer's), a timeout (ErrTimeout, ETIMEDOUT, or a net.Error that says
// so), an invalid response head (ErrInvalidHead), else an error.
func Classify(err error) upstream.Failure {
	var ne net.Error
	switch {
	case OutOfFiles(err):
		return upstream.FailLocal
	case err == ErrTimeout, errors.Is(err, unix.ETIMEDOUT), errors.As(err, &ne) && ne.Timeout():
		return upstream.FailTimeout
	case errors.Is(err, ErrInvalidHead):
		return upstream.FailInvalidHeader
	}
	return upstream.FailError
}

// UpstreamError is the text the engine logs for a failed attempt
// (engine.Proxy.SetError), like nginx: "connect() failed (111: Connection
// refused)", with the system call of the stage. nil leaves the engine's
// text for the failure kind.
func UpstreamError(err error, stage engine.Stage) error {
	var errno unix.Errno
	switch {
	case err == ErrTimeout, err == ErrClosed, err == ErrInvalidHead:
		return nil
	case !errors.As(err, &errno):
		return err
	case OutOfFiles(errno):
		return fmt.Errorf("socket() failed %s", errlog.ErrnoText(errno))
	case stage == engine.StageConnect:
		return fmt.Errorf("connect() failed %s", errlog.ErrnoText(errno))
	case stage == engine.StageSend:
		return fmt.Errorf("writev() failed %s", errlog.ErrnoText(errno))
	}
	return fmt.Errorf("recv() failed %s", errlog.ErrnoText(errno))
}

// Stale reports whether err, on a pooled upstream connection before any
// response byte arrived, means the peer had closed it while idle: the
// core then retries once on a fresh connection without counting a
// failure, as nginx does.
func Stale(err error) bool {
	return err == ErrClosed || errors.Is(err, unix.ECONNRESET) || errors.Is(err, unix.EPIPE)
}

// Alive reports whether an idle upstream connection is still usable: a
// readable idle socket means the peer closed it or sent garbage.
func Alive(fd int) bool {
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(pfd, 0)
	return err == nil && n == 0
}

// OutOfFiles reports whether err is the process (EMFILE) or the system
// (ENFILE) running out of file descriptors: a socket() or accept4()
// that could not get one.
func OutOfFiles(err error) bool {
	return errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE)
}
