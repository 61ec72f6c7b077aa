package cgirun

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// hangupPoll is how often WatchHangup looks at the client socket.
const hangupPoll = 50 * time.Millisecond

// WatchHangup returns a context that ends when the client socket fd is
// closed by the peer (POLLRDHUP, POLLHUP or POLLERR), as nginx ends an
// upstream exchange whose client went away, and a stop function that
// ends the watch and waits for its goroutine. It only polls fd: bytes
// the client sent (a pipelined request) stay unread.
func WatchHangup(parent context.Context, fd int) (context.Context, func()) {
	ctx, cancel := context.WithCancel(parent)
	// An eventfd wakes the poll when the watch ends, so stop returns at
	// once; hangupPoll only bounds how late a parent ctx is noticed.
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return ctx, cancel
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLRDHUP}, {Fd: int32(efd), Events: unix.POLLIN}}
		for ctx.Err() == nil {
			fds[0].Revents, fds[1].Revents = 0, 0
			n, err := unix.Poll(fds, int(hangupPoll/time.Millisecond))
			if err != nil && err != unix.EINTR {
				return
			}
			if n > 0 && fds[1].Revents != 0 {
				return
			}
			if n > 0 && fds[0].Revents&(unix.POLLRDHUP|unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0 {
				cancel()
				return
			}
		}
	}()
	return ctx, func() {
		var one = [8]byte{1}
		unix.Write(efd, one[:])
		wg.Wait()
		unix.Close(efd)
		cancel()
	}
}
