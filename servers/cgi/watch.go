package cgi

import (
	"context"
	"time"

	"golang.org/x/sys/unix"
)

// watch returns a context that ends when the client hangs up (POLLRDHUP,
// POLLHUP or POLLERR on its socket) while a child runs, and a stop
// function that ends the watch and waits for its goroutine. The watch
// waits on the connection's own netpoller registration (no eventfd, no
// periodic poll) and reads nothing: a pipelined request stays in the
// socket. stop leaves a past read deadline on the connection; the next
// read sets its own.
func (c *conn) watch() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	rc, err := c.nc.SyscallConn()
	if err != nil {
		return ctx, cancel
	}
	c.nc.SetReadDeadline(time.Time{}) // the watch lasts as long as the child
	done := make(chan struct{})
	go func() {
		defer close(done)
		gone := false
		rc.Read(func(fd uintptr) bool {
			pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLRDHUP}}
			n, err := unix.Poll(pfd, 0)
			gone = err == nil && n > 0 && pfd[0].Revents&(unix.POLLRDHUP|unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0
			return gone // else wait for the next readiness edge
		})
		if gone {
			cancel()
		}
	}()
	return ctx, func() {
		c.nc.SetReadDeadline(time.Unix(1, 0))
		<-done
		cancel()
	}
}
